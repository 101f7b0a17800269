#!/usr/bin/env bash
# The Redis part of the benchmark (scripts/bench.sh runs it when
# redis-server is installed): relay to and from a Redis stream, beside
# redis-benchmark's pipelined XADD on the same server.
#
#   bash scripts/bench-redis.sh [MD [LINES]]
#
# LINES is a file of N line-framed messages with 100-byte payloads (bench.sh
# passes its own; without, they are generated the same way); MD, if given,
# gets the table as Markdown. A throwaway redis-server (scripts/redis-tmp.sh:
# 127.0.0.1, a free port, no persistence) serves every run; the stream is
# deleted before each (untimed). BENCH_RELAY names another relay binary.
# Best of BENCH_RUNS (3) runs each:
#
#   stdio->Redis   bin/relay -o redis://127.0.0.1:PORT/bench <LINES
#                  (XADD with fields payload, key, seq/shard/ts)
#       peers:     redis-benchmark -P 16 -n N XADD bench '*' payload <100 B>
#                  (50 clients, 16 commands a round trip: the target,
#                  issue 17, is relay at its rate or more), and the same
#                  with the three fields relay writes
#   Redis->stdio   bin/relay -i redis://127.0.0.1:PORT/bench --from start
#                  >/dev/null, the stream relay wrote (no peer)
#
# Checks, after the timed runs: every run left N entries; relay's entries
# read back as lines are LINES, byte for byte.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

RUNS=${BENCH_RUNS:-3}
RELAY=${BENCH_RELAY:-bin/relay}
MD=${1:-}
LINES=${2:-}

die() {
	echo "bench-redis: $*" >&2
	exit 1
}

[ -x "$RELAY" ] || die "$RELAY is missing; run make"
for c in redis-server redis-cli redis-benchmark; do
	command -v "$c" >/dev/null ||
		die "$c is missing (Debian packages redis-server, redis-tools)"
done
[ -n "${EPOCHREALTIME:-}" ] || die "needs bash 5 (EPOCHREALTIME)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/libstream-bench-redis.XXXXXX")
cleanup() {
	bash scripts/redis-tmp.sh stop "$tmp/redis"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "$LINES" ]; then
	LINES=$tmp/lines.txt
	awk -v n="${BENCH_MESSAGES:-1000000}" -f scripts/gen-lines.awk \
	    >"$LINES"
fi
N=$(wc -l <"$LINES")
port=$(bash scripts/redis-tmp.sh start "$tmp/redis")
U=redis://127.0.0.1:$port/bench
PAY=$(head -c 100 /dev/zero | tr '\0' x)

rcli() {
	redis-cli -p "$port" "$@"
}

# best NAME CMD...: runs CMD RUNS times, its standard input from $IN (default
# /dev/null), each after deleting the stream; keeps
# the shortest wall time in SEC[NAME]; checks the stream holds N entries
# afterwards unless NAME is a read.
declare -A SEC
best() {
	local name=$1 t0 t1 s i
	shift
	for ((i = 0; i < RUNS; i++)); do
		[ "$name" = read ] || rcli DEL bench >/dev/null </dev/null
		t0=$EPOCHREALTIME
		"$@" <"${IN:-/dev/null}"
		t1=$EPOCHREALTIME
		s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
		if [ -z "${SEC[$name]:-}" ] || awk -v a="$s" -v b="${SEC[$name]}" \
		    'BEGIN { exit !(a < b) }'; then
			SEC[$name]=$s
		fi
		if [ "$name" != read ]; then
			local n
			n=$(rcli XLEN bench)
			[ "$n" = "$N" ] || die "$name: the stream holds $n entries, not $N"
		fi
	done
}

echo "redis-server on port $port, $N messages, best of $RUNS"
best peer1 redis-benchmark -p "$port" -P 16 -n "$N" -q \
    XADD bench '*' payload "$PAY" >/dev/null
best peer3 redis-benchmark -p "$port" -P 16 -n "$N" -q \
    XADD bench '*' payload "$PAY" key k0 seq/shard/ts 12345/0/1704067200000 \
    >/dev/null
IN=$LINES best write "$RELAY" -o "$U"
best read "$RELAY" -i "$U" --from start -o /dev/null
"$RELAY" -i "$U" --from start | cmp -s - "$LINES" ||
	die "relay's entries do not read back as the input lines"

table=$(awk -v n="$N" -v p1="${SEC[peer1]}" -v p3="${SEC[peer3]}" \
    -v w="${SEC[write]}" -v r="${SEC[read]}" '
	function row(task, s, ratio, target, res) {
		printf "%s\t%d\t%.3f\t%.0f\t%s\t%s\t%s\n", task, n, s, n / s,
		    ratio, target, res
	}
	BEGIN {
		row("redis-benchmark -P 16 XADD, 1 field", p1, "-", "-", "-")
		row("redis-benchmark -P 16 XADD, 3 fields", p3, "-", "-", "-")
		row("relay stdio->Redis", w, sprintf("%.2f, %.2f (3 fields)",
		    p1 / w, p3 / w), ">= 1.0x redis-benchmark 1 field",
		    p1 / w >= 1.0 ? "meets" : "below")
		row("relay Redis->stdio", r, "-", "-", "-")
	}')
head="task	messages	seconds	messages/s	vs redis-benchmark	target	result"
echo
{ echo "$head"; echo "$table"; } | awk -F '\t' -v tail=3 -f scripts/table.awk
notes="vs redis-benchmark = its seconds / relay's seconds, against the
1-field XADD (the target) and the 3-field one (relay's entries: payload,
key, seq/shard/ts). redis-benchmark runs 50 clients, 16 commands a
round trip; relay is one connection with up to 1024 XADDs a round trip.
Every run starts from an empty stream; relay's entries read back as the
input lines, byte for byte."
echo
echo "$notes"
if [ -n "$MD" ]; then
	{
		{ echo "$head"; echo "$table"; } |
		    awk -F '\t' -f scripts/mdtable.awk
		echo
		echo "$notes"
	} >"$MD"
fi
