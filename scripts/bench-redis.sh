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
#                  (XADD with fields payload, key/seq/shard/ts)
#       peers:     redis-benchmark -P 16 -n N XADD bench '*' payload <100 B>
#                  (50 clients, 16 commands a round trip: the target,
#                  issue 17, is relay at its rate or more), and the same
#                  with the two fields relay writes
#   Redis->stdio   bin/relay -i redis://127.0.0.1:PORT/bench --from start
#                  >/dev/null, the stream relay wrote (no peer)
#
# Each row also gives redis-server's CPU time over the run (INFO cpu
# before and after; the least of the runs), what the run cost the server.
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

# server_cpu: redis-server's CPU seconds so far (user and system).
server_cpu() {
	rcli INFO cpu | tr -d '\r' | awk -F: '
		$1 == "used_cpu_user" || $1 == "used_cpu_sys" { s += $2 }
		END { printf "%.3f", s }'
}

# min_into ARRAY NAME VALUE: ARRAY[NAME] = VALUE if unset or larger.
min_into() {
	local -n arr=$1
	if [ -z "${arr[$2]:-}" ] || awk -v a="$3" -v b="${arr[$2]}" \
	    'BEGIN { exit !(a < b) }'; then
		arr[$2]=$3
	fi
}

# best NAME CMD...: runs CMD RUNS times, its standard input from $IN (default
# /dev/null), each after deleting the stream; keeps the shortest wall time
# in SEC[NAME] and the least redis-server CPU time in CPU[NAME]; checks the
# stream holds N entries afterwards unless NAME is a read.
declare -A SEC CPU
best() {
	local name=$1 t0 t1 c0 c1 i
	shift
	for ((i = 0; i < RUNS; i++)); do
		[ "$name" = read ] || rcli DEL bench >/dev/null </dev/null
		c0=$(server_cpu)
		t0=$EPOCHREALTIME
		"$@" <"${IN:-/dev/null}"
		t1=$EPOCHREALTIME
		c1=$(server_cpu)
		min_into SEC "$name" "$(awk -v a="$t0" -v b="$t1" \
		    'BEGIN { printf "%.4f", b - a }')"
		min_into CPU "$name" "$(awk -v a="$c0" -v b="$c1" \
		    'BEGIN { printf "%.3f", b - a }')"
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
best peer2 redis-benchmark -p "$port" -P 16 -n "$N" -q \
    XADD bench '*' payload "$PAY" key/seq/shard/ts k0/12345/0/1704067200000 \
    >/dev/null
IN=$LINES best write "$RELAY" -o "$U"
best read "$RELAY" -i "$U" --from start -o /dev/null
"$RELAY" -i "$U" --from start | cmp -s - "$LINES" ||
	die "relay's entries do not read back as the input lines"

table=$(awk -v n="$N" -v p1="${SEC[peer1]}" -v p2="${SEC[peer2]}" \
    -v w="${SEC[write]}" -v r="${SEC[read]}" -v c1="${CPU[peer1]}" \
    -v c2="${CPU[peer2]}" -v cw="${CPU[write]}" -v cr="${CPU[read]}" '
	function row(task, s, cpu, ratio, target, res) {
		printf "%s\t%d\t%.3f\t%.0f\t%.3f (%.2f us)\t%s\t%s\t%s\n",
		    task, n, s, n / s, cpu, cpu * 1e6 / n, ratio, target, res
	}
	BEGIN {
		row("redis-benchmark -P 16 XADD, 1 field", p1, c1, "-", "-",
		    "-")
		row("redis-benchmark -P 16 XADD, 2 fields", p2, c2, "-", "-",
		    "-")
		row("relay stdio->Redis", w, cw, sprintf("%.2f, %.2f (2 fields)",
		    p1 / w, p2 / w), ">= 1.0x redis-benchmark 1 field",
		    p1 / w >= 1.0 ? "meets" : "below")
		row("relay Redis->stdio", r, cr, "-", "-", "-")
	}')
head="task	messages	seconds	messages/s	server CPU s (a message)	vs redis-benchmark	target	result"
echo
{ echo "$head"; echo "$table"; } | awk -F '\t' -v tail=3 -f scripts/table.awk
notes="vs redis-benchmark = its seconds / relay's seconds, against the
1-field XADD (the target) and the 2-field one (relay's entries: payload,
key/seq/shard/ts). redis-benchmark runs 50 clients, 16 commands a
round trip; relay is one connection, 256 XADDs a write and up to 1024
waiting for their replies.
server CPU s = redis-server's own CPU time over a run (user and system,
INFO cpu), the least of the runs, and per message: the server sets the
pace, and its work grows with the fields of an entry.
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
