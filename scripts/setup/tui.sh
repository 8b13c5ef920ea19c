#!/usr/bin/env bash
# Setup for the TUI tests: tmux drives the real binary in tests/tui_e2e.rs.
set -euo pipefail

need=()
command -v tmux >/dev/null 2>&1 || need+=(tmux)

if ((${#need[@]})); then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${need[@]}"
fi
tmux -V
