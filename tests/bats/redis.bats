#!/usr/bin/env bats
# relay(1) and Redis Streams: a redis-server of our own on a free port of
# 127.0.0.1, without persistence (scripts/redis-tmp.sh), cross-checked with
# redis-cli. Round trips, entries written by others, positions, a
# follower, consumer groups (split, pending entries, kill -9 and SIGTERM
# of a consumer whose output is stalled, --claim-idle), credentials and
# errors. Nothing measures time: background commands run under
# timeout(1), waits poll for a state, and each test uses streams of its
# own.

load helper

RELAY=$LS_BIN/relay
LIMIT=30
REDIS_TMP=$REPO/scripts/redis-tmp.sh

setup_file() {
	local port
	port=$("$REDIS_TMP" start "$BATS_FILE_TMPDIR/redis") || return 1
	echo "$port" >"$BATS_FILE_TMPDIR/port"
	port=$("$REDIS_TMP" start "$BATS_FILE_TMPDIR/redis-auth" \
	    --requirepass 's3cret!') || return 1
	echo "$port" >"$BATS_FILE_TMPDIR/port-auth"
}

teardown_file() {
	"$REDIS_TMP" stop "$BATS_FILE_TMPDIR/redis"
	"$REDIS_TMP" stop "$BATS_FILE_TMPDIR/redis-auth"
}

setup() {
	ls_setup
	[ -x "$RELAY" ] || fail "$RELAY is missing: run 'make' (LS_BIN)"
	P=$(cat "$BATS_FILE_TMPDIR/port")
	PA=$(cat "$BATS_FILE_TMPDIR/port-auth")
	# a stream of this test's own
	S=t$BATS_TEST_NUMBER
	U=redis://127.0.0.1:$P/$S
}

teardown() {
	bg_kill_all
}

relay() {
	timeout -k 5 "$LIMIT" "$RELAY" "$@"
}

rcli() {
	redis-cli -p "$P" "$@"
}

# payloads FILE: the payloads of a file of lines with meta blocks.
payloads() {
	sed 's/^\[[^]]*\] //' "$1"
}

# complete FILE: FILE without a last line that lacks its newline.
complete() {
	if [ -s "$1" ] && [ "$(tail -c 1 "$1" | od -An -c | tr -d ' ')" != '\n' ]; then
		sed '$d' "$1"
	else
		cat "$1"
	fi
}

# numbered N FILE: N lines "m-1" .. "m-N" with full meta, keys k0..k2.
numbered() {
	awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++)
	    printf "[2024-01-01T00:00:00.000 | k%d | %d | 0] m-%d\n", i % 3, i, i }' >"$2"
}

# pending GROUP: the number of entries pending in GROUP of $S.
pending() {
	rcli XPENDING "$S" "$1" | head -n 1
}

# client_in CMD: a client of the server last ran CMD (xread, xreadgroup).
client_in() {
	rcli CLIENT LIST | grep -q "cmd=$1"
}

# blocked_in CMD: a client is blocked in CMD.
blocked_in() {
	rcli CLIENT LIST | grep "cmd=$1" | grep -q "flags=b"
}

# ---------------------------------------------------------------------------
# Writing

@test "redis: relay -o writes one XADD per message with payload and key/seq/shard/ts fields" {
	printf '%s\n' '[2024-01-01T00:00:00.000 | k1 | 5 | 2] hello world' \
	    'no meta here' >"$T/in"
	relay -o "$U" <"$T/in"
	assert_equal "$(rcli XLEN "$S")" 2
	rcli XRANGE "$S" - + >"$T/x"
	run sed -n '2,5p;7,9p' "$T/x"
	assert_output - <<'EOF'
payload
hello world
key/seq/shard/ts
k1/5/2/1704067200000
payload
no meta here
key/seq/shard/ts
EOF
	# stamped when it was read
	sed -n 10p "$T/x" | grep -Eqx 'broadcast/0/0/[0-9]{13}'
	assert_equal "$(wc -l <"$T/x")" 10
}

@test "redis: relay -o keeps every message of a stream longer than its pipeline, in order" {
	# more XADDs than one batch (256) and than those left in flight
	# (1024)
	numbered 5000 "$T/in"
	relay -o "$U" <"$T/in"
	assert_equal "$(rcli XLEN "$S")" 5000
	relay -i "$U" --from start -o "$T/out"
	cmp "$T/in" "$T/out"
}

@test "redis: lines -> redis -> lines gives back every field and payload, byte for byte" {
	cat >"$T/in" <<'EOF'
[2024-01-01T00:00:00.000 | k1 | 0 | 0] plain
[2024-01-01T00:00:00.001 | k1 | 1 | 0]   spaces  inside and at the end  
[2024-01-01T00:00:00.002 | k-2 | 7 | 3] ünïcödé ✓ 日本語
[2024-01-01T00:00:00.003 | k.3 | 18446744073709551615 | 18446744073709551615] {"json": [1, 2]}
[2024-01-01T00:00:00.004 | k1 | 2 | 0] 
[2099-12-31T23:59:59.999 | broadcast | 3 | 0] tab	inside
EOF
	relay -o "$U" <"$T/in"
	relay -i "$U" --from start -o "$T/out"
	cmp "$T/in" "$T/out" || fail "$(diff "$T/in" "$T/out")"
}

@test "redis: a .ss file with binary payloads -> redis -> .ss keeps every message" {
	printf '%s\t%s\t%s\t%s\t%s\n' \
	    bin 0 1 1700000000000 00ff0a0d41 \
	    bin 1 2 1700000000001 c328 \
	    text 2 3 1700000000002 "" \
	    text 0 4 1700000000003 e697a5 >"$T/in.tsv"
	"$SS_BUILD" -n in.ss -c 1700000000000 -i 1024 "$T/in.ss" <"$T/in.tsv"
	relay -i "$T/in.ss" -o "$U"
	relay -i "$U" --from start -o "$T/out.ss"
	# without its End-of-Stream and ss-tsv's trailer
	"$SS_TSV" "$T/out.ss" | head -n -2 >"$T/out.tsv"
	cmp "$T/in.tsv" "$T/out.tsv" || fail "$(diff "$T/in.tsv" "$T/out.tsv")"
	# the End-of-Stream of in.ss was not written to Redis
	assert_equal "$(rcli XLEN "$S")" 4
}

@test "redis: --maxlen trims the stream approximately, keeping the newest" {
	numbered 3000 "$T/in"
	relay --maxlen 100 -o "$U" <"$T/in"
	n=$(rcli XLEN "$S")
	[ "$n" -ge 100 ] && [ "$n" -lt 3000 ] || fail "XLEN $n"
	rcli XREVRANGE "$S" + - COUNT 1 | grep -qx m-3000
	relay -i "$U" --from start -o "$T/out"
	assert_equal "$(wc -l <"$T/out")" "$n"
	tail -n "$n" "$T/in" | cmp - "$T/out"
}

# ---------------------------------------------------------------------------
# Reading

@test "redis: entries written by others: payload, key, ts and seq by the documented rule" {
	rcli XADD "$S" 1700000000000-0 msg hello >/dev/null
	rcli XADD "$S" 1700000000000-7 a 1 b 'x"y' >/dev/null
	rcli XADD "$S" 1700000000001-0 key other shard 4 note 'only one' >/dev/null
	rcli XADD "$S" 1700000000002-0 payload p seq 9 ts 1600000000000 extra dropped >/dev/null
	rcli XADD "$S" 1700000000003-0 key 'not a key!' shard x >/dev/null
	# seq/shard/ts (what the version before wrote) over the single
	# fields (what earlier ones wrote); not three numbers: an ordinary
	# field
	rcli XADD "$S" 1700000000003-1 payload q seq/shard/ts 11/2/1600000000001 seq 1 shard 1 ts 1 >/dev/null
	rcli XADD "$S" 1700000000003-2 seq/shard/ts 12/3 >/dev/null
	rcli XADD "$S" 1700000000003-3 payload r seq/shard/ts 13/x/1 shard 5 >/dev/null
	rcli XADD "$S" 1700000000003-4 payload s seq/shard/ts 14/4/1600000000002/9 >/dev/null
	# key/seq/shard/ts (what relay writes) over all of those; a key
	# that is not one, or not three numbers after it: an ordinary field
	rcli XADD "$S" 1700000000003-5 payload t key/seq/shard/ts k.9/15/5/1600000000003 key other seq/shard/ts 1/1/1 >/dev/null
	rcli XADD "$S" 1700000000003-6 payload u key/seq/shard/ts 'bad key/16/6/1' >/dev/null
	rcli XADD "$S" 1700000000003-7 key/seq/shard/ts k/17/7 >/dev/null
	rcli XADD "$S" 1700000000003-8 payload v key/seq/shard/ts /18/8/1 shard 8 >/dev/null
	relay -i "$U" --from start -o "$T/out"
	cat >"$T/want" <<EOF
[2023-11-14T22:13:20.000 | $S | 1700000000000000000 | 0] hello
[2023-11-14T22:13:20.000 | $S | 1700000000000000007 | 0] {"a":"1","b":"x\\"y"}
[2023-11-14T22:13:20.001 | other | 1700000000001000000 | 4] only one
[2020-09-13T12:26:40.000 | $S | 9 | 0] p
[2023-11-14T22:13:20.003 | $S | 1700000000003000000 | 0] {"key":"not a key!","shard":"x"}
[2020-09-13T12:26:40.001 | $S | 11 | 2] q
[2023-11-14T22:13:20.003 | $S | 1700000000003000002 | 0] 12/3
[2023-11-14T22:13:20.003 | $S | 1700000000003000003 | 5] r
[2023-11-14T22:13:20.003 | $S | 1700000000003000004 | 0] s
[2020-09-13T12:26:40.003 | k.9 | 15 | 5] t
[2023-11-14T22:13:20.003 | $S | 1700000000003000006 | 0] u
[2023-11-14T22:13:20.003 | $S | 1700000000003000007 | 0] k/17/7
[2023-11-14T22:13:20.003 | $S | 1700000000003000008 | 8] v
EOF
	cmp "$T/want" "$T/out" || fail "$(diff "$T/want" "$T/out")"
	# in the JSON object, a value that is not UTF-8 is Latin-1; controls
	# and quotes are escaped, UTF-8 text is kept
	rcli XADD "$S" 1700000000004-0 n $'caf\xe9' t $'a\tb\x01"' u 'é' >/dev/null
	relay -i "$U" --from id:1700000000003-8 -o "$T/out3"
	assert_equal "$(sed 's/^[^]]*\] //' "$T/out3" | jq -c .)" \
	    "$(jq -nc '{n: "café", t: "a\tb\u0001\"", u: "é"}')"
	# a stream name that is not a stream key gives the key broadcast
	redis-cli -p "$P" XADD "$S:x" '*' msg hi >/dev/null
	relay -i "redis://127.0.0.1:$P/$S:x" --from start -o "$T/out2"
	grep -q '| broadcast |' "$T/out2"
}

@test "redis: --from start, id:ID and time:T read after that entry; without -f the read ends at the end" {
	for id in 1000-0 2000-0 2000-1 3000-0; do
		rcli XADD "$S" "$id" payload "e$id" >/dev/null
	done
	relay -i "$U" --from start -o "$T/a"
	assert_equal "$(payloads "$T/a" | tr '\n' ' ')" "e1000-0 e2000-0 e2000-1 e3000-0 "
	relay -i "$U" --from id:2000-0 -o "$T/b"
	assert_equal "$(payloads "$T/b" | tr '\n' ' ')" "e2000-1 e3000-0 "
	relay -i "$U" --from time:1970-01-01T00:00:01.999 -o "$T/c"
	assert_equal "$(payloads "$T/c" | tr '\n' ' ')" "e2000-0 e2000-1 e3000-0 "
	relay -i "$U" --from time:1970-01-01T00:00:02 -o "$T/d"
	assert_equal "$(payloads "$T/d" | tr '\n' ' ')" "e3000-0 "
	relay -i "$U" --from id:3000-0 -o "$T/e"
	[ ! -s "$T/e" ]
	run relay -i "$U" --from seq:3
	assert_failure 1
	assert_output --partial "start, end, time:T or id:ID"
	run relay -i "$U" --from id:nonsense
	assert_failure 1
	assert_output --partial "Invalid stream ID"
}

@test "redis: a follower (-f) sees entries added later and ends on SIGTERM with status 0" {
	numbered 3 "$T/in"
	relay -o "$U" <"$T/in"
	bg "$T/f.pid" "$T/f.out" "$T/f.err" "$RELAY" -f --from start -i "$U"
	local fbg=$BG st
	wait_until 20 lines_at_least 3 "$T/f.out" || fail "the follower read $(wc -l <"$T/f.out")"
	rcli XADD "$S" '*' msg later >/dev/null
	printf 'from relay\n' | relay -o "$U"
	wait_until 20 lines_at_least 5 "$T/f.out" || fail "the follower read $(wc -l <"$T/f.out")"
	kill -TERM "$(cat "$T/f.pid")"
	wait "$fbg" && st=0 || st=$?
	assert_equal "status $st: $(cat "$T/f.err")" "status 0: "
	assert_equal "$(payloads "$T/f.out" | tr '\n' ' ')" "m-1 m-2 m-3 later from relay "
}

@test "redis: hiredis is mapped once a redis:// URI needs it, and no other client library; a file relay maps none" {
	mkfifo "$T/fifo"
	bg "$T/a.pid" "$T/a.out" "$T/a.err" "$RELAY" -i "$T/fifo"
	# the open returns once relay has opened its input: its URIs are open
	exec 7>"$T/fifo"
	printf 'x\n' >&7
	run grep -c 'libhiredis\|librdkafka\|libcurl\|libgnutls\|libmicrohttpd' \
	    "/proc/$(cat "$T/a.pid")/maps"
	assert_output 0
	exec 7>&-
	bg "$T/f.pid" "$T/f.out" "$T/f.err" "$RELAY" -f -i "$U"
	wait_until 20 client_in xread || fail "no XREAD"
	run grep -c libhiredis "/proc/$(cat "$T/f.pid")/maps"
	refute_output 0
	run grep -c 'librdkafka\|libcurl\|libgnutls\|libmicrohttpd' \
	    "/proc/$(cat "$T/f.pid")/maps"
	assert_output 0
}

@test "redis: without --from only new entries are read, waiting for them" {
	rcli XADD "$S" '*' msg old >/dev/null
	bg "$T/f.pid" "$T/f.out" "$T/f.err" "$RELAY" -i "$U"
	local fbg=$BG st
	wait_until 20 client_in xread || fail "no XREAD"
	rcli XADD "$S" '*' msg new >/dev/null
	wait_until 20 lines_at_least 1 "$T/f.out" || fail "nothing read"
	kill -TERM "$(cat "$T/f.pid")"
	wait "$fbg" && st=0 || st=$?
	assert_equal "status $st: $(cat "$T/f.err")" "status 0: "
	assert_equal "$(payloads "$T/f.out")" new
}

# ---------------------------------------------------------------------------
# Consumer groups

@test "redis: two consumers of a group split the entries, each to exactly one" {
	bg "$T/a.pid" "$T/a.out" "$T/a.err" "$RELAY" -i "$U" --group g --consumer a
	local abg=$BG bbg st i
	wait_until 20 client_in xreadgroup || fail "a does not read"
	bg "$T/b.pid" "$T/b.out" "$T/b.err" "$RELAY" -i "$U" --group g --consumer b
	bbg=$BG
	wait_until 20 eval '[ "$(rcli XINFO CONSUMERS "$S" g | grep -cx "[ab]")" -eq 2 ]' ||
		fail "b does not read"
	# one at a time: the consumer that waited longest gets the next one
	for i in $(seq 1 12); do
		rcli XADD "$S" '*' msg "n$i" >/dev/null
		wait_until 20 eval '[ "$(cat "$T/a.out" "$T/b.out" | wc -l)" -ge "$i" ]' ||
			fail "entry $i was not read"
	done
	# and a burst
	numbered 2000 "$T/in"
	relay -o "$U" <"$T/in"
	wait_until 20 eval '[ "$(cat "$T/a.out" "$T/b.out" | wc -l)" -ge 2012 ]' ||
		fail "read $(cat "$T/a.out" "$T/b.out" | wc -l) of 2012"
	kill -TERM "$(cat "$T/a.pid")" "$(cat "$T/b.pid")"
	wait "$abg" && st=0 || st=$?
	assert_equal "a: $st $(cat "$T/a.err")" "a: 0 "
	wait "$bbg" && st=0 || st=$?
	assert_equal "b: $st $(cat "$T/b.err")" "b: 0 "
	[ -s "$T/a.out" ] && [ -s "$T/b.out" ] || fail "a read $(wc -l <"$T/a.out"), b $(wc -l <"$T/b.out")"
	{ seq 1 12 | sed 's/^/n/'; payloads "$T/in"; } | sort >"$T/want"
	cat "$T/a.out" "$T/b.out" | payloads /dev/stdin | sort >"$T/got"
	cmp "$T/want" "$T/got" || fail "$(diff "$T/want" "$T/got" | head)"
	assert_equal "$(pending g)" 0
}

@test "redis: a consumer first reads its own pending entries again, then new ones; the group starts at --from" {
	numbered 10 "$T/in"
	relay -o "$U" <"$T/in"
	rcli XGROUP CREATE "$S" g 0 >/dev/null
	# c1 takes 4 entries and dies before acknowledging them
	rcli XREADGROUP GROUP g c1 COUNT 4 STREAMS "$S" '>' >/dev/null
	assert_equal "$(pending g)" 4
	relay -i "$U" --group g --consumer c1 --from start -o "$T/out"
	payloads "$T/in" | cmp - <(payloads "$T/out")
	assert_equal "$(pending g)" 0
	# a new group from the end sees nothing of it, and a group that
	# exists keeps its place whatever --from says
	relay -i "$U" --group g2 --consumer x --from time:2000-01-01T00:00:00 -o "$T/g2"
	assert_equal "$(wc -l <"$T/g2")" 10
	relay -i "$U" --group g2 --consumer x --from start -o "$T/g2b"
	[ ! -s "$T/g2b" ]
}

@test "redis: the default consumer name is HOSTNAME-PID" {
	numbered 3 "$T/in"
	relay -o "$U" <"$T/in"
	relay -i "$U" --group g --from start -o "$T/out"
	assert_equal "$(wc -l <"$T/out")" 3
	rcli XINFO CONSUMERS "$S" g | grep -Eqx "$(hostname)-[0-9]+" ||
		fail "$(rcli XINFO CONSUMERS "$S" g)"
}

# stalled_consumer N NAME: N entries in $S, a relay of group g, consumer
# NAME, writing to the FIFO $T/fifo that this shell holds open and does
# not read: the relay stalls once the pipe is full. Sets $RBG.
stalled_consumer() {
	numbered "$1" "$T/in"
	relay -o "$U" <"$T/in"
	mkfifo "$T/fifo"
	exec 6<>"$T/fifo"
	bg "$T/r.pid" /dev/null "$T/r.err" "$RELAY" -i "$U" --group g \
	    --consumer "$2" --from start -o "$T/fifo"
	RBG=$BG
}

# pipe_full: the FIFO's pipe is full: it holds 60 KiB or more of its 64
# KiB (a writer fills it by pages).
pipe_full() {
	python3 -c 'import array, fcntl, os, termios
b = array.array("i", [0])
fcntl.ioctl(6, termios.FIONREAD, b)
os._exit(0 if b[0] >= 61440 else 1)'
}

# drain FILE: appends what the FIFO holds now to FILE, in one read: dd
# reading on until the pipe is empty would also take what the writer
# adds meanwhile (seen: 96 KiB of a 64 KiB pipe, and in one run of the
# kill -9 test so much that too little was left to fill the pipe again).
drain() {
	dd iflag=nonblock bs=1M count=1 <&6 >>"$1" 2>/dev/null || true
}

@test "redis: kill -9 of a group consumer whose output stalled: after a restart, every entry is output at least once" {
	stalled_consumer 5000 c1
	wait_until 20 pipe_full || fail "the pipe did not fill"
	# let the first batch through: it is then acknowledged
	drain "$T/part1"
	wait_until 20 eval '[ "$(rcli XINFO GROUPS "$S" | sed -n "/^entries-read$/{n;p}")" -gt 1024 ]' ||
		fail "no second batch"
	wait_until 20 pipe_full || fail "the pipe did not fill again"
	kill -KILL "$(cat "$T/r.pid")"
	wait "$RBG" || true
	drain "$T/part1"
	exec 6>&-
	n1=$(complete "$T/part1" | wc -l)
	[ "$n1" -gt 1024 ] || fail "only $n1 lines before the kill"
	[ "$(pending g)" -gt 0 ] || fail "nothing pending"
	relay -i "$U" --group g --consumer c1 --from start -o "$T/part2"
	n2=$(wc -l <"$T/part2")
	# what was acknowledged is not read again
	[ "$n2" -lt 5000 ] || fail "all $n2 read again"
	{ complete "$T/part1"; cat "$T/part2"; } | payloads /dev/stdin | sort -u >"$T/got"
	payloads "$T/in" | sort >"$T/want"
	cmp "$T/want" "$T/got" || fail "lost: $(comm -23 "$T/want" "$T/got" | head -n 3)"
	assert_equal "$(pending g)" 0
}

@test "redis: merging a group input with another, the entry held for the merge is not acknowledged before it is output" {
	numbered 3 "$T/in"
	relay -o "$U" <"$T/in"
	mkfifo "$T/b"
	exec 7<>"$T/b"
	printf '[2000-01-01T00:00:00.000 | b | 1 | 0] b-1\n' >&7
	# the merge writes b-1, the earlier, and holds m-1 of the group
	# input while it waits for the next line of the FIFO, flushing and
	# committing as it waits
	bg "$T/r.pid" "$T/out1" "$T/r.err" "$RELAY" -i "$U" --group g \
	    --consumer c1 --from start -i "$T/b"
	RBG=$BG
	wait_until 20 eval '[ -s "$T/out1" ] && [[ "$(cat "/proc/$(cat "$T/r.pid")/wchan" 2>/dev/null)" == *pipe_read ]]' ||
		fail "relay did not wait on the FIFO"
	kill -KILL "$(cat "$T/r.pid")"
	wait "$RBG" || true
	exec 7>&-
	assert_equal "$(payloads "$T/out1")" "b-1"
	assert_equal "$(pending g)" 3
	relay -i "$U" --group g --consumer c1 --from start -o "$T/out2"
	assert_equal "$(payloads "$T/out2" | tr '\n' ' ')" "m-1 m-2 m-3 "
	assert_equal "$(pending g)" 0
}

@test "redis: SIGTERM of a group consumer whose output stalled: after a restart, every entry is output exactly once" {
	stalled_consumer 5000 c1
	wait_until 20 pipe_full || fail "the pipe did not fill"
	kill -TERM "$(cat "$T/r.pid")"
	# it writes out what it has, then ends
	while kill -0 "$(cat "$T/r.pid")" 2>/dev/null; do
		drain "$T/part1"
		sleep 0.02
	done
	wait "$RBG" && st=0 || st=$?
	drain "$T/part1"
	exec 6>&-
	assert_equal "status $st: $(cat "$T/r.err")" "status 0: "
	n1=$(wc -l <"$T/part1")
	[ "$n1" -gt 0 ] && [ "$n1" -lt 5000 ] || fail "$n1 lines before the stop"
	relay -i "$U" --group g --consumer c1 --from start -o "$T/part2"
	cat "$T/part1" "$T/part2" | payloads /dev/stdin | sort >"$T/got"
	payloads "$T/in" | sort >"$T/want"
	cmp "$T/want" "$T/got" || fail "$(diff "$T/want" "$T/got" | head -n 4)"
	assert_equal "$(pending g)" 0
}

@test "redis: --claim-idle takes over the entries another consumer left pending" {
	numbered 50 "$T/in"
	relay -o "$U" <"$T/in"
	rcli XGROUP CREATE "$S" g 0 >/dev/null
	rcli XREADGROUP GROUP g dead COUNT 20 STREAMS "$S" '>' >/dev/null
	# without --claim-idle they stay with it
	relay -i "$U" --group g --consumer b --from start -o "$T/b1"
	assert_equal "$(wc -l <"$T/b1")" 30
	assert_equal "$(pending g)" 20
	sleep 0.01	# idle for at least 1 ms
	relay -i "$U" --group g --consumer c --from start --claim-idle 1ms -o "$T/c"
	assert_equal "$(wc -l <"$T/c")" 20
	cat "$T/b1" "$T/c" | payloads /dev/stdin | sort >"$T/got"
	payloads "$T/in" | sort | cmp - "$T/got"
	assert_equal "$(pending g)" 0
}

@test "redis: a follower with --claim-idle takes over entries that go idle while it runs" {
	rcli XGROUP CREATE "$S" g '$' MKSTREAM >/dev/null
	rcli XADD "$S" '*' msg one >/dev/null
	rcli XADD "$S" '*' msg two >/dev/null
	# another consumer takes them and never acknowledges them
	rcli XREADGROUP GROUP g dead COUNT 2 STREAMS "$S" '>' >/dev/null
	bg "$T/c.pid" "$T/c.out" "$T/c.err" "$RELAY" -i "$U" --group g --consumer c --claim-idle 1s
	local cbg=$BG st
	# c blocks for new entries before they have been idle for 1 s: its
	# first claim took nothing
	wait_until 20 blocked_in xreadgroup || fail "c does not wait"
	[ ! -s "$T/c.out" ] || fail "claimed at once: $(cat "$T/c.out")"
	wait_until 20 lines_at_least 2 "$T/c.out" || fail "c took over $(wc -l <"$T/c.out")"
	kill -TERM "$(cat "$T/c.pid")"
	wait "$cbg" && st=0 || st=$?
	assert_equal "status $st: $(cat "$T/c.err")" "status 0: "
	assert_equal "$(payloads "$T/c.out" | tr '\n' ' ')" "one two "
	assert_equal "$(pending g)" 0
	rcli XINFO CONSUMERS "$S" g | grep -qx c
}

# ---------------------------------------------------------------------------
# Credentials and errors

@test "redis: a password from the URI or REDISCLI_AUTH; without it, or wrong, an error naming the URI without the password" {
	local ua=redis://127.0.0.1:$PA/$S
	printf 'one\n' | relay -o "redis://:s3cret%21@127.0.0.1:$PA/$S"
	printf 'two\n' | REDISCLI_AUTH='s3cret!' relay -o "$ua"
	printf 'three\n' | relay -o "redis://default:s3cret%21@127.0.0.1:$PA/$S"
	REDISCLI_AUTH='s3cret!' relay -i "$ua" --from start -o "$T/out"
	assert_equal "$(payloads "$T/out" | tr '\n' ' ')" "one two three "
	run relay -i "$ua" --from start
	assert_failure 1
	assert_output "relay: $ua: TYPE: NOAUTH Authentication required."
	run relay -i "redis://:wrong@127.0.0.1:$PA/$S" --from start
	assert_failure 1
	assert_output --partial "relay: redis://:***@127.0.0.1:$PA/$S: AUTH: WRONGPASS"
	refute_output --partial wrong@
	# a message that cannot be a line: the warning names the input,
	# without the password, and the entry by its ID
	local id
	id=$(REDISCLI_AUTH='s3cret!' redis-cli -p "$PA" XADD "$S" '*' payload "$(printf 'a\nb')")
	run relay -i "redis://default:s3cret%21@127.0.0.1:$PA/$S" --from start
	assert_failure 1
	assert_line "relay: redis://default:***@127.0.0.1:$PA/$S: entry $id: stream $S seq $(printf '%s%06d' "${id%-*}" "${id#*-}"): payload holds a newline; not written to stdout"
	refute_output --partial s3cret
	# the whole user part is the password when it has no colon
	run relay -i "redis://s3cret%21@127.0.0.1:$PA/$S" --from start
	assert_failure 1
	assert_line --partial "relay: redis://:***@127.0.0.1:$PA/$S: entry $id: "
	refute_output --partial s3cret
}

@test "redis: %00 in a stream name, user or password is refused, not cut short there" {
	local -a cases=(
		"redis://127.0.0.1:$P/$S%00x|relay: redis://127.0.0.1:$P/$S%00x: stream name: %00 (a NUL byte) at byte ${#S}"
		"redis://:pw%00x@127.0.0.1:$P/$S|relay: redis://:***@127.0.0.1:$P/$S: password: %00 (a NUL byte) at byte 3 is not allowed"
		"redis://u%00:pw@127.0.0.1:$P/$S|user: %00 (a NUL byte) at byte 2 is not allowed"
	)
	local c u want
	# the byte of the NUL, 1-based
	cases[0]=${cases[0]/at byte ${#S}/at byte $((${#S} + 1)) is not allowed}
	for c in "${cases[@]}"; do
		u=${c%%|*} want=${c#*|}
		runf relay -o "$u" <<<'one'
		assert_equal "$u: status $status" "$u: status 1"
		grep -qF -- "$want" "$T/err" || fail "$u: stderr: $(cat "$T/err")"
		! grep -q 'pw' "$T/err" || fail "$u: password shown"
		runf relay -i "$u" --from start
		assert_equal "$u: status $status" "$u: status 1"
		grep -qF -- "$want" "$T/err" || fail "$u: stderr: $(cat "$T/err")"
	done
	# nothing went to the stream the name was cut to
	assert_equal "$(rcli EXISTS "$S")" 0
	# other escapes are decoded
	relay -o "redis://127.0.0.1:$P/$S%41" <<<'two'
	assert_equal "$(rcli XLEN "${S}A")" 1
}

@test "redis: a stream name of 400 bytes is shortened in messages, never the reason after it" {
	local long
	long=$S-$(printf 'n%.0s' $(seq 400))
	rcli SET "$long" text >/dev/null
	runf relay -o "redis://127.0.0.1:$P/$long" </dev/null
	assert_equal "$status" 1
	run cat "$T/err"
	assert_output --partial "relay: redis://127.0.0.1:$P/$S-nnn"
	assert_output --partial "nnn...nnn"
	assert_output --partial "nnn' holds a string, not a stream"
	runf relay -o "redis://127.0.0.1:99999/$long" </dev/null
	assert_equal "$status" 1
	run cat "$T/err"
	assert_output --partial "nnn: bad port '99999'"
}

@test "redis: a refused connection names the URI and exits 1; so do bad URIs and a key that is not a stream" {
	port=$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	run relay -i "redis://127.0.0.1:$port/x" --from start
	assert_failure 1
	assert_output "relay: redis://127.0.0.1:$port/x: cannot connect to 127.0.0.1 port $port: Connection refused"
	run relay -o "redis://127.0.0.1:$port/x" </dev/null
	assert_failure 1
	assert_output --partial "redis://127.0.0.1:$port/x: cannot connect"
	run relay -o "redis://127.0.0.1:$P" </dev/null
	assert_failure 1
	assert_output --partial "no stream"
	run relay -o "redis://127.0.0.1:99999/x" </dev/null
	assert_failure 1
	assert_output --partial "bad port"
	rcli SET "$S" text >/dev/null
	run relay -o "$U" </dev/null
	assert_failure 1
	assert_output "relay: $U: key '$S' holds a string, not a stream"
}

@test "redis: an error reply to XADD ends relay with status 1 and names the URI" {
	printf 'one\n' | relay -o "$U"
	# the stream turns into a string under the writer's feet: every
	# XADD of the batch fails
	numbered 100 "$T/in"
	mkfifo "$T/fifo"
	exec 6<>"$T/fifo"
	BG_IN=$T/fifo bg "$T/r.pid" /dev/null "$T/r.err" "$RELAY" -o "$U"
	local rbg=$BG st
	cat "$T/in" >&6
	wait_until 20 eval '[ "$(rcli XLEN "$S")" -ge 101 ]' || fail "not written"
	rcli DEL "$S" >/dev/null
	rcli SET "$S" text >/dev/null
	cat "$T/in" >&6
	exec 6>&-
	wait "$rbg" && st=0 || st=$?
	assert_equal "$st" 1
	run cat "$T/r.err"
	assert_output "relay: $U: XADD: WRONGTYPE Operation against a key holding the wrong kind of value"
}
