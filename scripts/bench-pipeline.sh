#!/usr/bin/env bash
# The pipeline figures of the benchmark (scripts/bench.sh runs it; it
# also runs alone, from the top of the tree, after make):
#
#   scripts/bench-pipeline.sh LINES N RUNS [MD]
#
# LINES a file of N line-framed messages (scripts/gen-lines.awk). In one
# run, best of RUNS each:
#
#   the topology: relay -i LINES -> partition -n 4 -> four batch -n 1000
#   -o OUTk (not merged again by one relay -i q0 .. -i q3: relay merges
#   its inputs by holding the next message of each, and waiting on an
#   empty partition while the others' FIFOs are full deadlocks, under
#   pipeline as under the script), run by bin/pipeline and by the
#   same commands joined by a hand-written shell script (mkfifo, &,
#   wait); target: pipeline within 1.05x of the script's time, and
#   pipeline's own peak RSS (VmHWM of its process, read from /proc every
#   50 ms during one more run, not timed: /usr/bin/time's %M would be the
#   largest of its waited-for children too) below 8 MiB;
#   relay --rate 2000/s over 10,000 messages: seconds beside the ideal
#   5 s (target within 5%).
#
# Each output is checked (N messages in the batches, 10,000 lines) so a
# broken run cannot look fast. Prints a table; appends it to MD if given.
set -eu

[ $# -ge 3 ] || { echo "usage: $0 LINES N RUNS [MD]" >&2; exit 2; }
LINES=$1 N=$2 RUNS=$3 MD=${4:-}
BIN=$PWD/bin
RATE_N=10000

die() {
	echo "bench-pipeline: $*" >&2
	exit 1
}

for f in pipeline relay partition batch; do
	[ -x "$BIN/$f" ] || die "$BIN/$f is missing; run make"
done
[ -n "${EPOCHREALTIME:-}" ] || die "needs bash 5 (EPOCHREALTIME)"
command -v jq >/dev/null || die "jq is missing (Debian package jq)"
[ "$(wc -l <"$LINES")" -ge "$RATE_N" ] ||
	die "$LINES: fewer than $RATE_N lines"

t=$(mktemp -d "${TMPDIR:-/tmp}/bench-pipeline.XXXXXX")
trap 'rm -rf "$t"' EXIT

# The topology, for pipeline -e.
topo=(-e "relay -i $LINES -o @a"
    -e "partition -n 4 -i @a @p%d")
for k in 0 1 2 3; do
	topo+=(-e "batch -n 1000 -i @p$k -o $t/out$k")
done

# The same by hand.
cat >"$t/script.sh" <<EOF
set -e
d=\$(mktemp -d)
mkfifo "\$d/a" "\$d/p0" "\$d/p1" "\$d/p2" "\$d/p3"
"$BIN/relay" -i "$LINES" -o "\$d/a" &
"$BIN/partition" -n 4 -i "\$d/a" "\$d/p%d" &
for k in 0 1 2 3; do
	"$BIN/batch" -n 1000 -i "\$d/p\$k" -o "$t/out\$k" &
done
st=0
for j in 1 2 3 4 5 6; do wait -n || st=1; done
rm -rf "\$d"
exit \$st
EOF

# elapsed T0: seconds since EPOCHREALTIME T0.
elapsed() {
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.6f", b - a }'
}

# best NAME S: keeps the lowest S in BEST[NAME].
declare -A BEST
best() {
	if [ -z "${BEST[$1]:-}" ] ||
	    awk -v a="$2" -v b="${BEST[$1]}" 'BEGIN { exit !(a < b) }'; then
		BEST[$1]=$2
	fi
}

# check_out WHO: OUT's batches hold N messages in all.
check_out() {
	local got
	got=$(cat "$t"/out? | sed 's/^[^]]*\] //' |
	    jq -s 'map(length) | add // 0')
	[ "$got" = "$N" ] || die "$1: $got messages in its batches, not $N"
}

# hwm PID: writes VmHWM (KiB) of PID to $t/hwm every 50 ms while it runs.
hwm() {
	local v
	while v=$(awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" \
	    2>/dev/null) && [ -n "$v" ]; do
		echo "$v" >"$t/hwm"
		sleep 0.05
	done
}

# run_pipeline [hwm]: one timed run (its end seen by wait); with hwm,
# an untimed run whose VmHWM of pipeline's process (KiB) is kept in HWM:
# the poller (a process every 50 ms) would take CPU from the stages of a
# timed run, which the script's runs do not pay.
HWM=0
run_pipeline() {
	local t0 pid poll=0 h st=0
	rm -f "$t"/out[0-3] "$t/hwm"
	sync
	t0=$EPOCHREALTIME
	"$BIN/pipeline" "${topo[@]}" 2>"$t/err" &
	pid=$!
	if [ "${1:-}" = hwm ]; then
		hwm "$pid" &
		poll=$!
	fi
	wait "$pid" || st=$?
	[ "$poll" -ne 0 ] || best pipeline "$(elapsed "$t0")"
	[ "$poll" -eq 0 ] || wait "$poll" || true
	[ "$st" -eq 0 ] || { cat "$t/err" >&2; die "pipeline failed ($st)"; }
	h=$(cat "$t/hwm" 2>/dev/null || echo 0)
	[ "$h" -gt "$HWM" ] && HWM=$h
	check_out pipeline
}

run_script() {
	local t0
	rm -f "$t"/out[0-3]
	sync
	t0=$EPOCHREALTIME
	bash "$t/script.sh" 2>"$t/err" || { cat "$t/err" >&2; die "script failed"; }
	best script "$(elapsed "$t0")"
	check_out script
}

run_rate() {
	local t0
	head -n "$RATE_N" "$LINES" >"$t/rate.in"
	rm -f "$t/rate.out"
	t0=$EPOCHREALTIME
	"$BIN/relay" --rate 2000/s -i "$t/rate.in" -o "$t/rate.out"
	RATE_S=$(elapsed "$t0")
	[ "$(wc -l <"$t/rate.out")" -eq "$RATE_N" ] ||
		die "relay --rate: not $RATE_N lines out"
}

for i in $(seq 1 "$RUNS"); do
	run_pipeline
	run_script
done
run_pipeline hwm
run_rate

table=$(awk -v n="$N" -v p="${BEST[pipeline]}" -v s="${BEST[script]}" \
    -v h="$HWM" -v r="$RATE_S" -v rn="$RATE_N" 'BEGIN {
	printf "pipeline: relay -> partition -n 4 -> 4 batch\t%.3f\t%.0f\t%.3f\t%.1f\t<= 1.05x the script, < 8 MiB\t%s\n",
	    p, n / p, p / s, h / 1024,
	    (p / s <= 1.05 && h < 8192 ? "meets" : "below")
	printf "peer: the same by a shell script (mkfifo, &, wait)\t%.3f\t%.0f\t-\t-\t-\t-\n",
	    s, n / s
	printf "relay --rate 2000/s, %d messages (ideal %.1f s)\t%.3f\t%.0f\t%.3f\t-\twithin 5%% of the ideal\t%s\n",
	    rn, rn / 2000, r, rn / r, r / (rn / 2000),
	    (r / (rn / 2000) <= 1.05 && r / (rn / 2000) >= 0.95 ? "meets" : "below")
}')
head="task	seconds	messages/s	ratio	pipeline MiB	target	result"
{ echo "$head"; echo "$table"; } | awk -F '\t' -f scripts/table.awk
if [ -n "$MD" ]; then
	{
		echo
		echo "pipeline, $N messages, best of $RUNS (ratio: pipeline's" \
		    "time over the script's, or the rate run's over the ideal;" \
		    "MiB: VmHWM of pipeline's own process):"
		echo
		{ echo "$head"; echo "$table"; } |
		    awk -F '\t' -f scripts/mdtable.awk
	} >>"$MD"
fi
