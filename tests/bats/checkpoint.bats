#!/usr/bin/env bats
# Checkpoints: relay --checkpoint resumes a line or .ss file where the
# output last flushed (nothing twice after a normal stop; after kill -9,
# every message at least once, the duplicates within one flush each);
# a file replaced, truncated or rewritten is refused, and
# --checkpoint-reset starts over; .gz and stdin are refused. batch
# --exec --job-checkpoints gives a retried job what it recorded.
# Nothing here measures time: waits poll for a state, bounded.

load helper

RELAY=$LS_BIN/relay
BATCH=$LS_BIN/batch
LIMIT=60
# the input buffer of file sources (LS_IOBUF): one flush's worth of input
IOBUF=262144

setup() {
	ls_setup
	[ -x "$RELAY" ] || fail "$RELAY is missing: run 'make' (LS_BIN)"
}

teardown() {
	bg_kill_all
}

# lines N FILE: "line 000001" to "line N" (11 bytes and a newline each).
lines() {
	awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++)
	    printf "line %06d\n", i }' >"$2"
}

# payloads FILE...: the payloads of line-framed files, meta and
# End-of-Stream lines dropped.
payloads() {
	sed -n "/| $EOS_KEY |/!s/^\\[[^]]*\\] //p" "$@"
}

@test "a line file resumes after a normal end: only what was appended" {
	lines 1000 "$T/in"
	run "$RELAY" -i "$T/in" --checkpoint "$T/cp" -o "$T/o1"
	assert_success
	assert_equal "$(payloads "$T/o1" | wc -l)" 1000
	run grep -c '^offset 12000$' "$T/cp"
	assert_output 1
	run grep -c '^line 1000$' "$T/cp"
	assert_output 1
	awk 'BEGIN { for (i = 1001; i <= 1500; i++)
	    printf "line %06d\n", i }' >>"$T/in"
	run "$RELAY" -i "$T/in" --checkpoint "$T/cp" -o "$T/o2"
	assert_success
	run payloads "$T/o2"
	assert_equal "$(echo "$output" | wc -l)" 500
	assert_line --index 0 "line 001001"
	assert_line --index 499 "line 001500"
	# nothing new: nothing out
	run "$RELAY" -i "$T/in" --checkpoint "$T/cp" -o "$T/o3"
	assert_success
	assert_equal "$(wc -c <"$T/o3")" 0
	# no temporary left beside it
	run ls "$T"
	refute_output --partial cp.tmp
}

@test "a last line without a newline is read again once its writer ends it" {
	printf 'line 1\nline 2' >"$T/in"
	run "$RELAY" -i "$T/in" --checkpoint "$T/cp" -o "$T/o1"
	assert_success
	run payloads "$T/o1"
	assert_output "line 1
line 2"
	run grep -c '^offset 7$' "$T/cp"
	assert_output 1
	printf ' ended\nline 3\n' >>"$T/in"
	run "$RELAY" -i "$T/in" --checkpoint "$T/cp" -o "$T/o2"
	assert_success
	run payloads "$T/o2"
	assert_output "line 2 ended
line 3"
}

@test "a SIGTERM mid-stream, then a resume: every line once, in order" {
	lines 200000 "$T/in"
	mkfifo "$T/fifo"
	# a slow reader keeps relay waiting on the FIFO, mid-file
	bash -c 'while IFS= read -r l; do printf "%s\n" "$l"; done' \
	    <"$T/fifo" >"$T/o1" &
	local reader=$!
	bg "$T/relay.pid" /dev/null "$T/relay.err" \
	    "$RELAY" -i "$T/in" --checkpoint "$T/cp" -o "$T/fifo"
	local relay=$BG
	wait_until 20 lines_at_least 5000 "$T/o1"
	kill -TERM "$(cat "$T/relay.pid")"
	wait "$relay" && status=0 || status=$?
	wait "$reader"
	assert_equal "$status" 0
	local n1
	n1=$(wc -l <"$T/o1")
	[ "$n1" -lt 200000 ] || fail "relay ended before the stop ($n1 lines)"
	run "$RELAY" -i "$T/in" --checkpoint "$T/cp" -o "$T/o2"
	assert_success
	payloads "$T/o1" "$T/o2" >"$T/all"
	cmp "$T/in" "$T/all"
}

# decode_relay FILE...: the payloads relay wrote; decode_batch FILE...:
# those of the batches batch wrote, split back into messages.
decode_relay() {
	payloads "$@"
}

decode_batch() {
	local f
	for f; do
		"$BATCH" --split -i "$f"
	done | payloads
}

# kill_loop KIND SIZE HELD MAX CMD...: ten runs of CMD --checkpoint to a
# FIFO that a slow reader drains, each killed with SIGKILL once the
# reader has a random number of lines (up to MAX), then a run to the
# end: every line of $T/in comes out (decode_KIND) at least once, each
# run's in order, and the duplicates are at most an input buffer of
# SIZE-byte messages and HELD more (a batch being filled) a kill.
kill_loop() {
	local kind=$1 size=$2 held=$3 max=$4 kills=10 k n target reader relay
	local seed=${CP_SEED:-$RANDOM}
	shift 4
	echo "# seed $seed" >&3
	RANDOM=$seed
	mkfifo "$T/fifo"
	for ((k = 1; k <= kills; k++)); do
		bash -c 'while IFS= read -r l; do printf "%s\n" "$l"; done' \
		    <"$T/fifo" >"$T/o$k" &
		reader=$!
		bg "$T/relay.pid" /dev/null "$T/relay$k.err" \
		    "$@" --checkpoint "$T/cp" -o "$T/fifo"
		relay=$BG
		target=$((max / 40 + RANDOM % max))
		wait_until 30 eval "lines_at_least $target $T/o$k || " \
		    "! kill -0 $relay 2>/dev/null"
		kill -KILL "$(cat "$T/relay.pid")" 2>/dev/null || true
		wait "$relay" || true
		# a reader still waiting for a writer (none came) is let go;
		# one that is only ending (it had its end of file) has closed
		# the FIFO, so the open waits in vain: not a failure
		if kill -0 "$reader" 2>/dev/null; then
			timeout 2 sh -c ': >"$1"' sh "$T/fifo" 2>/dev/null || true
		fi
		wait "$reader"
		rm -f "$T/relay.pid"
	done
	run "$@" --checkpoint "$T/cp" -o "$T/olast"
	assert_success
	# a line cut by the kill has no newline: the reader dropped it
	"decode_$kind" "$T"/o[0-9]* "$T/olast" | sort >"$T/all"
	sort -u "$T/all" >"$T/uniq"
	cmp "$T/in" "$T/uniq"
	n=$(wc -l <"$T/all")
	local dups=$((n - $(wc -l <"$T/in")))
	echo "# $dups duplicates over $kills kills" >&3
	[ "$dups" -le $((kills * (IOBUF / size + 1 + held))) ] ||
	    fail "$dups duplicates: more than one flush a kill"
	for ((k = 1; k <= kills; k++)); do
		"decode_$kind" "$T/o$k" | sort -c || fail "run $k out of order"
	done
}

# seq_check FILE...: in relay's output, line N is sequence N - 1 (a
# message given again has its sequence number of the first time).
seq_check() {
	cat "$@" | awk '$3 == "broadcast" && $5 != $9 - 1 { bad++ }
	    END { exit bad > 0 }' ||
	    fail "a sequence number that is not its line's"
}

@test "kill -9 at random points, a line file: every line at least once, duplicates within a flush each" {
	lines 200000 "$T/in"
	kill_loop relay 12 0 40000 "$RELAY" -i "$T/in"
	seq_check "$T"/o[0-9]* "$T/olast"
}

@test "kill -9 at random points, a .ss file: every message at least once, duplicates within a flush each" {
	lines 200000 "$T/in"
	"$RELAY" -i "$T/in" -o "$T/in.ss" --beacon-interval 4096
	kill_loop relay 52 0 40000 "$RELAY" -i "$T/in.ss"
	seq_check "$T"/o[0-9]* "$T/olast"
}

@test "kill -9 of batch at random points: every message at least once, duplicates within a flush and a batch each" {
	lines 200000 "$T/in"
	kill_loop batch 12 10 4000 "$BATCH" -n 10 -i "$T/in"
}

# size_at_least N FILE: FILE holds at least N bytes.
size_at_least() {
	[ -e "$2" ] && [ "$(fsize "$2")" -ge "$1" ]
}

@test "kill -9 of a follower, a file output continued by --append: every line at least once, whole" {
	local k target relay writer seed=${CP_SEED:-$RANDOM}
	echo "# seed $seed" >&3
	RANDOM=$seed
	lines 200000 "$T/in"
	# the input grows, 1,000 lines at a time
	(
		for ((c = 0; c < 200; c++)); do
			sed -n "$((c * 1000 + 1)),$((c * 1000 + 1000))p" \
			    "$T/in" >>"$T/grow"
			sleep 0.01
		done
	) &
	writer=$!
	wait_until 10 test -s "$T/grow"
	for ((k = 1; k <= 10; k++)); do
		bg "$T/relay.pid" /dev/null "$T/relay$k.err" "$RELAY" -f \
		    -i "$T/grow" --checkpoint "$T/cp" -o "$T/out" --append
		relay=$BG
		# the k-th kill in the k-th tenth of the output
		target=$(( (k - 1) * 1100000 + RANDOM * 1100000 / 32768 ))
		wait_until 30 eval "size_at_least $target $T/out || " \
		    "! kill -0 $writer 2>/dev/null"
		kill -KILL "$(cat "$T/relay.pid")" 2>/dev/null || true
		wait "$relay" || true
		rm -f "$T/relay.pid"
	done
	wait "$writer"
	run "$RELAY" -i "$T/grow" --checkpoint "$T/cp" -o "$T/out" --append
	assert_success
	# every line whole: meta, then a payload of the input's form
	run grep -cvE '^\[[-0-9T:.]+ \| broadcast \| [0-9]+ \| 0\] line [0-9]{6}$' \
	    "$T/out"
	assert_output 0
	payloads "$T/out" | sort >"$T/all"
	sort -u "$T/all" | cmp "$T/in" -
	local dups=$(($(wc -l <"$T/all") - 200000))
	echo "# $dups duplicates over 10 kills" >&3
	[ "$dups" -le $((10 * (IOBUF / 12 + 1))) ] ||
	    fail "$dups duplicates: more than one flush a kill"
	seq_check "$T/out"
}

@test "batch --by: the checkpoint stays before the oldest batch still open" {
	# one message of stream a, then 50,000 of stream b: a's batch stays
	# open while b's go out
	{
		echo "[a] only"
		awk 'BEGIN { for (i = 1; i <= 50000; i++)
		    printf "[b] line %06d\n", i }'
	} >"$T/in"
	mkfifo "$T/fifo"
	# a reader that leaves after 30 batches: past the 21 or so of the
	# first input buffer, whose flush wrote a checkpoint; batch then
	# fails on the closed FIFO, with no checkpoint at its end
	head -n 30 <"$T/fifo" >"$T/o1" &
	local reader=$!
	run "$BATCH" --by stream -n 1000 -i "$T/in" --checkpoint "$T/cp" \
	    -o "$T/fifo"
	wait "$reader"
	assert_failure 1
	assert_output --partial "Broken pipe"
	assert_equal "$(wc -l <"$T/o1")" 30
	run grep -c '^offset 0$' "$T/cp"
	assert_output 1
	grep -q ' | a | ' "$T/o1" && fail "a's batch went out"
	run "$BATCH" --by stream -n 1000 -i "$T/in" --checkpoint "$T/cp" \
	    -o "$T/o2"
	assert_success
	run grep -c '\] \["only"\]$' "$T/o2"
	assert_output 1
	decode_batch "$T/o2" | sort >"$T/all"
	sed 's/^\[[ab]\] //' "$T/in" | sort | cmp - "$T/all"
	run grep -c "^offset $(wc -c <"$T/in")\$" "$T/cp"
	assert_output 1
}

@test "batch --exec: a resumed batch runs each batch once after a normal end" {
	lines 100 "$T/in"
	run "$BATCH" -n 7 --exec "cat >>$T/handled" -i "$T/in" \
	    --checkpoint "$T/cp"
	assert_success
	awk 'BEGIN { for (i = 101; i <= 130; i++)
	    printf "line %06d\n", i }' >>"$T/in"
	run "$BATCH" -n 7 --exec "cat >>$T/handled" -i "$T/in" \
	    --checkpoint "$T/cp"
	assert_success
	payloads "$T/handled" >"$T/p"
	cmp "$T/in" "$T/p"
}

@test "a .ss file resumes at the message after the checkpoint, across beacons" {
	lines 30000 "$T/lines"
	"$RELAY" -i "$T/lines" -o "$T/in.ss" --beacon-interval 256
	# a FIFO reader that leaves after 12,000 lines (more than a flush)
	mkfifo "$T/fifo"
	head -n 12000 <"$T/fifo" >"$T/o1" &
	local reader=$!
	run "$RELAY" -i "$T/in.ss" --checkpoint "$T/cp" -o "$T/fifo"
	wait "$reader"
	assert_failure 1
	local off
	off=$(awk '$1 == "offset" { print $2 }' "$T/cp")
	[ "$off" -gt 128 ] || fail "no progress recorded: $(cat "$T/cp")"
	run "$RELAY" -i "$T/in.ss" --checkpoint "$T/cp" -o "$T/o2"
	assert_success
	payloads "$T/o1" "$T/o2" | sort -u >"$T/uniq"
	cmp "$T/lines" "$T/uniq"
	# the resume began at a message in the middle of the file
	run payloads "$T/o2"
	[ "${#lines[@]}" -lt 30000 ] || fail "resumed from the start"
	# ended at the End-of-Stream, the next run gives only it again
	run "$RELAY" -i "$T/in.ss" --checkpoint "$T/cp" -o "$T/o3"
	assert_success
	run cat "$T/o3"
	assert_output --regexp "^\[[-0-9T:.]+ \| $EOS_KEY \| 0 \| 0\] EOS$"
	# an append replaces the End-of-Stream: what it added, once
	awk 'BEGIN { for (i = 30001; i <= 30100; i++)
	    printf "line %06d\n", i }' >"$T/more"
	"$RELAY" -i "$T/more" -o "$T/in.ss" --append
	run "$RELAY" -i "$T/in.ss" --checkpoint "$T/cp" -o "$T/o4"
	assert_success
	run payloads "$T/o4"
	assert_equal "${#lines[@]}" 100
	assert_line --index 0 "line 030001"
	assert_line --index 99 "line 030100"
}

@test "a .ss file of the smallest beacon interval, read through with a checkpoint" {
	lines 500 "$T/lines"
	"$RELAY" -i "$T/lines" -o "$T/in.ss" --beacon-interval 128
	run "$RELAY" -i "$T/in.ss" --checkpoint "$T/cp" -o "$T/o1"
	assert_success
	payloads "$T/o1" >"$T/p1"
	cmp "$T/lines" "$T/p1"
}

@test "a replaced, truncated or rewritten file is refused; --checkpoint-reset starts over" {
	lines 1000 "$T/in"
	"$RELAY" -i "$T/in" --checkpoint "$T/cp" -o "$T/o1"
	cp "$T/cp" "$T/cp.saved"
	# replaced (another inode)
	cp "$T/in" "$T/in.new"
	mv "$T/in.new" "$T/in"
	run "$RELAY" -i "$T/in" --checkpoint "$T/cp" -o "$T/o2"
	assert_failure 1
	assert_output --regexp "^relay: $T/in: not the file of the checkpoint: replaced \(device [0-9]+ inode [0-9]+, was device [0-9]+ inode [0-9]+\) \(checkpoint $T/cp; --checkpoint-reset starts over\)$"
	[ ! -e "$T/o2" ] || [ ! -s "$T/o2" ] || fail "o2 written"
	run "$RELAY" -i "$T/in" --checkpoint "$T/cp" --checkpoint-reset \
	    -o "$T/o3"
	assert_success
	assert_output --partial "(checkpoint $T/cp); starting over"
	assert_equal "$(payloads "$T/o3" | wc -l)" 1000
	# truncated (the same inode, shorter)
	head -n 10 "$T/in" >"$T/short"
	cat "$T/short" >"$T/in"
	run "$RELAY" -i "$T/in" --checkpoint "$T/cp" -o "$T/o4"
	assert_failure 1
	assert_output "relay: $T/in: truncated: 120 bytes, it had 12000 at the checkpoint at byte 12000 (checkpoint $T/cp; --checkpoint-reset starts over)"
	run "$RELAY" -i "$T/in" --checkpoint "$T/cp" --checkpoint-reset \
	    -o "$T/o5"
	assert_success
	assert_equal "$(payloads "$T/o5" | wc -l)" 10
	# rewritten (the same inode and size, other bytes before the offset)
	lines 1000 "$T/ref"
	cat "$T/ref" >"$T/in"
	"$RELAY" -i "$T/in" --checkpoint "$T/cp" --checkpoint-reset -o "$T/o6"
	sed 's/line 000999/LINE 000999/' "$T/ref" >"$T/in.x"
	cat "$T/in.x" >"$T/in"
	run "$RELAY" -i "$T/in" --checkpoint "$T/cp" -o "$T/o7"
	assert_failure 1
	assert_output "relay: $T/in: rewritten: the 256 bytes before byte 12000 are not those of the checkpoint (checkpoint $T/cp; --checkpoint-reset starts over)"
	# the checkpoint of another input
	lines 5 "$T/other"
	run "$RELAY" -i "$T/other" --checkpoint "$T/cp" -o "$T/o8"
	assert_failure 1
	assert_output "relay: $T/other: the checkpoint is of another input (checkpoint $T/cp; --checkpoint-reset starts over)"
}

@test "an input truncated under its reader: the checkpoint stays, and says so" {
	lines 200000 "$T/in"
	mkfifo "$T/fifo"
	bash -c 'while IFS= read -r l; do printf "%s\n" "$l"; done' \
	    <"$T/fifo" >"$T/o1" &
	local reader=$!
	bg "$T/relay.pid" /dev/null "$T/relay.err" \
	    "$RELAY" -i "$T/in" --checkpoint "$T/cp" -o "$T/fifo"
	local relay=$BG
	wait_until 20 lines_at_least 1000 "$T/o1"
	: >"$T/in"
	wait "$relay" && status=0 || status=$?
	wait "$reader"
	assert_equal "$status" 0
	run cat "$T/relay.err"
	assert_output --regexp "^relay: $T/in: the file is shorter than byte [0-9]+; checkpoint $T/cp not updated$"
	run "$RELAY" -i "$T/in" --checkpoint "$T/cp" -o "$T/o2"
	assert_failure 1
	assert_output --partial "relay: $T/in: truncated: 0 bytes"
}

@test "a damaged checkpoint file is an error naming its line" {
	lines 10 "$T/in"
	printf 'libstream-checkpoint 1\ninput %s\noffset x\n' "$T/in" >"$T/cp"
	run "$RELAY" -i "$T/in" --checkpoint "$T/cp" -o "$T/o"
	assert_failure 1
	assert_output "relay: checkpoint $T/cp: line 3: bad offset 'x'"
	echo hello >"$T/cp"
	run "$RELAY" -i "$T/in" --checkpoint "$T/cp" -o "$T/o"
	assert_failure 1
	assert_output "relay: checkpoint $T/cp: not a checkpoint file (line 1 is not 'libstream-checkpoint 1')"
	"$RELAY" -i "$T/in" --checkpoint "$T/good" -o "$T/o0"
	grep -v '^hash ' "$T/good" >"$T/cp"
	run "$RELAY" -i "$T/in" --checkpoint "$T/cp" -o "$T/o"
	assert_failure 1
	assert_output "relay: checkpoint $T/cp: no 'hash' line"
	{ cat "$T/good"; echo "line 3"; } >"$T/cp"
	run "$RELAY" -i "$T/in" --checkpoint "$T/cp" -o "$T/o"
	assert_failure 1
	assert_output "relay: checkpoint $T/cp: line 11: another 'line'"
	sed 's/^window .*/window 257/' "$T/good" >"$T/cp"
	run "$RELAY" -i "$T/in" --checkpoint "$T/cp" -o "$T/o"
	assert_failure 1
	assert_output "relay: checkpoint $T/cp: line 9: bad window '257'"
}

@test "--follow resumes where the follower was" {
	lines 100 "$T/in"
	bg "$T/f.pid" "$T/o1" "$T/f.err" \
	    "$RELAY" -f -i "$T/in" --checkpoint "$T/cp" -o -
	local f=$BG
	wait_until 20 lines_at_least 100 "$T/o1"
	wait_until 20 grep -q '^offset 1200$' "$T/cp"
	kill -TERM "$(cat "$T/f.pid")"
	wait "$f" || fail "relay -f: $(cat "$T/f.err")"
	awk 'BEGIN { for (i = 101; i <= 150; i++)
	    printf "line %06d\n", i }' >>"$T/in"
	bg "$T/f.pid" "$T/o2" "$T/f.err" \
	    "$RELAY" -f -i "$T/in" --checkpoint "$T/cp" -o -
	f=$BG
	wait_until 20 lines_at_least 50 "$T/o2"
	wait_until 20 grep -q '^offset 1800$' "$T/cp"
	kill -TERM "$(cat "$T/f.pid")"
	wait "$f"
	run payloads "$T/o2"
	assert_equal "${#lines[@]}" 50
	assert_line --index 0 "line 000101"
	assert_line --index 49 "line 000150"
}

@test "--checkpoint refuses what has no position: .gz, stdin, brokers, more inputs" {
	lines 10 "$T/in"
	gzip -k "$T/in"
	run "$RELAY" -i "$T/in.gz" --checkpoint "$T/cp" -o "$T/o"
	assert_failure 1
	assert_output "relay: $T/in.gz: a compressed file has no position to reopen it at (checkpoint $T/cp)"
	[ ! -e "$T/cp" ] || fail "a checkpoint was written"
	# a checkpoint that cannot be written: before any output
	run "$RELAY" -i "$T/in" --checkpoint "$T/none/cp" -o "$T/o"
	assert_failure 1
	assert_output "relay: checkpoint $T/none/cp.tmp: No such file or directory"
	[ ! -e "$T/o" ] || fail "an output was written"
	expect_failures 2 "$RELAY" \
	    "--checkpoint $T/cp|relay: --checkpoint: '-' is not a file (brokers keep their place with --group)" \
	    "-i redis://127.0.0.1:1/s --checkpoint $T/cp|relay: --checkpoint: 'redis://127.0.0.1:1/s' is not a file" \
	    "-i $T/in -i $T/in --checkpoint $T/cp|relay: --checkpoint takes a single input" \
	    "-i $T/in --checkpoint-reset|relay: --checkpoint-reset goes with --checkpoint"
}

@test "partition and fanout resume their input too: only what was appended" {
	lines 1000 "$T/in"
	run "$LS_BIN/partition" -n 3 -i "$T/in" --checkpoint "$T/pcp" "$T/p%d"
	assert_success
	run "$LS_BIN/fanout" -i "$T/in" --checkpoint "$T/fcp" "$T/f1" "$T/f2"
	assert_success
	awk 'BEGIN { for (i = 1001; i <= 1200; i++)
	    printf "line %06d\n", i }' >>"$T/in"
	run "$LS_BIN/partition" -n 3 -i "$T/in" --checkpoint "$T/pcp" \
	    --append "$T/p%d"
	assert_success
	payloads "$T/p0" "$T/p1" "$T/p2" | sort >"$T/pall"
	cmp "$T/in" "$T/pall"
	run "$LS_BIN/fanout" -i "$T/in" --checkpoint "$T/fcp" --append \
	    "$T/f1" "$T/f2"
	assert_success
	payloads "$T/f1" >"$T/f1p"
	cmp "$T/in" "$T/f1p"
	payloads "$T/f2" >"$T/f2p"
	cmp "$T/in" "$T/f2p"
}

# $T/job.sh: handles each message of its batch once over retries,
# recording in $STREAM_CHECKPOINT how many it has handled; the first
# attempt of a batch fails after FAIL_AFTER of them (with
# FAIL_AFTER=always, every attempt records one more and fails).
job_script() {
	cat >"$T/job.sh" <<'SH'
#!/bin/sh
done=0
[ -s "$STREAM_CHECKPOINT" ] && done=$(cat "$STREAM_CHECKPOINT")
echo "$STREAM_CHECKPOINT" >>"$JOB_DIR/seen"
echo "attempt $STREAM_ATTEMPT given $done" >>"$JOB_DIR/given"
n=0
while IFS= read -r line; do
	n=$((n + 1))
	[ "$n" -le "$done" ] && continue
	if [ "$FAIL_AFTER" = always ]; then
		echo "$n" >"$STREAM_CHECKPOINT"
		exit 3
	fi
	if [ "$STREAM_ATTEMPT" = 1 ] && [ "$n" -gt "$FAIL_AFTER" ]; then
		exit 1
	fi
	printf '%s\n' "${line#*] }" >>"$JOB_DIR/handled"
	echo "$n" >"$STREAM_CHECKPOINT.tmp"
	mv "$STREAM_CHECKPOINT.tmp" "$STREAM_CHECKPOINT"
done
echo "attempt $STREAM_ATTEMPT of $STREAM_KEY: $done done before, $n now"
SH
	chmod +x "$T/job.sh"
	mkdir "$T/cps"
}

@test "batch --job-checkpoints: a retried job finishes only the rest" {
	job_script
	seq 1 12 >"$T/in"
	JOB_DIR=$T FAIL_AFTER=3 run --separate-stderr "$BATCH" -i "$T/in" \
	    -n 6 --exec "$T/job.sh" --job-checkpoints "$T/cps" \
	    --backoff 1ms..2ms
	assert_success
	assert_output "attempt 2 of broadcast: 3 done before, 6 now
attempt 2 of broadcast: 3 done before, 6 now"
	assert_equal "$stderr" "batch: batch of 6 from stream broadcast seq 0 exited with status 1; retry 1 of 3
batch: batch of 6 from stream broadcast seq 6 exited with status 1; retry 1 of 3"
	run cat "$T/handled"
	assert_output "$(seq 1 12)"
	# each batch had one file of its own, given to both of its attempts
	run sort "$T/seen"
	assert_equal "${#lines[@]}" 4
	assert_equal "$(sort -u "$T/seen" | wc -l)" 2
	assert_line --index 0 --regexp "^$T/cps/broadcast\.0\.0\.[0-9a-f]{16}$"
	# done with: removed
	run ls -A "$T/cps"
	assert_output ""
}

@test "batch --job-checkpoints: a dead-lettered batch's file is removed too" {
	job_script
	seq 1 4 >"$T/in"
	JOB_DIR=$T FAIL_AFTER=always run "$BATCH" -i "$T/in" -n 4 \
	    --exec "$T/job.sh" --job-checkpoints "$T/cps" --retries 1 \
	    --backoff 1ms..2ms --dead-letter "$T/dead"
	assert_failure 1
	assert_output --partial "dead-lettered: 1 batches, 4 messages"
	run ls -A "$T/cps"
	assert_output ""
	assert_equal "$(wc -l <"$T/seen")" 2
	# the retry was given what the first attempt recorded
	run cat "$T/given"
	assert_output "attempt 1 given 0
attempt 2 given 1"
}

@test "batch --job-checkpoints: usage and a missing directory" {
	expect_failures 2 "$BATCH" \
	    "--job-checkpoints $T|go with --exec"
	run "$BATCH" --exec cat --job-checkpoints "$T/none" </dev/null
	assert_failure 1
	assert_output "batch: --job-checkpoints: $T/none: No such file or directory"
	touch "$T/file"
	run "$BATCH" --exec cat --job-checkpoints "$T/file" </dev/null
	assert_failure 1
	assert_output "batch: --job-checkpoints: $T/file: not a directory"
}
