#!/usr/bin/env bats
# Followers (relay -f, ss-decode -f) of a file that is truncated, rewritten
# or replaced under them: they say so on standard error and go on with the
# new content, never emitting a made-up message and never stalling
# silently. Every wait polls for a state; nothing sleeps and hopes.

load helper

RELAY=$LS_BIN/relay
# the longest any one follower may run before timeout(1) stops it
LIMIT=30

setup() {
	ls_setup
	[ -x "$RELAY" ] || fail "$RELAY is missing: run 'make' (LS_BIN)"
}

teardown() {
	bg_kill_all
}

# has FILE TEXT: FILE holds TEXT.
has() {
	[ -e "$1" ] && grep -qF -- "$2" "$1"
}

# payloads FILE: the payloads of relay's output lines.
payloads() {
	sed 's/^\[[^]]*\] //' "$1"
}

# lines_follow NAME FILE: starts relay -f on the line file FILE.
lines_follow() {
	start "$1" "$RELAY" -f -i "$2" -o -
}

# ss_follow KIND FILE: starts a follower KIND (relay or ss-decode) of the
# .ss file FILE as "KIND".
ss_follow() {
	if [ "$1" = relay ]; then
		start relay "$RELAY" -f -i "$2" -o -
	else
		start ss-decode "$SS_DECODE" -f "$2"
	fi
}

# decode KIND FILE: what KIND prints of the whole .ss FILE.
decode() {
	if [ "$1" = relay ]; then
		"$RELAY" -i "$2" -o - </dev/null
	else
		"$SS_DECODE" "$2"
	fi
}

@test "relay -f: a line file truncated and rewritten (copytruncate): notice, then the new lines from its start" {
	local i
	for ((i = 1; i <= 100; i++)); do echo "old-$i"; done >"$T/f"
	lines_follow r "$T/f"
	wait_until 20 lines_at_least 100 "$T/r.out" || fail "follower printed $(wc -l <"$T/r.out") of 100 lines"
	# logrotate's copytruncate, then the writer goes on
	cp "$T/f" "$T/f.1"
	: >"$T/f"
	echo new-1 >>"$T/f"
	wait_until 20 lines_at_least 101 "$T/r.out" ||
	    fail "no line after the truncation: $(tail -n 2 "$T/r.out"); $(cat "$T/r.err")"
	# the new content now grows past the old offset
	for ((i = 2; i <= 200; i++)); do echo "new-$i"; done >>"$T/f"
	wait_until 20 lines_at_least 300 "$T/r.out" || fail "follower printed $(wc -l <"$T/r.out") of 300 lines"
	stop r
	assert_equal "status $status" "status 0"
	{
		for ((i = 1; i <= 100; i++)); do echo "old-$i"; done
		for ((i = 1; i <= 200; i++)); do echo "new-$i"; done
	} >"$T/want"
	payloads "$T/r.out" >"$T/got"
	run diff "$T/want" "$T/got"
	assert_success
	run grep -c "^relay: $T/f: file truncated; following from its start\$" "$T/r.err"
	assert_output 1
}

@test "relay -f: a line file truncated with an unfinished line: its bytes are left out, said so" {
	printf 'one\ntwo\nthr' >"$T/f"
	lines_follow r "$T/f"
	wait_until 20 lines_at_least 2 "$T/r.out" || fail "follower printed $(wc -l <"$T/r.out") of 2 lines"
	: >"$T/f"
	echo fresh >>"$T/f"
	wait_until 20 lines_at_least 3 "$T/r.out" || fail "no line after the truncation: $(cat "$T/r.err")"
	stop r
	assert_equal "status $status" "status 0"
	run payloads "$T/r.out"
	assert_output "$(printf 'one\ntwo\nfresh')"
	grep -qx "relay: $T/f: file truncated; following from its start (the 3 bytes of an unfinished line before it are left out)" "$T/r.err" ||
	    fail "stderr: $(cat "$T/r.err")"
}

@test "relay -f: a line file moved away and created anew (tail -F): the old one to its end, then the new one" {
	local i
	for ((i = 1; i <= 50; i++)); do echo "a-$i"; done >"$T/f"
	lines_follow r "$T/f"
	wait_until 20 lines_at_least 50 "$T/r.out" || fail "follower printed $(wc -l <"$T/r.out") of 50 lines"
	mv "$T/f" "$T/f.1"
	# the writer still has the old file: the follower keeps reading it
	echo a-51 >>"$T/f.1"
	wait_until 20 lines_at_least 51 "$T/r.out" || fail "the old file's last line was not read"
	printf 'b-%d\n' 1 2 3 >"$T/f.new"
	mv "$T/f.new" "$T/f"
	wait_until 20 lines_at_least 54 "$T/r.out" ||
	    fail "the new file was not followed: $(tail -n 1 "$T/r.out"); $(cat "$T/r.err")"
	# what goes to the old file now is not read; the new one is followed
	echo a-52 >>"$T/f.1"
	echo b-4 >>"$T/f"
	wait_until 20 lines_at_least 55 "$T/r.out" || fail "the new file's growth was not read"
	stop r
	assert_equal "status $status" "status 0"
	{
		for ((i = 1; i <= 51; i++)); do echo "a-$i"; done
		printf 'b-%d\n' 1 2 3 4
	} >"$T/want"
	payloads "$T/r.out" >"$T/got"
	run diff "$T/want" "$T/got"
	assert_success
	run cat "$T/r.err"
	assert_output "relay: $T/f: file replaced; following the new file"
}

# A .ss file of 30 messages (no End-of-Stream) is followed to its end; then
# the file is rewritten from scratch by another writer (a new header), in
# one go (larger than what was read) or emptied first.
@test ".ss followers: a file rewritten from scratch: notice, then the new file from its header" {
	local kind how
	gen_tsv 0 30 | "$SS_BUILD" -n a -c 1700000000000 -i 256 "$T/a.ss"
	{ gen_tsv 100 60; eos_tsv 1700000009999; } |
	    "$SS_BUILD" -n b -c 1700000005000 -i 512 "$T/b.ss"
	[ "$(fsize "$T/b.ss")" -gt "$(fsize "$T/a.ss")" ] || fail "b.ss is not larger than a.ss"
	for kind in relay ss-decode; do
		{ decode "$kind" "$T/a.ss"; decode "$kind" "$T/b.ss"; } >"$T/want"
		for how in at-once emptied; do
			rm -f "$T/$kind.out"
			cp "$T/a.ss" "$T/f.ss"
			ss_follow "$kind" "$T/f.ss"
			wait_until 20 lines_at_least 30 "$T/$kind.out" ||
			    fail "$kind $how: printed $(wc -l <"$T/$kind.out") of 30 lines"
			if [ "$how" = emptied ]; then
				: >"$T/f.ss"
				wait_until 20 has "$T/$kind.err" "file truncated" ||
				    fail "$kind $how: no notice: $(cat "$T/$kind.err")"
			fi
			cat "$T/b.ss" >"$T/f.ss"
			finish "$kind"
			assert_equal "$kind $how: status $status: $(cat "$T/$kind.err")" "$kind $how: status 0: $kind: $T/f.ss: file truncated; following from its start"
			run diff "$T/want" "$T/$kind.out"
			assert_success
		done
	done
}

@test ".ss followers: a file cut below what was read, its header unchanged, then appended: an error naming the file and offsets" {
	local kind size
	gen_tsv 0 30 | "$SS_BUILD" -n a -c 1700000000000 -i 256 "$T/a.ss"
	size=$(fsize "$T/a.ss")
	for kind in relay ss-decode; do
		decode "$kind" "$T/a.ss" >"$T/want"
		cp "$T/a.ss" "$T/f.ss"
		ss_follow "$kind" "$T/f.ss"
		wait_until 20 lines_at_least 30 "$T/$kind.out" ||
		    fail "$kind: printed $(wc -l <"$T/$kind.out") of 30 lines"
		truncate -s 1000 "$T/f.ss"
		gen_tsv 200 5 | "$SS_BUILD" -a "$T/f.ss"
		finish "$kind"
		assert_equal "$kind: status $status" "$kind: status 1"
		# (the append may come before the follower looks: still short)
		grep -qE "^$kind: $T/f.ss: byte ([0-9]+): file truncated to \\1 bytes, below byte $size already read, its header unchanged" "$T/$kind.err" ||
		    fail "$kind: stderr: $(cat "$T/$kind.err")"
		run diff "$T/want" "$T/$kind.out"
		assert_success
	done
}

@test ".ss followers: a file moved away and replaced (tail -F): the new file from its header" {
	local kind
	gen_tsv 0 20 | "$SS_BUILD" -n a -c 1700000000000 -i 256 "$T/a.ss"
	{ gen_tsv 100 5; eos_tsv 1700000009999; } |
	    "$SS_BUILD" -n b -c 1700000005000 -i 256 "$T/b.ss"
	for kind in relay ss-decode; do
		{ decode "$kind" "$T/a.ss"; decode "$kind" "$T/b.ss"; } >"$T/want"
		cp "$T/a.ss" "$T/f.ss"
		ss_follow "$kind" "$T/f.ss"
		wait_until 20 lines_at_least 20 "$T/$kind.out" ||
		    fail "$kind: printed $(wc -l <"$T/$kind.out") of 20 lines"
		mv "$T/f.ss" "$T/f.1.ss"
		cp "$T/b.ss" "$T/f.new"
		mv "$T/f.new" "$T/f.ss"
		finish "$kind"
		assert_equal "$kind: status $status: $(cat "$T/$kind.err")" "$kind: status 0: $kind: $T/f.ss: file replaced; following the new file"
		run diff "$T/want" "$T/$kind.out"
		assert_success
	done
}

# A writer killed with kill -9 leaves a partial tail: here the complete
# file cut at a byte inside a beacon (2563), inside a message's header (2800),
# and inside a message spliced across beacons (3000). relay --append drops the tail and
# writes over it; a follower that had read up to the tail goes on with the
# appended messages.
@test ".ss followers: a killed writer's partial tail, then relay --append: every message once, none made up" {
	local kind cut n
	gen_tsv 0 40 | "$SS_BUILD" -n a -c 1700000000000 -i 256 "$T/full.ss"
	awk 'BEGIN { for (i = 0; i < 10; i++) printf "[app | %d] appended-%d\n", i, i }' >"$T/app.txt"
	for kind in relay ss-decode; do
		for cut in 2563 2800 3000; do
			head -c "$cut" "$T/full.ss" >"$T/f.ss"
			decode "$kind" "$T/f.ss" >"$T/prefix" 2>/dev/null
			n=$(wc -l <"$T/prefix")
			[ "$n" -gt 0 ] && [ "$n" -lt 40 ] || fail "cut $cut: $n complete messages"
			ss_follow "$kind" "$T/f.ss"
			wait_until 20 lines_at_least "$n" "$T/$kind.out" ||
			    fail "$kind cut $cut: printed $(wc -l <"$T/$kind.out") of $n lines"
			"$RELAY" --append -o "$T/f.ss" <"$T/app.txt" ||
			    fail "$kind cut $cut: relay --append failed"
			finish "$kind"
			assert_equal "$kind cut $cut: status $status: $(cat "$T/$kind.err")" "$kind cut $cut: status 0: "
			decode "$kind" "$T/f.ss" >"$T/want"
			assert_equal "$(wc -l <"$T/want")" $((n + 11))
			run diff "$T/want" "$T/$kind.out"
			assert_success
		done
	done
}

@test "relay -f < FILE: standard input truncated is read again from its start; no path is looked at" {
	printf 'old-%d\n' 1 2 3 4 5 6 7 8 9 >"$T/f"
	# a file named stdin in the working directory is not the input
	cd "$T"
	echo decoy >stdin
	BG_IN=$T/f start r "$RELAY" -f -o -
	wait_until 20 lines_at_least 9 "$T/r.out" || fail "follower printed $(wc -l <"$T/r.out") of 9 lines"
	: >"$T/f"
	echo new-1 >>"$T/f"
	wait_until 20 lines_at_least 10 "$T/r.out" || fail "no line after the truncation: $(cat "$T/r.err")"
	stop r
	assert_equal "status $status" "status 0"
	run payloads "$T/r.out"
	assert_output "$(printf 'old-%d\n' 1 2 3 4 5 6 7 8 9; echo new-1)"
	run cat "$T/r.err"
	assert_output "relay: stdin: file truncated; following from its start"
}

@test "ss-decode -f -m: a file started anew has its new header printed before its beacons and messages" {
	gen_tsv 0 10 | "$SS_BUILD" -n a -c 1700000000000 -i 256 "$T/a.ss"
	{ gen_tsv 100 10; eos_tsv 1700000009999; } |
	    "$SS_BUILD" -n b -c 1700000005000 -i 256 "$T/b.ss"
	{ "$SS_DECODE" -m "$T/a.ss"; "$SS_DECODE" -m "$T/b.ss"; } >"$T/want"
	local n
	n=$("$SS_DECODE" -m "$T/a.ss" | wc -l)
	cp "$T/a.ss" "$T/f.ss"
	start d "$SS_DECODE" -f -m "$T/f.ss"
	wait_until 20 lines_at_least "$n" "$T/d.out" ||
	    fail "printed $(wc -l <"$T/d.out") of the $n lines of a.ss"
	cat "$T/b.ss" >"$T/f.ss"
	finish d
	assert_equal "status $status" "status 0"
	run diff "$T/want" "$T/d.out"
	assert_success
	run grep -c '^# {"file_name":' "$T/d.out"
	assert_output 2
}
