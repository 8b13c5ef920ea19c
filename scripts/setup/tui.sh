#!/usr/bin/env bash
# Setup for the TUI tests: tmux drives the real binary in tests/tui_e2e.rs and tests/tui_fleet.rs;
# rsvg-convert (librsvg2-bin) turns the screenshots' SVGs into PNGs (scripts/screenshots.sh).
set -euo pipefail

need=()
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v rsvg-convert >/dev/null 2>&1 || need+=(librsvg2-bin)

if ((${#need[@]})); then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${need[@]}"
fi
tmux -V
rsvg-convert --version
