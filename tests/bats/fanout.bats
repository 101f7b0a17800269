#!/usr/bin/env bats
# fanout(1): every message exactly once per mode (broadcast: once per
# output) for 100,000 random messages, to files, .ss files, FIFOs and
# workers; the merged output of workers; backpressure; failed outputs,
# dead workers and restarts; End-of-Stream; signals; counters; usage.
# Nothing here measures time: background processes run under timeout(1),
# waits poll for a state with a generous limit, and the assertions are
# about order and counts.

load helper

FANOUT=$LS_BIN/fanout
# the longest any one command may run before timeout(1) stops it
LIMIT=60
N=100000

# $D/in.txt: N messages over 64 keys and 4 shards (256 streams), each with
# its own sequence, random payload lengths, non-decreasing timestamps, as
# canonical lines, so that a line output holds them byte for byte; every
# line is unique (the payload starts with "m<number>-"). $D/in.sorted is
# the same sorted, $D/small.txt its first 3000 lines.
setup_file() {
	local D=$BATS_FILE_TMPDIR
	awk -v n="$N" "$AWK_LIB"'BEGIN {
		srand(20261123)
		ts = 1700000000000
		for (i = 0; i < n; i++) {
			k = int(rand() * 64); sh = int(rand() * 4)
			seq[k, sh]++
			ts += int(rand() * 3)
			p = "m" i "-"
			l = int(rand() * 160)
			while (length(p) < l) p = p "abcdefghij"
			printf "[%s | key-%d | %d | %d] %s\n", tsfmt(ts), k, seq[k, sh], sh, p
		}
	}' >"$D/in.txt"
	sort "$D/in.txt" >"$D/in.sorted"
	head -n 3000 "$D/in.txt" >"$D/small.txt"
}

setup() {
	ls_setup
	D=$BATS_FILE_TMPDIR
	[ -x "$FANOUT" ] || fail "$FANOUT is missing: run 'make' (LS_BIN)"
}

teardown() {
	# a stalled reader a failed test left behind
	[ -e "$T/go" ] || touch "$T/go" 2>/dev/null
	bg_kill_all
}

# fanout ARGS...: the fanout under test, never for longer than LIMIT.
fanout() {
	timeout -k 5 "$LIMIT" "$FANOUT" "$@"
}

# tsv FILE: the messages of the .ss FILE as TSV (without the trailer),
# which must verify and end cleanly.
tsv() {
	local out
	out=$("$SS_TSV" -v "$1") || {
		echo "$1 does not verify: ${out##*$'\n'}" >&2
		return 1
	}
	case ${out##*$'\n'} in
	end\ *) ;;
	*) echo "$1 does not end cleanly: ${out##*$'\n'}" >&2; return 1 ;;
	esac
	sed '$d' <<<"$out"
}

# in_order INPUT FILE...: checks that each FILE (all distinct) holds lines of INPUT, in
# INPUT's order, each once. Prints the number of lines of each FILE,
# separated by blanks, or the first fault.
in_order() {
	awk 'NR == FNR { at[$0] = FNR; next }
	FNR == 1 { last = 0 }
	!($0 in at) { print FILENAME ": line " FNR " is not an input line: " substr($0, 1, 60); bad = 1; exit }
	at[$0] <= last { print FILENAME ": line " FNR " out of order or repeated: " substr($0, 1, 60); bad = 1; exit }
	{ last = at[$0]; n[FILENAME]++ }
	END { if (!bad) { for (i = 2; i < ARGC; i++) out = out (i > 2 ? " " : "") n[ARGV[i]] + 0; print out } }' "$@"
}

# worker W FILE: the lines of FILE that worker W prefixed with "W ",
# without the prefix.
worker() {
	awk -v w="$1" 'index($0, w " ") == 1 { print substr($0, length(w) + 2) }' "$2"
}

# every_nth K M FILE: lines K, K+M, K+2M... of FILE (K from 0): what
# round robin sends to output K of M.
every_nth() {
	awk -v k="$1" -v m="$2" '(NR - 1) % m == k' "$3"
}

# The worker used below: prefixes each line with its STREAM_WORKER.
PREFIX='sed "s/^/$STREAM_WORKER /"'

# The workers that print long lines print, for each input line L, a line
# "W:L#L#L..." of at least 20000 bytes. WHOLE is an awk function for them:
# whole(s) is true if s is such a line, and then writes "W L" to the file
# segs.
LONG='awk -v w="$STREAM_WORKER" '\''{ s = $0; while (length(s) < 20000) s = s "#" $0; print w ":" s }'\'
WHOLE='
function whole(line,   i, r, j, seg, s) {
	i = index(line, ":"); r = substr(line, i + 1); j = index(r, "#")
	if (i < 2 || j == 0) return 0
	seg = substr(r, 1, j - 1); s = seg
	while (length(s) < 20000) s = s "#" seg
	if (s != r) return 0
	print substr(line, 1, i - 1) " " seg >segs
	return 1
}'

# ---------------------------------------------------------------------------
# 1. Exactly once, to files

@test "fanout: the generated input is 100,000 unique lines over 256 streams" {
	[ "$(wc -l <"$D/in.txt")" -eq "$N" ]
	[ "$(uniq -d "$D/in.sorted" | wc -l)" -eq 0 ]
	[ "$(awk -F ' [|] ' '{ split($4, a, "]"); print $2, a[1] }' "$D/in.txt" | sort -u | wc -l)" -eq 256 ]
	# canonical: relay gives the same lines back
	"$LS_BIN/relay" -i "$D/in.txt" -o - </dev/null | cmp - "$D/in.txt"
}

@test "fanout --mode broadcast: each of 3 outputs gets all 100,000 messages, identical to the input" {
	runf fanout -i "$D/in.txt" "$T/a" "$T/b" "$T/c"
	assert_equal "status $status: $(cat "$T/err")" "status 0: "
	[ ! -s "$T/out" ]
	local f
	for f in a b c; do
		cmp "$D/in.txt" "$T/$f" || fail "output $f differs"
	done
	# the default mode is broadcast, and standard input the default input
	timeout "$LIMIT" "$FANOUT" "$T/d" <"$D/in.txt"
	cmp "$D/in.txt" "$T/d"
}

@test "fanout --mode roundrobin: message i goes to output i mod 3; sizes differ by at most 1; the union is the input" {
	runf fanout --mode roundrobin -i "$D/in.txt" "$T/o0" "$T/o1" "$T/o2"
	assert_equal "status $status: $(cat "$T/err")" "status 0: "
	local k n min=$N max=0
	for k in 0 1 2; do
		every_nth "$k" 3 "$D/in.txt" | cmp - "$T/o$k" || fail "output $k is not messages $k mod 3"
		n=$(wc -l <"$T/o$k")
		((n < min)) && min=$n
		((n > max)) && max=$n
	done
	((max - min <= 1)) || fail "sizes from $min to $max"
	sort "$T"/o? | cmp - "$D/in.sorted" || fail "the union is not the input"
}

@test "fanout --mode demand: every message once over 3 outputs, each output in input order" {
	runf fanout --mode demand -i "$D/in.txt" "$T/o0" "$T/o1" "$T/o2"
	assert_equal "status $status: $(cat "$T/err")" "status 0: "
	sort "$T"/o? | cmp - "$D/in.sorted" || fail "not the input's messages, each once"
	run in_order "$D/in.txt" "$T/o0" "$T/o1" "$T/o2"
	assert_output --regexp '^[0-9]+ [0-9]+ [0-9]+$'
	assert_equal "$(($(tr ' ' + <<<"$output")))" "$N"
}

# ---------------------------------------------------------------------------
# 2. Exactly once, to workers

@test "fanout --exec -j 3 broadcast: every worker gets every message once, in order; STREAM_WORKER is 0, 1, 2" {
	runf fanout -i "$D/in.txt" --exec "$PREFIX" -j 3
	assert_equal "status $status: $(cat "$T/err")" "status 0: "
	run bash -c "cut -d ' ' -f 1 '$T/out' | sort | uniq -c | awk '{ print \$2, \$1 }'"
	assert_output "$(printf '0 %d\n1 %d\n2 %d' "$N" "$N" "$N")"
	local w
	for w in 0 1 2; do
		worker "$w" "$T/out" | cmp - "$D/in.txt" || fail "worker $w did not get the input"
	done
}

@test "fanout --exec -j 3 roundrobin: worker i gets messages i mod 3, in order; the union is the input" {
	runf fanout --mode roundrobin -i "$D/in.txt" --exec "$PREFIX" -j 3
	assert_equal "status $status: $(cat "$T/err")" "status 0: "
	[ "$(wc -l <"$T/out")" -eq "$N" ]
	local w
	for w in 0 1 2; do
		worker "$w" "$T/out" | cmp - <(every_nth "$w" 3 "$D/in.txt") ||
			fail "worker $w did not get messages $w mod 3"
	done
}

@test "fanout --exec -j 3 demand: every message exactly once, each worker's in input order" {
	runf fanout --mode demand -i "$D/in.txt" --exec "$PREFIX" -j 3
	assert_equal "status $status: $(cat "$T/err")" "status 0: "
	cut -d ' ' -f 2- "$T/out" | sort | cmp - "$D/in.sorted" ||
		fail "not the input's messages, each once"
	local w
	for w in 0 1 2; do
		worker "$w" "$T/out" >"$T/w$w"
	done
	run in_order "$D/in.txt" "$T/w0" "$T/w1" "$T/w2"
	assert_output --regexp '^[0-9]+ [0-9]+ [0-9]+$'
	assert_equal "$(($(tr ' ' + <<<"$output")))" "$N"
}

@test "fanout --exec: merged standard output keeps 20 KB lines whole, and ends a last line left without a newline" {
	# awk writes each long line in several pieces, and the three run at
	# once: written straight to one file, their lines would be cut
	# into each other. Each line is W:L#L#L... (L an input line, up to
	# 20000 bytes); at the end each worker prints "end-W" with no newline.
	runf fanout --mode roundrobin -i "$D/small.txt" --exec "$LONG"'; printf "end-%s" "$STREAM_WORKER"' -j 3
	assert_equal "status $status: $(cat "$T/err")" "status 0: "
	[ "$(wc -l <"$T/out")" -eq 3003 ] || fail "$(wc -l <"$T/out") lines"
	# every line whole: W:L repeated, or end-W
	run awk -v segs="$T/segs" '/^end-[0-2]$/ { ends[$0]++; next }
	{ if (!whole($0)) { print "line " NR " is cut"; exit } }
	END { if (length(ends) != 3) print length(ends) " end lines" }'"$WHOLE" "$T/out"
	assert_output ""
	local w
	for w in 0 1 2; do
		worker "$w" "$T/segs" | cmp - <(every_nth "$w" 3 "$D/small.txt") ||
			fail "worker $w: not messages $w mod 3"
	done
}

# ---------------------------------------------------------------------------
# 3. .ss outputs and inputs, End-of-Stream

@test "fanout: a .ss input to .ss outputs, round robin: each verifies, holds messages i mod 3 and the input's End-of-Stream" {
	{ gen_tsv 0 3000 7; eos_tsv 1700000009999; } >"$T/in.tsv"
	"$SS_BUILD" -i 512 "$T/in.ss" <"$T/in.tsv"
	runf fanout --mode roundrobin -i "$T/in.ss" --beacon-interval 256 "$T/o0.ss" "$T/o1.ss" "$T/o2.ss"
	assert_equal "status $status: $(cat "$T/err")" "status 0: "
	local k
	for k in 0 1 2; do
		tsv "$T/o$k.ss" >"$T/o$k.tsv"
		{ sed '$d' "$T/in.tsv" | every_nth "$k" 3 -; eos_tsv 1700000009999; } |
			cmp - "$T/o$k.tsv" || fail "o$k.ss: $(diff <(every_nth "$k" 3 "$T/in.tsv") "$T/o$k.tsv" | head -n 3)"
	done
	# broadcast to a .ss and a line output: the same messages
	runf fanout -i "$T/in.ss" "$T/b.ss" "$T/b.txt"
	assert_equal "status $status: $(cat "$T/err")" "status 0: "
	tsv "$T/b.ss" | cmp - "$T/in.tsv" || fail "b.ss is not the input"
	"$LS_BIN/relay" -i "$T/in.ss" </dev/null | cmp - "$T/b.txt" || fail "b.txt is not the input as lines"
}

@test "fanout: lines to .ss outputs in every mode: each verifies and ends with an End-of-Stream; together they hold the input once" {
	# the input's messages as TSV, as relay writes them to a .ss file
	"$LS_BIN/relay" -i "$D/small.txt" -o "$T/want.ss" </dev/null
	tsv "$T/want.ss" | sed '$d' >"$T/want.tsv"
	[ "$(wc -l <"$T/want.tsv")" -eq 3000 ]
	local mode k
	for mode in broadcast roundrobin demand; do
		rm -f "$T"/o?.ss
		runf fanout --mode "$mode" -i "$D/small.txt" "$T/o0.ss" "$T/o1.ss" "$T/o2.ss"
		assert_equal "$mode: status $status: $(cat "$T/err")" "$mode: status 0: "
		for k in 0 1 2; do
			tsv "$T/o$k.ss" >"$T/o$k.tsv" || fail "$mode: o$k.ss"
			tail -n 1 "$T/o$k.tsv" | grep -q "^$EOS_KEY	0	0	[0-9]*	454f53$" ||
				fail "$mode: o$k.ss does not end with an End-of-Stream"
			sed -i '$d' "$T/o$k.tsv"
			[ "$mode" != broadcast ] || cmp "$T/want.tsv" "$T/o$k.tsv" || fail "$mode: o$k.ss is not the input"
		done
		run in_order "$T/want.tsv" "$T"/o?.tsv
		assert_output --regexp '^[0-9]+ [0-9]+ [0-9]+$'
		[ "$mode" = broadcast ] || sort "$T"/o?.tsv | cmp - <(sort "$T/want.tsv") || fail "$mode: not the input once"
	done
}

@test "fanout: an input End-of-Stream ends the input and goes to every output with its time; workers get the end of their input" {
	printf 'a\n[2022-01-01T00:00:07 | %s | 0 | 0] EOS\nafter\n' "$EOS_KEY" >"$T/in.txt"
	local eos="[2022-01-01T00:00:07.000 | $EOS_KEY | 0 | 0] EOS"
	runf fanout --mode roundrobin -i "$T/in.txt" "$T/a.txt" "$T/b.txt" "$T/c.ss"
	assert_equal "status $status: $(cat "$T/err")" "status 0: "
	run cut -d ']' -f 2- "$T/a.txt"
	assert_output "$(printf ' a\n EOS')"
	tail -n 1 "$T/a.txt" | grep -qxF "$eos" || fail "a.txt: $(tail -n 1 "$T/a.txt")"
	# b.txt got no message, but the End-of-Stream
	run cat "$T/b.txt"
	assert_output "$eos"
	run bash -c "'$SS_TSV' -v '$T/c.ss'"
	assert_output "$(printf '%s\t0\t0\t1640995207000\t454f53\nend %s' "$EOS_KEY" "$(fsize "$T/c.ss")")"
	# workers: the message, then the end of their input (no EOS line)
	runf fanout -i "$T/in.txt" --exec "$PREFIX" -j 2
	assert_equal "status $status: $(cat "$T/err")" "status 0: "
	run sort "$T/out"
	assert_output --regexp '^0 \[[^]]*\] a
1 \[[^]]*\] a$'
	# --no-eos: none to .ss outputs, none forwarded to lines
	rm -f "$T/a.txt" "$T/c.ss"
	runf fanout --no-eos -i "$T/in.txt" "$T/a.txt" "$T/c.ss"
	assert_equal "status $status" "status 0"
	[ "$(wc -l <"$T/a.txt")" -eq 1 ]
	run bash -c "'$SS_TSV' -v '$T/c.ss' | cut -f 1,5"
	assert_output "$(printf 'broadcast\t61\nend %s' "$(fsize "$T/c.ss")")"
	# an input without one: .ss outputs get one stamped at the end, lines none
	rm -f "$T/a.txt" "$T/c.ss"
	printf 'x\n' | timeout "$LIMIT" "$FANOUT" "$T/a.txt" "$T/c.ss"
	! grep -q "$EOS_KEY" "$T/a.txt" || fail "an End-of-Stream line made up"
	tsv "$T/c.ss" | tail -n 1 | grep -q "^$EOS_KEY	0	0	[0-9]*	454f53$"
}

@test "fanout: payloads that cannot be lines go to .ss outputs, and are named and skipped for line outputs and workers" {
	local nlines nall
	nall=$(($(wc -l <"$VEC/binary.expected.jsonl") - 1))
	nlines=$(jq -r 'select(has("text") and (.text | contains("\n") | not) and
	    .stream_key != "'"$EOS_KEY"'") | .text' "$VEC/binary.expected.jsonl" | wc -l)
	[ "$nlines" -ge 5 ] && [ "$((nall - nlines))" -ge 5 ] || fail "$nlines of $nall"
	runf fanout -i "$VEC/binary.ss" "$T/b.ss" "$T/b.txt"
	assert_equal "$status" 1
	"$SS_TSV" "$VEC/binary.ss" | sed '$d' | cmp - <(tsv "$T/b.ss") || fail "b.ss is not the input"
	# the line output: the messages that can be lines, and the EOS
	[ "$(wc -l <"$T/b.txt")" -eq $((nlines + 1)) ]
	[ "$(grep -c 'not written to .*b.txt$' "$T/err")" -eq $((nall - nlines)) ] ||
		fail "stderr: $(cat "$T/err")"
	grep -qx "fanout: skipped: $((nall - nlines))" "$T/err"
	# workers likewise; -q leaves the status at 0
	runf fanout -q -i "$VEC/binary.ss" --exec cat -j 2
	assert_equal "$status" 0
	[ "$(wc -l <"$T/out")" -eq $((2 * nlines)) ]
	[ "$(grep -c 'not written to worker [01]$' "$T/err")" -eq $((2 * (nall - nlines))) ]
}

# ---------------------------------------------------------------------------
# 4. Backpressure and demand

@test "fanout: a FIFO whose reader stalls holds the stage back; nothing is dropped when it reads on" {
	head -n 20000 "$D/in.txt" >"$T/in.txt"
	mkfifo "$T/slow" "$T/fast"
	# the slow reader takes one line, then waits for $T/go
	timeout -k 5 "$LIMIT" bash -c 'exec <"$1"; IFS= read -r l; printf "%s\n" "$l"; : >"$2"
	    until [ -e "$3" ]; do sleep 0.01; done; exec cat' _ "$T/slow" "$T/ready" "$T/go" \
	    >"$T/slow.out" 2>/dev/null 3>&- &
	local slow=$! fast st
	timeout -k 5 "$LIMIT" cat "$T/fast" >"$T/fast.out" 3>&- &
	fast=$!
	bg "$T/f.pid" "$T/out" "$T/err" "$FANOUT" -i "$T/in.txt" "$T/slow" "$T/fast" "$T/file"
	local fbg=$BG
	wait_until 30 test -e "$T/ready" || fail "the slow reader got nothing"
	# time enough for a fanout that dropped or skipped the slow output to
	# finish; this one cannot, as the input is far larger than a pipe
	sleep 0.3
	kill -0 "$(cat "$T/f.pid")" || fail "fanout ended while an output was stalled"
	[ ! -e "$T/file" ] || [ "$(fsize "$T/file")" -lt "$(fsize "$T/in.txt")" ] ||
		fail "the file output got everything while the FIFO stalled"
	[ "$(fsize "$T/fast.out")" -lt "$(fsize "$T/in.txt")" ] ||
		fail "the fast FIFO got everything while the other stalled"
	: >"$T/go"
	wait "$fbg" && st=0 || st=$?
	assert_equal "status $st: $(cat "$T/err")" "status 0: "
	wait "$slow"
	wait "$fast"
	cmp "$T/in.txt" "$T/slow.out" || fail "the slow FIFO's reader did not get the input"
	cmp "$T/in.txt" "$T/fast.out" || fail "the fast FIFO's reader did not get the input"
	cmp "$T/in.txt" "$T/file" || fail "the file did not get the input"
}

@test "fanout --mode demand: a FIFO whose reader stalls stops getting messages, the other gets the rest; nothing is dropped" {
	head -n 20000 "$D/in.txt" >"$T/in.txt"
	mkfifo "$T/slow" "$T/fast"
	timeout -k 5 "$LIMIT" bash -c 'exec <"$1"; IFS= read -r l; printf "%s\n" "$l"; : >"$2"
	    until [ -e "$3" ]; do sleep 0.01; done; exec cat' _ "$T/slow" "$T/ready" "$T/go" \
	    >"$T/slow.out" 2>/dev/null 3>&- &
	local slow=$! fast st
	timeout -k 5 "$LIMIT" cat "$T/fast" >"$T/fast.out" 3>&- &
	fast=$!
	bg "$T/f.pid" "$T/out" "$T/err" "$FANOUT" --mode demand -i "$T/in.txt" "$T/slow" "$T/fast"
	local fbg=$BG
	# fanout ends while the slow reader still stalls: far more than its
	# pipe holds went to the other
	wait_until 30 eval '[ -s "$T/f.pid" ] && ! kill -0 "$(cat "$T/f.pid")" 2>/dev/null' ||
		fail "fanout waits for the stalled reader"
	[ ! -e "$T/go" ]
	wait "$fbg" && st=0 || st=$?
	assert_equal "status $st: $(cat "$T/err")" "status 0: "
	: >"$T/go"
	wait "$slow"
	wait "$fast"
	sort "$T/slow.out" "$T/fast.out" | cmp - <(sort "$T/in.txt") || fail "not the input, each once"
	run in_order "$T/in.txt" "$T/slow.out" "$T/fast.out"
	assert_output --regexp '^[0-9]+ [0-9]+$'
	[ "$(fsize "$T/slow.out")" -lt $((1024 * 1024)) ] || fail "the stalled reader got $(fsize "$T/slow.out") bytes"
}

@test "fanout --mode demand: a fast worker gets clearly more than one that sleeps 0.01 s a line" {
	head -n 2000 "$D/in.txt" >"$T/in.txt"
	runf fanout --mode demand -i "$T/in.txt" -j 2 --exec 'if [ "$STREAM_WORKER" = 0 ]; then
	    while IFS= read -r l; do sleep 0.01; printf "0 %s\n" "$l"; done
	    else sed "s/^/1 /"; fi'
	assert_equal "status $status: $(cat "$T/err")" "status 0: "
	cut -d ' ' -f 2- "$T/out" | sort | cmp - <(sort "$T/in.txt") || fail "not the input once"
	local w0 w1
	w0=$(grep -c '^0 ' "$T/out")
	w1=$(grep -c '^1 ' "$T/out")
	# the first message goes to worker 0 (a tie, taken in turn)
	[ "$w0" -ge 1 ] || fail "worker 0 got nothing"
	[ "$w1" -gt $((4 * w0)) ] || fail "worker 0 got $w0, worker 1 $w1"
	# and round robin, for contrast, shares them evenly
	runf fanout --mode roundrobin -i "$T/in.txt" -j 2 --exec "$PREFIX"
	[ "$(grep -c '^0 ' "$T/out")" -eq 1000 ]
}

# ---------------------------------------------------------------------------
# 5. Failures

@test "fanout: a worker that exits non-zero or is killed early is named, the others get everything, status 1" {
	head -n 20000 "$D/in.txt" >"$T/in.txt"
	runf fanout -i "$T/in.txt" -j 3 --exec 'case $STREAM_WORKER in 1) exit 3 ;; 2) kill -9 $$ ;; esac; '"$PREFIX"
	assert_equal "$status" 1
	grep -q '^fanout: worker 1 (.*) exited with status 3' "$T/err" || fail "stderr: $(cat "$T/err")"
	grep -q '^fanout: worker 2 (.*) killed by signal 9' "$T/err" || fail "stderr: $(cat "$T/err")"
	! grep -q 'worker 0' "$T/err" || fail "worker 0 named: $(cat "$T/err")"
	worker 0 "$T/out" | cmp - "$T/in.txt" || fail "worker 0 did not get the input"
	[ "$(grep -vc '^0 ' "$T/out")" -eq 0 ]
	# an input small enough to be buffered whole: still named, at the
	# end. Worker 0 gets its turns, then, from when worker 1 is found
	# dead (at once, or only at the end), everything; in input order.
	head -n 300 "$D/in.txt" >"$T/in300.txt"
	runf fanout -i "$T/in300.txt" --mode roundrobin -j 2 --exec '[ "$STREAM_WORKER" = 1 ] && exit 5; cat'
	assert_equal "$status" 1
	grep -q '^fanout: worker 1 (.*) exited with status 5' "$T/err" || fail "stderr: $(cat "$T/err")"
	run awk 'NR == FNR { got[$0] = NR; next }
	    { i = FNR - 1 }
	    !($0 in got) && (i % 2 == 0 || after) { print "missing: " $0; exit }
	    $0 in got && got[$0] <= last { print "out of order: " $0; exit }
	    $0 in got { last = got[$0]; n++; if (i % 2) after = 1 }
	    END { if (n != length(got)) print "not in the input" }' \
	    "$T/out" "$T/in300.txt"
	assert_output ''
	[ "$(wc -l <"$T/out")" -ge 150 ]
	# every worker dead: it stops
	runf fanout -i "$T/in.txt" -j 2 --exec 'exit 1'
	assert_equal "$status" 1
	grep -qx 'fanout: no output left' "$T/err" || fail "stderr: $(cat "$T/err")"
}

# restart_worker: the worker of the restart test. Its first run (no marker
# file M.W yet) copies 50 lines, reads one more and exits 1 with it (a
# crash in the middle of a message); its later runs copy the rest. Lines
# are prefixed with "W ". The shell reads a pipe a byte at a time, so the
# first run takes no more than the 51 lines it read.
restart_worker() {
	cat <<EOF
echo "\$STREAM_WORKER" >>'$T/starts'
if [ ! -e "$T/M.\$STREAM_WORKER" ]; then
	: >"$T/M.\$STREAM_WORKER"
	i=0
	while [ \$i -lt 50 ] && IFS= read -r l; do printf '%s %s\n' "\$STREAM_WORKER" "\$l"; i=\$((i + 1)); done
	IFS= read -r l
	exit 1
fi
exec $PREFIX
EOF
}

@test "fanout --on-exit restart: workers that die on their first run are restarted; what was in the pipe arrives, nothing twice" {
	local mode w want got
	restart_worker >"$T/w.sh"
	for mode in roundrobin demand broadcast; do
		rm -f "$T"/M.* "$T/starts"
		runf fanout --mode "$mode" -i "$D/small.txt" -j 3 --exec "sh '$T/w.sh'" --on-exit restart
		assert_equal "$mode: status $status: $(cat "$T/err")" "$mode: status 0: $(
			printf 'fanout: worker %d was started again 1 time so far\n' 0 1 2)"
		# each worker ran twice
		run bash -c "sort '$T/starts' | uniq -c | awk '{ print \$2, \$1 }'"
		assert_output "$(printf '0 2\n1 2\n2 2')"
		for w in 0 1 2; do
			worker "$w" "$T/out" >"$T/w$w"
			case $mode in
			roundrobin) every_nth "$w" 3 "$D/small.txt" >"$T/want" ;;
			broadcast) cp "$D/small.txt" "$T/want" ;;
			demand) continue ;;
			esac
			# in order, each once, all but at most the one line lost
			run in_order "$T/want" "$T/w$w"
			assert_output --regexp '^[0-9]+$'
			got=$output want=$(wc -l <"$T/want")
			[ "$got" -ge $((want - 1)) ] && [ "$got" -le "$want" ] ||
				fail "$mode: worker $w: $got lines of $want"
		done
		# each worker in input order, the union the input, each message
		# at most once, at most one lost per worker
		if [ "$mode" = demand ]; then
			run in_order "$D/small.txt" "$T/w0" "$T/w1" "$T/w2"
			assert_output --regexp '^[0-9]+ [0-9]+ [0-9]+$'
			got=$(cat "$T"/w? | sort | uniq | wc -l)
			[ "$(cat "$T"/w? | wc -l)" -eq "$got" ] || fail "demand: a message twice"
			[ "$got" -ge 2997 ] && [ "$got" -le 3000 ] || fail "demand: $got of 3000"
		fi
	done
}

@test "fanout --on-exit restart --restarts 2: a worker that always dies is started 3 times, then named, status 1" {
	head -n 6000 "$D/in.txt" >"$T/in.txt"
	runf fanout --mode roundrobin -i "$T/in.txt" -j 2 --on-exit restart --restarts 2 \
	    --exec "echo \"\$STREAM_WORKER\" >>'$T/starts'; if [ \"\$STREAM_WORKER\" = 1 ]; then IFS= read -r l; exit 4; fi; cat"
	assert_equal "$status" 1
	grep -q '^fanout: worker 1 (.*) exited with status 4 before its input ended, restarts used up$' "$T/err" ||
		fail "stderr: $(cat "$T/err")"
	run bash -c "sort '$T/starts' | uniq -c | awk '{ print \$2, \$1 }'"
	assert_output "$(printf '0 1\n1 3')"
	# worker 0 has its own turns, in order, and took over worker 1's
	run in_order "$T/in.txt" "$T/out"
	assert_output --regexp '^[0-9]+$'
	[ "$output" -gt 3000 ] || fail "worker 0 took none of worker 1's turns: $output"
	# without --on-exit restart, --restarts changes nothing: started once
	rm -f "$T/starts"
	runf fanout -i "$D/small.txt" -j 1 --restarts 3 --exec "echo x >>'$T/starts'; exit 2"
	assert_equal "$status" 1
	[ "$(wc -l <"$T/starts")" -eq 1 ]
}

@test "fanout: a file output that fails (/dev/full) or a FIFO whose reader goes is named; the others get everything; status 1" {
	# far more than the buffers hold
	head -n 20000 "$D/in.txt" >"$T/in.txt"
	runf fanout -i "$T/in.txt" "$T/a" /dev/full "$T/c"
	assert_equal "$status" 1
	grep -q '^fanout: /dev/full: .*No space left on device' "$T/err" || fail "stderr: $(cat "$T/err")"
	cmp "$T/in.txt" "$T/a"
	cmp "$T/in.txt" "$T/c"
	# round robin passes a failed output's turns on: a and c get more than
	# their own two thirds (what was buffered for /dev/full is lost)
	rm -f "$T/a" "$T/c"
	runf fanout --mode roundrobin -i "$T/in.txt" "$T/a" /dev/full "$T/c"
	assert_equal "$status" 1
	grep -q '^fanout: /dev/full: ' "$T/err" || fail "stderr: $(cat "$T/err")"
	sort "$T/a" "$T/c" | uniq -d | wc -l | grep -qx 0 || fail "a message twice"
	run in_order "$T/in.txt" "$T/a" "$T/c"
	assert_output --regexp '^[0-9]+ [0-9]+$'
	[ "$(cat "$T/a" "$T/c" | wc -l)" -gt $((2 * 20000 / 3 + 1)) ] || fail "turns not passed on"
	# a FIFO whose reader goes away: a broken pipe, not a SIGPIPE
	rm -f "$T/a"
	mkfifo "$T/fifo"
	timeout -k 5 "$LIMIT" head -c 1000 "$T/fifo" >/dev/null 3>&- &
	runf fanout -i "$T/in.txt" "$T/fifo" "$T/a"
	assert_equal "$status" 1
	grep -q "^fanout: $T/fifo: .*Broken pipe" "$T/err" || fail "stderr: $(cat "$T/err")"
	cmp "$T/in.txt" "$T/a"
	# no output left
	runf fanout -i "$T/in.txt" /dev/full /dev/full
	assert_equal "$status" 1
	grep -qx 'fanout: no output left' "$T/err" || fail "stderr: $(cat "$T/err")"
}

@test "fanout: an existing output is refused and named; --force replaces it; --append continues it" {
	printf '[2022-01-01T00:00:00.000 | k | 1 | 0] one\n' >"$T/in1"
	printf '[2022-01-01T00:00:00.000 | k | 2 | 0] two\n' >"$T/in2"
	echo old >"$T/b"
	runf fanout -i "$T/in1" "$T/a" "$T/b"
	assert_equal "$status" 1
	grep -qF "$T/b: file exists" "$T/err" || fail "stderr: $(cat "$T/err")"
	assert_equal "$(cat "$T/b")" old
	runf fanout -i "$T/in1" --force "$T/a" "$T/b"
	assert_equal "status $status: $(cat "$T/err")" "status 0: "
	cmp "$T/in1" "$T/b"
	runf fanout -i "$T/in2" --append "$T/a" "$T/b"
	assert_equal "status $status: $(cat "$T/err")" "status 0: "
	cat "$T/in1" "$T/in2" | cmp - "$T/a"
	cat "$T/in1" "$T/in2" | cmp - "$T/b"
}

@test "fanout: a bad input line under --on-bad-line fail: status 1, what came before is written, no End-of-Stream" {
	printf '[k | 1] good\n[bad topic] x\n[k | 2] more\n' >"$T/bad.txt"
	runf fanout -i "$T/bad.txt" "$T/a.ss" "$T/b.txt"
	assert_equal "$status" 1
	grep -qF "bad.txt: line 2: column 2:" "$T/err" || fail "stderr: $(cat "$T/err")"
	run bash -c "'$SS_TSV' -v '$T/a.ss' | sed '\$d' | cut -f 1,3,5"
	assert_output "$(printf 'k\t1\t676f6f64')"
	run cut -d ']' -f 2- "$T/b.txt"
	assert_output " good"
	# and skip goes on, with status 1 (0 with -q)
	rm -f "$T/a.ss" "$T/b.txt"
	runf fanout --on-bad-line skip -i "$T/bad.txt" "$T/a.ss" "$T/b.txt"
	assert_equal "$status" 1
	run cut -d ']' -f 2- "$T/b.txt"
	assert_output "$(printf ' good\n more')"
	tsv "$T/a.ss" | tail -n 1 | grep -q "^$EOS_KEY	" || fail "no End-of-Stream in a.ss"
	runf fanout -q --on-bad-line skip -i "$T/bad.txt" /dev/null
	assert_equal "$status" 0
}

# ---------------------------------------------------------------------------
# 6. Signals and counters

@test "fanout: SIGTERM mid-stream: status 0, line and .ss outputs hold what was read, whole, the .ss with its End-of-Stream" {
	mkfifo "$T/feed"
	exec 5<>"$T/feed"
	BG_IN=$T/feed bg "$T/f.pid" "$T/out" "$T/err" "$FANOUT" --mode roundrobin "$T/a.txt" "$T/b.ss"
	local fbg=$BG st
	head -n 501 "$D/in.txt" >&5
	# all read is written out before fanout waits for more
	wait_until 30 lines_at_least 251 "$T/a.txt" || fail "a.txt has $(wc -l <"$T/a.txt") lines"
	kill -TERM "$(cat "$T/f.pid")"
	wait "$fbg" && st=0 || st=$?
	exec 5>&-
	assert_equal "status $st: $(cat "$T/err")" "status 0: "
	head -n 501 "$D/in.txt" >"$T/in.txt"
	every_nth 0 2 "$T/in.txt" | cmp - "$T/a.txt" || fail "a.txt"
	tsv "$T/b.ss" >"$T/b.tsv"
	[ "$(wc -l <"$T/b.tsv")" -eq 251 ]
	tail -n 1 "$T/b.tsv" | grep -q "^$EOS_KEY	" || fail "no End-of-Stream in b.ss"
	"$LS_BIN/relay" -i "$T/b.ss" --no-eos </dev/null | cmp - <(every_nth 1 2 "$T/in.txt") || fail "b.ss"
}

@test "fanout --exec: SIGTERM mid-stream: status 0, the workers end on their input and the merged lines are whole" {
	mkfifo "$T/feed"
	exec 5<>"$T/feed"
	BG_IN=$T/feed bg "$T/f.pid" "$T/out" "$T/err" "$FANOUT" --mode roundrobin -j 2 --exec "$LONG"
	local fbg=$BG st
	head -n 400 "$D/in.txt" >&5
	# (awk reads its input a block at a time: the last lines fed may wait
	# in its buffer until its input ends)
	wait_until 30 lines_at_least 100 "$T/out" || fail "$(wc -l <"$T/out") lines out"
	kill -TERM "$(cat "$T/f.pid")"
	wait "$fbg" && st=0 || st=$?
	exec 5>&-
	assert_equal "status $st: $(cat "$T/err")" "status 0: "
	[ "$(tail -c 1 "$T/out" | od -An -c | tr -d ' ')" = '\n' ] || fail "the last line is cut"
	run awk -v segs="$T/segs" '{ if (!whole($0)) { print "line " NR " is cut"; exit } }'"$WHOLE" "$T/out"
	assert_output ""
	# the first k messages, shared in turn, where k is at least what came
	# out before the signal and at most what was fed
	local w k
	k=$(wc -l <"$T/out")
	[ "$k" -ge 100 ] && [ "$k" -le 400 ] || fail "$k lines"
	head -n "$k" "$D/in.txt" >"$T/in.txt"
	for w in 0 1; do
		worker "$w" "$T/segs" | cmp - <(every_nth "$w" 2 "$T/in.txt") || fail "worker $w"
	done
}

@test "fanout --mode demand: SIGTERM while waiting for slow workers writes every message it read (in == out)" {
	head -n 2000 "$D/in.txt" >"$T/in.txt"
	bg "$T/f.pid" "$T/out" "$T/err" "$FANOUT" --stats --stats-interval 0 --mode demand -i "$T/in.txt" -j 2 \
	    --exec 'while IFS= read -r l; do sleep 0.01; printf "%s\n" "$l"; done'
	local fbg=$BG st
	# the one-page pipes are full long before the input ends
	wait_until 30 lines_at_least 20 "$T/out" || fail "$(wc -l <"$T/out") lines out"
	kill -TERM "$(cat "$T/f.pid")"
	wait "$fbg" && st=0 || st=$?
	assert_equal "status $st" "status 0"
	run jq -c '[.in == .out, .in == '"$(wc -l <"$T/out")"']' "$T/err"
	assert_output '[true,true]'
	# the first messages of the input, each once
	local n
	n=$(wc -l <"$T/out")
	[ "$n" -lt 2000 ] || fail "the input was not cut short"
	sort "$T/out" | cmp - <(head -n "$n" "$T/in.txt" | sort) || fail "not the first $n messages"
}

# stats_of ARGS...: fanout --stats ARGS (stdout discarded); prints the final
# counters as "in out filtered skipped bytes", or "N objects".
stats_of() {
	timeout "$LIMIT" "$FANOUT" --stats "$@" </dev/null >/dev/null 2>"$T/stats.err"
	local n
	n=$(grep -c '^{' "$T/stats.err")
	if [ "$n" -ne 1 ]; then
		echo "$n objects"
		return
	fi
	grep '^{' "$T/stats.err" | jq -r 'select(.program == "fanout" and
	    (.elapsed_ms | type) == "number" and (.rate | type) == "number") |
	    "\(.in) \(.out) \(.filtered) \(.skipped) \(.bytes)"'
}

@test "fanout --stats: one valid JSON object at the end with the right counts" {
	printf '[a | 1] a1\n[b | 1] b1\nplain\n[a | 2] a2\n' >"$T/k.txt"
	printf 'a\n[2022-01-01T00:00:07 | %s | 0 | 0] EOS\nafter\n' "$EOS_KEY" >"$T/e.txt"
	printf '[k | 1] good\n[bad topic] x\n[k | 2] more\n' >"$T/bad.txt"
	local all
	all=$(awk '{ sub(/^[^]]*\] /, ""); n += length($0) } END { print n }' "$D/in.txt")
	local -a cases=(
		"-i $T/k.txt $T/x1 $T/y1 $T/z1|4 12 0 0 33"
		"-i $T/k.txt $T/x2 file://$T/y2.ss/a $T/z2|4 10 2 0 26"
		"--mode roundrobin -i $T/k.txt $T/x3 file://$T/y3.ss/a|4 3 1 0 9"
		"--mode demand -i $T/k.txt /dev/null|4 4 0 0 11"
		"-i $T/k.txt --exec cat -j 2|4 8 0 0 22"
		"--mode demand -i $T/k.txt --exec cat -j 3|4 4 0 0 11"
		"-i $T/e.txt $T/x4 $T/y4.ss|2 2 0 0 2"
		"-i $T/bad.txt --on-bad-line skip -q /dev/null /dev/null|2 4 0 1 16"
		"--mode roundrobin -i $D/in.txt /dev/null /dev/null /dev/null|$N $N 0 0 $all"
	)
	expect_outputs stats_of "${cases[@]}"
}

# ---------------------------------------------------------------------------
# 7. Usage

@test "fanout: usage errors exit 2 with a message, and start nothing" {
	local -a cases=(
		"--exec cat|usage: fanout"
		"--exec cat -j 2 $T/a|usage: fanout"
		"-j 2 $T/a|usage: fanout"
		"--on-exit restart $T/a|usage: fanout"
		"|usage: fanout"
		"--mode bogus $T/a|--mode: 'bogus' is not broadcast, roundrobin or demand"
		"--on-exit maybe --exec cat -j 1|--on-exit: 'maybe' is not fail or restart"
		"--exec cat -j 0|-j '0' is too small"
		"--exec cat -j 1025|-j '1025' is too large"
		"--exec cat -j x|-j 'x' is invalid"
		"--exec cat -j 1 --on-exit restart --restarts 1001|--restarts '1001' is too large"
		"--append --force $T/a|--append and --force do not go together"
		"--beacon-interval 127 $T/a|beacon interval '127'"
		"--on-bad-line maybe $T/a|--on-bad-line: 'maybe'"
		"--stats-interval 5q $T/a|--stats-interval: bad duration"
		"--bogus $T/a|unrecognized option"
		"--exec|requires an argument"
	)
	expect_failures 2 fanout "${cases[@]}"
	[ ! -e "$T/a" ] || fail "an output was created"
	# the synopsis is the man page's
	runf fanout --help
	assert_equal "$status" 0
	grep -qF 'output ... | --exec command -j count' "$T/out"
}
