#!/usr/bin/env bash
# Installs what the export tests and benchmark need, idempotently, under .tools/ in the repo:
#   .tools/venv       python venv with moto[server] (S3-compatible server) and awscli (benchmark baseline)
#   .tools/node_modules/.bin/prism   Stoplight Prism 5 (PagerDuty API mock from the official spec)
# plus curl (presigned-link test) and GNU tar/gzip (archive checks) from Debian if missing.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="$REPO/.tools"
mkdir -p "$TOOLS"

missing=()
for pair in curl:curl tar:tar gzip:gzip python3:python3 npm:npm; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

if [ ! -x "$TOOLS/venv/bin/python" ]; then
    python3 -m venv "$TOOLS/venv"
fi
if [ ! -x "$TOOLS/venv/bin/moto_server" ] || [ ! -x "$TOOLS/venv/bin/aws" ]; then
    "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check 'moto[server]>=5,<6' 'awscli>=1.33'
fi

if [ ! -x "$TOOLS/node_modules/.bin/prism" ]; then
    (cd "$TOOLS" && npm install --silent --no-audit --no-fund --prefix "$TOOLS" @stoplight/prism-cli@5)
fi

echo "export setup: moto_server=$TOOLS/venv/bin/moto_server aws=$TOOLS/venv/bin/aws prism=$TOOLS/node_modules/.bin/prism"
