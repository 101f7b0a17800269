#!/usr/bin/env bats
# relay(1) and Kafka (kafka://), against librdkafka's mock cluster
# (tests/tools/kafka-mock, 3 brokers on loopback, in memory), cross-checked
# with kcat: what relay writes kcat reads and the other way round, the meta
# mapping both ways, --headers, --key field:, --partition shard, the default
# partitioner, --from, --exit-at-end, SIGTERM, consumer groups (commits
# after the output took the messages: at-least-once across kill -9,
# exactly once across SIGTERM), delivery failures and -X.
#
# Nothing here measures time. A group whose members all left makes the
# next join wait about session.timeout.ms in the mock, so group consumers
# run with 6 s; each test uses topics and groups of its own.

load helper

RELAY=$LS_BIN/relay
MOCK=$LS_TOOLS/kafka-mock
LIMIT=60
GROUPX=(-X session.timeout.ms=6000)

setup_file() {
	local D=$BATS_FILE_TMPDIR
	[ -x "$LS_TOOLS/kafka-mock" ] ||
		fail "$LS_TOOLS/kafka-mock is missing: run 'make tests'"
	"$LS_TOOLS/kafka-mock" -t out:3 -t outh:3 -t in:3 -t rt:3 -t rt2:3 -t rtn:3 -t shard:4 \
	    -t keyf:3 -t part:4 -t from:2 -t live:2 -t exact:3 -t kill:3 \
	    -t k2k:2 -t merge:1 -t held:1 -t nl:1 -t big:1 >"$D/mock.boot" 2>"$D/mock.err" 3>&- &
	echo $! >"$D/mock.pid"
	wait_until 20 test -s "$D/mock.boot" || fail "kafka-mock did not start"
	BOOT=$(head -n 1 "$D/mock.boot")
	export BOOT
}

teardown_file() {
	local D=$BATS_FILE_TMPDIR
	[ -e "$D/mock.pid" ] && kill "$(cat "$D/mock.pid")" 2>/dev/null
	true
}

setup() {
	ls_setup
	[ -x "$RELAY" ] || fail "$RELAY is missing: run 'make' (LS_BIN)"
	[ -n "$BOOT" ] || fail "no mock cluster"
}

# kread TOPIC [FORMAT]: everything in TOPIC as kcat sees it, to stdout.
kread() {
	timeout "$LIMIT" kcat -b "$BOOT" -C -t "$1" -e -q \
	    -f "${2:-%k %p %o %T %s\n}"
}

# The test messages: key, seq, shard, timestamp, payload.
three_lines() {
	printf '[2024-01-01T00:00:00.001 | alpha | 7 | 1] one\n'
	printf '[2024-01-01T00:00:00.002 | beta | 8 | 2] two words\n'
	printf '[2024-01-01T00:00:00.003 | alpha | 9 | 1] {"x":1}\n'
}

@test "lines -> kafka: kcat sees the keys, timestamps and payloads, no headers; --headers adds seq/shard" {
	three_lines >"$T/in"
	runf timeout "$LIMIT" "$RELAY" -o "kafka://$BOOT/out" <"$T/in"
	assert_equal "$status" 0
	kread out '%k|%T|%s|%h\n' | sort -t'|' -k2 >"$T/k"
	cat >"$T/want" <<-'EOF'
	alpha|1704067200001|one|
	beta|1704067200002|two words|
	alpha|1704067200003|{"x":1}|
	EOF
	diff -u "$T/want" "$T/k"
	# one key, one partition (the default partitioner)
	run bash -c "kcat -b '$BOOT' -C -t out -e -q -f '%k %p\n' | sort -u |
	    cut -d' ' -f1 | uniq -d"
	assert_output ''
	runf timeout "$LIMIT" "$RELAY" -o "kafka://$BOOT/outh" --headers <"$T/in"
	assert_equal "$status" 0
	kread outh '%k|%T|%s|%h\n' | sort -t'|' -k2 >"$T/k"
	cat >"$T/want" <<-'EOF'
	alpha|1704067200001|one|seq/shard=7/1
	beta|1704067200002|two words|seq/shard=8/2
	alpha|1704067200003|{"x":1}|seq/shard=9/1
	EOF
	diff -u "$T/want" "$T/k"
}

@test "kafka -> lines: relay reads what kcat -P wrote; partition is the shard, offset the sequence" {
	printf 'p1\np2\n' | kcat -b "$BOOT" -P -t in -p 2 -k key.one
	printf 'bad\n' | kcat -b "$BOOT" -P -t in -p 1 -k 'not a key'
	printf 'nokey\n' | kcat -b "$BOOT" -P -t in -p 0
	runf timeout "$LIMIT" "$RELAY" -i "kafka://$BOOT/in" --exit-at-end
	assert_equal "$status" 0
	# kcat stamps messages with the time of producing
	kread in '%p %o %T %s\n' | sort >"$T/k"
	sed -E 's/^\[([^ ]+) \| ([^ ]+) \| ([0-9]+) \| ([0-9]+)\] (.*)/\4 \3 \1 \2 \5/' \
	    "$T/out" | sort >"$T/r"
	awk "$AWK_LIB"'{ print $1, $2, tsfmt($3), ($1 == 2 ? "key.one" : "broadcast"), $4 }' \
	    "$T/k" >"$T/want"
	diff -u "$T/want" "$T/r"
	assert_equal "$(wc -l <"$T/r")" 4
}

@test "kafka -> lines: the seq/shard header, else seq and shard headers (older writers), else offset and partition" {
	# kcat writes the headers; a record at partition 0, offsets 0 to 6
	kp() { printf '%s\n' "$1" | kcat -b "$BOOT" -P -t hdr -p 0 -k k "${@:2}"; }
	kp a -H 'seq/shard=41/3'
	kp b -H 'seq=42' -H 'shard=4'
	kp c -H 'seq/shard=43/5' -H 'seq=9' -H 'shard=9'
	kp d -H 'seq/shard=44' -H 'seq=44' -H 'shard=6'
	kp e -H 'seq/shard=x/7'
	kp f -H 'seq/shard=46/'
	kp g -H 'seq=47'
	runf timeout "$LIMIT" "$RELAY" -i "kafka://$BOOT/hdr" --exit-at-end
	assert_equal "$status" 0
	sed -E 's/^\[[^|]+\| k \| ([0-9]+) \| ([0-9]+)\] (.*)/\3 \1 \2/' \
	    "$T/out" >"$T/got"
	cat >"$T/want" <<-'EOF'
	a 41 3
	b 42 4
	c 43 5
	d 44 6
	e 4 0
	f 5 0
	g 47 0
	EOF
	diff -u "$T/want" "$T/got"
}

@test "round trip lines -> kafka -> lines: --headers keeps everything; without, seq is the offset and shard the partition" {
	gen_tsv 1 300 5 | awk "$AWK_LIB"'BEGIN { FS = "\t"
	        for (i = 32; i < 127; i++) CH[sprintf("%02x", i)] = sprintf("%c", i) }
	    { p = ""; for (i = 1; i <= length($5); i += 2) p = p CH[substr($5, i, 2)]
	      printf "[%s | %s | %s | %s] %s\n", tsfmt($4), $1, $3, $2, p }' \
	    >"$T/in"
	runf timeout "$LIMIT" "$RELAY" -o "kafka://$BOOT/rt" --headers <"$T/in"
	assert_equal "$status" 0
	runf timeout "$LIMIT" "$RELAY" -i "kafka://$BOOT/rt" --exit-at-end
	assert_equal "$status" 0
	sort "$T/in" >"$T/want"
	sort "$T/out" >"$T/got"
	diff -u "$T/want" "$T/got"
	# kafka -> kafka keeps them too (headers carried over)
	runf timeout "$LIMIT" "$RELAY" -i "kafka://$BOOT/rt" --exit-at-end \
	    -o "kafka://$BOOT/rt2" --headers
	assert_equal "$status" 0
	runf timeout "$LIMIT" "$RELAY" -i "kafka://$BOOT/rt2" --exit-at-end
	sort "$T/out" >"$T/got2"
	diff -u "$T/want" "$T/got2"
	# without headers: timestamp, key and payload as written, the
	# partition and offset kcat sees as shard and seq
	runf timeout "$LIMIT" "$RELAY" -o "kafka://$BOOT/rtn" <"$T/in"
	assert_equal "$status" 0
	runf timeout "$LIMIT" "$RELAY" -i "kafka://$BOOT/rtn" --exit-at-end
	assert_equal "$status" 0
	assert_equal "$(kread rtn '%h' | tr -d '\n')" ''
	# each record as kcat sees it, with the line relay read it as
	kread rtn '%T %k %o %p\n' | awk "$AWK_LIB"'{
	    printf "[%s | %s | %s | %s]\n", tsfmt($1), $2, $3, $4 }' |
	    sort >"$T/kmeta"
	sed 's/\] .*/]/' "$T/out" | sort >"$T/rmeta"
	diff -u "$T/kmeta" "$T/rmeta"
	# and the payloads, keys and timestamps are those written
	sed -E 's/ \| [0-9]+ \| [0-9]+\]/]/' "$T/in" | sort >"$T/want"
	sed -E 's/ \| [0-9]+ \| [0-9]+\]/]/' "$T/out" | sort >"$T/got"
	diff -u "$T/want" "$T/got"
	assert_equal "$(wc -l <"$T/got")" 300
}

@test "--partition shard: the shard is the partition; a shard past the partitions is an error" {
	for i in $(seq 0 39); do
		printf '[2024-01-01T00:00:00.000 | k%d | %d | %d] m%d\n' \
		    $((i % 7)) "$i" $((i % 4)) "$i"
	done >"$T/in"
	runf timeout "$LIMIT" "$RELAY" -o "kafka://$BOOT/shard" \
	    --partition shard --headers <"$T/in"
	assert_equal "$status" 0
	kread shard '%p %s %h\n' | sort >"$T/k"
	# the shard is the partition: a seq header and no shard header
	awk '{ sub(/^m/, "", $2); if ($1 != $2 % 4 || $3 != "seq=" $2) bad++ }
	    END { exit bad > 0 }' "$T/k" ||
		{ cat "$T/k"; fail "a message in the wrong partition or headers"; }
	assert_equal "$(wc -l <"$T/k")" 40
	printf '[2024-01-01T00:00:00.000 | k | 1 | 9] far\n' >"$T/in"
	runf timeout "$LIMIT" "$RELAY" -o "kafka://$BOOT/shard" \
	    --partition shard <"$T/in"
	assert_equal "$status" 1
	run cat "$T/err"
	assert_output --partial "kafka://$BOOT/shard"
	assert_output --partial "partition 9"
}

@test "--key field:NAME: the key is the payload field; with --headers the stream key travels as a header" {
	cat >"$T/in" <<-'EOF'
	[2024-01-01T00:00:00.000 | s1 | 1 | 0] {"user":"ann","n":1}
	[2024-01-01T00:00:00.000 | s1 | 2 | 0] {"n":2,"user":"b\u00e9a\"x"}
	[2024-01-01T00:00:00.000 | s2 | 3 | 0] {"user":42,"n":3}
	[2024-01-01T00:00:00.000 | s2 | 4 | 0] {"nested":{"user":"no"},"n":4}
	[2024-01-01T00:00:00.000 | s3 | 5 | 0] not json
	EOF
	runf timeout "$LIMIT" "$RELAY" -o "kafka://$BOOT/keyf" \
	    --key field:user --headers <"$T/in"
	assert_equal "$status" 0
	kread keyf '%o %p <%k> %h\n' >"$T/k"
	sed -E 's/^[0-9]+ [0-9]+ //' "$T/k" | sort >"$T/got"
	cat >"$T/want" <<-'EOF'
	<42> stream_key=s2,seq/shard=3/0
	<> stream_key=s2,seq/shard=4/0
	<> stream_key=s3,seq/shard=5/0
	<ann> stream_key=s1,seq/shard=1/0
	<béa"x> stream_key=s1,seq/shard=2/0
	EOF
	diff -u "$T/want" "$T/got"
	# reading back, the header gives the stream key again
	runf timeout "$LIMIT" "$RELAY" -i "kafka://$BOOT/keyf" --exit-at-end
	sort "$T/out" >"$T/got"
	sort "$T/in" >"$T/want"
	diff -u "$T/want" "$T/got"
}

@test "default partitioner (murmur2): each key lands in the partition that partition --hash kafka picks" {
	for i in $(seq 1 400); do
		printf '[2024-01-01T00:00:00.000 | key%d | %d | 0] m%d\n' \
		    $((i % 25)) "$i" "$i"
	done >"$T/in"
	timeout "$LIMIT" "$RELAY" -o "kafka://$BOOT/part" <"$T/in"
	kread part '%k %p\n' | sort -u >"$T/kp"
	assert_equal "$(wc -l <"$T/kp")" 25
	assert_equal "$(cut -d' ' -f1 "$T/kp" | sort -u | wc -l)" 25
	# and the 25 keys spread over more than one of the 4 partitions
	[ "$(cut -d' ' -f2 "$T/kp" | sort -u | wc -l)" -gt 1 ]
	# the same split, made locally: the key in file %d is in partition %d
	(cd "$T" && "$LS_BIN/partition" -n 4 --hash kafka 'local.%d' <in)
	for p in 0 1 2 3; do
		sed 's/^\[[^|]*| \([^ ]*\) .*/\1 '"$p"'/' "$T/local.$p"
	done | sort -u >"$T/local"
	diff -u "$T/local" "$T/kp"
}

@test "--from start (the default), end and time:T with --exit-at-end" {
	printf '[2024-01-01T00:00:01.000 | a | 1 | 0] first\n[2024-01-01T00:00:02.000 | a | 2 | 0] second\n[2024-01-01T00:00:03.000 | b | 3 | 1] third\n' |
	    timeout "$LIMIT" "$RELAY" -o "kafka://$BOOT/from" --partition shard
	runf timeout "$LIMIT" "$RELAY" -i "kafka://$BOOT/from" --exit-at-end
	assert_equal "$status" 0
	assert_equal "$(sort "$T/out" | sed 's/.*] //' | tr '\n' ' ')" \
	    "first second third "
	runf timeout "$LIMIT" "$RELAY" -i "kafka://$BOOT/from" --exit-at-end \
	    --from start
	assert_equal "$(wc -l <"$T/out")" 3
	runf timeout "$LIMIT" "$RELAY" -i "kafka://$BOOT/from" --exit-at-end \
	    --from end
	assert_equal "$status" 0
	assert_equal "$(wc -l <"$T/out")" 0
	# the first message stamped after T, in each partition
	runf timeout "$LIMIT" "$RELAY" -i "kafka://$BOOT/from" --exit-at-end \
	    --from time:2024-01-01T00:00:01
	assert_equal "$status" 0
	assert_equal "$(sort "$T/out" | sed 's/.*] //' | tr '\n' ' ')" \
	    "second third "
	runf timeout "$LIMIT" "$RELAY" -i "kafka://$BOOT/from" --exit-at-end \
	    --from time:2024-01-01T00:00:02.5
	assert_equal "$(sed 's/.*] //' "$T/out")" "third"
	runf timeout "$LIMIT" "$RELAY" -i "kafka://$BOOT/from" --exit-at-end \
	    --from time:2030-01-01T00:00:00
	assert_equal "$status" 0
	assert_equal "$(wc -l <"$T/out")" 0
	runf timeout "$LIMIT" "$RELAY" -i "kafka://$BOOT/from" --from seq:1
	assert_equal "$status" 1
	run cat "$T/err"
	assert_output --partial "start, end or time:T"
}

@test "without --exit-at-end it waits for more; --from end sees only new messages; SIGTERM ends with 0" {
	printf 'old\n' | timeout "$LIMIT" "$RELAY" -o "kafka://$BOOT/live"
	bg "$T/pid" "$T/out" "$T/err" "$RELAY" -i "kafka://$BOOT/live" --from end
	local n=0
	# until it has seen one: it may not have found the end yet
	until lines_at_least 1 "$T/out"; do
		n=$((n + 1))
		[ "$n" -lt 300 ] || fail "relay saw no new message"
		printf 'new%d\n' "$n" | "$RELAY" -o "kafka://$BOOT/live"
	done
	kill -TERM "$(cat "$T/pid")"
	wait "$BG" && status=0 || status=$?
	assert_equal "$status" 0
	run grep -c 'old$' "$T/out"
	assert_output 0
	run cat "$T/err"
	assert_output ''
}

# group_run TOPIC GROUP OUT SIGNAL: a group consumer of TOPIC that gets
# SIGNAL once it has written 40 lines while a producer still writes 300
# messages (c1..c300) slowly; then a second consumer of the group reads the
# rest to the end into OUT.2. Leaves OUT.1, OUT.2 and $status of the first.
group_run() {
	local topic=$1 group=$2 out=$3 sig=$4 ppid
	bg "$T/c1.pid" "$out.1" "$T/c1.err" "$RELAY" -i "kafka://$BOOT/$topic" \
	    --group "$group" "${GROUPX[@]}"
	local c1=$BG
	# the producer, flushed as it goes: 10 messages, then once the
	# consumer has joined and written one, the rest, about 3 s long
	(for i in $(seq 1 300); do
		echo "c$i"
		[ "$i" != 10 ] || wait_until 40 lines_at_least 1 "$out.1"
		sleep 0.01
	done | "$RELAY" -o "kafka://$BOOT/$topic") 3>&- &
	ppid=$!
	wait_until 40 lines_at_least 40 "$out.1" ||
		fail "the first consumer wrote $(wc -l <"$out.1") lines"
	kill "-$sig" "$(cat "$T/c1.pid")"
	wait "$c1" && status=0 || status=$?
	wait "$ppid" || fail "the producer failed"
	local s=$status
	runf timeout "$LIMIT" "$RELAY" -i "kafka://$BOOT/$topic" \
	    --group "$group" --exit-at-end "${GROUPX[@]}"
	assert_equal "$status" 0
	cp "$T/out" "$out.2"
	status=$s
}

@test "group: SIGTERM mid-stream and a restart deliver every message exactly once" {
	group_run exact gx "$T/x" TERM
	assert_equal "$status" 0
	local n1
	n1=$(wc -l <"$T/x.1")
	[ "$n1" -ge 40 ]
	sed 's/.*] //' "$T/x.1" "$T/x.2" | sort >"$T/all"
	run bash -c "uniq -d '$T/all'"
	assert_output ''
	seq 1 300 | sed 's/^/c/' | sort >"$T/want"
	diff -u "$T/want" "$T/all"
}

@test "group: kill -9 mid-stream and a restart lose nothing (at-least-once)" {
	group_run kill gk "$T/k" KILL
	assert_equal "$status" 137
	# what the first wrote out before it died, the rest from the second;
	# messages it took but had not committed come again
	sed 's/.*] //' "$T/k.1" "$T/k.2" | sort -u >"$T/all"
	seq 1 300 | sed 's/^/c/' | sort >"$T/want"
	diff -u "$T/want" "$T/all"
	# the second starts at the last commit, not at the start
	[ "$(wc -l <"$T/k.2")" -lt 300 ]
}

@test "group: merged with another input, the message held for the merge is not committed before it is output" {
	printf '[2024-01-01T00:00:00.00%d | k | %d | 0] m-%d\n' 1 1 1 2 2 2 3 3 3 |
	    timeout "$LIMIT" "$RELAY" -o "kafka://$BOOT/merge"
	mkfifo "$T/b"
	exec 7<>"$T/b"
	printf '[2000-01-01T00:00:00.000 | b | 1 | 0] b-1\n' >&7
	# the merge writes b-1, the earlier, and holds m-1 while it waits
	# for the next line of the FIFO, flushing and committing as it waits
	bg "$T/r.pid" "$T/out1" "$T/r.err" "$RELAY" -i "kafka://$BOOT/merge" \
	    --group gm "${GROUPX[@]}" -i "$T/b"
	local rbg=$BG
	wait_until 30 eval '[ -s "$T/out1" ] && [[ "$(cat "/proc/$(cat "$T/r.pid")/wchan" 2>/dev/null)" == *pipe_read ]]' ||
		fail "relay did not wait on the FIFO: $(cat "$T/r.err")"
	# a commit, were there one, has been made by now: relay commits on
	# each wait, and the FIFO's wait comes after its flush
	kill -KILL "$(cat "$T/r.pid")"
	wait "$rbg" || true
	exec 7>&-
	assert_equal "$(sed 's/.*] //' "$T/out1")" "b-1"
	runf timeout "$LIMIT" "$RELAY" -i "kafka://$BOOT/merge" --group gm \
	    "${GROUPX[@]}" --exit-at-end
	assert_equal "$status" 0
	assert_equal "$(sed 's/.*] //' "$T/out" | tr '\n' ' ')" "m-1 m-2 m-3 "
}

@test "group into a Kafka output: nothing is committed before the output has its delivery reports" {
	printf '[2024-01-01T00:00:00.00%d | k | %d | 0] h-%d\n' 1 1 1 2 2 2 3 3 3 |
	    timeout "$LIMIT" "$RELAY" -o "kafka://$BOOT/held"
	# an output cluster that is gone: its records wait for delivery
	"$MOCK" -b 1 >"$T/boot" 3>&- &
	local mp=$! dead
	wait_until 20 test -s "$T/boot" || fail "kafka-mock did not start"
	dead=$(head -n 1 "$T/boot")
	kill "$mp"
	wait "$mp" || true
	bg "$T/r.pid" /dev/null "$T/r.err" "$RELAY" -i "kafka://$BOOT/held" \
	    --group gh "${GROUPX[@]}" -o "kafka://$dead/x" --stats \
	    --stats-interval 10ms
	local rbg=$BG
	# it may have fetched only the first before its input waited: then
	# it is held in that flush, which waits for a delivery report
	wait_until 30 grep -q '"out":[1-3],' "$T/r.err" ||
		fail "relay wrote no message: $(tail -n 2 "$T/r.err")"
	# relay flushes as its input waits; a commit, were there one, would
	# be made within this second
	sleep 1
	kill -KILL "$(cat "$T/r.pid")"
	wait "$rbg" || true
	runf timeout "$LIMIT" "$RELAY" -i "kafka://$BOOT/held" --group gh \
	    "${GROUPX[@]}" --exit-at-end
	assert_equal "$status" 0
	assert_equal "$(sed 's/.*] //' "$T/out" | tr '\n' ' ')" "h-1 h-2 h-3 "
}

@test "a failed delivery is an error naming the URI and the reason" {
	"$MOCK" -b 1 >"$T/boot" 3>&- &
	local mp=$!
	wait_until 20 test -s "$T/boot" || fail "kafka-mock did not start"
	local dead
	dead=$(head -n 1 "$T/boot")
	kill "$mp"
	wait "$mp" || true
	printf 'a\nb\n' >"$T/in"
	runf timeout "$LIMIT" "$RELAY" -o "kafka://$dead/gone" \
	    -X message.timeout.ms=500 <"$T/in"
	assert_equal "$status" 1
	run cat "$T/err"
	assert_output --partial "relay: kafka://$dead/gone: delivery failed for 2 messages"
	assert_output --partial "Message timed out"
}

@test "a record bigger than the local queue (queue.buffering.max.kbytes) is an error, not a wait for room that never comes" {
	head -c 3000 /dev/zero | tr '\0' x >"$T/in"
	printf '\n' >>"$T/in"
	# it waited for ever, SIGTERM too: -k ends it if it does again
	runf timeout -k 5 "$LIMIT" "$RELAY" -o "kafka://$BOOT/big" \
	    -X queue.buffering.max.kbytes=1 <"$T/in"
	assert_equal "$status" 1
	run cat "$T/err"
	assert_output --partial "relay: kafka://$BOOT/big: a record with a payload of 3000 bytes"
	assert_output --partial "queue.buffering.max.kbytes"
	# the same record with the default queue goes through
	runf timeout "$LIMIT" "$RELAY" -o "kafka://$BOOT/big" <"$T/in"
	assert_equal "$status" 0
	assert_equal "$(kread big '%S\n')" 3000
}

@test "-X passes librdkafka properties; a bad one is an error naming it" {
	printf 'x\n' >"$T/in"
	runf "$RELAY" -o "kafka://$BOOT/out" -X no.such.property=1 <"$T/in"
	assert_equal "$status" 1
	run cat "$T/err"
	assert_output --partial "-X no.such.property=1"
	runf "$RELAY" -i "kafka://$BOOT/out" -X fetch.wait.max.ms=nope
	assert_equal "$status" 1
	run cat "$T/err"
	assert_output --partial "-X fetch.wait.max.ms=nope"
	# a property that is taken: compression on the producer
	runf timeout "$LIMIT" "$RELAY" -o "kafka://$BOOT/k2k" \
	    -X compression.codec=lz4 -X linger.ms=0 <"$T/in"
	assert_equal "$status" 0
	assert_equal "$(kread k2k '%s\n')" x
}

# relay_maps KAFKA-OPTION...: relay -o kafka:// to a port nobody listens
# on, with those -X options, its input held open; prints the shared
# objects its process maps once its Kafka client is made (librdkafka's
# threads run: Cyrus SASL is initialized before them) and ends it.
relay_maps() {
	local pid rbg port
	port=$(dead_port)
	rm -f "$T/r.pid"
	mkfifo "$T/fifo.$#"
	exec 6<>"$T/fifo.$#"
	BG_IN=$T/fifo.$# bg "$T/r.pid" /dev/null "$T/r.err" "$RELAY" \
	    -o "kafka://127.0.0.1:$port/t" -X libstream.close.timeout.ms=100 \
	    "$@"
	rbg=$BG
	printf 'a\n' >&6
	wait_until 30 test -s "$T/r.pid" || fail "relay did not start"
	pid=$(cat "$T/r.pid")
	wait_until 30 eval '[ "$(ls "/proc/$pid/task" 2>/dev/null |
	    wc -l)" -gt 2 ]' ||
	    fail "relay made no Kafka client"
	awk '{ print $6 }' "/proc/$pid/maps" | sort -u
	kill -TERM "$pid"
	wait "$rbg" || true
	exec 6>&-
}

@test "Cyrus SASL loads its plugins only when -X security.protocol names SASL" {
	run relay_maps
	# libsasl2 comes with librdkafka; its plugins (sasl2/) did too
	assert_output --partial /libsasl2.so
	refute_output --partial /sasl2/
	run relay_maps -X security.protocol=SASL_PLAINTEXT \
	    -X sasl.mechanisms=PLAIN -X sasl.username=u -X sasl.password=p
	assert_output --partial /sasl2/
}

@test "bad kafka URIs are refused at once, naming the URI and what is wrong" {
	local -a cases=(
		"kafka://|kafka://: no topic: the form is kafka://HOST:PORT"
		"kafka://host:1|kafka://host:1: no topic"
		"kafka://host:1/|kafka://host:1/: no topic"
		"kafka:///t|kafka:///t: no broker"
		"kafka://h:1/bad topic|topic: byte 4 (0x20) is not one of [A-Za-z0-9._-]"
		"kafka://h:1/a%00b|topic: byte 2 (0x25) is not one of [A-Za-z0-9._-] (Kafka URIs have no %XX escapes)"
		"kafka://h:1/..|topic '..' is not allowed"
		"kafka://h:1/$(printf 't%.0s' $(seq 250))|topic: 250 bytes, more than Kafka's 249"
		"kafka://127.0.0.1:99999/t|kafka://127.0.0.1:99999/t: broker '127.0.0.1:99999': bad port '99999' (1 to 65535)"
		"kafka://127.0.0.1:-1/t|broker '127.0.0.1:-1': bad port '-1'"
		"kafka://127.0.0.1:abc/t|broker '127.0.0.1:abc': bad port 'abc'"
		"kafka://127.0.0.1:/t|broker '127.0.0.1:': bad port ''"
		"kafka://127.0.0.1:0/t|bad port '0'"
		"kafka://h:1:2/t|broker 'h:1:2': bad port '1:2'"
		"kafka://h/t|broker 'h': no port"
		"kafka://:1/t|broker ':1': empty host"
		"kafka://[]:1/t|broker '[]:1': empty host"
		"kafka://[::1/t|bad [IPv6 address]"
		"kafka://h_1:1,/t|an empty broker in the list"
		"kafka://,h:1/t|an empty broker in the list"
		"kafka://h:1,,h:2/t|an empty broker in the list"
		"kafka://u:secret@h:1/t|kafka://u:***@h:1/t: credentials in a kafka:// URI are not supported"
	)
	local c u want
	for c in "${cases[@]}"; do
		u=${c%%|*} want=${c#*|}
		# at once: librdkafka would retry a bad broker until the
		# message timeout (five minutes)
		printf 'x\n' >"$T/in"
		for dir in -o -i; do
			if [ "$dir" = -o ]; then
				runf timeout 20 "$RELAY" -o "$u" <"$T/in"
			else
				runf timeout 20 "$RELAY" -i "$u" --exit-at-end
			fi
			assert_equal "$dir $u: status $status" "$dir $u: status 1"
			grep -qF -- "relay: " "$T/err" &&
			    grep -qF -- "$want" "$T/err" ||
			    fail "$dir $u: stderr: $(cat "$T/err")"
			! grep -q secret "$T/err" || fail "$u: password shown"
		done
	done
	# a good form of each: [IPv6]:PORT and two brokers are taken
	runf timeout "$LIMIT" "$RELAY" -o "kafka://[::1]:1,$BOOT/k2k" \
	    -X libstream.close.timeout.ms=0 </dev/null
	assert_equal "$status" 0
}

@test "a URI of 300 bytes that fails shows the whole reason" {
	local h
	h=$(printf 'h%.0s' $(seq 300))
	runf timeout 20 "$RELAY" -o "kafka://$h:99999/t" </dev/null
	assert_equal "$status" 1
	run cat "$T/err"
	assert_output --partial "relay: kafka://hhhh"
	assert_output --partial "hhh...hhh"
	assert_output --partial "hhh:99999': bad port '99999' (1 to 65535)"
	[ "$(wc -c <"$T/err")" -lt 300 ] || fail "not shortened: $output"
}

# a port of 127.0.0.1 with nothing listening
dead_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

@test "an unreachable broker: SIGTERM ends relay within the close timeout, counting what was not delivered" {
	local port rbg st
	port=$(dead_port)
	mkfifo "$T/fifo"
	exec 6<>"$T/fifo"
	LIMIT=20 BG_IN=$T/fifo bg "$T/r.pid" /dev/null "$T/r.err" "$RELAY" \
	    -o "kafka://127.0.0.1:$port/t" -X libstream.close.timeout.ms=1000
	rbg=$BG
	printf 'a\nb\nc\n' >&6
	wait_until 10 test -s "$T/r.pid" || fail "relay did not start"
	# it has read them once its input is left open and idle
	sleep 1
	kill -TERM "$(cat "$T/r.pid")"
	wait "$rbg" && st=0 || st=$?
	exec 6>&-
	# 124: still waiting after LIMIT, as it did for message.timeout.ms
	assert_equal "$st" 1
	run cat "$T/r.err"
	assert_output --partial "relay: kafka://127.0.0.1:$port/t: 3 messages not delivered: stopped, waited 1000 ms (-X libstream.close.timeout.ms), purged"
	assert_output --partial "Connection refused"
}

@test "an unreachable broker: at the end of input, relay waits for reports only as long as the close timeout" {
	local port
	port=$(dead_port)
	printf 'a\nb\n' >"$T/in"
	runf timeout 20 "$RELAY" -o "kafka://127.0.0.1:$port/t" \
	    -X libstream.close.timeout.ms=500 <"$T/in"
	assert_equal "$status" 1
	run cat "$T/err"
	assert_output --partial "relay: kafka://127.0.0.1:$port/t: 2 messages not delivered: none delivered for 500 ms (-X libstream.close.timeout.ms), purged"
	# the property is libstream's own, and checked
	runf "$RELAY" -o "kafka://127.0.0.1:$port/t" \
	    -X libstream.close.timeout.ms=ten <"$T/in"
	assert_equal "$status" 1
	run cat "$T/err"
	assert_output --partial "-X libstream.close.timeout.ms=ten: not a number of milliseconds"
	runf "$RELAY" -o "kafka://127.0.0.1:$port/t" \
	    -X libstream.close.timeout=1 <"$T/in"
	assert_equal "$status" 1
	run cat "$T/err"
	assert_output --partial "-X libstream.close.timeout=1: no such property"
}

@test "a payload that cannot be a line: the warning names the record's partition and offset" {
	printf 'one\n' | kcat -b "$BOOT" -P -t nl -p 0
	printf 'a\nb|' | kcat -b "$BOOT" -P -t nl -p 0 -D '|'
	printf 'three\n' | kcat -b "$BOOT" -P -t nl -p 0
	runf timeout "$LIMIT" "$RELAY" -i "kafka://$BOOT/nl" --exit-at-end
	assert_equal "$status" 1
	run cat "$T/err"
	assert_line "relay: kafka://$BOOT/nl: partition 0 offset 1: stream broadcast seq 1: payload holds a newline; not written to stdout"
	assert_equal "$(sed 's/.*] //' "$T/out" | tr '\n' ' ')" "one three "
}
