#!/usr/bin/env bash
# How cost grows: the scaling table of `make bench` (issue 17). Each row
# is one stage over one dimension; each cell is the rate of that case
# divided by the rate of the row's smallest case, measured in this one
# run (1.00 = as fast a message, below 1 = slower). Rates are messages/s,
# except for the payload-size rows, which give MB/s of payload (the work
# grows with the bytes, so a flat MB/s is the ideal there) beside the
# messages/s.
#
#   payload bytes 10 .. 65536   relay -o .ss (lines in), ss-decode (.ss in)
#   distinct keys 1 .. 10000    partition -n 4, batch --by stream -n 100,
#                               relay -o .ss (one beacon entry per key)
#   outputs 4 .. 64             partition -n K, fanout --mode roundrobin
#   workers 1 .. 64             fanout --mode demand --exec cat -j W
#
# Every case is best of BENCH_RUNS runs (default 2), wall time from bash's
# EPOCHREALTIME; outputs go to files (the stages) or /dev/null (decoding).
# Every output is checked for its message count, so that a broken case
# cannot look fast.
#
# Usage: scripts/bench-scaling.sh OUT.md OUT.tsv (the table as Markdown
# and as tab-separated lines: dimension, stage, case, seconds, messages,
# bytes, ratio). Environment: BENCH_SCALING_MESSAGES (200000),
# BENCH_RUNS, TMPDIR.
set -euo pipefail

N=${BENCH_SCALING_MESSAGES:-200000}
RUNS=${BENCH_RUNS:-2}
MD=${1:?usage: bench-scaling.sh OUT.md OUT.tsv}
TSV=${2:?usage: bench-scaling.sh OUT.md OUT.tsv}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/libstream-scaling.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

die() {
	echo "bench-scaling: $*" >&2
	exit 1
}

# gen N SIZE KEYS: N line-framed messages, SIZE-byte payloads (a rotating
# cut of printable ASCII), keys k0 .. k(KEYS-1) in turn, seq per key.
gen() {
	awk -v n="$1" -v size="$2" -v keys="$3" 'BEGIN {
		for (c = 33; c < 127; c++)
			base = base sprintf("%c", c)
		while (length(base) < size + 94)
			base = base base
		for (i = 0; i < n; i++) {
			s = int(i / 1000)
			printf "[2024-01-01T%02d:%02d:%02d.%03d | k%d | %d | 0] %s\n",
			    int(s / 3600), int(s / 60) % 60, s % 60, i % 1000,
			    i % keys, int(i / keys), substr(base, i % 94 + 1, size)
		}
	}'
}

# best CMD...: runs CMD (a string, through bash) RUNS times and prints
# the lowest wall time in seconds.
best() {
	local i t0 t1 b=""
	for ((i = 0; i < RUNS; i++)); do
		rm -rf "$tmp/out"
		mkdir "$tmp/out"
		sync
		t0=$EPOCHREALTIME
		bash -o pipefail -c "$1" || die "failed: $1"
		t1=$EPOCHREALTIME
		b=$(awk -v a="$t0" -v z="$t1" -v b="$b" \
		    'BEGIN { s = z - a; print (b == "" || s < b) ? s : b }')
	done
	echo "$b"
}

# count_lines FILES...: the lines of the files together.
count_lines() {
	cat "$@" | wc -l
}

# check WHAT GOT WANT: the counts agree.
check() {
	[ "$2" -eq "$3" ] || die "$1: $2 messages, $3 expected"
}

# row DIM STAGE CASE SECONDS MESSAGES BYTES: one measured case.
row() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$tmp/rows"
}

B=bin
: >"$tmp/rows"

echo "scaling: payload size"
for size in 10 100 1024 16384 65536; do
	n=$((N * 100 / (size > 100 ? size : 100)))
	[ "$n" -ge 1000 ] || n=1000
	gen "$n" "$size" 8 >"$tmp/in.txt"
	s=$(best "$B/relay -o $tmp/out/x.ss <$tmp/in.txt")
	check "relay -o .ss, $size B" "$("$B/ss-decode" "$tmp/out/x.ss" | wc -l)" $((n + 1))
	row size "relay -o .ss" "$size" "$s" "$n" $((n * size))
	cp "$tmp/out/x.ss" "$tmp/in.ss"
	s=$(best "$B/ss-decode $tmp/in.ss >/dev/null")
	row size "ss-decode" "$size" "$s" "$n" $((n * size))
done

echo "scaling: distinct keys"
for keys in 1 10 100 1000 10000; do
	gen "$N" 100 "$keys" >"$tmp/in.txt"
	s=$(best "$B/partition -n 4 $tmp/out/p%d.txt <$tmp/in.txt")
	check "partition, $keys keys" "$(count_lines "$tmp"/out/p*.txt)" "$N"
	row keys "partition -n 4" "$keys" "$s" "$N" 0
	s=$(best "$B/batch --by stream -n 100 <$tmp/in.txt >$tmp/out/b.txt")
	check "batch, $keys keys" "$("$B/batch" --split -i "$tmp/out/b.txt" | wc -l)" "$N"
	row keys "batch --by stream -n 100" "$keys" "$s" "$N" 0
	s=$(best "$B/relay -o $tmp/out/x.ss <$tmp/in.txt")
	check "relay -o .ss, $keys keys" "$("$B/ss-decode" "$tmp/out/x.ss" | wc -l)" $((N + 1))
	row keys "relay -o .ss" "$keys" "$s" "$N" 0
done

echo "scaling: outputs"
gen "$N" 100 1000 >"$tmp/in.txt"
for k in 4 16 64; do
	s=$(best "$B/partition -n $k $tmp/out/p%d.txt <$tmp/in.txt")
	check "partition -n $k" "$(count_lines "$tmp"/out/p*.txt)" "$N"
	row outputs "partition -n K" "$k" "$s" "$N" 0
	outs=$(seq -f "$tmp/out/o%g.txt" 1 "$k" | tr '\n' ' ')
	s=$(best "$B/fanout --mode roundrobin $outs <$tmp/in.txt")
	check "fanout to $k" "$(count_lines "$tmp"/out/o*.txt)" "$N"
	row outputs "fanout --mode roundrobin" "$k" "$s" "$N" 0
done

echo "scaling: workers"
for w in 1 4 16 64; do
	s=$(best "$B/fanout --mode demand --exec cat -j $w <$tmp/in.txt >$tmp/out/f.txt")
	check "fanout -j $w" "$(wc -l <"$tmp/out/f.txt")" "$N"
	row workers "fanout --mode demand --exec cat" "$w" "$s" "$N" 0
done

# The table: per stage and dimension, the cases in a line, each rate
# over the first case's.
awk -F '\t' -v tsv="$TSV" '
	{
		k = $1 SUBSEP $2
		if (!(k in first)) {
			order[++nk] = k
			first[k] = $5 / $4
			firstb[k] = $6 / $4
		}
		r = ($5 / $4) / first[k]
		rb = $6 > 0 ? ($6 / $4) / firstb[k] : 0
		cell = sprintf("%s: %.2f", $3, r)
		if ($6 > 0)
			cell = sprintf("%s: %.2f (%.0f MB/s, x%.2f)", $3, r,
			    $6 / $4 / 1e6, rb)
		cells[k] = cells[k] (cells[k] == "" ? "" : ", ") cell
		printf "%s\t%s\t%s\t%s\t%s\t%s\t%.3f\n", $1, $2, $3, $4, $5,
		    $6, r >tsv
	}
	END {
		print "| dimension | stage | rate per case, / the first case |"
		print "|---|---|---|"
		for (i = 1; i <= nk; i++) {
			split(order[i], p, SUBSEP)
			printf "| %s | %s | %s |\n", p[1], p[2], cells[order[i]]
		}
	}' "$tmp/rows" >"$MD"
cat "$MD"
