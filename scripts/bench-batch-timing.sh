#!/usr/bin/env bash
# Batch timing: how long after its first message a time-limited batch
# comes out. `make bench` runs this (through scripts/bench.sh) after the
# throughput rows; it also runs alone: bash scripts/bench-batch-timing.sh
# [OUT.md].
#
# For each trickle (a line every 50 ms for about 5 s, and a line every
# 300 ms for about 5 s) a writer sends line-framed messages to
# `bin/batch -t 200ms` on an absolute schedule (no drift), each payload a
# JSON object holding the wall time at which it was written
# ({"i":K,"sent":EPOCHREALTIME}). A reader stamps every batch line as it
# reads it. The interval of a batch is its arrival time minus the "sent"
# time of its first element, so it includes the pipe in and out (well
# under a millisecond) but no scheduling of our own. The writer keeps the
# input open for 500 ms after its last line, so that the last batch too is
# closed by its timer and not by the end of the input.
#
# Prints, per trickle: messages, batches, messages per batch, the
# intervals' min / median / max in ms, and whether every batch arrived
# within [TIMEOUT, TIMEOUT + SLACK] ms. Missing the window does not fail
# the script (a measurement, not a test); a failing batch, or batches that
# do not hold every message sent exactly once, do.
#
# With OUT.md, the same table is written there as Markdown (bench.sh puts
# it into build/bench.md).
#
# Environment: BENCH_TIMING_SECONDS (5: how long each trickle lasts),
# BENCH_TIMING_SLACK_MS (20), TMPDIR.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

BATCH=bin/batch
SECONDS_EACH=${BENCH_TIMING_SECONDS:-5}
SLACK_MS=${BENCH_TIMING_SLACK_MS:-20}
TIMEOUT_MS=200
TAIL_US=500000
OUT=${1:-}

die() {
	echo "bench-batch-timing: $*" >&2
	exit 1
}

[ -x "$BATCH" ] || die "$BATCH is missing; run make all"
[ -n "${EPOCHREALTIME:-}" ] || die "needs bash 5 (EPOCHREALTIME)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/libstream-timing.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# usleep US: sleeps US microseconds (nothing if US <= 0).
usleep() {
	(($1 > 0)) || return 0
	sleep "$(printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000)))"
}

# trickle PERIOD_US COUNT: COUNT messages, one every PERIOD_US from the
# first, each stamped with the time it is written; then TAIL_US of quiet
# before the input ends.
trickle() {
	local period=$1 n=$2 t0 k now
	t0=${EPOCHREALTIME/./}
	for ((k = 0; k < n; k++)); do
		now=${EPOCHREALTIME/./}
		usleep $((t0 + k * period - now))
		printf '[2024-01-01T00:00:00.000 | trickle | %d | 0] {"i":%d,"sent":%s}\n' \
		    "$k" "$k" "$EPOCHREALTIME"
	done
	usleep "$TAIL_US"
}

# stamp: each line of stdin, prefixed with the time it was read.
stamp() {
	local line
	while IFS= read -r line; do
		printf '%s %s\n' "$EPOCHREALTIME" "$line"
	done
}

# measure NAME PERIOD_MS: one trickle through batch; appends a TSV row
# (name, messages, batches, per batch, min, median, max, target, result)
# to $tmp/rows.
measure() {
	local name=$1 period_ms=$2 n st
	n=$((SECONDS_EACH * 1000 / period_ms + 1))
	echo "trickle: $name, $n messages, batch -t ${TIMEOUT_MS}ms" >&2
	set +e
	trickle $((period_ms * 1000)) "$n" |
	    "$BATCH" -t "${TIMEOUT_MS}ms" 2>"$tmp/err" | stamp >"$tmp/arrivals"
	st=("${PIPESTATUS[@]}")
	set -e
	if [ "${st[1]}" -ne 0 ] || [ -s "$tmp/err" ]; then
		cat "$tmp/err" >&2
		die "$name: batch -t ${TIMEOUT_MS}ms exited with ${st[1]}"
	fi
	if [ "${st[0]}" -ne 0 ] || [ "${st[2]}" -ne 0 ]; then
		die "$name: the writer or the reader failed (${st[*]})"
	fi
	# one line per batch: interval (ms), messages, then its elements' i
	awk '{
		t = $1; line = $0; k = 0; first = ""; ids = ""
		while (match(line, /\{"i":[0-9]+,"sent":[0-9.]+\}/)) {
			el = substr(line, RSTART, RLENGTH)
			line = substr(line, RSTART + RLENGTH)
			split(el, f, /[:,}]/)
			ids = ids " " f[2]
			if (k++ == 0)
				first = f[4]
		}
		if (k == 0) {
			print "not a batch of trickle messages: " $0 > "/dev/stderr"
			exit 1
		}
		printf "%.3f %d%s\n", (t - first) * 1000, k, ids
	}' "$tmp/arrivals" >"$tmp/batches" ||
		die "$name: unexpected output from batch"
	# every message sent, once, in order
	cut -d ' ' -f 3- "$tmp/batches" | tr ' ' '\n' |
	    cmp -s - <(seq 0 $((n - 1))) ||
		die "$name: the batches do not hold messages 0..$((n - 1)) once each, in order"
	awk -v name="$name" -v n="$n" -v lo="$TIMEOUT_MS" -v slack="$SLACK_MS" '
	{
		v[NR] = $1 + 0
		if (v[NR] < lo || v[NR] > lo + slack) out++
		if (NR == 1 || $2 < cmin) cmin = $2
		if (NR == 1 || $2 > cmax) cmax = $2
	}
	END {
		for (i = 2; i <= NR; i++)	# insertion sort: a few dozen
			for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
				x = v[j]; v[j] = v[j - 1]; v[j - 1] = x
			}
		med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		per = cmin == cmax ? cmin : cmin "-" cmax
		res = out ? sprintf("misses: %d of %d outside", out, NR) : "meets"
		printf "%s\t%d\t%d\t%s\t%.1f\t%.1f\t%.1f\t%s\t%s\n", name, n,
		    NR, per, v[1], med, v[NR],
		    "every batch in [" lo ", " lo + slack "] ms", res
	}' "$tmp/batches" >>"$tmp/rows"
}

: >"$tmp/rows"
measure "a line every 50 ms" 50
measure "a line every 300 ms" 300

head="batch -t ${TIMEOUT_MS}ms, input	messages	batches	msgs/batch	min ms	median ms	max ms	target	result"
echo
{ echo "$head"; cat "$tmp/rows"; } | awk -F '\t' -f scripts/table.awk
notes="Interval = arrival of the batch line at the reader - the write of the
batch's first message (both wall times taken in bash, EPOCHREALTIME). Each
trickle lasts ${SECONDS_EACH} s; slack ${SLACK_MS} ms (BENCH_TIMING_SLACK_MS);
bin/batch -t ${TIMEOUT_MS}ms alone (no count or byte limit), so every batch
is closed by its timer. A measurement: a busy machine shows as late batches."
echo
echo "$notes"

if [ -n "$OUT" ]; then
	{
		{ echo "$head"; cat "$tmp/rows"; } |
		    awk -F '\t' -f scripts/mdtable.awk
		echo
		echo "$notes"
	} >"$OUT"
fi
