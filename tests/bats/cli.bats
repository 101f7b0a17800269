#!/usr/bin/env bats
# One command-line convention for every command: --help and -h on
# standard output with status 0, --version, usage errors that say why in
# one line before the synopsis (status 2, nothing on standard output),
# aliases that do what their main spelling does, and ss-decode reading a
# .ss.gz file as relay does.

load helper

CMDS="clock relay partition batch fanout ss-decode"

@test "cli: --help and -h print the synopsis on stdout, status 0, nothing on stderr" {
	local c o
	for c in $CMDS; do
		for o in --help -h; do
			runf "$LS_BIN/$c" $o </dev/null
			assert_equal "$c $o: status $status" "$c $o: status 0"
			[ "$(head -c 7 "$T/out")" = "usage: " ] || fail "$c $o: stdout: $(cat "$T/out")"
			grep -q "^usage: $c " "$T/out" || fail "$c $o: names not $c"
			[ ! -s "$T/err" ] || fail "$c $o: stderr: $(cat "$T/err")"
		done
	done
}

@test "cli: --version prints 'PROGRAM VERSION' on stdout, status 0" {
	local c
	for c in $CMDS; do
		runf "$LS_BIN/$c" --version </dev/null
		assert_equal "$c: status $status" "$c: status 0"
		grep -Eqx "$c [0-9]+\.[0-9]+\.[0-9]+.*" "$T/out" || fail "$c: stdout: $(cat "$T/out")"
		[ ! -s "$T/err" ] || fail "$c: stderr: $(cat "$T/err")"
	done
}

# usage_errors CMD CASE...: expect_failures 2, and each stderr starts
# with the reason ("CMD: ..." or getopt's line) then the synopsis.
usage_errors() {
	local cmd=$1 c args
	shift
	expect_failures 2 "$LS_BIN/$cmd" "$@"
	for c in "$@"; do
		args=${c%%|*}
		# shellcheck disable=SC2086
		runf "$LS_BIN/$cmd" $args </dev/null
		[ "$(sed -n 2p "$T/err" | cut -c1-7)" = "usage: " ] ||
			fail "$cmd $args: not one reason line then usage: $(cat "$T/err")"
	done
}

@test "cli: clock usage errors say why, then the synopsis" {
	usage_errors clock \
		"--bogus|unrecognized option" \
		"stray|unexpected argument 'stray'" \
		"--count x|count 'x' is invalid" \
		"--interval 0|--interval must be above zero" \
		"--append --force|--append and --force do not go together"
}

@test "cli: relay usage errors say why, then the synopsis" {
	usage_errors relay \
		"--bogus|unrecognized option" \
		"stray|unexpected argument 'stray'" \
		"--sync often|--sync: 'often' is not none, interval or every" \
		"-X nameonly|-X: 'nameonly' is not name=value" \
		"--consumer c|--consumer goes with --group" \
		"-f -i a -i b|--follow takes a single input" \
		"--on-bad-line maybe|--on-bad-line: 'maybe'" \
		"--append --force|--append and --force do not go together"
}

@test "cli: partition usage errors say why, then the synopsis" {
	cd "$T"
	usage_errors partition \
		"--bogus|unrecognized option" \
		"o.%d|-n: the number of partitions is needed" \
		"-n 2|no template given" \
		"-n 2 a.%d b.%d|one template only, but 'b.%d' follows it" \
		"-n 2 --exec cat o.%d|--exec takes no template, but 'o.%d' is given" \
		"-n 2 o.%x|template: '%x' is not %d or %%" \
		"-n 2 --restarts 1001 --exec cat|--restarts '1001' is too large"
}

@test "cli: batch usage errors say why, then the synopsis" {
	usage_errors batch \
		"--bogus|unrecognized option" \
		"extra|unexpected argument 'extra'" \
		"-j 2|go with --exec" \
		"--backoff 1ms|--backoff: '1ms' is not MIN..MAX" \
		"--split -n 3|--split takes no batching options"
}

@test "cli: fanout usage errors say why, then the synopsis" {
	usage_errors fanout \
		"--bogus $T/a|unrecognized option" \
		"|no output given" \
		"--exec cat|--exec needs -j, the number of workers" \
		"--exec cat -j 2 $T/a|--exec takes no outputs" \
		"-j 2 $T/a|-j goes with --exec" \
		"--on-exit restart $T/a|--on-exit restart goes with --exec" \
		"--mode any $T/a|--mode: 'any' is not broadcast"
	[ ! -e "$T/a" ] || fail "an output was created"
}

@test "cli: ss-decode usage errors say why, then the synopsis" {
	usage_errors ss-decode \
		"--bogus x|unrecognized option" \
		"|no file given" \
		"$VEC/consumer.ss $VEC/consumer.ss|one file only" \
		"-i $VEC/consumer.ss $VEC/consumer.ss|one file only" \
		"-F xml $VEC/consumer.ss|unknown format 'xml'" \
		"-v -f $VEC/consumer.ss|--verify and --follow do not go together"
}

@test "cli: each alias does what its main spelling does" {
	local a
	cd "$T"
	# ss-decode --file is --input
	runf "$LS_BIN/ss-decode" --input "$VEC/consumer.ss"
	assert_equal "$status" 0
	mv "$T/out" "$T/main"
	runf "$LS_BIN/ss-decode" --file "$VEC/consumer.ss"
	assert_equal "$status" 0
	cmp "$T/main" "$T/out"
	# partition --restart is --restarts: the same range and message
	for a in --restarts --restart; do
		runf "$LS_BIN/partition" -n 2 $a 1001 --exec cat </dev/null
		assert_equal "$a: status $status" "$a: status 2"
		grep -qF -- "--restarts '1001' is too large" "$T/err" || fail "$a: $(cat "$T/err")"
	done
}

@test "cli: ss-decode reads a .ss.gz file as the .ss it holds; --follow on one is refused as relay refuses it" {
	local o
	gzip -c "$VEC/consumer.ss" >"$T/c.ss.gz"
	for o in "" "-F ndjson" "-F ndjson --meta" "-H" "-v"; do
		# shellcheck disable=SC2086
		runf "$LS_BIN/ss-decode" $o "$VEC/consumer.ss"
		assert_equal "$status" 0
		sed "s|$VEC/consumer.ss|F|" "$T/out" >"$T/plain"
		# shellcheck disable=SC2086
		runf "$LS_BIN/ss-decode" $o "$T/c.ss.gz"
		assert_equal "[$o] status $status" "[$o] status 0"
		sed "s|$T/c.ss.gz|F|" "$T/out" >"$T/gz"
		cmp "$T/plain" "$T/gz" || fail "[$o] differs"
	done
	runf "$LS_BIN/ss-decode" -f "$T/c.ss.gz"
	assert_equal "$status" 1
	grep -qF 'need the uncompressed file' "$T/err"
	runf "$LS_BIN/relay" -f -i "$T/c.ss.gz"
	assert_equal "$status" 1
	grep -qF 'need the uncompressed file' "$T/err"
}

@test "cli: a stop signal its sender sends twice at once is one stop; a second from another process, or later, ends the command at once, status 1" {
	local p rc i
	# timeout(1), signalled, sends the signal to its command and to
	# their process group: twice, back to back
	mkfifo "$T/in"
	exec 7<>"$T/in"
	for i in $(seq 1 20); do
		"$LS_BIN/relay" -i "$T/in" -o "$T/o$i.ss" 7<&- 2>"$T/err$i" &
		p=$!
		sleep 0.1
		kill -TERM "$p"
		kill -TERM "$p" 2>/dev/null || :	# gone already: one stop
		rc=0
		wait "$p" || rc=$?
		[ "$rc" = 0 ] || fail "round $i: status $rc: $(cat "$T/err$i")"
		[ ! -s "$T/err$i" ] || fail "round $i: $(cat "$T/err$i")"
		"$SS_DECODE" -v "$T/o$i.ss" >/dev/null ||
			fail "round $i: the .ss output does not verify"
	done
	exec 7>&-
	# a relay held by a FIFO nobody reads stays after the first; a
	# second ends it with status 1: from another process at once, or
	# from the same one after CMD_STOP_REPEAT_MS (500)
	mkfifo "$T/full"
	exec 8<>"$T/full"
	for i in other later; do
		head -c 20000000 /dev/zero | tr '\0' x | fold -w 100 |
		    "$LS_BIN/relay" -o "$T/full" 8<&- 2>"$T/err" &
		p=$!
		sleep 0.5
		kill -TERM "$p"
		if [ "$i" = other ]; then
			# the same sender 0.2 s later: the same stop (it
			# ended relay when the window was 50 ms)
			sleep 0.2
			kill -TERM "$p"
			sleep 0.1
			kill -0 "$p" ||
				fail "relay ended at its sender's second signal"
			/bin/kill -TERM "$p"
		else
			sleep 0.7
			kill -0 "$p" || fail "relay ended at the first signal"
			kill -TERM "$p"
		fi
		rc=0
		wait "$p" || rc=$?
		[ "$rc" = 1 ] || fail "$i: status $rc"
	done
	exec 8>&-
}
