#!/usr/bin/env bats
# clock(1): ticks, their meta and payload templates, outputs, intervals,
# signals. No test measures time: intervals are checked by what a tick
# count says (a clock with a long interval stopped early wrote one tick;
# one with a short interval finishes), background clocks run under
# timeout(1), and waits poll for a state with a generous limit.

load helper

CLOCK=$LS_BIN/clock
RELAY=$LS_BIN/relay
# the longest any one command may run before timeout(1) stops it
LIMIT=60

setup() {
	ls_setup
	[ -x "$CLOCK" ] || fail "$CLOCK is missing: run 'make' (LS_BIN)"
	[ -x "$RELAY" ] || fail "$RELAY is missing: run 'make' (LS_BIN)"
}

# clock ARGS...: the clock under test, never for longer than LIMIT.
clock() {
	timeout -k 5 "$LIMIT" "$CLOCK" "$@"
}

# ticks_ok FILE KEY COUNT: FILE holds COUNT canonical lines of stream KEY,
# shard 0, sequences 0 to COUNT-1 in order, timestamps never decreasing;
# prints what is wrong.
ticks_ok() {
	awk -v key="$2" -v n="$3" '
	!/^\[[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9][0-9][0-9] \| / { print "line " NR ": " $0; next }
	{
		ts = substr($0, 2, 23)
		split(substr($0, 28), f, " \\| ")
		if (f[1] != key || f[2] != NR - 1 || substr(f[3], 1, 2) != "0]")
			print "line " NR ": " $0
		if (ts < last) print "line " NR ": time goes back"
		last = ts
	}
	END { if (NR != n) print NR " lines, want " n }' "$1"
}

@test "clock --count: that many ticks, default key, shard, sequence and payload, status 0" {
	local n t0 t1 t
	for n in 1 2 7 40; do
		runf clock --count "$n" --interval 1ms
		assert_equal "count $n: status $status" "count $n: status 0"
		[ ! -s "$T/err" ] || fail "count $n: stderr: $(cat "$T/err")"
		run ticks_ok "$T/out" clock "$n"
		assert_output ""
		# the payload is {"tick":N}
		run awk '{ p = $0; sub(/^[^]]*\] /, "", p) } p != "{\"tick\":" NR - 1 "}" { print NR ": " p }' "$T/out"
		assert_output ""
	done
	# the time of day, in ms: between the moments before and after
	t0=$(date +%s%3N)
	clock -n 3 -i 1ms -o "$T/c.ss"
	t1=$(date +%s%3N)
	run bash -c "'$SS_TSV' '$T/c.ss' | sed '\$d' | cut -f 4"
	assert_equal "${#lines[@]}" 4
	for t in "${lines[@]}"; do
		[ "$t" -ge "$t0" ] && [ "$t" -le "$t1" ] || fail "timestamp $t not within $t0..$t1"
	done
	# -n is --count
	runf clock -n 2 -i 1ms
	[ "$(wc -l <"$T/out")" -eq 2 ]
}

# expand TEMPLATE: from "ms<TAB>line" on stdin, the payload clock should
# have written for each, by an expansion written here independently.
expand_want() {
	awk -F '\t' -v tpl="$1" "$AWK_LIB"'
	{
		ms = $1
		seq = $2; sub(/^[^|]*\| [^|]* \| /, "", seq); sub(/ .*/, "", seq)
		o = ""
		for (i = 1; i <= length(tpl); i++) {
			c = substr(tpl, i, 1)
			if (c != "%" || i == length(tpl)) { o = o c; continue }
			d = substr(tpl, ++i, 1)
			if (d == "n") o = o seq
			else if (d == "t") o = o ms
			else if (d == "T") o = o tsfmt(ms)
			else if (d == "%") o = o "%"
			else o = o "%" d
		}
		print o
	}'
}

@test "clock --payload: %n, %t, %T and %% are expanded, anything else is copied" {
	local -a templates=(
		'%n'
		'n=%n t=%t T=%T'
		'{"at":"%T","n":%n,"ms":%t}'
		'100%% sure'
		'%%n is not %n'
		'%x %q and a % at the end %'
		'%'
		'%%%n%%'
		'été %n €'
		'plain'
	)
	local tpl bad=()
	for tpl in "${templates[@]}"; do
		clock --count 3 --interval 1ms --payload "$tpl" --stream tpl >"$T/out" 2>"$T/err" ||
			{ bad+=("'$tpl': status $?"); continue; }
		# the milliseconds of each tick, from a .ss copy of the lines
		timeout "$LIMIT" "$RELAY" -i "$T/out" -o "$T/out.ss" --force </dev/null
		paste <("$SS_TSV" "$T/out.ss" | sed '$d' | grep -v "^$EOS_KEY	" | cut -f 4) "$T/out" |
		    expand_want "$tpl" >"$T/want"
		sed 's/^[^]]*\] //' "$T/out" >"$T/got"
		cmp -s "$T/want" "$T/got" || bad+=("'$tpl': got '$(head -n 1 "$T/got")', want '$(head -n 1 "$T/want")'")
		[ "$(wc -l <"$T/got")" -eq 3 ] || bad+=("'$tpl': $(wc -l <"$T/got") ticks")
	done
	[ "${#bad[@]}" -eq 0 ] || fail "$(printf '%s\n' "${bad[@]}")"
	# an empty template gives empty payloads
	run clock -n 2 -i 1ms -p ''
	assert_success
	assert_line --index 0 --regexp '^\[[^]]*\| clock \| 0 \| 0\] $'
	assert_line --index 1 --regexp '^\[[^]]*\| clock \| 1 \| 0\] $'
}

@test "clock --payload: the limit of 4064 bytes, and payloads that cannot be lines" {
	local a4064
	a4064=$(printf '%4064s' '' | tr ' ' a)
	runf clock -n 1 -p "$a4064"
	assert_equal "$status" 0
	[ "$(sed 's/^[^]]*\] //' "$T/out" | tr -d '\n' | wc -c)" -eq 4064 ]
	runf clock -n 1 -p "${a4064}b"
	assert_equal "$status" 2
	grep -q -- '--payload: the template expands past 4064 bytes' "$T/err" || fail "stderr: $(cat "$T/err")"
	runf clock -n 1 -p "$(printf '%%T%.0s' $(seq 200))"
	assert_equal "$status" 2
	# a newline or bytes that are not UTF-8 cannot be a line: status 1
	local p
	for p in $'two\nlines' $'\xff\xfe' $'bad \xc3('; do
		runf clock -n 2 -i 1ms -p "$p"
		assert_equal "status $status" "status 1"
		grep -q 'payload' "$T/err" || fail "stderr: $(cat "$T/err")"
		[ ! -s "$T/out" ] || fail "wrote: $(cat "$T/out")"
	done
	# a .ss output carries them
	clock -n 2 -i 1ms -p $'two\nlines\xff' -o "$T/b.ss"
	run bash -c "'$SS_TSV' -v '$T/b.ss' | sed '\$d' | cut -f 1,3,5"
	assert_success
	assert_output "$(printf 'clock\t0\t74776f0a6c696e6573ff\nclock\t1\t74776f0a6c696e6573ff\n%s\t0\t454f53' "$EOS_KEY")"
}

@test "clock --stream: the key of every tick; a bad key is a usage error" {
	local k
	for k in heartbeat a A.b_c-9 "$(printf 'k%.0s' $(seq 249))"; do
		runf clock -n 3 -i 1ms --stream "$k"
		assert_equal "$status" 0
		run ticks_ok "$T/out" "$k" 3
		assert_output ""
	done
	runf clock -n 2 -i 1ms -s short
	run ticks_ok "$T/out" short 2
	assert_output ""
	for k in "bad key" "" "k/x" "$(printf 'k%.0s' $(seq 250))" "é"; do
		runf clock -n 1 --stream "$k"
		assert_equal "'$k': status $status" "'$k': status 2"
		grep -q -- '--stream' "$T/err" || fail "'$k': stderr: $(cat "$T/err")"
		[ ! -s "$T/out" ]
	done
}

@test "clock --output: a .ss file ending with End-of-Stream that verifies; lines without one; filters" {
	clock -n 25 -i 1ms --output "$T/c.ss" --beacon-interval 128
	"$SS_DECODE" -v "$T/c.ss" >/dev/null || fail "ss-decode -v fails"
	"$SS_TSV" -v "$T/c.ss" >"$T/tsv" || fail "ss-tsv -v: $(tail -n 1 "$T/tsv")"
	run awk -F '\t' 'NR <= 25 && ($1 != "clock" || $2 != 0 || $3 != NR - 1) { print NR ": " $0 }
	    NR == 26 && ($1 != "'"$EOS_KEY"'" || $5 != "454f53") { print "no EOS: " $0 }
	    NR == 27 && !/^end / { print "trailer: " $0 }
	    END { if (NR != 27) print NR " lines" }' "$T/tsv"
	assert_output ""
	"$SS_DECODE" -m -H "$T/c.ss" | head -n 1 | grep -q '"beacon_interval":128}' || fail "interval"
	# read back as lines: the same ticks as a line output gives
	timeout "$LIMIT" "$RELAY" -i "$T/c.ss" -o "$T/c.txt" </dev/null
	sed '$d' "$T/c.txt" >"$T/ticks"
	run ticks_ok "$T/ticks" clock 25
	assert_output ""
	# a line file: no End-of-Stream line
	clock -n 4 -i 1ms -o "$T/l.txt"
	run ticks_ok "$T/l.txt" clock 4
	assert_output ""
	# file://PATH, and a compressed .ss
	clock -n 3 -i 1ms -o "file://$T/f.ss"
	[ "$("$SS_TSV" -v "$T/f.ss" | grep -c '^clock	')" -eq 3 ]
	clock -n 3 -i 1ms -o "$T/z.ss.gz"
	zcat "$T/z.ss.gz" >"$T/z.ss"
	[ "$("$SS_TSV" -v "$T/z.ss" | grep -c "^clock	\|^$EOS_KEY	")" -eq 4 ]
	# an output filter that drops the stream: nothing written, status 0
	runf clock -n 3 -i 1ms -o stdio:///other
	assert_equal "$status" 0
	[ ! -s "$T/out" ]
	runf clock -n 3 -i 1ms -o stdio:///other,clock
	run ticks_ok "$T/out" clock 3
	assert_output ""
}

@test "clock --output: an existing file is refused; --force replaces, --append continues it" {
	clock -n 3 -i 1ms -o "$T/c.ss"
	cp "$T/c.ss" "$T/orig.ss"
	runf clock -n 2 -i 1ms -o "$T/c.ss"
	assert_equal "$status" 1
	grep -qF "$T/c.ss: file exists" "$T/err" || fail "stderr: $(cat "$T/err")"
	cmp "$T/c.ss" "$T/orig.ss"
	runf clock -n 2 -i 1ms -o "$T/c.ss" --force --append
	assert_equal "$status" 2
	cmp "$T/c.ss" "$T/orig.ss"
	clock -n 2 -i 1ms -o "$T/c.ss" --append --beacon-interval 128
	run bash -c "'$SS_TSV' -v '$T/c.ss' | sed '\$d' | cut -f 1,3"
	assert_success
	assert_output "$(printf 'clock\t0\nclock\t1\nclock\t2\nclock\t0\nclock\t1\n%s\t0' "$EOS_KEY")"
	clock -n 1 -i 1ms -o "$T/c.ss" --force -s new
	run bash -c "'$SS_TSV' -v '$T/c.ss' | sed '\$d' | cut -f 1,3"
	assert_output "$(printf 'new\t0\n%s\t0' "$EOS_KEY")"
	# lines files alike
	clock -n 2 -i 1ms -o "$T/l.txt"
	runf clock -n 2 -i 1ms -o "$T/l.txt"
	assert_equal "$status" 1
	clock -n 2 -i 1ms -o "$T/l.txt" --append
	[ "$(wc -l <"$T/l.txt")" -eq 4 ]
}

@test "clock --interval: units us, ms, s, m, h and bare seconds are taken; others are usage errors" {
	local i bad=()
	# short intervals: three ticks come by themselves
	for i in 1us 250us 1ms 2ms; do
		runf clock --count 3 --interval "$i"
		[ "$status" -eq 0 ] && [ "$(wc -l <"$T/out")" -eq 3 ] || bad+=("$i: status $status, $(wc -l <"$T/out") ticks")
	done
	# long intervals: the first tick comes at once, the second not before
	# the clock is stopped (which happens well within any of them)
	local pids=() bgs=() k=0
	for i in 1h 2m 30s 30 10s; do
		bg "$T/p$k" "$T/o$k" "$T/e$k" "$CLOCK" --count 2 --interval "$i"
		bgs+=("$BG")
		k=$((k + 1))
	done
	for ((k = 0; k < ${#bgs[@]}; k++)); do
		wait_until 30 lines_at_least 1 "$T/o$k" || bad+=("clock $k: no first tick")
	done
	sleep 0.2
	for ((k = 0; k < ${#bgs[@]}; k++)); do
		kill -TERM "$(cat "$T/p$k")"
		wait "${bgs[k]}" && st=0 || st=$?
		[ "$st" -eq 0 ] || bad+=("clock $k: status $st")
		[ "$(wc -l <"$T/o$k")" -eq 1 ] || bad+=("clock $k: $(wc -l <"$T/o$k") ticks")
	done
	# not a duration
	for i in 0 0ms 0us -1 1.5 5d ms '' ' 5' 5MS 1hr 99999999999999999999 18446744073709551615h; do
		runf clock --count 1 --interval "$i"
		[ "$status" -eq 2 ] && grep -q -- '--interval' "$T/err" && [ ! -s "$T/out" ] ||
			bad+=("'$i': status $status: $(cat "$T/err")")
	done
	[ "${#bad[@]}" -eq 0 ] || fail "$(printf '%s\n' "${bad[@]}")"
}

@test "clock: SIGTERM while waiting ends it at once after one tick with --interval 1h, status 0" {
	local out
	for out in - "$T/c.ss"; do
		rm -f "$T/out" "$T/c.ss"
		bg "$T/pid" "$T/out" "$T/err" "$CLOCK" --interval 1h --output "$out"
		local cbg=$BG st
		if [ "$out" = - ]; then
			wait_until 30 lines_at_least 1 "$T/out" || fail "no first tick"
		else
			wait_until 30 eval '[ "$("$SS_TSV" "$T/c.ss" 2>/dev/null | grep -c "^clock	")" -ge 1 ]' ||
				fail "no first tick in the file"
		fi
		sleep 0.2
		kill -TERM "$(cat "$T/pid")"
		wait "$cbg" && st=0 || st=$?
		assert_equal "$out: status $st: $(cat "$T/err")" "$out: status 0: "
		if [ "$out" = - ]; then
			run ticks_ok "$T/out" clock 1
			assert_output ""
		else
			run bash -c "'$SS_TSV' -v '$T/c.ss' | cut -f 1,3,5"
			assert_success
			assert_line --index 0 "$(printf 'clock\t0\t7b227469636b223a307d')"
			assert_line --index 1 "$(printf '%s\t0\t454f53' "$EOS_KEY")"
			assert_equal "${#lines[@]}" 3
		fi
	done
}

@test "clock: SIGTERM while ticking fast ends it after a whole line, status 0; SIGUSR1 does not stop it" {
	bg "$T/pid" "$T/out" "$T/err" "$CLOCK" --interval 1ms
	local cbg=$BG st
	wait_until 30 lines_at_least 20 "$T/out" || fail "clock wrote $(wc -l <"$T/out") ticks"
	kill -USR1 "$(cat "$T/pid")"
	local n
	n=$(wc -l <"$T/out")
	wait_until 30 lines_at_least $((n + 20)) "$T/out" || fail "clock stopped after SIGUSR1"
	kill -TERM "$(cat "$T/pid")"
	wait "$cbg" && st=0 || st=$?
	assert_equal "status $st: $(cat "$T/err")" "status 0: "
	[ "$(tail -c 1 "$T/out" | od -An -tx1 | tr -d ' ')" = 0a ] || fail "the last line is cut"
	run ticks_ok "$T/out" clock "$(wc -l <"$T/out")"
	assert_output ""
	# into a .ss file: it ends with End-of-Stream and verifies
	bg "$T/pid" "$T/out2" "$T/err" "$CLOCK" --interval 1ms -o "$T/c.ss" --beacon-interval 128
	cbg=$BG
	wait_until 30 eval '[ "$("$SS_TSV" "$T/c.ss" 2>/dev/null | grep -c "^clock	")" -ge 20 ]' || fail "no ticks in the file"
	kill -TERM "$(cat "$T/pid")"
	wait "$cbg" && st=0 || st=$?
	assert_equal "status $st" "status 0"
	"$SS_DECODE" -v "$T/c.ss" >/dev/null || fail "ss-decode -v fails"
	"$SS_TSV" -v "$T/c.ss" | sed '$d' >"$T/tsv"
	tail -n 1 "$T/tsv" | grep -q "^$EOS_KEY	" || fail "no EOS"
	run awk -F '\t' '$1 == "clock" && $3 != NR - 1 { print NR ": " $0 }' "$T/tsv"
	assert_output ""
}

# stall ROUNDS SECONDS: stops the clock of $T/pid ROUNDS times for
# SECONDS, and after each checks that it ticks again.
stall() {
	local r n
	for ((r = 1; r <= $1; r++)); do
		kill -STOP "$(cat "$T/pid")"
		sleep "$2"
		n=$(wc -l <"$T/out")
		kill -CONT "$(cat "$T/pid")"
		wait_until 20 lines_at_least $((n + 10)) "$T/out" ||
			{ echo "no tick after stall $r (of $2 s): $(wc -l <"$T/out") ticks"; return 1; }
	done
}

@test "clock: it ticks on after a stall, tick numbers without a gap, with or without --catch-up" {
	# Without --catch-up, a late clock skips to the next slot of its
	# schedule. Stalls just under a second long make the time it is late
	# cross a second boundary, as it often does in practice.
	local mode st
	for mode in "" --catch-up; do
		# shellcheck disable=SC2086
		bg "$T/pid" "$T/out" "$T/err" "$CLOCK" --interval 1ms $mode
		local cbg=$BG
		wait_until 30 lines_at_least 10 "$T/out" || fail "$mode: no ticks"
		if [ -z "$mode" ]; then
			run stall 2 0.95
		else
			run stall 1 0.2
		fi
		kill -TERM "$(cat "$T/pid")"
		wait "$cbg" && st=0 || st=$?
		assert_output ""
		assert_equal "$mode: status $st" "$mode: status 0"
		run ticks_ok "$T/out" clock "$(wc -l <"$T/out")"
		assert_output ""
	done
}

@test "clock: --count 0 runs until its reader goes away, then ends quietly (SIGPIPE)" {
	timeout "$LIMIT" bash -c '"$1" --count 0 --interval 1ms | head -n 5 >"$2"; echo "${PIPESTATUS[0]}" >"$3"' \
	    _ "$CLOCK" "$T/out" "$T/status" </dev/null 2>"$T/err"
	assert_equal "$(cat "$T/status")" 141
	[ ! -s "$T/err" ] || fail "stderr: $(cat "$T/err")"
	run ticks_ok "$T/out" clock 5
	assert_output ""
}

@test "clock: usage errors exit 2 with a message" {
	local -a cases=(
		"--bogus|unrecognized option"
		"--count x|count 'x'"
		"--count -1|count '-1'"
		"--beacon-interval 5|beacon interval '5'"
		"--append --force|--append and --force do not go together"
		"stray|usage: clock"
		"--interval|requires an argument"
	)
	expect_failures 2 clock "${cases[@]}"
	runf clock -n 1 -o "$T/no-dir/c.ss"
	assert_equal "$status" 1
	grep -qF "$T/no-dir/c.ss" "$T/err"
	runf clock -n 1 -o rediss://host/k
	assert_equal "$status" 1
	grep -qF 'rediss://host/k: TLS (rediss://) is not supported' "$T/err"
}
