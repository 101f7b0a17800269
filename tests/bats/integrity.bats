#!/usr/bin/env bats
# Damage must never pass as a whole file: each case of the "Integrity"
# issue, with the outcome tests/README.md lists.

load helper

RELAY=$LS_BIN/relay
LENGTHS=$REPO/tests/tools/ss-lengths.py

# setbyte FILE OFFSET VALUE: writes the byte VALUE (decimal) at OFFSET.
setbyte() {
	printf "$(printf '\\%03o' "$2")" |
		dd of="$1" bs=1 seek="$3" conv=notrunc status=none
}

@test "a payload size made too large, with beacons after it, is damage: verify fails at the message" {
	cp "$VEC/consumer.ss" "$T/bad.ss"
	# bit 0 of byte 158: the first payload size, 7, becomes 16,777,223
	setbyte "$T/bad.ss" 1 158
	runf "$SS_DECODE" --verify "$T/bad.ss"
	assert_equal "$status" 1
	grep -qx "ss-decode: $T/bad.ss: byte 128: the message's size disagrees with the beacon at byte 1024, which counts 39 bytes of it to come, not 16776364" "$T/err" ||
		fail "stderr: $(cat "$T/err")"
	grep -q "1 faults" "$T/out" || fail "stdout: $(cat "$T/out")"
	runf "$SS_DECODE" "$T/bad.ss"
	assert_equal "$status" 1
	! grep -q truncated "$T/err" || fail "called damage a cut: $(cat "$T/err")"
}

@test "--skip-corrupt resumes at the next beacon after a payload size made too large" {
	cp "$VEC/consumer.ss" "$T/bad.ss"
	setbyte "$T/bad.ss" 1 158
	runf "$RELAY" -i "$T/bad.ss" -o "$T/rep.ss" --skip-corrupt
	assert_equal "$status" 1
	grep -q "skipped bytes 128 to 1102" "$T/err" || fail "stderr: $(cat "$T/err")"
	# what follows the damage is all there: the messages after beacon 1
	"$SS_TSV" "$VEC/consumer.ss" | grep -v '^end' | tail -n 80 >"$T/want"
	"$SS_TSV" "$T/rep.ss" | grep -v '^end' | cut -f 1-3,5 >"$T/got"
	cut -f 1-3,5 "$T/want" | diff - "$T/got"
}

@test "a payload size made too large in the last interval, before End-of-Stream, is damage; append refuses" {
	cp "$VEC/consumer.ss" "$T/bad.ss"
	read -r field start kind < <(python3 "$LENGTHS" "$T/bad.ss" | tail -n 2 | head -n 1)
	assert_equal "$kind" damage
	setbyte "$T/bad.ss" 1 $((field + 1))
	runf "$SS_DECODE" --verify "$T/bad.ss"
	assert_equal "$status" 1
	grep -q "byte $start: the message's size runs past the End-of-Stream that ends the file at byte 4830" "$T/err" ||
		fail "stderr: $(cat "$T/err")"
	cp "$T/bad.ss" "$T/before.ss"
	runf "$RELAY" --append -o "$T/bad.ss" <<<"[k | 1] more"
	assert_equal "$status" 1
	grep -q "runs past the End-of-Stream" "$T/err" || fail "stderr: $(cat "$T/err")"
	cmp "$T/bad.ss" "$T/before.ss"
}

@test "every payload size made too large is reported as damage unless the file ends inside that message" {
	local v field start kind bad=() n=0
	for v in consumer no-eos-truncated splice-256 tiny-128 rotate-2048 large; do
		while read -r field start kind; do
			cp "$VEC/$v.ss" "$T/m.ss"
			setbyte "$T/m.ss" 127 "$field"
			"$SS_DECODE" --verify "$T/m.ss" >"$T/out" 2>"$T/err" && st=0 || st=$?
			n=$((n + 1))
			if [ "$kind" = damage ] && [ "$st" -ne 1 ]; then
				bad+=("$v: size at $field (message at $start): status $st, $(head -c 200 "$T/err")")
			elif [ "$kind" = cut ] && ! grep -q "truncated at byte $start\$" "$T/err"; then
				bad+=("$v: size at $field (message at $start): not reported cut: $(head -c 200 "$T/err")")
			fi
		done < <(python3 "$LENGTHS" "$VEC/$v.ss" | sample)
	done
	[ "$n" -gt 60 ] || fail "only $n cases"
	[ "${#bad[@]}" -eq 0 ] || fail "$(printf '%s\n' "${bad[@]}")"
}

# lines3 FIRST COUNT: COUNT lines with full meta, numbered from FIRST.
lines3() {
	awk -v f="$1" -v n="$2" 'BEGIN { for (i = f; i < f + n; i++)
		printf "[2026-01-01T00:00:00.%03d | k%d | %d | 0] payload-%d\n", i % 1000, i % 3, i, i }'
}

@test "--append to a line file cut inside its last line drops that part, reports it, and glues nothing" {
	local cut bad=()
	lines3 0 5 >"$T/all.log"
	lines3 5 3 >"$T/more.log"
	full=$(fsize "$T/all.log")
	# every cut inside the last line, and none
	last=$(($(head -n 4 "$T/all.log" | wc -c)))
	for cut in $(seq "$last" "$full" | sample); do
		head -c "$cut" "$T/all.log" >"$T/o.log"
		"$RELAY" --append -o "$T/o.log" <"$T/more.log" 2>"$T/err" || bad+=("$cut: status $?")
		if [ "$cut" -gt "$last" ] && [ "$cut" -lt "$full" ]; then
			d=$((cut - last)) s=s
			[ "$d" -gt 1 ] || s=
			grep -qx "relay: $T/o.log: byte $last: dropped an incomplete tail of $d byte$s before appending" "$T/err" ||
				bad+=("$cut: stderr: $(cat "$T/err")")
		else
			[ ! -s "$T/err" ] || bad+=("$cut: stderr: $(cat "$T/err")")
		fi
		want=$( { head -n "$([ "$cut" -eq "$full" ] && echo 5 || echo 4)" "$T/all.log"; cat "$T/more.log"; })
		[ "$(cat "$T/o.log")" = "$want" ] || bad+=("$cut: file: $(cat "$T/o.log")")
	done
	[ "${#bad[@]}" -eq 0 ] || fail "$(printf '%s\n' "${bad[@]}")"
}

@test "--append to a .ss file reports the incomplete message it drops" {
	head -c 4800 "$VEC/consumer.ss" >"$T/c.ss"
	runf "$RELAY" --append -o "$T/c.ss" <<<"[k | 1] more"
	assert_equal "$status" 0
	assert_equal "$(cat "$T/err")" "relay: $T/c.ss: byte 4774: dropped an incomplete tail of 26 bytes before appending"
	"$SS_DECODE" --verify "$T/c.ss" >/dev/null
	# a file closed cleanly loses only its End-of-Stream, silently
	runf "$RELAY" --append -o "$T/c.ss" <<<"[k | 2] again"
	assert_equal "$status" 0
	[ ! -s "$T/err" ] || fail "stderr: $(cat "$T/err")"
}

@test "partition and batch --append drop and report an incomplete last line too" {
	one=$(lines3 0 1 | wc -c)
	lines3 0 2 | head -c $((one + 8)) >"$T/p0.log"
	lines3 2 2 | "$LS_BIN/partition" -n 1 --append "$T/p%d.log" 2>"$T/err"
	grep -q "p0.log: byte $one: dropped an incomplete tail of 8 bytes" "$T/err" || fail "stderr: $(cat "$T/err")"
	assert_equal "$(cat "$T/p0.log")" "$(lines3 0 1; lines3 2 2)"
	printf '["x"' >"$T/b.log"
	lines3 0 2 | "$LS_BIN/batch" -n 2 --append -o "$T/b.log" 2>"$T/err"
	grep -q "b.log: byte 0: dropped an incomplete tail of 4 bytes" "$T/err" || fail "stderr: $(cat "$T/err")"
	[ "$(wc -l <"$T/b.log")" -eq 1 ] || fail "file: $(cat "$T/b.log")"
}

# (a relay writes whole lines, test-line's test_write_whole_lines shows;
# a kill inside a write(2) may still cut one at a page boundary)
@test "a relay killed while writing lines, then --append with the rest: the input exactly once" {
	lines3 0 400000 >"$T/in.log"
	for try in 1 2 3; do
		rm -f "$T/o.log"
		"$RELAY" -i "$T/in.log" -o "$T/o.log" &
		pid=$!
		wait_until 20 eval '[ "$(fsize "$T/o.log" 2>/dev/null || echo 0)" -gt 300000 ]' || true
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" || true
		size=$(fsize "$T/o.log")
		[ "$size" -lt "$(fsize "$T/in.log")" ] && break
	done
	[ "$size" -gt 0 ] || fail "nothing written before the kill"
	n=$(wc -l <"$T/o.log")
	tail -n +"$((n + 1))" "$T/in.log" | "$RELAY" --append -o "$T/o.log"
	cmp "$T/o.log" "$T/in.log"
}

@test "with standard error closed, no output file becomes descriptor 2: diagnostics never land in it" {
	local c
	printf '[k | 1] one\n[Jan 1] bad\n[k | 2] two\n' >"$T/in.log"
	"$RELAY" -i "$T/in.log" -o "$T/r.ss" --on-bad-line skip 2>&- || true
	"$LS_BIN/partition" -n 1 -i "$T/in.log" --on-bad-line skip "$T/p%d.ss" 2>&- || true
	"$LS_BIN/batch" -n 5 -i "$T/in.log" --on-bad-line skip -o "$T/b.ss" 2>&- || true
	"$LS_BIN/fanout" -i "$T/in.log" --on-bad-line skip "$T/f.ss" 2>&- || true
	"$LS_BIN/clock" --count 2 --interval 1ms -o "$T/c.ss" 2>&- || true
	for c in r p0 b f c; do
		"$SS_DECODE" --verify "$T/$c.ss" >"$T/v" 2>&1 || fail "$c.ss: $(cat "$T/v")"
	done
	assert_equal "$("$SS_DECODE" "$T/r.ss" | cut -d ' ' -f 8- | head -n 2)" "$(printf 'one\ntwo')"
	# and with every standard descriptor closed
	"$RELAY" -i "$T/in.log" -o "$T/r2.log" --on-bad-line skip 0<&- 1>&- 2>&- || true
	assert_equal "$(cut -d ' ' -f 8- "$T/r2.log")" "$(printf 'one\ntwo')"
	"$SS_DECODE" "$T/r.ss" 1>&- 2>&- || true
	"$SS_DECODE" --verify "$T/r.ss" >/dev/null
}

@test "a stop while an input FIFO waits for its writer is an empty input: End-of-Stream written, status 0" {
	mkfifo "$T/fifo"
	for cmd in relay partition batch; do
		rm -f "$T/o"*.ss
		case $cmd in
		relay) bg "$T/pid" "$T/out" "$T/err" "$RELAY" -i "$T/fifo" -o "$T/o.ss" ;;
		partition) bg "$T/pid" "$T/out" "$T/err" "$LS_BIN/partition" -n 1 -i "$T/fifo" "$T/o%d.ss" ;;
		batch) bg "$T/pid" "$T/out" "$T/err" "$LS_BIN/batch" -n 2 -i "$T/fifo" -o "$T/o.ss" ;;
		esac
		wait_until 10 eval '[ -s "$T/pid" ] && grep -q wait_for_partner "/proc/$(cat "$T/pid")/wchan" 2>/dev/null' ||
			fail "$cmd did not wait for the FIFO's writer"
		kill -TERM "$(cat "$T/pid")"
		wait "$BG" && st=0 || st=$?
		assert_equal "$cmd: $st $(cat "$T/err")" "$cmd: 0 "
		"$SS_DECODE" "$T"/o*.ss >"$T/dec"
		grep -q "| $EOS_KEY | 0 | 0] EOS" "$T/dec" || fail "$cmd: $(cat "$T/dec")"
	done
}

@test "a stop while an output FIFO waits for its reader says so, status 1" {
	mkfifo "$T/fifo"
	bg "$T/pid" "$T/out" "$T/err" "$RELAY" -o "$T/fifo"
	wait_until 10 eval '[ -s "$T/pid" ] && grep -q wait_for_partner "/proc/$(cat "$T/pid")/wchan" 2>/dev/null' ||
		fail "relay did not wait for the FIFO's reader"
	kill -TERM "$(cat "$T/pid")"
	wait "$BG" && st=0 || st=$?
	assert_equal "$st" 1
	assert_equal "$(cat "$T/err")" "relay: $T/fifo: interrupted while waiting for a reader"
}

@test "a SIGTERM pending when a stage starts is a stop, not a death" {
	# the signal is blocked and pending across exec(2): it arrives the
	# moment the stage unblocks it, which it must not do before its
	# handler is in place
	for cmd in relay partition batch fanout clock; do
		rm -f "$T/o"*.ss
		case $cmd in
		relay) args=(-o "$T/o.ss") ;;
		partition) args=(-n 1 "$T/o%d.ss") ;;
		batch) args=(-n 2 -o "$T/o.ss") ;;
		fanout) args=("$T/o.ss") ;;
		clock) args=(--interval 1s -o "$T/o.ss") ;;
		esac
		python3 -c 'import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])
os.kill(os.getpid(), signal.SIGTERM)
os.execv(sys.argv[1], sys.argv[1:])' "$LS_BIN/$cmd" "${args[@]}" </dev/null 2>"$T/err" && st=0 || st=$?
		assert_equal "$cmd: $st $(cat "$T/err")" "$cmd: 0 "
		"$SS_DECODE" --verify "$T"/o*.ss >/dev/null || fail "$cmd: output not closed cleanly"
	done
}

@test "an append to a .ss file whose last message runs across thousands of beacons reads each beacon about once" {
	# 300,000 bytes at interval 128: some 2,300 beacons cut the message;
	# finding the end stepped back a beacon at a time and read forward
	# from each, millions of reads (a 600 KB message took 24 s)
	awk 'BEGIN { x = "x"; while (length(x) < 300000) x = x x
		printf "[2026-01-01T00:00:01 | k0 | 0] %s\n", substr(x, 1, 300000) }' |
		"$RELAY" --no-eos --beacon-interval 128 -o "$T/q.ss"
	truncate -s 270000 "$T/q.ss"
	faulty FAULT_PATH=q.ss relay --append -o "$T/q.ss"
	assert_equal "$status" 0
	grep -q "dropped an incomplete tail of 269865 bytes" "$T/err" || fail "stderr: $(cat "$T/err")"
	reads=$(logged reads)
	[ "$reads" -lt $((2 * 270000 / 128)) ] || fail "$reads reads"
	"$SS_DECODE" --verify "$T/q.ss" >/dev/null
}

@test "batch --keep-meta | batch --split keeps sequences and shards up to 2^64 - 1; a header past it is damage, not a payload" {
	printf '%s\n' \
	    '[2026-01-01T00:00:00.000 | k | 9223372036854775808 | 18446744073709551615] a' \
	    '[2026-01-01T00:00:00.001 | k | 18446744073709551615 | 9223372036854775807] b' >"$T/in.log"
	"$LS_BIN/batch" -n 2 --keep-meta -i "$T/in.log" | "$LS_BIN/batch" --split >"$T/out" 2>"$T/err"
	diff "$T/in.log" "$T/out"
	[ ! -s "$T/err" ] || fail "stderr: $(cat "$T/err")"
	for bad in 18446744073709551616 -1 1.5 '"7"'; do
		printf '%s\n' "[k | 1] [{\"header\":{\"stream_key\":\"k\",\"shard_id\":$bad,\"sequence\":1,\"timestamp\":\"2026-01-01T00:00:00.000\"},\"payload\":\"a\"},\"b\"]" |
			"$LS_BIN/batch" --split >"$T/out" 2>"$T/err" && st=0 || st=$?
		assert_equal "$bad: $st" "$bad: 1"
		grep -qx "batch: stdin: stream k seq 1: element 0 holds a header whose meta fields do not hold; not written" "$T/err" ||
			fail "$bad: stderr: $(cat "$T/err")"
		assert_equal "$(cut -d ' ' -f 8- "$T/out")" b
	done
	# an object that is not a wrapper stays a payload
	printf '%s\n' '[k | 1] [{"header":{"x":1},"payload":2}]' | "$LS_BIN/batch" --split >"$T/out"
	assert_equal "$(cut -d ' ' -f 8- "$T/out")" '{"header":{"x":1},"payload":2}'
}

@test "sequence numbers never wrap: a stream numbered up to 2^64 - 1 has no next one" {
	printf '[k | 18446744073709551614] a\n[k] b\n[k] c\n[j] d\n' >"$T/in.log"
	runf "$RELAY" -i "$T/in.log" --on-bad-line skip
	assert_equal "$status" 1
	assert_equal "$(cut -d ' ' -f 5,8- "$T/out")" "$(printf '18446744073709551614 a\n18446744073709551615 b\n0 d')"
	grep -q "line 3: stream k shard 0 has no sequence number after 18446744073709551615 to give (skipped)" "$T/err" ||
		fail "stderr: $(cat "$T/err")"
	# batch --split: an element's number past 2^64 - 1
	printf '[k | 18446744073709551615] ["a","b"]\n' | "$LS_BIN/batch" --split >"$T/out" 2>"$T/err" && st=0 || st=$?
	assert_equal "$st" 1
	grep -q "element 1 holds a sequence past 2^64 - 1; not written" "$T/err" || fail "stderr: $(cat "$T/err")"
	assert_equal "$(wc -l <"$T/out")" 1
}

@test "a reader that closes standard output ends relay, batch and clock quietly, whatever the input" {
	local c bad=()
	"$RELAY" -i "$VEC/consumer.ss" -o "$T/in.log"
	"$LS_BIN/batch" -n 3 -i "$VEC/consumer.ss" -o "$T/b.ss"
	for c in "relay -i $VEC/consumer.ss" "relay -i $T/in.log" \
	    "batch -n 3 -i $VEC/consumer.ss" "batch -n 3 -i $T/in.log" \
	    "batch --split -i $T/b.ss" "clock --count 3 --interval 1ms" \
	    "ss-decode $VEC/consumer.ss"; do
		# standard output a pipe whose reader is gone before it starts
		# shellcheck disable=SC2086
		python3 -c 'import os, signal, sys
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
r, w = os.pipe()
os.close(r)
os.dup2(w, 1)
os.execv(sys.argv[1], sys.argv[1:])' "$LS_BIN/"$c 2>"$T/err" && st=0 || st=$?
		[ "$st" -eq 141 ] && [ ! -s "$T/err" ] || bad+=("$c: status $st, stderr: $(head -c 300 "$T/err")")
	done
	[ "${#bad[@]}" -eq 0 ] || fail "$(printf '%s\n' "${bad[@]}")"
}

@test "diagnostics escape the control bytes of the input they echo" {
	printf '[\033[31mred | k] x\n[k | 1\tz] y\n' >"$T/in.log"
	runf "$RELAY" -i "$T/in.log" --on-bad-line skip
	assert_equal "$status" 1
	grep -qF "column 2: invalid timestamp or stream key '\\x1b[31mred'" "$T/err" || fail "stderr: $(cat -v "$T/err")"
	grep -qF '\x09z' "$T/err" || fail "stderr: $(cat -v "$T/err")"
	! LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')" "$T/err" || fail "raw control bytes: $(cat -v "$T/err")"
	assert_equal "$(wc -l <"$T/err")" 3
	printf 'x' >"$T/a$(printf '\033')b.ss"
	runf "$SS_DECODE" "$T/a$(printf '\033')b.ss"
	grep -qF 'a\x1bb.ss' "$T/err" || fail "stderr: $(cat -v "$T/err")"
}

@test "timestamps past 9999-12-31 keep their own text through lines, ndjson, .ss and batch" {
	printf 'k\t0\t1\t253402300799999\t61\nk\t0\t2\t253402300800000\t62\nk\t0\t3\t253402300800001\t63\nk\t0\t4\t18446744073709551615\t64\n' >"$T/in.tsv"
	"$SS_BUILD" -n t.ss -c 1 -i 1024 "$T/t.ss" <"$T/in.tsv"
	"$SS_DECODE" "$T/t.ss" >"$T/t.log"
	assert_equal "$(cut -d ' ' -f 1 "$T/t.log" | head -n 4)" "$(printf '%s\n' '[9999-12-31T23:59:59.999' \
	    '[10000-01-01T00:00:00.000' '[10000-01-01T00:00:00.001' '[584556019-04-03T14:25:51.615')"
	"$SS_DECODE" -F ndjson "$T/t.ss" | jq -r .header.timestamp | head -n 4 >"$T/nd"
	assert_equal "$(cat "$T/nd")" "$(cut -d ' ' -f 1 "$T/t.log" | head -n 4 | tr -d '[')"
	# back to .ss from lines, and through batch --keep-meta | --split
	head -n 4 "$T/t.log" | "$RELAY" -o "$T/back.ss"
	"$SS_TSV" "$T/back.ss" | head -n 4 | diff "$T/in.tsv" -
	head -n 4 "$T/t.log" | "$LS_BIN/batch" -n 4 --keep-meta | "$LS_BIN/batch" --split >"$T/split.log"
	head -n 4 "$T/t.log" | diff - "$T/split.log"
	runf "$RELAY" <<<'[584556019-04-03T14:25:51.616 | k] past the last millisecond'
	assert_equal "$status" 1
}

@test "outputs and symbolic links: refused when new, followed once under --force and --append" {
	ln -s "$T/target.log" "$T/link.log"
	runf "$RELAY" -o "$T/link.log" <<<'[k | 1] a'
	assert_equal "$status" 1
	grep -q "link.log: file exists" "$T/err" || fail "stderr: $(cat "$T/err")"
	[ ! -e "$T/target.log" ] || fail "created the link's target"
	"$RELAY" --force -o "$T/link.log" <<<'[k | 1] a'
	"$RELAY" --append -o "$T/link.log" <<<'[k | 2] b'
	[ -L "$T/link.log" ] || fail "the link was replaced"
	assert_equal "$(cut -d ' ' -f 8 "$T/target.log")" "$(printf 'a\nb')"
	# the link moved while relay writes: the output stays where it was
	mkfifo "$T/in"
	bg "$T/pid" "$T/out" "$T/err" "$RELAY" -i "$T/in" --append -o "$T/link.log"
	exec 7>"$T/in"
	echo '[k | 3] c' >&7
	wait_until 10 eval '[ "$(wc -l <"$T/target.log")" -ge 3 ]' || fail "c not written"
	ln -sfn "$T/other.log" "$T/link.log"
	echo '[k | 4] d' >&7
	exec 7>&-
	wait "$BG"
	assert_equal "$(cut -d ' ' -f 8 "$T/target.log")" "$(printf 'a\nb\nc\nd')"
	[ ! -e "$T/other.log" ] || fail "wrote to the new target"
}
