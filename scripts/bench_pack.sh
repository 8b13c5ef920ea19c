#!/usr/bin/env bash
# Packing with the release binary: `casefile export --to file:DIR` (tar.gz, then tar.zst) vs
# `tar -czf`, on one snapshot per kind of input (log text, base64, JSON lines, random binary).
# Timed in the anchor's favour: a new output file each run, deletion outside the timing, casefile
# and tar alternating, best of ROUNDS. casefile's time includes process start, the redaction
# re-check of every byte and an fsync of the archive; tar's does not fsync.
# Usage: scripts/bench_pack.sh [BIN] (default target/release/casefile); MIB=32 ROUNDS=3.
# benches/pack.rs measures the same in-process, plus the re-check alone.
set -euo pipefail
BIN=${1:-target/release/casefile}
MIB=${MIB:-32}
ROUNDS=${ROUNDS:-3}
WORK=$(mktemp -d /tmp/casefile-packbench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export CASEFILE_CONFIG="$WORK/none.toml"
touch "$CASEFILE_CONFIG"
bytes=$((MIB * 1048576))

# The same pseudo-random bytes every run (AES-CTR keystream), so every run packs the same input.
# (Random bytes from /dev/urandom sometimes hold what a redaction pattern matches, e.g. `-u x:y`;
# a capture would have redacted it live, but these files are written beside the capture, so the
# export's re-check would refuse them.)
prandom() { head -c "$1" /dev/zero | openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f -iv 0 2>/dev/null; }

gen() {
  case $1 in
    log) awk -v n=$((bytes / 150)) 'BEGIN { srand(7); for (i = 0; i < n; i++) printf "2026-11-28T%02d:%02d:%02d.%03dZ INFO orders-api[%d]: GET /api/v1/orders/%d status=%d took=%dms request_id=%08x%08x upstream=10.0.%d.%d:8080\n", i/3600%24, i/60%60, i%60, rand()*1000, 1000+rand()*64, rand()*100000, (rand()<0.9)?200:500, rand()*900, rand()*4294967295, rand()*4294967295, rand()*255, rand()*255 }' ;;
    base64) prandom $((bytes / 4 * 3)) | base64 -w 0 | fold -w 4000 ;;
    json) awk -v n=$((bytes / 260)) 'BEGIN { srand(9); t=1764000000000000; for (i = 0; i < n; i++) { t += int(rand()*5000000); printf "{\"__REALTIME_TIMESTAMP\":\"%d\",\"_HOSTNAME\":\"db-%02d\",\"PRIORITY\":\"%d\",\"_SYSTEMD_UNIT\":\"postgresql.service\",\"_PID\":\"%d\",\"MESSAGE\":\"duration: %.3f ms  statement: SELECT * FROM orders WHERE id = %d\",\"_BOOT_ID\":\"%08x%08x\"}\n", t, rand()*12, rand()*7, 2000+rand()*3000, rand()*2000, rand()*10000000, rand()*4294967295, rand()*4294967295 } }' ;;
    binary) prandom "$bytes" ;;
  esac
}

best() { sort -g | head -1; }
now() { date +%s.%N; }

printf '%-7s %6s | %9s %9s | %9s %9s\n' input MiB "gz speed" "gz size" "zst speed" "zst size"
for kind in log base64 json binary; do
  echo "$kind ..." >&2
  snap=$("$BIN" capture --out "$WORK/cap-$kind" --run true 2>/dev/null)
  gen $kind > "$snap/streams/bench-$kind.out"
  input=$(du -sb "$snap" | cut -f1)
  id=$(basename "$snap")
  : > "$WORK/t-gz"; : > "$WORK/t-zst"; : > "$WORK/t-tar"
  for _ in $(seq "$ROUNDS"); do
    rm -rf "$WORK/out"; sync
    s=$(now); "$BIN" export "$snap" --to "file:$WORK/out" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }; e=$(now)
    echo "$e - $s" | bc >> "$WORK/t-gz"; gz=$(stat -c %s "$WORK/out/$id.tar.gz")
    rm -f "$WORK/t.tar.gz"; sync
    s=$(now); tar -czf "$WORK/t.tar.gz" -C "$(dirname "$snap")" "$id"; e=$(now)
    echo "$e - $s" | bc >> "$WORK/t-tar"; tar_size=$(stat -c %s "$WORK/t.tar.gz")
    rm -rf "$WORK/out"; sync
    s=$(now); "$BIN" export "$snap" --to "file:$WORK/out" --format tar.zst >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }; e=$(now)
    echo "$e - $s" | bc >> "$WORK/t-zst"; zst=$(stat -c %s "$WORK/out/$id.tar.zst")
  done
  tgz=$(best < "$WORK/t-gz"); ttar=$(best < "$WORK/t-tar"); tzst=$(best < "$WORK/t-zst")
  printf '%-7s %6.0f | %8.2fx %9.3f | %8.2fx %9.3f   (casefile gz %.2fs, zst %.2fs, tar -czf %.2fs)\n' \
    $kind "$(echo "$input / 1048576" | bc -l)" \
    "$(echo "$ttar / $tgz" | bc -l)" "$(echo "$gz / $tar_size" | bc -l)" \
    "$(echo "$ttar / $tzst" | bc -l)" "$(echo "$zst / $tar_size" | bc -l)" "$tgz" "$tzst" "$ttar"
  rm -rf "$WORK/cap-$kind" "$WORK/out" "$WORK/t.tar.gz"
done
