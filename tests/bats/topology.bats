#!/usr/bin/env bats
# A topology of stages wired with FIFOs:
#
#   clock > t;  tee side < t > c;  partition -n 3 -i c p%d;
#   batch -i pN -o bN.ss (N = 0, 1, 2)
#
# shuts down from one SIGTERM to its head: the producers end, then the
# partition at the end of its input, then the batchers at the end of
# theirs, each with status 0, and every tick once in the .ss files. The
# order of exits is taken from wait(1), each level held until the one
# before it has ended; nothing measures time.

load helper

# No stage runs under timeout(1), so that wait(1) sees the stages
# themselves end; bats stops a test that takes longer than this.
BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-120}

setup() {
	ls_setup
	local b
	for b in clock partition batch; do
		[ -x "$LS_BIN/$b" ] || fail "$LS_BIN/$b is missing: run 'make' (LS_BIN)"
	done
}

teardown() {
	# whatever a failed test left running
	local p
	for p in "${PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	return 0
}

# stage NAME IN OUT CMD...: starts CMD in the background, a child of this
# shell, with standard input from IN, output to OUT (which may be FIFOs)
# and standard error to $T/NAME.err; records its pid as NAME in
# PIDS/NAMES.
stage() {
	local name=$1 in=$2 out=$3
	shift 3
	"$@" <"$in" >"$out" 2>"$T/$name.err" 3>&- &
	PIDS+=("$!")
	NAMES[$!]=$name
}

# wait_for N: waits for the next N of the pids in left to exit (as
# wait -n sees them), appends NAME:STATUS of each to order, and removes
# them from left.
wait_for() {
	local n=$1 who st p
	local -a rest
	for ((; n > 0; n--)); do
		wait -n -p who "${left[@]}" && st=0 || st=$?
		order+=("${NAMES[$who]}:$st")
		rest=()
		for p in "${left[@]}"; do
			[ "$p" = "$who" ] || rest+=("$p")
		done
		left=("${rest[@]}")
	done
}

@test "topology: clock | tee | partition -n 3 | 3 x batch -> .ss: one SIGTERM to clock; exits in order, all 0; every tick once; each file ends with EOS" {
	local -a NAMES=() order=()
	local i
	PIDS=()
	mkfifo "$T/t" "$T/c" "$T/p0" "$T/p1" "$T/p2"
	# started in the order they are to end; tee keeps a copy of the ticks
	stage clock /dev/null "$T/t" "$LS_BIN/clock" --interval 1ms
	stage tee "$T/t" "$T/c" tee "$T/side"
	stage partition /dev/null /dev/null "$LS_BIN/partition" -n 3 --key field:tick -i "$T/c" "$T/p%d"
	for i in 0 1 2; do
		stage "batch$i" /dev/null /dev/null "$LS_BIN/batch" -n 25 -t 50ms --by stream -i "$T/p$i" -o "$T/b$i.ss"
	done
	wait_until 30 lines_at_least 300 "$T/side" || fail "clock wrote $(wc -l <"$T/side") ticks"
	# A stage closes its outputs before it has quite exited, so a stage
	# downstream may be seen to exit first if it is quick and its upstream
	# slow to be scheduled. So that the order seen is the order of the
	# shutdown, each level is held (SIGSTOP) until the one before it has
	# exited, then let go (SIGCONT) to end by itself at the end of its
	# input; held, it cannot help its upstream end.
	kill -STOP "${PIDS[@]:2}"
	kill -TERM "${PIDS[0]}"
	local -a left=("${PIDS[@]}")
	wait_for 2
	kill -CONT "${PIDS[2]}"
	wait_for 1
	kill -CONT "${PIDS[@]:3}"
	wait_for 3
	[ "${#left[@]}" -eq 0 ]
	PIDS=()
	local got="${order[*]}"
	got=${got//batch[012]/batch}
	got=${got//clock/producer}
	got=${got//tee/producer}
	assert_equal "$got" "producer:0 producer:0 partition:0 batch:0 batch:0 batch:0"
	for i in clock tee partition batch0 batch1 batch2; do
		[ ! -s "$T/$i.err" ] || fail "$i: $(cat "$T/$i.err")"
	done
	# clock ended after a whole line
	[ "$(tail -c 1 "$T/side" | od -An -c | tr -d ' ')" = '\n' ] || fail "clock's last line is cut"
	# each file verifies, ends with an EOS, and holds its ticks in order
	for i in 0 1 2; do
		"$SS_TSV" -v "$T/b$i.ss" >"$T/b$i.tsv" || fail "b$i.ss does not verify: $(tail -n 1 "$T/b$i.tsv")"
		sed '$d' "$T/b$i.tsv" | tail -n 1 | grep -q "^$EOS_KEY	" || fail "b$i.ss does not end with EOS"
		"$LS_BIN/batch" --split -i "$T/b$i.ss" -o "$T/s$i.txt" </dev/null
		sed '$d' "$T/s$i.txt" | sed 's/.*{"tick":\([0-9]*\)}$/\1/' >"$T/t$i"
		[ -s "$T/t$i" ] || fail "partition $i got no tick"
		sort -n -c "$T/t$i" || fail "b$i.ss: ticks out of order"
	done
	# every tick clock wrote, once
	sed 's/.*{"tick":\([0-9]*\)}$/\1/' "$T/side" >"$T/want"
	[ "$(wc -l <"$T/want")" -ge 300 ]
	sort -n "$T/t0" "$T/t1" "$T/t2" | cmp - "$T/want" ||
		fail "ticks: $(sort -n "$T/t0" "$T/t1" "$T/t2" | diff - "$T/want" | head -n 4)"
}
