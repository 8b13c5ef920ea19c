#!/usr/bin/env bash
# Regenerates screenshots/*.svg from the TUI's own rendering (demo data, TestBackend → SVG).
# With rsvg-convert installed (apt: librsvg2-bin) it also writes PNGs next to them.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --features demo --example screenshots
if command -v rsvg-convert >/dev/null 2>&1; then
  for svg in screenshots/*.svg; do
    rsvg-convert "$svg" -o "${svg%.svg}.png"
  done
fi
