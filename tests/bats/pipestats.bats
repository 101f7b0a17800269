#!/usr/bin/env bats
# pipeline --stats: every stage's own counters (in, out, rate), its
# restarts and the bytes waiting in its input FIFO, in one JSON line;
# on a terminal (forced by LS_STATS_TABLE=1) a table redrawn in place,
# the slowest stage marked.

load helper

BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-60}

setup() {
	ls_setup
	PIPELINE=$LS_BIN/pipeline
	[ -x "$PIPELINE" ] || fail "$PIPELINE is missing: run 'make' (LS_BIN)"
	export TMPDIR=$T/tmp
	mkdir -p "$TMPDIR"
	cd "$T" || fail "no $T"
}

# the stages run in sessions of their own: a pipeline left running is
# stopped with two SIGTERMs (which reach them), not killed alone
teardown() {
	[ -z "${PP:-}" ] || stop 2>/dev/null
	return 0
}

# stop: the ordered stop, then every command stopped; waits for it.
# The second comes after CMD_STOP_REPEAT_MS (500): one from the same
# sender before it is the first again.
stop() {
	kill -TERM "$PP"
	sleep 0.7
	kill -TERM "$PP" 2>/dev/null
	wait "$PP" || true
	PP=
}

@test "--stats: each stage's in and out, first and last command of a pipe" {
	seq 1 10000 >in.txt
	run "$PIPELINE" --stats --stats-interval 0 \
	    -e 'relay -i in.txt -o @a # [name=src]' \
	    -e 'partition -n 2 -i @a @p%d # [name=part]' \
	    -e 'relay -i @p0 | relay -o out0.txt # [name=two]' \
	    -e 'relay -i @p1 -o out1.txt # [name=one]' \
	    -e 'clock --count 3 --interval 1ms >clock.txt # [name=clk]'
	assert_success
	[ "${#lines[@]}" -eq 1 ] || fail "${#lines[@]} lines"
	n0=$(wc -l <out0.txt)
	n1=$(wc -l <out1.txt)
	[ $((n0 + n1)) -eq 10000 ] || fail "$n0 + $n1 lines"
	run jq -c '[.stages[] | [.name, .in, .out, .restarts, .queue, .state]]' <<<"$output"
	assert_success
	assert_output "[[\"src\",10000,10000,0,0,\"done\"],[\"part\",10000,10000,0,0,\"done\"],[\"two\",$n0,$n0,0,0,\"done\"],[\"one\",$n1,$n1,0,0,\"done\"],[\"clk\",null,null,0,0,\"done\"]]"
}

@test "--stats: rates over each interval (50/s: far below an unlimited relay's) and the queue of a slow stage" {
	seq 1 200000 >in.txt
	"$PIPELINE" --stats --stats-interval 100ms \
	    -e 'relay -i in.txt -o @a # [name=src]' \
	    -e 'relay --rate 50/s -i @a -o out.txt # [name=slow]' 2>err &
	PP=$!
	wait_until 20 eval 'grep -q "\"queue\":[1-9]" err && [ $(grep -c "\"out\":[1-9]" err) -ge 3 ]' ||
	    fail "$(cat err)"
	stop
	run jq -c 'select(.stages[1].out > 0) | [.stages[1].name, .stages[1].queue > 0, .stages[1].rate > 0, .stages[1].rate < 1000]' <<<"$(grep '^{' err)"
	assert_success
	assert_line --index 0 '["slow",true,true,true]'
}

@test "--stats on a terminal (LS_STATS_TABLE=1): a table redrawn in place, the slowest marked" {
	seq 1 200000 >in.txt
	LS_STATS_TABLE=1 "$PIPELINE" --stats --stats-interval 100ms \
	    -e 'relay -i in.txt -o @a # [name=src]' \
	    -e 'relay -i @a -o @b # [name=fast]' \
	    -e 'relay --rate 50/s -i @b -o out.txt # [name=slow]' 2>err &
	PP=$!
	wait_until 20 eval '[ $(grep -c "slow .* <- slowest" err) -ge 2 ]' ||
	    fail "$(cat -v err | tail -20)"
	stop
	grep -q '^{' err && fail "a JSON line: $(cat err)"
	# each table: a header and one row a stage, after the first each
	# drawn over the last (cursor up 4 lines)
	[ "$(grep -c $'\e\\[4A' err)" -ge 2 ] || fail "$(cat -v err)"
	run sed -n 's/^.*\r\x1b\[K//p' err
	assert_line --index 0 --regexp '^STAGE +IN/S +OUT/S +RESTARTS +QUEUE$'
	assert_line --index 1 --regexp '^src +([0-9.]+|-) +([0-9.]+|-) +0 +0$'
	assert_line --regexp '^slow +[0-9.]+ +[0-9.]+ +0 +[1-9][0-9]*  <- slowest$'
	# at most one mark a table, and while slow has bytes waiting, on
	# slow (before any counts and once all ended there is none; fast
	# can be marked once slow has ended and fast still holds bytes)
	awk '/^STAGE/ { if (n++) check(); m = q = s = 0; next }
	    /slowest/ { m++ }
	    $1 == "slow" && $5 > 0 { q = 1; s = /slowest/ }
	    function check() { if (m > 1 || (q && !s)) bad = 1 }
	    END { check(); exit bad }' <<<"$output" ||
	    fail "not one mark a table, on slow: $output"
	# not a terminal: no table
	run "$PIPELINE" --stats --stats-interval 0 -e 'relay -i in.txt -o out2.txt'
	assert_success
	refute_output --partial STAGE
	run jq -r '.stages[0].out' <<<"$output"
	assert_output 200000
}
