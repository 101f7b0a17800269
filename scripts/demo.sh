#!/bin/sh
# The main job with no server: make a stream, write it to a .ss file,
# decode it to ndjson for jq, replay part of it, and follow it live.
set -eu
cd "$(dirname "$0")/.."
BIN=${LS_BIN:-$PWD/bin}
dir=$(mktemp -d "${TMPDIR:-/tmp}/libstream-demo.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
f=$dir/ticks.ss

step() { printf '\n$ %s\n' "$*"; }

step "clock --count 20 --interval 10ms --stream ticks | relay -o ticks.ss --beacon-interval 512"
"$BIN/clock" --count 20 --interval 10ms --stream ticks |
    "$BIN/relay" -o "$f" --beacon-interval 512

step "ss-decode --verify ticks.ss"
"$BIN/ss-decode" --verify "$f"

step "ss-decode --format ndjson ticks.ss | jq -c 'select(.payload.tick? % 5 == 0) | {seq: .header.sequence, tick: .payload.tick}'"
"$BIN/ss-decode" --format ndjson "$f" |
    jq -c 'select(.payload.tick? % 5 == 0) |
        {seq: .header.sequence, tick: .payload.tick}'

step "relay -i ticks.ss --from seq:17        # replay from a sequence number"
"$BIN/relay" -i "$f" --from seq:17

step "clock ... | relay -o live.ss &  relay -i live.ss --follow     # like tail -f"
live=$dir/live.ss
"$BIN/clock" --count 8 --interval 50ms --stream live --payload 'tick %n at %T' |
    "$BIN/relay" -o "$live" &
writer=$!
while [ ! -s "$live" ]; do sleep 0.05; done
"$BIN/relay" -i "$live" --follow
wait "$writer"

step "ss-decode --meta ticks.ss | grep '^#'    # header and beacons"
"$BIN/ss-decode" --meta "$f" | grep '^#'
