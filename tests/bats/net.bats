#!/usr/bin/env bats
# relay(1) with network sources (tcp://, unix://, udp://: it listens) and
# sinks (it connects), against clients and servers nobody here wrote (nc,
# socat) and a many-client tool (tests/tools/net-clients.py). Every
# listener is on 127.0.0.1 on a free port, or a socket in the test's own
# directory; background commands run under timeout(1), waits poll for a
# state.

load helper

RELAY=$LS_BIN/relay
CLOCK=$LS_BIN/clock
CLIENTS=$REPO/tests/tools/net-clients.py
TAKE=$REPO/tests/tools/net-take.py
LIMIT=40

setup() {
	ls_setup
	[ -x "$RELAY" ] || fail "$RELAY is missing: run 'make' (LS_BIN)"
	P=$(free_port)
}

teardown() {
	bg_kill_all
}

listening_tcp() {
	[ -n "$(ss -Hltn "sport = :$P")" ]
}

listening_udp() {
	[ -n "$(ss -Hlun "sport = :$P")" ]
}

# listen NAME [PROGRAM] ARGS...: relay (or PROGRAM) ARGS in the
# background as NAME, once its tcp:// (or udp://) listener is up.
listen() {
	local n=$1 bin=$RELAY
	shift
	if [ -x "$1" ]; then
		bin=$1
		shift
	fi
	start "$n" "$bin" "$@"
	if [[ "$*" == *udp://* ]]; then
		wait_until 10 listening_udp || fail "no udp listener on $P"
	else
		wait_until 10 listening_tcp || fail "no listener on $P"
	fi
}

# clients_now NAME N: NAME's --stats (SIGUSR1) count N clients now.
clients_now() {
	kill -USR1 "$(cat "$T/$1.pid")"
	sleep 0.05
	[ "$(stat_of clients "$T/$1.err")" = "$2" ]
}

# serving_tcp: a socket of port $P listens or has a client: socat
# without fork closes its listener once it has accepted one, which a
# client trying to connect all the while may do before a look sees it.
serving_tcp() {
	[ -n "$(ss -Htn state listening state established "sport = :$P")" ]
}

# a server nobody here wrote, writing what it gets to $T/got.N
serve() {
	start "srv$1" socat -u "TCP-LISTEN:$P,reuseaddr,bind=127.0.0.1" \
	    "OPEN:$T/got.$1,creat,append"
	wait_until 10 serving_tcp ||
	    fail "socat did not listen on $P: $(cat "$T/srv$1.err")"
}

# has TEXT FILE: FILE holds the fixed string TEXT.
has() {
	grep -qF -- "$1" "$2"
}

# payloads FILE: the payloads of a file of lines with meta blocks.
payloads() {
	sed 's/^\[[^]]*\] //' "$1"
}

# stat_of NAME FILE: counter NAME of the last --stats line of FILE.
stat_of() {
	grep '^{"program"' "$2" | tail -n 1 |
	    sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}

@test "tcp: lines from nc and socat arrive; plain lines get the defaults" {
	listen r -i "tcp://127.0.0.1:$P"
	echo 'hello from nc' | nc -q 0 127.0.0.1 "$P"
	wait_until 10 lines_at_least 1 "$T/r.out"
	printf '[2024-01-01T00:00:00.000 | k1 | 7 | 2] with meta\nplain again\n' |
	    socat -u - "TCP:127.0.0.1:$P"
	wait_until 10 lines_at_least 3 "$T/r.out"
	stop r
	assert_equal "$status" 0
	run payloads "$T/r.out"
	assert_output "hello from nc
with meta
plain again"
	# the defaults: key broadcast, shard 0, sequences from 0, time now
	run sed -n 's/^\[[^|]*| \([^]]*\)\] .*/\1/p' "$T/r.out"
	assert_output "broadcast | 0 | 0
k1 | 7 | 2
broadcast | 1 | 0"
	run sed -n '2s/ |.*//p' "$T/r.out"
	assert_output "[2024-01-01T00:00:00.000"
	[ ! -s "$T/r.err" ] || fail "stderr: $(cat "$T/r.err")"
}

@test "tcp: a client's End-of-Stream ends that client, not the input" {
	listen r -i "tcp://127.0.0.1:$P"
	printf 'before\n[2024-01-01T00:00:00.000 | %s | 0 | 0] EOS\nafter\n' \
	    "$EOS_KEY" | nc -q 0 127.0.0.1 "$P"
	echo other | nc -q 0 127.0.0.1 "$P"
	wait_until 10 lines_at_least 2 "$T/r.out"
	stop r
	assert_equal "$status" 0
	run payloads "$T/r.out"
	assert_output "before
other"
}

@test "tcp: SIGTERM writes End-of-Stream to a .ss output, everything received in it" {
	listen r -i "tcp://127.0.0.1:$P" -o "$T/out.ss"
	# a client that stays connected: its lines are in before the stop
	mkfifo "$T/in"
	socat -u - "TCP:127.0.0.1:$P" <"$T/in" &
	exec 7>"$T/in"
	seq 1 500 >&7
	printf 'unfinished' >&7
	wait_until 10 eval '[ -s "$T/out.ss" ] || kill -USR1 $(cat "$T/r.pid")'
	# nothing is flushed until the input waits; poll through ss-decode
	wait_until 10 eval '[ "$("$SS_DECODE" "$T/out.ss" 2>/dev/null | wc -l)" -ge 500 ]'
	stop r
	exec 7>&-
	assert_equal "$status" 0
	run "$SS_DECODE" "$T/out.ss"
	assert_success
	assert_equal "$(echo "$output" | wc -l)" 501
	assert_equal "$(echo "$output" | tail -n 1 | sed 's/.*| \(SEA_[A-Z_]*\) .* EOS$/\1/')" "$EOS_KEY"
	assert_equal "$(echo "$output" | head -n 500 | sed 's/^\[[^]]*\] //')" "$(seq 1 500)"
}

@test "tcp: what clients sent before SIGTERM is written, even unread and unaccepted then" {
	listen r -i "tcp://127.0.0.1:$P" -o "$T/out.ss"
	kill -STOP "$(cat "$T/r.pid")"
	# the kernel takes these while relay is stopped (nc would wait
	# for relay to answer the end)
	send() {
		python3 -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read())
s.close()' "$P"
	}
	seq 1 1000 | send
	seq 1001 1500 | send
	kill -TERM "$(cat "$T/r.pid")"
	kill -CONT "$(cat "$T/r.pid")"
	finish r
	assert_equal "$status" 0
	run "$SS_DECODE" "$T/out.ss"
	assert_success
	assert_equal "$(echo "$output" | sed 's/^\[[^]]*\] //' | head -n -1 | sort -n)" "$(seq 1 1500)"
	assert_equal "$(echo "$output" | tail -n 1 | sed 's/.*| \(SEA_[A-Z_]*\) .* EOS$/\1/')" "$EOS_KEY"
}

@test "unix: a socket of the mode asked, socat and nc clients, removed at the end" {
	local s=$T/s.sock
	start r "$RELAY" -i "unix://$s?mode=0620"
	wait_until 10 test -S "$s"
	assert_equal "$(stat -c %a "$s")" 620
	echo one | socat -u - "UNIX-CONNECT:$s"
	wait_until 10 lines_at_least 1 "$T/r.out"
	echo two | nc -q 0 -U "$s"
	wait_until 10 lines_at_least 2 "$T/r.out"
	stop r
	assert_equal "$status" 0
	run payloads "$T/r.out"
	assert_output "one
two"
	[ ! -e "$s" ] || fail "socket left behind"
}

@test "unix: a path that is not a socket is not replaced; a live one is refused" {
	local s=$T/s.sock
	echo keep >"$s"
	run -1 timeout 10 "$RELAY" -i "unix://$s"
	assert_output "relay: unix://$s: $s exists and is not a socket: not replaced"
	assert_equal "$(cat "$s")" keep
	rm "$s"
	start r "$RELAY" -i "unix://$s"
	wait_until 10 test -S "$s"
	run -1 timeout 10 "$RELAY" -i "unix://$s"
	assert_output "relay: unix://$s: a server listens on $s already"
	stop r
	assert_equal "$status" 0
}

@test "tcp and unix: 100 clients of 10,000 messages each, every message once, each client in order" {
	local s=$T/s.sock c n=100 m=10000
	for u in "tcp://127.0.0.1:$P" "unix://$s"; do
		rm -f "$T/r.out"
		if [ "${u%%:*}" = tcp ]; then
			listen r -i "$u" --stats
			c=127.0.0.1:$P
		else
			start r "$RELAY" -i "$u" --stats
			wait_until 10 test -S "$s"
			c=$s
		fi
		timeout 120 python3 "$CLIENTS" "$c" "$n" "$m" ||
		    fail "$u: the clients failed"
		wait_until 120 lines_at_least $((n * m)) "$T/r.out" ||
		    fail "$u: $(wc -l <"$T/r.out") lines"
		stop r
		assert_equal "$u: $status" "$u: 0"
		payloads "$T/r.out" >"$T/got"
		assert_equal "$u: $(sort -u "$T/got" | wc -l)" "$u: $((n * m))"
		assert_equal "$u: $(wc -l <"$T/got")" "$u: $((n * m))"
		# each client's messages in the order it sent them
		run awk '{ c = substr($1, 2); k = substr($2, 2)
			if (k != next_m[c] + 0) { print "client " c ": m" k " after m" next_m[c] - 1; exit 1 }
			next_m[c] = k + 1 }' "$T/got"
		assert_success
		assert_equal "$u: $(stat_of accepted "$T/r.err")" "$u: $n"
		assert_equal "$u: $(stat_of partial "$T/r.err")" "$u: 0"
	done
}

@test "tcp: a client killed mid-line loses only that line, reported" {
	listen r -i "tcp://127.0.0.1:$P" --stats
	mkfifo "$T/in"
	start nc nc 127.0.0.1 "$P"
	# the killed client's first line is whole, its second is not
	BG_IN=$T/in start k nc 127.0.0.1 "$P"
	exec 7>"$T/in"
	printf 'first of k\nhalf of a li' >&7
	echo 'other client' | nc -q 0 127.0.0.1 "$P"
	wait_until 10 lines_at_least 2 "$T/r.out"
	kill -KILL "$(cat "$T/k.pid")"
	wait_until 10 has "disconnected mid-line" "$T/r.err"
	echo 'after it' | nc -q 0 127.0.0.1 "$P"
	wait_until 10 lines_at_least 3 "$T/r.out"
	stop r
	exec 7>&-
	assert_equal "$status" 0
	run payloads "$T/r.out"
	assert_line "first of k"
	assert_line "other client"
	assert_line "after it"
	assert_equal "$(wc -l <"$T/r.out")" 3
	run grep -c "disconnected mid-line" "$T/r.err"
	assert_output 1
	run grep "disconnected" "$T/r.err"
	assert_output --regexp "^relay: tcp://127.0.0.1:$P: client 127.0.0.1:[0-9]+ line 2: disconnected mid-line; its 12 bytes are left out$"
	assert_equal "$(stat_of partial "$T/r.err")" 1
}

@test "tcp: a garbage-sending client is named by address and line; the others go on" {
	listen r -i "tcp://127.0.0.1:$P" --on-bad-line skip
	echo good1 | nc -q 0 127.0.0.1 "$P"
	printf 'fine\n[2024-13-01T00:00:00.000 | k] bad month\n[unclosed\nstill fine\n' |
	    nc -q 0 127.0.0.1 "$P"
	echo good2 | nc -q 0 127.0.0.1 "$P"
	wait_until 10 lines_at_least 4 "$T/r.out"
	stop r
	assert_equal "$status" 1	# lines were skipped
	run payloads "$T/r.out"
	assert_output "good1
fine
still fine
good2"
	run grep -c "(skipped)" "$T/r.err"
	assert_output 2
	grep -qE "^relay: tcp://127.0.0.1:$P: client 127.0.0.1:[0-9]+ line 2: .* \\(skipped\\)$" "$T/r.err" ||
	    fail "$(cat "$T/r.err")"
	grep -qE "^relay: tcp://127.0.0.1:$P: client 127.0.0.1:[0-9]+ line 3: column 1: meta block has no closing '\\]' \\(skipped\\)$" "$T/r.err" ||
	    fail "$(cat "$T/r.err")"
	has "relay: skipped: 2" "$T/r.err"
}

@test "tcp: --on-bad-line fail ends at a client's bad line; raw takes it whole" {
	listen r -i "tcp://127.0.0.1:$P" -o "$T/out.ss"
	printf 'ok\n[bad\n' | nc -q 0 127.0.0.1 "$P"
	finish r
	assert_equal "$status" 1
	run cat "$T/r.err"
	assert_output --regexp "^relay: tcp://127.0.0.1:$P: client 127.0.0.1:[0-9]+ line 2: column 1: meta block has no closing '\\]'$"
	P=$(free_port)
	listen r -i "tcp://127.0.0.1:$P" --on-bad-line raw
	printf 'ok\n[bad\n' | nc -q 0 127.0.0.1 "$P"
	wait_until 10 lines_at_least 2 "$T/r.out"
	stop r
	assert_equal "$status" 0
	run payloads "$T/r.out"
	assert_output "ok
[bad"
	assert_equal "$(cat "$T/r.err")" "relay: tcp://127.0.0.1:$P: 1 lines taken raw"
}

@test "tcp: --idle-timeout closes a silent client and a slow-loris" {
	listen r -i "tcp://127.0.0.1:$P" --idle-timeout 300ms --stats
	mkfifo "$T/in1" "$T/in2"
	BG_IN=$T/in1 start c1 nc 127.0.0.1 "$P"
	BG_IN=$T/in2 start c2 nc 127.0.0.1 "$P"
	exec 7>"$T/in1" 8>"$T/in2"
	printf 'a slow li' >&8
	wait_until 10 eval '[ "$(grep -c "silent for 300 ms" "$T/r.err")" -eq 2 ]' ||
	    fail "$(cat "$T/r.err")"
	# the listener still takes new clients
	echo after | nc -q 0 127.0.0.1 "$P"
	wait_until 10 lines_at_least 1 "$T/r.out"
	stop r
	exec 7>&- 8>&-
	assert_equal "$status" 0
	run payloads "$T/r.out"
	assert_output after
	grep -qE "^relay: tcp://127.0.0.1:$P: client 127.0.0.1:[0-9]+: silent for 300 ms \\(--idle-timeout\\): closed$" "$T/r.err"
	grep -qE "^relay: tcp://127.0.0.1:$P: client 127.0.0.1:[0-9]+: silent for 300 ms \\(--idle-timeout\\): closed with an unfinished line left out$" "$T/r.err"
	assert_equal "$(stat_of idle_closed "$T/r.err")" 2
	assert_equal "$(stat_of partial "$T/r.err")" 1
}

@test "tcp: --idle-timeout: bytes waiting while relay's output was stalled are not silence" {
	mkfifo "$T/o"
	listen r -i "tcp://127.0.0.1:$P" --idle-timeout 300ms -o "$T/o"
	# the output open, and not read
	exec 8<"$T/o"
	# sends 50000 short lines (each read of them is more output than
	# the pipe and relay's buffer take), then stays until the server
	# closes it
	start c python3 -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"".join(b"%d\n" % i for i in range(50000)))
s.settimeout(30)
s.recv(1)' "$P"
	# nobody reads the output for longer than the idle timeout
	wait_until 10 eval '[ -n "$(ss -Htn state established "sport = :$P" | awk "\$1 > 0")" ]' ||
	    fail "no bytes waiting"
	sleep 1
	cat <&8 >"$T/got" &
	exec 8<&-
	finish c
	assert_equal "$status" 0
	stop r
	wait
	assert_equal "$status" 0
	assert_equal "$(payloads "$T/got")" "$(seq 0 49999)"
	run cat "$T/r.err"
	assert_output --regexp "^relay: tcp://127.0.0.1:$P: client 127.0.0.1:[0-9]+: silent for 300 ms \(--idle-timeout\): closed$"
}

@test "tcp: --idle-timeout closes a client trickling a line a byte at a time" {
	listen r -i "tcp://127.0.0.1:$P" --idle-timeout 300ms --stats
	echo 'whole' | nc -q 0 127.0.0.1 "$P"
	wait_until 10 lines_at_least 1 "$T/r.out"
	# a byte every 20 ms, for up to 10 s, until the server closes it
	timeout 20 python3 -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"first\n")
try:
    for i in range(500):
        s.sendall(b"x")
        time.sleep(0.02)
except OSError:
    sys.exit(0)
sys.exit(1)' "$P" || fail "the trickling client was not closed"
	wait_until 10 lines_at_least 2 "$T/r.out"
	stop r
	assert_equal "$status" 0
	run payloads "$T/r.out"
	assert_output "whole
first"
	run grep -v '^{' "$T/r.err"
	assert_output --regexp "^relay: tcp://127.0.0.1:$P: client 127.0.0.1:[0-9]+ line 2: unfinished after 300 ms \(--idle-timeout\): closed, the line left out$"
	assert_equal "$(stat_of idle_closed "$T/r.err")" 1
	assert_equal "$(stat_of partial "$T/r.err")" 1
}

@test "tcp: --max-clients refuses the one too many, and takes clients again once one left" {
	listen r -i "tcp://127.0.0.1:$P" --max-clients 2 --stats
	mkfifo "$T/in1" "$T/in2"
	BG_IN=$T/in1 start c1 nc -N 127.0.0.1 "$P"
	BG_IN=$T/in2 start c2 nc -N 127.0.0.1 "$P"
	exec 7>"$T/in1" 8>"$T/in2"
	echo from1 >&7
	wait_until 10 lines_at_least 1 "$T/r.out"
	echo from2 >&8
	wait_until 10 lines_at_least 2 "$T/r.out"
	echo refused | nc -q 1 127.0.0.1 "$P" || true
	wait_until 10 has "refused: 2 clients already (--max-clients)" "$T/r.err"
	exec 7>&-
	finish c1
	wait_until 10 clients_now r 1 || fail "$(cat "$T/r.err")"
	echo taken | nc -q 0 127.0.0.1 "$P"
	wait_until 10 lines_at_least 3 "$T/r.out"
	stop r
	exec 8>&-
	assert_equal "$status" 0
	run payloads "$T/r.out"
	assert_output "from1
from2
taken"
	run grep "refused:" "$T/r.err"
	assert_output --regexp "^relay: tcp://127.0.0.1:$P: client 127.0.0.1:[0-9]+ refused: 2 clients already \\(--max-clients\\)$"
	assert_equal "$(stat_of refused "$T/r.err")" 1
	assert_equal "$(stat_of accepted "$T/r.err")" 4
	# the last --stats line is JSON, its listening counters as at the end
	grep '^{"program' "$T/r.err" | tail -n 1 | jq -e '.clients == 0 and
	    .accepted == 4 and .refused == 1 and .idle_closed == 0 and
	    .partial == 0 and .too_long == 0 and .in == 3 and .out == 3' ||
	    fail "$(grep '^{' "$T/r.err" | tail -n 1)"
}

@test "tcp: --max-line: a longer line is that client's bad line, the client closed" {
	listen r -i "tcp://127.0.0.1:$P" --max-line 64 --on-bad-line skip --stats
	local long
	long=$(printf 'x%.0s' $(seq 1 65))
	printf 'short\n%s\nnever read\n' "$long" | nc -q 0 127.0.0.1 "$P"
	# exactly 64 bytes is a line
	printf '%s\n' "${long:1}" | nc -q 0 127.0.0.1 "$P"
	wait_until 10 has "(--max-line)" "$T/r.err"
	wait_until 10 lines_at_least 2 "$T/r.out"
	stop r
	assert_equal "$status" 1
	run payloads "$T/r.out"
	assert_output "short
${long:1}"
	run grep max-line "$T/r.err"
	assert_output --regexp "^relay: tcp://127.0.0.1:$P: client 127.0.0.1:[0-9]+ line 2: longer than 64 bytes \\(--max-line\\); client closed \\(skipped\\)$"
	assert_equal "$(stat_of too_long "$T/r.err")" 1
}

@test "udp: a datagram of several lines is that many messages" {
	listen r -i "udp://127.0.0.1:$P" --stats
	printf 'a\nb\nc' | socat -u - "UDP-SENDTO:127.0.0.1:$P"
	wait_until 10 lines_at_least 3 "$T/r.out"
	printf '[2024-01-01T00:00:00.000 | u | 9] d\n' | socat -u - "UDP-SENDTO:127.0.0.1:$P"
	wait_until 10 lines_at_least 4 "$T/r.out"
	stop r
	assert_equal "$status" 0
	run payloads "$T/r.out"
	assert_output "a
b
c
d"
	run sed -n '4s/^\[[^|]*| //p' "$T/r.out"
	assert_output "u | 9 | 0] d"
}

@test "udp: datagrams the kernel dropped while relay was stopped are counted as overruns" {
	local n=3000 inn ovr
	listen r -i "udp://127.0.0.1:$P" --stats
	kill -STOP "$(cat "$T/r.pid")"
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[2])):
    s.sendto(b"datagram %d\n" % i, ("127.0.0.1", int(sys.argv[1])))' "$P" "$n"
	kill -CONT "$(cat "$T/r.pid")"
	# every datagram is written or counted
	wait_until 20 eval 'kill -USR1 $(cat "$T/r.pid"); sleep 0.05
	    inn=$(stat_of in "$T/r.err"); ovr=$(stat_of overruns "$T/r.err")
	    [ $((inn + ovr)) -eq $n ]' ||
	    fail "in $(stat_of in "$T/r.err"), overruns $(stat_of overruns "$T/r.err")"
	stop r
	assert_equal "$status" 0
	ovr=$(stat_of overruns "$T/r.err")
	[ "$ovr" -gt 0 ] || fail "no overruns: the test needs a fuller buffer"
	assert_equal "$(wc -l <"$T/r.out")" $((n - ovr))
	# those that came, in the order sent
	payloads "$T/r.out" | awk '{ if ($2 + 0 <= last && NR > 1) { print "out of order: " $0; exit 1 } last = $2 + 0 }'
}

@test "udp sink: a datagram a message to a udp source; one too large refused with its seq" {
	listen r -i "udp://127.0.0.1:$P"
	{
		echo one
		echo two
		python3 -c 'print("y" * 70000)'
		echo three
	} | timeout 20 "$RELAY" -o "udp://127.0.0.1:$P" 2>"$T/s.err" && status=0 || status=$?
	assert_equal "$status" 1
	run cat "$T/s.err"
	assert_output "relay: stdin: line 3: stream broadcast seq 2: longer than a datagram holds (65507 bytes); not written to udp://127.0.0.1:$P
relay: skipped: 1"
	wait_until 10 lines_at_least 3 "$T/r.out"
	stop r
	run payloads "$T/r.out"
	assert_output "one
two
three"
}

@test "tcp sink: the server restarted mid-stream gets every message" {
	local n
	# the first server takes 100 lines and goes away (a server killed by
	# a signal may lose lines it had read: that no sink can know)
	start srv1 python3 "$TAKE" tcp 127.0.0.1 "$P" "$T/got.1" 100
	wait_until 10 listening_tcp || fail "no server"
	mkfifo "$T/ticks"
	BG_IN=$T/ticks start r "$RELAY" -o "tcp://127.0.0.1:$P"
	start c "$CLOCK" --count 400 --interval 5ms --output "$T/ticks"
	finish srv1
	assert_equal "$status" 0
	# the relay writes on meanwhile, reconnecting
	serve 2
	finish c
	assert_equal "$status" 0
	finish r
	assert_equal "$status" 0
	# every tick arrived: a whole line once, in the first or second file
	cat "$T/got.1" "$T/got.2" | grep -a '"tick"' | grep -aE '^\[[^]]*\] \{"tick":[0-9]+\}$' |
	    payloads /dev/stdin | sort -u >"$T/all"
	assert_equal "$(wc -l <"$T/all")" 400
	# a line twice only after a reset: the server died with some unread
	n=$(cat "$T/got.1" "$T/got.2" | grep -acE '^\[[^]]*\] \{"tick":[0-9]+\}$')
	[ "$n" -ge 400 ] || fail "$n lines"
	lines_at_least 1 "$T/got.2" || fail "nothing after the restart"
}

@test "unix sink to a unix source: 1000 lines, in order" {
	local s=$T/s.sock
	start r "$RELAY" -i "unix://$s" -o "$T/out.ss"
	wait_until 10 test -S "$s"
	seq 1 1000 | timeout 20 "$RELAY" -o "unix://$s" 2>"$T/s.err" &&
	    status=0 || status=$?
	assert_equal "$status" 0
	[ ! -s "$T/s.err" ] || fail "$(cat "$T/s.err")"
	wait_until 10 eval '[ "$("$SS_DECODE" "$T/out.ss" 2>/dev/null | wc -l)" -ge 1000 ]'
	stop r
	assert_equal "$status" 0
	run "$SS_DECODE" "$T/out.ss"
	assert_equal "$(echo "$output" | head -n 1000 | sed 's/^\[[^]]*\] //')" "$(seq 1 1000)"
	assert_equal "$(echo "$output" | wc -l)" 1001
}

@test "unix sink: the server restarted mid-stream gets every message (some perhaps twice)" {
	local s=$T/srv.sock n
	start srv1 python3 "$TAKE" unix "$s" "$T/got.1" 100
	wait_until 10 test -S "$s"
	mkfifo "$T/ticks"
	BG_IN=$T/ticks start r "$RELAY" -o "unix://$s"
	start c "$CLOCK" --count 400 --interval 5ms --output "$T/ticks"
	finish srv1
	assert_equal "$status" 0
	start srv2 socat -u "UNIX-LISTEN:$s" "OPEN:$T/got.2,creat,append"
	finish c
	assert_equal "$status" 0
	finish r
	assert_equal "$status" 0
	cat "$T/got.1" "$T/got.2" | grep -aE '^\[[^]]*\] \{"tick":[0-9]+\}$' |
	    payloads /dev/stdin >"$T/all"
	assert_equal "$(sort -u "$T/all" | wc -l)" 400
	n=$(wc -l <"$T/all")
	[ "$n" -ge 400 ] || fail "$n lines"
	lines_at_least 1 "$T/got.2" || fail "nothing after the restart"
}

# recvq PORT: the bytes waiting unread in the accepted socket of PORT.
recvq() {
	ss -Htn state established "sport = :$1" | awk '{ print $1; exit }'
}

@test "tcp sink: a server that dies with lines unread (a reset) gets them again from its successor" {
	local L=46
	# reads 10 lines, writes them, then reads no more
	start srv1 python3 -c 'import socket, sys
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", int(sys.argv[1])))
l.listen(1)
c, _ = l.accept()
f = c.makefile("rb")
with open(sys.argv[2], "wb") as o:
    for i in range(10):
        o.write(f.readline())
import time
time.sleep(60)' "$P" "$T/got.1"
	wait_until 10 listening_tcp
	mkfifo "$T/in"
	BG_IN=$T/in start r "$RELAY" -o "tcp://127.0.0.1:$P"
	exec 7>"$T/in"
	# lines of one length: [2024-01-01T00:00:00.000 | k | 1000 | 0] 1000
	seq 1000 1099 | awk '{ printf "[2024-01-01T00:00:00.000 | k | %d | 0] %d\n", $1, $1 }' >"$T/lines"
	assert_equal "$(awk '{ print length($0) + 1 }' "$T/lines" | sort -u)" "$L"
	head -n 10 "$T/lines" >&7
	wait_until 10 lines_at_least 10 "$T/got.1"
	tail -n 90 "$T/lines" >&7
	# the 90 others are acknowledged by its kernel, and not read
	wait_until 10 eval '[ "$(recvq "$P")" = $((90 * L)) ]' ||
	    fail "Recv-Q $(recvq "$P")"
	kill -KILL "$(cat "$T/srv1.pid")"
	finish srv1
	# the end of the input: relay waits for a server to take them
	exec 7>&-
	start srv2 socat -u "TCP-LISTEN:$P,reuseaddr,bind=127.0.0.1" \
	    "OPEN:$T/got.2,creat,append"
	finish r
	assert_equal "$status" 0
	[ ! -s "$T/r.err" ] || fail "$(cat "$T/r.err")"
	# every line, those unread by the first server among them
	assert_equal "$(cat "$T/got.1" "$T/got.2" | sort -u)" "$(sort "$T/lines")"
	assert_equal "$(tail -n 90 "$T/got.2")" "$(tail -n 90 "$T/lines")"
}

@test "tcp sink: what a vanished server did not get is counted at the end" {
	serve 1
	mkfifo "$T/in"
	BG_IN=$T/in start r "$RELAY" -o "tcp://127.0.0.1:$P" --stats
	exec 7>"$T/in"
	echo a >&7
	wait_until 10 lines_at_least 1 "$T/got.1"
	kill -TERM "$(cat "$T/srv1.pid")"
	finish srv1
	# one write(2), so that relay reads the three at once (a failed
	# write makes it wait for a server before it reads on)
	/usr/bin/printf 'b\nc\nd\n' >&7
	exec 7>&-
	# once relay has read everything, it waits for a server at its end
	wait_until 10 eval 'kill -USR1 $(cat "$T/r.pid"); sleep 0.05; grep -q "\"in\":4," "$T/r.err"' ||
	    fail "$(cat "$T/r.err")"
	stop r
	assert_equal "$status" 1
	run grep -v '^{' "$T/r.err"
	assert_output "relay: tcp://127.0.0.1:$P: cannot connect: Connection refused; 3 messages not delivered"
	run payloads "$T/got.1"
	assert_output a
}

@test "batch: a listening input keeps the stage's timers (-t) while clients are quiet" {
	listen b "$LS_BIN/batch" -n 100 -t 200ms -i "tcp://127.0.0.1:$P"
	mkfifo "$T/in"
	BG_IN=$T/in start c nc 127.0.0.1 "$P"
	exec 7>"$T/in"
	printf 'x\ny\nz\n' >&7
	# the client stays connected and silent: the timer closes the batch
	wait_until 10 lines_at_least 1 "$T/b.out"
	stop b
	exec 7>&-
	assert_equal "$status" 0
	run payloads "$T/b.out"
	assert_output '["x","y","z"]'
}

@test "tls: --tls-cert and --tls-key serve TLS; a plain client is closed, said" {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
	    -subj /CN=127.0.0.1 2>/dev/null || fail "openssl req failed"
	listen r -i "tcp://127.0.0.1:$P" --tls-cert "$T/cert.pem" \
	    --tls-key "$T/key.pem" --stats
	printf 'secret one\nsecret two\n' |
	    socat -u - "OPENSSL:127.0.0.1:$P,verify=0" || fail "socat failed"
	wait_until 10 lines_at_least 2 "$T/r.out"
	echo 'in the clear' | nc -q 0 127.0.0.1 "$P"
	wait_until 10 has ": TLS: " "$T/r.err"
	stop r
	assert_equal "$status" 0
	run payloads "$T/r.out"
	assert_output "secret one
secret two"
	run grep -v '^{' "$T/r.err"
	assert_output --regexp "^relay: tcp://127.0.0.1:$P: client 127.0.0.1:[0-9]+: TLS: [^;]+; closed$"
	assert_equal "$(stat_of accepted "$T/r.err")" 2
	# what is refused, and why
	expect_failures 1 "$RELAY" \
	    "-i tcp://127.0.0.1:$P --tls-cert $T/cert.pem|tcp://127.0.0.1:$P: TLS needs both --tls-cert and --tls-key" \
	    "-i tcp://127.0.0.1:$P --tls-cert $T/cert.pem --tls-key $T/none.pem|tcp://127.0.0.1:$P: TLS: $T/cert.pem, $T/none.pem: " \
	    "-i unix://$T/s.sock --tls-cert $T/cert.pem --tls-key $T/key.pem|unix://$T/s.sock: TLS (--tls-cert, --tls-key) is for tcp:// only"
}

@test "net URIs: errors say what is wrong" {
	expect_failures 1 "$RELAY" \
	    "-i tcp://127.0.0.1|tcp://127.0.0.1: no port" \
	    "-i tcp://127.0.0.1:99999|tcp://127.0.0.1:99999: bad port" \
	    "-i tcp://127.0.0.1:1/x|tcp://127.0.0.1:1/x: not tcp://HOST:PORT" \
	    "-i unix://rel/path|unix://rel/path: not unix:///PATH (an absolute path)" \
	    "-i unix:///tmp/x?mode=999|unix:///tmp/x?mode=999: '?mode=999' is not ?mode=OCTAL (at most 0777)" \
	    "-i unix:///tmp/x?who=1|'?who=1' is not ?mode=OCTAL" \
	    "-i tcp://127.0.0.1:$P --from seq:3|tcp://127.0.0.1:$P: positions other than start are for .ss files" \
	    "-o tcp://127.0.0.1:$P|tcp://127.0.0.1:$P: cannot connect: Connection refused" \
	    "-o unix://$T/none|unix://$T/none: cannot connect: No such file or directory"
}
