#!/usr/bin/env bash
# Installs the anchor of the folding benchmark (benches/fold.rs): pdsh's `dshbak -c`, which folds
# identical outputs of a fleet the way `casefile show --group` does. Idempotent.
set -euo pipefail
if ! command -v dshbak >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends pdsh
fi
