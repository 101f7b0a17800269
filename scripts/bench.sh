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
# The stages, each writing 4 files into one directory, against cat, GNU
# split and GNU parallel doing the same split of the same input:
#
#   partition by stream key   bin/partition -n 4 DIR/out%d.txt <LINES
#   partition by a JSON field bin/partition -n 4 --key field:user_id
#                             DIR/out%d.txt <JSON (the same N messages,
#                             each payload a 100-byte JSON object whose
#                             "user_id" takes 1000 values)
#   partition --members FILE  the same two splits (--key stream, and
#                             --key field:user_id), FILE naming 4 targets
#                             n0..n3 that write the same 4 files
#       peer: partition -n 4 on the same input (and cat); target: at most
#       1.3 times its time (ratio >= 0.77), peak memory <= BENCH_MEM_MIB.
#   fanout round-robin        bin/fanout --mode roundrobin DIR/o0 .. DIR/o3
#                             <LINES
#       peers, on the same input (LINES or JSON):
#                             cat IN >file; split -n r/4 IN DIR/sp;
#                             parallel --will-cite --pipe --roundrobin -j4
#                             'cat > DIR/pp.{%}' <IN
#       target (issue 17): partition by stream key and fanout at least
#       twice as fast as split -n r/4 and as parallel --pipe
#       --roundrobin, and within 3x the time of cat (ratio >= 0.33);
#       partition by a JSON field within 1.3x the time of partition by
#       stream key (ratio >= 0.77); peak memory <= BENCH_MEM_MIB.
#   batch -n 1000             bin/batch -n 1000 <LINES >OUT (text payloads:
#                             JSON strings), and <JSON >OUT (the objects
#                             embedded)                   peer: cat IN >file
#       target: >= 3,000,000 messages/s, peak memory <= BENCH_MEM_MIB.
#   batch -n 1000 of a 4x stream (LINES four times, through a pipe, to
#                             /dev/null), for its peak memory: bounded by
#                             the batch limit, not the stream.
#
# Their outputs are checked after the timed runs (from the last run), so
# that a broken command cannot look fast: every tool's 4 files hold the N
# lines, byte for byte in total; partition puts each key in one file (and
# its number in the shard field); fanout's and split's files interleave
# back to the input; batch writes N/1000 batches that batch --split turns
# back into the input's payloads.
#
# Then scripts/bench-batch-timing.sh measures when batch -t 200ms closes
# its batches on a slow trickle (a second table).
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
# Every run starts after a sync (untimed), so that the kernel's writeback of
# earlier runs' files does not land on it. Wall time is taken with bash's
# EPOCHREALTIME around each command (10 ms, the resolution of
# /usr/bin/time's %e, is too coarse for the cat peers); peak RSS is
# /usr/bin/time's %M (KiB).
#
# Environment: BENCH_MESSAGES (default 1000000), BENCH_RUNS (3),
# BENCH_MEM_MIB (8: what "a few MiB" of peak memory means here), TMPDIR;
# BENCH_TIMING_SECONDS, BENCH_TIMING_SLACK_MS (see bench-batch-timing.sh;
# BENCH_TIMING_SECONDS=0 leaves the timing table out); BENCH_NET=0 leaves
# out scripts/bench-net.sh (TCP ingest and idle clients).
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
PARTITION=bin/partition
FANOUT=bin/fanout
BATCH=bin/batch
BUILD=build/tools/ss-build
OUTMD=build/bench.md
OUTTSV=build/bench.tsv
TIME=/usr/bin/time

die() {
	echo "bench: $*" >&2
	exit 1
}

for f in "$DECODE" "$RELAY" "$PARTITION" "$FANOUT" "$BATCH" "$BUILD"; do
	[ -x "$f" ] || die "$f is missing; run make all tests (or make bench)"
done
[ -x "$TIME" ] || die "$TIME is missing (Debian package time)"
command -v jq >/dev/null || die "jq is missing (Debian package jq)"
command -v parallel >/dev/null ||
	die "parallel is missing (Debian package parallel)"
parallel --will-cite --version 2>/dev/null | grep -q '^GNU parallel' ||
	die "parallel is not GNU parallel (Debian package parallel)"
split --version 2>/dev/null | grep -q 'GNU coreutils' ||
	die "split is not GNU split (coreutils)"
[ -n "${EPOCHREALTIME:-}" ] || die "needs bash 5 (EPOCHREALTIME)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/libstream-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Disk: the line file (~150 B/msg) and its cat copy, the .ss (~134 B/msg),
# its ss-build rewrite and its relay rewrite, the 4x .ss; the JSON line
# file (~150 B/msg), the 4 files of one stage or peer at a time (as much),
# batch's output (a bit more); about 1.7 KB per message, asked with margin.
need_kib=$((N * 1950 / 1024 + 65536))
free_kib=$(df -Pk "$tmp" | awk 'NR == 2 { print $4 }')
echo "disk: $((free_kib / 1024)) MiB free in ${tmp%/*}," \
    "about $((need_kib / 1024)) MiB needed"
if [ "$free_kib" -lt "$need_kib" ]; then
	die "not enough free disk in ${tmp%/*}: $((free_kib / 1024)) MiB" \
	    "free, about $((need_kib / 1024)) MiB needed; set TMPDIR to a" \
	    "larger file system or lower BENCH_MESSAGES"
fi

# gen N: N line-framed messages on stdout (scripts/gen-lines.awk).
gen() {
	awk -v n="$1" -f scripts/gen-lines.awk
}

# gen_json N: as gen, with each payload a 100-byte JSON object:
# {"user_id":"uUUU","n":I,"pad":"..."}, UUU = (I * 7919 + I / 1000) mod
# 1000 (each of the 1000 values once in every 1000 messages, and not tied
# to the stream key), pad a rotating cut of [0-9A-Za-z].
gen_json() {
	awk -v n="$1" 'BEGIN {
		for (c = 48; c < 123; c++)
			if (c < 58 || (c > 64 && c < 91) || c > 96)
				an = an sprintf("%c", c)
		an = an an an
		for (i = 0; i < n; i++) {
			s = int(i / 1000)
			p = sprintf("{\"user_id\":\"u%03d\",\"n\":%d,\"pad\":\"",
			    (i * 7919 + int(i / 1000)) % 1000, i)
			printf "[2024-01-01T%02d:%02d:%02d.%03d | k%d | %d | 0] %s%s\"}\n",
			    int(s / 3600), int(s / 60) % 60, s % 60, i % 1000,
			    i % 8, int(i / 8), p, substr(an, i % 62 + 1,
			    98 - length(p))
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
gen_json "$N" >"$tmp/json.txt"
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
# SEC[NAME] and the highest peak RSS (KiB) in RSS[NAME]. It syncs first
# (untimed): the runs write about 1.5 GB of files each round, and without
# that the kernel's writeback of one run's files (and its throttling of
# writers) lands on whichever run comes next.
run() {
	local name=$1 in=$2 out=$3 t0 t1 s m
	shift 3
	[ "$out" = /dev/null ] || rm -f "$out"
	sync	# no writeback of earlier runs' files during this one
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

# fresh DIR: DIR, empty (outside the timed runs).
fresh() {
	rm -rf "$1"
	mkdir "$1"
}

# check_files NAME DIR IN: DIR holds 4 files, with the lines of IN in all
# (as many lines, as many bytes).
check_files() {
	local name=$1 dir=$2 src=$3 files lines bytes
	files=$(find "$dir" -type f | wc -l)
	[ "$files" -eq 4 ] || die "$name: $files files in its directory, not 4"
	lines=$(cat "$dir"/* | wc -l)
	bytes=$(cat "$dir"/* | wc -c)
	[ "$lines" -eq "$N" ] ||
		die "$name: its 4 files hold $lines lines, not $N"
	[ "$bytes" -eq "$(wc -c <"$src")" ] ||
		die "$name: its 4 files hold $bytes bytes, not those of $src"
}

# check_rr NAME IN FILE...: the files, a line of each in turn, are IN.
check_rr() {
	local name=$1 src=$2
	shift 2
	paste -d '\n' "$@" | head -n "$N" | cmp -s - "$src" ||
		die "$name: its files are not $src dealt out a line at a time"
}

# check_keys NAME DIR FIELD [keep]: partition's files DIR/out0.txt..out3.txt:
# each key (the stream key, or with FIELD that JSON field) in one file
# only, and every message's shard set to the number of its file (with
# keep, as in the input: 0).
check_keys() {
	local name=$1 dir=$2 field=$3 keep=${4:-}
	awk -v field="$field" -v name="$name" -v keep="$keep" '
	FNR == 1 { f = FILENAME; sub(/.*out/, "", f); sub(/\.txt$/, "", f) }
	{
		split($0, h, / \| /)
		k = h[2]
		if (field != "") {
			if (!match($0, "\"" field "\":\"[^\"]*\"")) {
				print name ": no " field ": " $0
				bad = 1
				exit
			}
			k = substr($0, RSTART, RLENGTH)
		}
		if ((k in where) && where[k] != f) {
			print name ": " k " in out" where[k] ".txt and out" f ".txt"
			bad = 1
			exit
		}
		where[k] = f
		sh = h[4]
		sub(/\].*/, "", sh)
		if (sh != (keep != "" ? 0 : f)) {
			print name ": shard " sh " in out" f ".txt"
			bad = 1
			exit
		}
	}
	END { exit bad }' "$dir"/out0.txt "$dir"/out1.txt "$dir"/out2.txt \
	    "$dir"/out3.txt >&2 || die "$name: a key in two partitions"
}

# payloads: the payloads of the lines on stdin.
payloads() {
	sed 's/^[^]]*] //'
}

# check_batch NAME OUT IN: OUT is N/1000 batches that batch --split turns
# back into IN's payloads.
check_batch() {
	local name=$1 out=$2 src=$3 nb
	nb=$(wc -l <"$out")
	[ "$nb" -eq $(((N + 999) / 1000)) ] ||
		die "$name: $nb batches, not $(((N + 999) / 1000))"
	"$BATCH" --split <"$out" | payloads | cmp -s - <(payloads <"$src") ||
		die "$name: batch --split does not give back the payloads of $src"
}

# counts DIR FILE...: the line counts of the files, as A/B/C/D.
counts() {
	local dir=$1 f c=""
	shift
	for f in "$@"; do
		c="$c${c:+/}$(wc -l <"$dir/$f")"
	done
	echo "$c"
}

mkfifo "$tmp/fifo"
for t in 0 1 2 3; do
	echo "n$t $tmp/o/out$t.txt"
done >"$tmp/members.txt"
qtmp=$(printf '%q' "$tmp")
echo "measuring, best of $RUNS"
cat "$tmp/msgs.ss" "$tmp/msgs4.ss" "$tmp/lines.txt" "$tmp/json.txt" \
    >/dev/null # warm cache
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

	# the stages and their peers; the outputs of the last run checked
	run cat_json "$tmp/json.txt" "$tmp/cat.out" cat
	rm -f "$tmp/cat.out"
	for src in lines json; do
		fresh "$tmp/o"
		run "split_$src" /dev/null /dev/null \
		    split -n r/4 "$tmp/$src.txt" "$tmp/o/sp"
		if [ "$i" -eq "$RUNS" ]; then
			check_files "split ($src)" "$tmp/o" "$tmp/$src.txt"
			check_rr "split ($src)" "$tmp/$src.txt" "$tmp"/o/sp*
		fi
		fresh "$tmp/o"
		run "par_$src" "$tmp/$src.txt" /dev/null parallel --will-cite \
		    --pipe --roundrobin -j4 "cat > $qtmp/o/pp.{%}"
		[ "$i" -lt "$RUNS" ] ||
			check_files "parallel ($src)" "$tmp/o" "$tmp/$src.txt"
	done
	fresh "$tmp/o"
	run part_stream "$tmp/lines.txt" /dev/null \
	    "$PARTITION" -n 4 "$tmp/o/out%d.txt"
	if [ "$i" -eq "$RUNS" ]; then
		check_files "partition by stream" "$tmp/o" "$tmp/lines.txt"
		check_keys "partition by stream" "$tmp/o" ""
		dist_stream=$(counts "$tmp/o" out0.txt out1.txt out2.txt out3.txt)
	fi
	fresh "$tmp/o"
	run part_field "$tmp/json.txt" /dev/null \
	    "$PARTITION" -n 4 --key field:user_id "$tmp/o/out%d.txt"
	if [ "$i" -eq "$RUNS" ]; then
		check_files "partition by field" "$tmp/o" "$tmp/json.txt"
		check_keys "partition by field" "$tmp/o" user_id
		dist_field=$(counts "$tmp/o" out0.txt out1.txt out2.txt out3.txt)
	fi
	# --members: the same 4 files, named n0..n3 in a membership file
	for src in stream field; do
		fresh "$tmp/o"
		in=$tmp/lines.txt key=stream
		[ "$src" = stream ] || in=$tmp/json.txt key=field:user_id
		run "part_members_$src" "$in" /dev/null "$PARTITION" \
		    --members "$tmp/members.txt" --key "$key"
		if [ "$i" -eq "$RUNS" ]; then
			check_files "partition --members by $src" "$tmp/o" "$in"
			check_keys "partition --members by $src" "$tmp/o" \
			    "$([ "$src" = stream ] || echo user_id)" keep
			dist="$(counts "$tmp/o" out0.txt out1.txt out2.txt out3.txt)"
			printf -v "dist_members_$src" '%s' "$dist"
		fi
	done
	fresh "$tmp/o"
	run fanout "$tmp/lines.txt" /dev/null "$FANOUT" --mode roundrobin \
	    "$tmp/o/o0" "$tmp/o/o1" "$tmp/o/o2" "$tmp/o/o3"
	if [ "$i" -eq "$RUNS" ]; then
		check_files "fanout" "$tmp/o" "$tmp/lines.txt"
		check_rr "fanout" "$tmp/lines.txt" "$tmp"/o/o[0-3]
	fi
	rm -rf "$tmp/o"
	run batch "$tmp/lines.txt" "$tmp/batch.out" "$BATCH" -n 1000
	[ "$i" -lt "$RUNS" ] ||
		check_batch "batch" "$tmp/batch.out" "$tmp/lines.txt"
	run batch_json "$tmp/json.txt" "$tmp/batch.out" "$BATCH" -n 1000
	[ "$i" -lt "$RUNS" ] ||
		check_batch "batch (json)" "$tmp/batch.out" "$tmp/json.txt"
	rm -f "$tmp/batch.out"
	# the 4x stream: the line file four times, through a pipe
	cat "$tmp/lines.txt" "$tmp/lines.txt" "$tmp/lines.txt" \
	    "$tmp/lines.txt" >"$tmp/fifo" &
	run batch4 "$tmp/fifo" /dev/null "$BATCH" -n 1000
	wait $! || die "batch, 4x stream: the cat feeding it failed"
done
cmp -s "$tmp/write.ss" "$tmp/msgs.ss" ||
	die "the measured write gave a different .ss file"
# relay's .ss: the N messages, then its End-of-Stream message.
check_count "$tmp/relay.ss" "$((N + 1))"
"$DECODE" "$tmp/relay.ss" | sed '$d' | cmp -s - "$tmp/lines.txt" ||
	die "relay -o gave a .ss that does not decode to the input lines"
"$DECODE" "$tmp/relay.ss" | tail -n 1 | grep -q '| SEA_STREAMER_INTERNAL | .*] EOS$' ||
	die "relay -o gave a .ss that does not end with End-of-Stream"

# The table, as TSV rows: task, messages, run, peer(s), kind.
# peer(s): one run, or several (comma-separated), each then shown with
# its name (cat, split, parallel). kind: speed:MIN (msg/s, and peak <=
# MEM_MIB), vs:NAME=X,... (at least X times as fast as the peer NAME, for
# each, and peak <= MEM_MIB), mem:BASE (peak <= MEM_MIB and <= the peak
# of the run named BASE + 1 MiB), peer, ref (seconds shown scaled from NJQ
# messages to N).
{
	printf 'log decode (ss-decode)\t%s\tlog\tcat_ss\tspeed:15000000\n' "$N"
	printf 'ndjson decode (ss-decode -F ndjson)\t%s\tndjson\tcat_ss\tspeed:8000000\n' "$N"
	printf 'log decode, 4x file\t%s\tlog4\tcat_ss4\tmem:log\n' "$N4"
	printf 'write, stdio->file (relay -o .ss)\t%s\trwrite\tcat_lines\tspeed:8000000\n' "$N"
	printf 'write, library writer alone (ss-build -l)\t%s\twrite\tcat_lines\tspeed:4000000\n' "$N"
	printf 'file->stdio (relay -i .ss)\t%s\trread\tcat_ss\tspeed:5000000\n' "$N"
	printf 'file->stdio, 4x file (relay -i)\t%s\trread4\tcat_ss4\tmem:rread\n' "$N4"
	printf 'partition -n 4, by stream key\t%s\tpart_stream\tcat_lines,split_lines,par_lines\tvs:split=2,parallel=2,cat=0.33\n' "$N"
	printf 'partition -n 4, by JSON field user_id\t%s\tpart_field\tpart_stream,cat_json,split_json,par_json\tvs:partition -n=0.77\n' "$N"
	printf 'partition --members (4 targets), by stream key\t%s\tpart_members_stream\tpart_stream,cat_lines\tvs:partition -n=0.77\n' "$N"
	printf 'partition --members (4 targets), by JSON field user_id\t%s\tpart_members_field\tpart_field,cat_json\tvs:partition -n=0.77\n' "$N"
	printf 'fanout --mode roundrobin, 4 files\t%s\tfanout\tcat_lines,split_lines,par_lines\tvs:split=2,parallel=2,cat=0.33\n' "$N"
	printf 'batch -n 1000 (text payloads)\t%s\tbatch\tcat_lines\tspeed:3000000\n' "$N"
	printf 'batch -n 1000 (JSON payloads)\t%s\tbatch_json\tcat_json\tspeed:3000000\n' "$N"
	printf 'batch -n 1000, 4x stream (pipe)\t%s\tbatch4\t-\tmem:batch\n' "$N4"
	printf 'peer: cat .ss >/dev/null\t%s\tcat_ss\t-\tpeer\n' "$N"
	printf 'peer: cat lines >file\t%s\tcat_lines\t-\tpeer\n' "$N"
	printf 'peer: cat 4x .ss >/dev/null\t%s\tcat_ss4\t-\tpeer\n' "$N4"
	printf 'peer: cat JSON lines >file\t%s\tcat_json\t-\tpeer\n' "$N"
	printf 'peer: split -n r/4 lines\t%s\tsplit_lines\t-\tpeer\n' "$N"
	printf 'peer: split -n r/4 JSON lines\t%s\tsplit_json\t-\tpeer\n' "$N"
	printf 'peer: parallel --pipe --roundrobin -j4, lines\t%s\tpar_lines\t-\tpeer\n' "$N"
	printf 'peer: parallel --pipe --roundrobin -j4, JSON lines\t%s\tpar_json\t-\tpeer\n' "$N"
	printf 'reference: jq -c . (%s lines, x%s)\t%s\tjq\t-\tref\n' \
	    "$NJQ" "$((N / NJQ))" "$N"
} >"$tmp/rows"

# peer_name RUN: how a peer run is named in a row of several peers.
peer_name() {
	case $1 in
	cat_*) echo cat ;;
	split_*) echo split ;;
	par_*) echo parallel ;;
	part_*) echo "partition -n" ;;
	*) echo "$1" ;;
	esac
}

table=$(
	while IFS=$'\t' read -r task n key peer kind; do
		base=0
		case $kind in mem:*) base=${RSS[${kind#mem:}]} ;; esac
		case $peer in
		*,*)
			# name:seconds;... for several peers
			peers=""
			IFS=, read -ra plist <<<"$peer"
			for p in "${plist[@]}"; do
				peers="$peers${peers:+;}$(peer_name "$p"):${SEC[$p]}"
			done
			;;
		*) peers=${SEC[$peer]:-} ;;
		esac
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$task" "$n" \
		    "${SEC[$key]}" "$NJQ" "$kind" "${RSS[$key]}" \
		    "$peers" "$base" "$MEM_MIB"
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
		split("", r)
		if (peer ~ /:/) {
			# several peers: "x.xx name, ..."
			np = split(peer, pp, ";")
			ratio = ""
			for (k = 1; k <= np; k++) {
				split(pp[k], nv, ":")
				r[nv[1]] = nv[2] / $3
				ratio = ratio (k > 1 ? ", " : "") \
				    sprintf("%.2f %s", r[nv[1]], nv[1])
			}
		} else
			ratio = peer == "" ? "-" : sprintf("%.2f", peer / $3)
		target = "-"; res = "-"
		if (kind ~ /^speed:/) {
			min = substr(kind, 7) + 0
			target = ">= " commas(min) " msg/s, <= " lim " MiB"
			res = (rate >= min && mib <= lim) ? "meets" : "below"
		} else if (kind ~ /^vs:/) {
			nt = split(substr(kind, 4), tt, ",")
			target = ""; ok = mib <= lim
			for (k = 1; k <= nt; k++) {
				split(tt[k], nv, "=")
				target = target ">= " nv[2] "x " nv[1] ", "
				if (!(nv[1] in r) || r[nv[1]] < nv[2] + 0)
					ok = 0
			}
			target = target "<= " lim " MiB"
			res = ok ? "meets" : "below"
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
{ echo "$head"; echo "$table"; } | awk -F '\t' -f scripts/table.awk

jqr=$(awk -v a="${SEC[jq]}" -v b="${SEC[ndjson]}" -v n="$N" -v j="$NJQ" \
    'BEGIN { printf "%.0f", (a * n / j) / b }')
notes="vs peer = peer seconds / our seconds (the peer of the decodes and of
relay file->stdio is cat of the same .ss bytes to /dev/null; of the writes,
cat of the line file into a file). Best of $RUNS runs; peak MiB = highest
peak RSS of those runs. The relay rows are the commands of issue 3; the
ss-build row is the library's .ss writer without relay's line source.
ss-decode -F ndjson is ${jqr}x as fast as jq -c . per message.
The stage rows give the ratio to each of their peers (same formula).
The stages write 4 files into one directory: partition -n 4 DIR/out%d.txt
(jump hash), fanout --mode roundrobin DIR/o0..o3; their peers, on the same
input: cat IN >file, split -n r/4 IN DIR/sp, and parallel --will-cite
--pipe --roundrobin -j4 'cat > DIR/pp.{%}' (its peak is its perl's).
Lines per partition: by the 8 stream keys $dist_stream;
by the 1000 user_id values $dist_field.
partition --members reads a file naming 4 targets, n0..n3, writing the
same 4 files, and routes by rendezvous hashing over the names (a key
hash and 4 mixes a message); its target is to take at most 1.3 times
the time of partition -n 4 on the same input (ratio >= 0.77). Lines per
target: by stream key $dist_members_stream; by user_id
$dist_members_field.
batch -n 1000 writes its batches (JSON arrays) to a file; its 4x stream is
the line file four times through a pipe, batched to /dev/null. Every
output is checked (see scripts/bench.sh)."
echo
echo "$notes"

if [ "${BENCH_TIMING_SECONDS:-5}" != 0 ]; then
	echo
	rm -f "$tmp/write.ss" "$tmp/relay.ss" "$tmp/cat.out"
	sync	# a quiet machine for the timings
	bash scripts/bench-batch-timing.sh "$tmp/timing.md"
fi

# --- How cost grows (scripts/bench-scaling.sh); BENCH_SCALING=0: none ---
if [ "${BENCH_SCALING:-1}" != 0 ]; then
	echo
	bash scripts/bench-scaling.sh "$tmp/scaling.md" "$tmp/scaling.tsv"
fi

# --- Redis (scripts/bench-redis.sh): only if redis-server is installed ---
# relay to and from a Redis stream beside redis-benchmark's XADD, on the
# same lines; a table of its own. BENCH_REDIS=0 leaves it out.
if command -v redis-server >/dev/null && [ "${BENCH_REDIS:-1}" != 0 ]; then
	echo
	bash scripts/bench-redis.sh "$tmp/redis.md" "$tmp/lines.txt"
fi
# --- end of Redis ---

# --- Network (scripts/bench-net.sh); BENCH_NET=0 leaves it out ---
# relay -i tcp:// from 8 clients beside socat TCP-LISTEN,fork on the same
# lines, and its peak memory with 1 and 1,000 idle clients.
if [ "${BENCH_NET:-1}" != 0 ]; then
	echo
	bash scripts/bench-net.sh "$tmp/net.md" "$tmp/lines.txt"
fi
# --- end of Network ---

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
	{ echo "$head"; echo "$table"; } | awk -F '\t' -f scripts/mdtable.awk
	echo
	echo "$notes"
	if [ -s "$tmp/timing.md" ]; then
		echo
		echo "Batch timing (scripts/bench-batch-timing.sh):"
		echo
		cat "$tmp/timing.md"
	fi
	# --- Redis ---
	if [ -s "$tmp/redis.md" ]; then
		echo
		echo "Redis Streams (scripts/bench-redis.sh):"
		echo
		cat "$tmp/redis.md"
	fi
	# --- end of Redis ---
	# --- Network ---
	if [ -s "$tmp/net.md" ]; then
		echo
		echo "Network ingest (scripts/bench-net.sh):"
		echo
		cat "$tmp/net.md"
	fi
	# --- end of Network ---
	if [ -s "$tmp/scaling.md" ]; then
		echo
		echo "How cost grows (scripts/bench-scaling.sh), each rate over" \
		    "the first case of its row:"
		echo
		cat "$tmp/scaling.md"
	fi
} >"$OUTMD"
echo "(written to $OUTMD)"

# The same run as tab-separated lines, for scripts/bench-compare.sh: a
# comment naming the commit, then task, messages, seconds, messages/s,
# peak KiB, result; the scaling cases as "scaling: DIM: STAGE: CASE" with
# their seconds and messages. Each run is also kept in build/bench-runs/.
{
	echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $rev"
	printf 'task\tmessages\tseconds\tmessages/s\tpeak KiB\tresult\n'
	while IFS=$'\t' read -r task n key _ kind; do
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$task" "$n" "${SEC[$key]}" \
		    "$(awk -v n="$n" -v s="${SEC[$key]}" \
		    'BEGIN { printf "%.0f", n / s }')" "${RSS[$key]}" \
		    "$(awk -F '\t' -v t="$task" '$1 == t { print $8 }' \
		    <<<"$table")"
	done <"$tmp/rows"
	if [ -s "$tmp/scaling.tsv" ]; then
		awk -F '\t' '{ printf "scaling: %s: %s: %s\t%s\t%s\t%.0f\t-\t-\n",
		    $1, $2, $3, $5, $4, $5 / $4 }' "$tmp/scaling.tsv"
	fi
} >"$OUTTSV"

# --- Kafka (kafka://) -------------------------------------------------------
# stdio->Kafka: bin/relay -o kafka://BOOT/r <LINES (the N messages above:
# 8 keys, 100-byte payloads) beside kcat -P -K TAB of the same keys and
# payloads, each into a fresh 3-partition topic of a fresh
# build/tools/kafka-mock (librdkafka's mock cluster: 3 brokers on loopback,
# in memory), best of RUNS; both exit once every delivery report is in.
# Target: at least 0.7 of kcat -P's messages/s. Then relay --headers (the
# seq/shard header on each record) beside kcat -P with the same
# headers, for what the headers cost; its target (issue 17): at least 0.8
# of plain kcat -P's messages/s. The last run's topics are read back
# with kcat and checked: the same keys and payloads as the input.
# Left out, saying why, without kcat or the mock tool, or with
# BENCH_KAFKA=0. Printed and appended to build/bench.md.
MOCK=build/tools/kafka-mock
if [ "${BENCH_KAFKA:-1}" = 0 ]; then
	echo "kafka: left out (BENCH_KAFKA=0)"
elif ! command -v kcat >/dev/null || [ ! -x "$MOCK" ]; then
	echo "kafka: left out: needs kcat and $MOCK (librdkafka-dev)"
else
	sed -E 's/^\[[^|]*\| ([^ ]+) [^]]*\] /\1\t/' "$tmp/lines.txt" \
	    >"$tmp/kv.txt"
	for i in $(seq 1 "$RUNS"); do
		rm -f "$tmp/boot"
		"$MOCK" -t r:3 -t k:3 -t h:3 -t rh:3 >"$tmp/boot" &
		mpid=$!
		for _ in $(seq 1 500); do
			[ -s "$tmp/boot" ] && break
			sleep 0.01
		done
		[ -s "$tmp/boot" ] || die "kafka-mock did not start"
		boot=$(head -n 1 "$tmp/boot")
		run kafka_kcat "$tmp/kv.txt" /dev/null kcat -b "$boot" -P -t k \
		    -K "$(printf '\t')"
		# the same records with the header relay --headers adds
		# (seq/shard), which costs librdkafka allocations per record
		run kafka_kcat_h "$tmp/kv.txt" /dev/null kcat -b "$boot" -P \
		    -t h -K "$(printf '\t')" -H seq/shard=123456/0
		run kafka_relay "$tmp/lines.txt" /dev/null "$RELAY" \
		    -o "kafka://$boot/r"
		run kafka_relay_h "$tmp/lines.txt" /dev/null "$RELAY" \
		    -o "kafka://$boot/rh" --headers
		if [ "$i" -eq "$RUNS" ]; then
			# the mock keeps the last 5 MB of each partition: the
			# offsets count every record, and the records kept
			# must be input lines (which repeat every 376)
			sort -u "$tmp/kv.txt" >"$tmp/kv.sorted"
			for t in r k rh; do
				timeout 300 kcat -b "$boot" -C -t "$t" -e -q \
				    -f '%p %o\t%k\t%s\n' >"$tmp/kafka.$t"
				c=$(awk -F '\t' '{ split($1, po, " ")
				    if (po[2] + 1 > e[po[1]]) e[po[1]] = po[2] + 1 }
				    END { for (p in e) s += e[p]; print s + 0 }' \
				    "$tmp/kafka.$t")
				[ "$c" -eq "$N" ] ||
					die "kafka: topic $t holds $c records, not $N"
				cut -f 2- "$tmp/kafka.$t" | sort -u >"$tmp/kafka.s"
				[ -z "$(comm -23 "$tmp/kafka.s" "$tmp/kv.sorted" |
				    head -n 1)" ] ||
					die "kafka: topic $t holds records not in the input"
			done
			rm -f "$tmp"/kafka.? "$tmp/kv.sorted"
		fi
		kill "$mpid"
		wait "$mpid" || true
	done
	ktable=$(awk -v n="$N" -v r="${SEC[kafka_relay]}" \
	    -v k="${SEC[kafka_kcat]}" -v rm="${RSS[kafka_relay]}" \
	    -v km="${RSS[kafka_kcat]}" -v kh="${SEC[kafka_kcat_h]}" \
	    -v khm="${RSS[kafka_kcat_h]}" -v rh="${SEC[kafka_relay_h]}" \
	    -v rhm="${RSS[kafka_relay_h]}" 'BEGIN {
		printf "stdio->Kafka (relay -o kafka://)\t%.3f\t%.0f\t%.2f\t%.1f\t>= 0.70 of kcat -P\t%s\n",
		    r, n / r, k / r, rm / 1024,
		    (k / r >= 0.7 ? "meets" : "below")
		printf "peer: kcat -P -K TAB\t%.3f\t%.0f\t-\t%.1f\t-\t-\n",
		    k, n / k, km / 1024
		printf "stdio->Kafka, --headers (seq/shard)\t%.3f\t%.0f\t%.2f (%.2f of kcat -P)\t%.1f\t>= 0.80 of kcat -P\t%s\n",
		    rh, n / rh, kh / rh, k / rh, rhm / 1024,
		    (k / rh >= 0.8 ? "meets" : "below")
		printf "peer: kcat -P -K TAB -H seq/shard=..\t%.3f\t%.0f\t-\t%.1f\t-\t-\n",
		    kh, n / kh, khm / 1024
	}')
	khead="task	seconds	messages/s	vs peer	peak MiB	target	result"
	echo
	{ echo "$khead"; echo "$ktable"; } | awk -F '\t' -f scripts/table.awk
	{
		echo
		echo "Kafka, $N messages into librdkafka's mock cluster" \
		    "(build/tools/kafka-mock, 3 brokers, fresh per run)," \
		    "best of $RUNS:"
		echo
		{ echo "$khead"; echo "$ktable"; } |
		    awk -F '\t' -f scripts/mdtable.awk
		echo
		echo "relay's records carry key, value and timestamp, as kcat" \
		    "-P writes them. With --headers they also carry seq and" \
		    "shard (one header, seq/shard), so that a message read" \
		    "back is the message written; librdkafka allocates the" \
		    "headers of every record, which kcat -P with the same" \
		    "header pays" \
		    "as well. Each ratio is against the peer in the row below it."
	} >>"$OUTMD"
fi

# HTTP ingest (relay -i http://127.0.0.1:PORT/in -o -, the output to
# /dev/null), with ab -k as the client, best of RUNS: N/1000 requests of
# 1,000 ndjson lines each (the payloads of the JSON input, 4 clients),
# then one-message requests on kept-alive connections (8 clients, at most
# 50,000). Each run checks that ab saw only 200s and that relay wrote
# every message; relay's peak memory is its VmHWM before it is stopped.
if command -v ab >/dev/null && command -v curl >/dev/null; then
	hport=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
	hurl=http://127.0.0.1:$hport/in
	head -n 1000 "$tmp/json.txt" | payloads >"$tmp/body1000"
	echo '{"m":1}' >"$tmp/body1"
	hbig=$(((N + 999) / 1000))
	hone=$((N < 50000 ? N : 50000))
	# http_run NAME BODY REQUESTS CLIENTS: one timed ab run against a
	# fresh relay; best time in SEC[NAME], peak RSS in RSS[NAME].
	http_run() {
		local name=$1 body=$2 nreq=$3 conc=$4 t0 t1 s m lines rpid
		"$RELAY" -i "$hurl" >"$tmp/http.out" 2>"$tmp/http.err" &
		rpid=$!
		for _ in $(seq 1 500); do
			curl -sf -o /dev/null "http://127.0.0.1:$hport/healthz" &&
				break
			sleep 0.01
		done
		t0=$EPOCHREALTIME
		ab -q -k -n "$nreq" -c "$conc" -p "$body" \
		    -T application/x-ndjson "$hurl" >"$tmp/ab" 2>&1 ||
			die "$name: ab failed: $(tail -n 3 "$tmp/ab")"
		t1=$EPOCHREALTIME
		m=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$rpid/status")
		kill -TERM "$rpid"
		wait "$rpid" || die "$name: relay failed: $(cat "$tmp/http.err")"
		grep -Eq 'Failed requests: +0$' "$tmp/ab" &&
		    ! grep -q Non-2xx "$tmp/ab" ||
			die "$name: not every request was answered 200"
		lines=$(wc -l <"$tmp/http.out")
		[ "$lines" -eq $((nreq * $(wc -l <"$body"))) ] ||
			die "$name: relay wrote $lines messages"
		s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
		if [ -z "${SEC[$name]:-}" ] || awk -v a="$s" \
		    -v b="${SEC[$name]}" 'BEGIN { exit !(a < b) }'; then
			SEC[$name]=$s
		fi
		if [ -z "${RSS[$name]:-}" ] || [ "$m" -gt "${RSS[$name]}" ]; then
			RSS[$name]=$m
		fi
	}
	for i in $(seq 1 "$RUNS"); do
		http_run http_big "$tmp/body1000" "$hbig" 4
		http_run http_one "$tmp/body1" "$hone" 8
	done
	htable=$(awk -v b="${SEC[http_big]}" -v nb="$hbig" \
	    -v bm="${RSS[http_big]}" -v o="${SEC[http_one]}" -v no="$hone" \
	    -v om="${RSS[http_one]}" 'BEGIN {
		printf "HTTP ingest, 1,000-line bodies (ab -k -c 4)\t%.3f\t%.0f\t-\t%.1f\t-\t%.0f requests/s\n",
		    b, nb * 1000 / b, bm / 1024, nb / b
		printf "HTTP ingest, 1-message requests (ab -k -c 8)\t%.3f\t%.0f\t-\t%.1f\t-\t%.0f requests/s\n",
		    o, no / o, om / 1024, no / o
	}')
	hhead="task	seconds	messages/s	vs peer	peak MiB	target	result"
	echo
	{ echo "$hhead"; echo "$htable"; } | awk -F '\t' -f scripts/table.awk
	{
		echo
		echo "HTTP ingest through relay -i http:// (each request" \
		    "answered once its messages were written), ab -k as the" \
		    "client, best of $RUNS:"
		echo
		{ echo "$hhead"; echo "$htable"; } |
		    awk -F '\t' -f scripts/mdtable.awk
	} >>"$OUTMD"
fi

# --- pipeline ---------------------------------------------------------------
# relay -> FIFO -> relay run by bin/pipeline beside the same two relays
# joined by a shell pipe, on the N lines above, best of RUNS; the two
# outputs are compared byte for byte. Target: at least 0.9 of the shell
# pipe's messages/s (a FIFO is a pipe; the runner only supervises).
# BENCH_PIPELINE=0 leaves it out. Printed and appended to build/bench.md.
if [ "${BENCH_PIPELINE:-1}" != 0 ]; then
	for i in $(seq 1 "$RUNS"); do
		rm -f "$tmp/pl.out" "$tmp/sh.out"
		run pl_pipeline /dev/null /dev/null bin/pipeline \
		    -e "relay -i $tmp/lines.txt -o @a" \
		    -e "relay -i @a -o $tmp/pl.out"
		run pl_shell "$tmp/lines.txt" /dev/null sh -c \
		    "$RELAY | $RELAY -o $tmp/sh.out"
	done
	cmp -s "$tmp/pl.out" "$tmp/sh.out" ||
		die "pipeline: its output differs from the shell pipe's"
	[ "$(wc -l <"$tmp/pl.out")" -eq "$N" ] ||
		die "pipeline: not $N lines out"
	rm -f "$tmp/pl.out" "$tmp/sh.out"
	ptable=$(awk -v n="$N" -v p="${SEC[pl_pipeline]}" \
	    -v s="${SEC[pl_shell]}" -v pm="${RSS[pl_pipeline]}" \
	    -v sm="${RSS[pl_shell]}" 'BEGIN {
		printf "pipeline: relay -> @a -> relay\t%.3f\t%.0f\t%.2f\t%.1f\t>= 0.90 of the shell pipe\t%s\n",
		    p, n / p, s / p, pm / 1024, (s / p >= 0.9 ? "meets" : "below")
		printf "peer: relay piped into relay (sh -c)\t%.3f\t%.0f\t-\t%.1f\t-\t-\n",
		    s, n / s, sm / 1024
	}')
	phead="task	seconds	messages/s	vs peer	peak MiB	target	result"
	echo
	{ echo "$phead"; echo "$ptable"; } | awk -F '\t' -f scripts/table.awk
	{
		echo
		echo "pipeline, $N messages, best of $RUNS (peak MiB: the" \
		    "largest process, pipeline's own for its row):"
		echo
		{ echo "$phead"; echo "$ptable"; } |
		    awk -F '\t' -f scripts/mdtable.awk
	} >>"$OUTMD"
fi

# --- etcd (scripts/bench-etcd.sh): only if etcd and etcdctl are installed ---
# relay -o etcd://, relay -i etcd:// --exit-at-end and a following relay
# beside etcdctl txn (128 puts each), etcdctl get --prefix and etcdctl
# watch, on the first BENCH_ETCD_MESSAGES (20,000) lines above, on a
# throwaway etcd. BENCH_ETCD=0 leaves it out. Appended to build/bench.md.
if [ "${BENCH_ETCD:-1}" = 0 ]; then
	echo "etcd: left out (BENCH_ETCD=0)"
elif ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
	echo "etcd: left out: needs etcd and etcdctl (etcd-server, etcd-client)"
else
	echo
	bash scripts/bench-etcd.sh "$tmp/etcd.md" "$tmp/lines.txt"
	{
		echo
		echo "etcd (scripts/bench-etcd.sh):"
		echo
		cat "$tmp/etcd.md"
	} >>"$OUTMD"
fi
# --- end of etcd ---

# --- pipeline: four stages, and relay --rate -------------------------------
# relay -> partition -n 4 -> four batch under bin/pipeline beside the same
# by a shell script, pipeline's own peak RSS, and relay --rate 2000/s over
# 10,000 messages against the ideal 5 s: scripts/bench-pipeline.sh (which
# also runs alone). BENCH_PIPELINE=0 leaves it out.
if [ "${BENCH_PIPELINE:-1}" != 0 ]; then
	echo
	scripts/bench-pipeline.sh "$tmp/lines.txt" "$N" "$RUNS" "$OUTMD" ||
		die "pipeline: scripts/bench-pipeline.sh failed"
fi

# The tables of the sections after the first (Redis, network, Kafka,
# HTTP, etcd, pipeline) into the TSV as well, each task under its
# section's title; then the run is kept in build/bench-runs/.
awk -f scripts/md2tsv.awk "$OUTMD" >>"$OUTTSV"
mkdir -p build/bench-runs
cp "$OUTTSV" "build/bench-runs/$(date -u +%Y%m%dT%H%M%S)-${rev%% *}.tsv"
echo "(and $OUTTSV; compare two runs: scripts/bench-compare.sh OLD NEW)"
