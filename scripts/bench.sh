#!/usr/bin/env bash
# The benchmark: `make bench` builds everything, then runs this.
#
# Generates 1,000,000 line-framed messages with 100-byte printable payloads
# over 8 keys (deterministic, with awk), writes them to a .ss file with
# build/tools/ss-build -l, and measures in this one run, best of 3 each:
#
#   log decode      bin/ss-decode FILE >/dev/null      peer: cat FILE >/dev/null
#   ndjson decode   bin/ss-decode -F ndjson FILE        peer: cat FILE >/dev/null
#   log decode of a 4x file (4,000,000 messages), to show peak memory does
#                   not grow with the file               peer: cat FILE4 >/dev/null
#   write, stdio->file (the command)
#                   bin/relay -o OUT.ss --force <LINES  peer: cat LINES >OUT2
#   write, the library writer alone
#                   ss-build -l -i 1048576 OUT <LINES   peer: cat LINES >OUT2
#   file->stdio     bin/relay -i FILE >/dev/null        peer: cat FILE >/dev/null
#   file->stdio of the 4x file, for its peak memory     peer: cat FILE4 >/dev/null
#   jq -c . on 100,000 lines of the ndjson output, scaled, as a reference.
#
# relay writes with its default beacon interval, 1 MiB, the same as the
# ss-build runs, and ends its .ss with an End-of-Stream message (stamped
# with the time of closing, so its output is not compared byte for byte:
# it is checked to decode to the input lines plus that message). Its
# file->stdio output is checked once, outside the timed runs, to be the
# input lines byte for byte.
#
# Prints a table (task, seconds, messages/s, ratio to its peer = peer
# seconds / our seconds, peak RSS, target, meets/below) and writes it as
# Markdown to build/bench.md. Missing a target does not fail the script
# (it is a measurement, not a test); a failing command does.
#
# Wall time is taken with bash's EPOCHREALTIME around each command (10 ms,
# the resolution of /usr/bin/time's %e, is too coarse for the cat peers);
# peak RSS is /usr/bin/time's %M (KiB).
#
# Environment: BENCH_MESSAGES (default 1000000), BENCH_RUNS (3),
# BENCH_MEM_MIB (8: what "a few MiB" of peak memory means here), TMPDIR.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

N=${BENCH_MESSAGES:-1000000}
RUNS=${BENCH_RUNS:-3}
MEM_MIB=${BENCH_MEM_MIB:-8}
N4=$((4 * N))
NJQ=$((N < 100000 ? N : 100000))
INTERVAL=1048576
CREATED=1704067200000 # fixed, so that every .ss written here is identical
DECODE=bin/ss-decode
RELAY=bin/relay
BUILD=build/tools/ss-build
OUTMD=build/bench.md
TIME=/usr/bin/time

die() {
	echo "bench: $*" >&2
	exit 1
}

for f in "$DECODE" "$RELAY" "$BUILD"; do
	[ -x "$f" ] || die "$f is missing; run make all tests (or make bench)"
done
[ -x "$TIME" ] || die "$TIME is missing (Debian package time)"
command -v jq >/dev/null || die "jq is missing (Debian package jq)"
[ -n "${EPOCHREALTIME:-}" ] || die "needs bash 5 (EPOCHREALTIME)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/libstream-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Disk: the line file (~150 B/msg) and its cat copy, the .ss (~134 B/msg),
# its ss-build rewrite and its relay rewrite, the 4x .ss; about 1.25 KB per
# message, asked with margin.
need_kib=$((N * 1450 / 1024 + 65536))
free_kib=$(df -Pk "$tmp" | awk 'NR == 2 { print $4 }')
echo "disk: $((free_kib / 1024)) MiB free in ${tmp%/*}," \
    "about $((need_kib / 1024)) MiB needed"
if [ "$free_kib" -lt "$need_kib" ]; then
	die "not enough free disk in ${tmp%/*}: $((free_kib / 1024)) MiB" \
	    "free, about $((need_kib / 1024)) MiB needed; set TMPDIR to a" \
	    "larger file system or lower BENCH_MESSAGES"
fi

# gen N: N line-framed messages on stdout, keys k0..k7 in turn, each key's
# sequence counting from 0, one millisecond apart from
# 2024-01-01T00:00:00.000, shard 0, a 100-byte payload cut at a rotating
# offset out of the printable ASCII characters (including " and \).
gen() {
	awk -v n="$1" 'BEGIN {
		for (c = 33; c < 127; c++)
			base = base sprintf("%c", c)
		base = base base base
		for (i = 0; i < n; i++) {
			s = int(i / 1000)
			printf "[2024-01-01T%02d:%02d:%02d.%03d | k%d | %d | 0] %s\n",
			    int(s / 3600), int(s / 60) % 60, s % 60, i % 1000,
			    i % 8, int(i / 8), substr(base, i % 94 + 1, 100)
		}
	}'
}

# build OUT: ss-build -l with the fixed header, lines on stdin.
build() {
	"$BUILD" -l -i "$INTERVAL" -n bench.ss -c "$CREATED" "$1"
}

# check_count FILE N: the file decodes cleanly to N messages.
check_count() {
	local v
	v=$("$DECODE" -v "$1")
	case $v in
	*": ok, $2 messages,"*) ;;
	*) die "$1: expected $2 messages, ss-decode -v says: $v" ;;
	esac
}

echo "generating $N messages (and $N4 for the 4x file)"
gen "$N" >"$tmp/lines.txt"
build "$tmp/msgs.ss" <"$tmp/lines.txt"
check_count "$tmp/msgs.ss" "$N"
gen "$N4" | build "$tmp/msgs4.ss"
check_count "$tmp/msgs4.ss" "$N4"
head -n "$NJQ" "$tmp/lines.txt" | build "$tmp/small.ss"
"$DECODE" -F ndjson "$tmp/small.ss" >"$tmp/sample.ndjson"
# Round trip: the log output of the first lines is the input, byte for byte.
"$DECODE" "$tmp/small.ss" | cmp -s - <(head -n "$NJQ" "$tmp/lines.txt") ||
	die "log decode does not give back the input lines"
# relay's line output of the whole .ss is the input, byte for byte.
"$RELAY" -i "$tmp/msgs.ss" </dev/null | cmp -s - "$tmp/lines.txt" ||
	die "relay -i does not give back the input lines"

declare -A SEC RSS
# run NAME IN OUT CMD...: runs CMD once with stdin IN and stdout OUT (an OUT
# other than /dev/null is removed first), keeps the lowest wall time in
# SEC[NAME] and the highest peak RSS (KiB) in RSS[NAME].
run() {
	local name=$1 in=$2 out=$3 t0 t1 s m
	shift 3
	[ "$out" = /dev/null ] || rm -f "$out"
	t0=$EPOCHREALTIME
	if ! "$TIME" -f '%e %M' -o "$tmp/time" "$@" <"$in" >"$out" \
	    2>"$tmp/err"; then
		cat "$tmp/err" "$tmp/time" >&2
		die "$name: '$*' failed"
	fi
	t1=$EPOCHREALTIME
	[ -s "$tmp/err" ] && sed "s/^/bench: $name: /" "$tmp/err" >&2
	s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
	m=$(tail -n 1 "$tmp/time" | awk '{ print $2 }')
	if [ -z "${SEC[$name]:-}" ] ||
	    awk -v a="$s" -v b="${SEC[$name]}" 'BEGIN { exit !(a < b) }'; then
		SEC[$name]=$s
	fi
	if [ -z "${RSS[$name]:-}" ] || [ "$m" -gt "${RSS[$name]}" ]; then
		RSS[$name]=$m
	fi
}

echo "measuring, best of $RUNS"
cat "$tmp/msgs.ss" "$tmp/msgs4.ss" "$tmp/lines.txt" >/dev/null # warm cache
for ((i = 1; i <= RUNS; i++)); do
	run log /dev/null /dev/null "$DECODE" "$tmp/msgs.ss"
	run cat_ss /dev/null /dev/null cat "$tmp/msgs.ss"
	run ndjson /dev/null /dev/null "$DECODE" -F ndjson "$tmp/msgs.ss"
	rm -f "$tmp/write.ss"
	run write "$tmp/lines.txt" /dev/null "$BUILD" -l -i "$INTERVAL" \
	    -n bench.ss -c "$CREATED" "$tmp/write.ss"
	run cat_lines "$tmp/lines.txt" "$tmp/cat.out" cat
	rm -f "$tmp/relay.ss"
	run rwrite "$tmp/lines.txt" /dev/null "$RELAY" -o "$tmp/relay.ss" --force
	run rread /dev/null /dev/null "$RELAY" -i "$tmp/msgs.ss"
	run log4 /dev/null /dev/null "$DECODE" "$tmp/msgs4.ss"
	run rread4 /dev/null /dev/null "$RELAY" -i "$tmp/msgs4.ss"
	run cat_ss4 /dev/null /dev/null cat "$tmp/msgs4.ss"
	run jq "$tmp/sample.ndjson" /dev/null jq -c .
done
cmp -s "$tmp/write.ss" "$tmp/msgs.ss" ||
	die "the measured write gave a different .ss file"
# relay's .ss: the N messages, then its End-of-Stream message.
check_count "$tmp/relay.ss" "$((N + 1))"
"$DECODE" "$tmp/relay.ss" | sed '$d' | cmp -s - "$tmp/lines.txt" ||
	die "relay -o gave a .ss that does not decode to the input lines"
"$DECODE" "$tmp/relay.ss" | tail -n 1 | grep -q '| SEA_STREAMER_INTERNAL | .*] EOS$' ||
	die "relay -o gave a .ss that does not end with End-of-Stream"

# The table, as TSV rows: task, messages, seconds, peer, kind, target.
# kind: speed:MIN (msg/s, and peak <= MEM_MIB), mem:BASE (peak <= MEM_MIB
# and <= the peak of the run named BASE + 1 MiB), peer, ref (seconds shown
# scaled from NJQ messages to N).
{
	printf 'log decode (ss-decode)\t%s\tlog\tcat_ss\tspeed:5000000\n' "$N"
	printf 'ndjson decode (ss-decode -F ndjson)\t%s\tndjson\tcat_ss\tspeed:3000000\n' "$N"
	printf 'log decode, 4x file\t%s\tlog4\tcat_ss4\tmem:log\n' "$N4"
	printf 'write, stdio->file (relay -o .ss)\t%s\trwrite\tcat_lines\tspeed:3000000\n' "$N"
	printf 'write, library writer alone (ss-build -l)\t%s\twrite\tcat_lines\tspeed:4000000\n' "$N"
	printf 'file->stdio (relay -i .ss)\t%s\trread\tcat_ss\tspeed:5000000\n' "$N"
	printf 'file->stdio, 4x file (relay -i)\t%s\trread4\tcat_ss4\tmem:rread\n' "$N4"
	printf 'peer: cat .ss >/dev/null\t%s\tcat_ss\t-\tpeer\n' "$N"
	printf 'peer: cat lines >file\t%s\tcat_lines\t-\tpeer\n' "$N"
	printf 'peer: cat 4x .ss >/dev/null\t%s\tcat_ss4\t-\tpeer\n' "$N4"
	printf 'reference: jq -c . (%s lines, x%s)\t%s\tjq\t-\tref\n' \
	    "$NJQ" "$((N / NJQ))" "$N"
} >"$tmp/rows"

table=$(
	while IFS=$'\t' read -r task n key peer kind; do
		base=0
		case $kind in mem:*) base=${RSS[${kind#mem:}]} ;; esac
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$task" "$n" \
		    "${SEC[$key]}" "$NJQ" "$kind" "${RSS[$key]}" \
		    "${SEC[$peer]:-}" "$base" "$MEM_MIB"
	done <"$tmp/rows" | awk -F '\t' '
	function commas(x,   s, r) {
		s = sprintf("%.0f", x)
		r = ""
		while (length(s) > 3) {
			r = "," substr(s, length(s) - 2) r
			s = substr(s, 1, length(s) - 3)
		}
		return s r
	}
	{
		task = $1; n = $2; sec = $3; njq = $4; kind = $5
		mib = $6 / 1024; peer = $7; base = $8 / 1024; lim = $9
		if (kind == "ref") {
			rate = njq / sec
			sec = sec * n / njq
		} else
			rate = n / sec
		ratio = peer == "" ? "-" : sprintf("%.2f", peer / $3)
		target = "-"; res = "-"
		if (kind ~ /^speed:/) {
			min = substr(kind, 7) + 0
			target = ">= " commas(min) " msg/s, <= " lim " MiB"
			res = (rate >= min && mib <= lim) ? "meets" : "below"
		} else if (kind ~ /^mem:/) {
			target = sprintf("<= %d MiB, not above %.1f + 1 MiB (1x file)",
			    lim, base)
			res = (mib <= lim && mib <= base + 1) ? "meets" : "below"
		}
		printf "%s\t%s\t%.3f\t%s\t%s\t%.1f\t%s\t%s\n", task, commas(n),
		    sec, commas(rate), ratio, mib, target, res
	}'
)
head="task	messages	seconds	messages/s	vs peer	peak MiB	target	result"

echo
{ echo "$head"; echo "$table"; } | awk -F '\t' '
	{ for (i = 1; i <= NF; i++) { c[NR, i] = $i
	    if (length($i) > w[i]) w[i] = length($i) } }
	END { for (r = 1; r <= NR; r++) { line = ""
	    for (i = 1; i <= 8; i++) {
	        fmt = (i == 1 || i >= 7) ? "%-" w[i] "s  " : "%" w[i] "s  "
	        line = line sprintf(fmt, c[r, i]) }
	    sub(/ +$/, "", line); print line } }'

jqr=$(awk -v a="${SEC[jq]}" -v b="${SEC[ndjson]}" -v n="$N" -v j="$NJQ" \
    'BEGIN { printf "%.0f", (a * n / j) / b }')
notes="vs peer = peer seconds / our seconds (the peer of the decodes and of
relay file->stdio is cat of the same .ss bytes to /dev/null; of the writes,
cat of the line file into a file). Best of $RUNS runs; peak MiB = highest
peak RSS of those runs. The relay rows are the commands of issue 3; the
ss-build row is the library's .ss writer without relay's line source.
ss-decode -F ndjson is ${jqr}x as fast as jq -c . per message."
echo
echo "$notes"

rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- lib cmd tests 2>/dev/null)" ]; then
	rev="$rev + local changes"
fi
cpu=$(awk -F ': ' '/^model name/ { print $2; exit }' /proc/cpuinfo \
    2>/dev/null || true)
mkdir -p "${OUTMD%/*}"
{
	echo "# libstream benchmark"
	echo
	echo "$(date -u +%Y-%m-%d), commit $rev, $(nproc) CPUs" \
	    "(${cpu:-unknown CPU}), $N messages of 100-byte payloads over" \
	    "8 keys, beacon interval $INTERVAL; \`make bench\`."
	echo
	{ echo "$head"; echo "$table"; } | awk -F '\t' '
	    { line = "|"; for (i = 1; i <= NF; i++) line = line " " $i " |"
	      print line
	      if (NR == 1) print "|---|--:|--:|--:|--:|--:|---|---|" }'
	echo
	echo "$notes"
} >"$OUTMD"
echo "(written to $OUTMD)"
