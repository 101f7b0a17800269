#!/usr/bin/env bats
# relay -i tcp:// with many idle clients (tests/tools/net-idle.py): what
# an idle client costs, and that a client quiet after its lines goes on
# being read whole. scripts/bench-net.sh measures the same at 1,000.

load helper

RELAY=$LS_BIN/relay
IDLE=$REPO/tests/tools/net-idle.py
LIMIT=40

setup() {
	ls_setup
	[ -x "$RELAY" ] || fail "$RELAY is missing: run 'make' (LS_BIN)"
	P=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
}

teardown() {
	local p
	exec 7>&- || true
	for p in "$T"/*.pid; do
		[ -s "$p" ] && kill -KILL "$(cat "$p")" 2>/dev/null
	done
	return 0
}

listening() {
	[ -n "$(ss -Hltn "sport = :$P")" ]
}

# kib PID FIELD: FIELD of /proc/PID/status, in KiB.
kib() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

@test "tcp: 500 idle clients cost under 2 KiB each (4 KiB before: a buffer page each); each read again after its quiet, in order" {
	bg "$T/relay.pid" /dev/null "$T/relay.err" "$RELAY" \
	    -i "tcp://127.0.0.1:$P" -o "$T/out"
	rbg=$BG
	wait_until 10 listening || fail "relay does not listen: $(cat "$T/relay.err")"
	rpid=$(cat "$T/relay.pid")
	before=$(kib "$rpid" VmHWM)
	mkfifo "$T/ctl"
	BG_IN=$T/ctl bg "$T/idle.pid" "$T/idle.out" "$T/idle.err" \
	    python3 "$IDLE" "127.0.0.1:$P" 500
	ibg=$BG
	exec 7>"$T/ctl"
	# relay flushes its output when it waits: every client's first line
	# was read, each client's buffer then empty
	wait_until 20 lines_at_least 500 "$T/out" ||
		fail "$(wc -l <"$T/out") of 500 first lines"
	after=$(kib "$rpid" VmHWM)
	echo again >&7
	wait_until 20 lines_at_least 1000 "$T/out" ||
		fail "$(wc -l <"$T/out") of 1000 lines"
	exec 7>&-
	wait "$ibg"
	kill -TERM "$rpid"
	wait "$rbg"
	[ "$(wc -l <"$T/out")" -eq 1000 ]
	for w in first second; do
		run grep -c " $w\$" "$T/out"
		assert_output 500
	done
	# each client's two lines in order, each once
	run awk '{ c = $(NF - 1); n[c]++
	    if ($NF != (n[c] == 1 ? "first" : "second")) bad++ } END { for (c in n) if (n[c] != 2) bad++; print bad + 0,
	    length(n) }' "$T/out"
	assert_output "0 500"
	assert_equal "$(cat "$T/relay.err")" ""
	# the sanitizers' allocator keeps freed memory: no bound to check
	if [ -z "${LS_SAN:-}" ]; then
		echo "VmHWM $before KiB -> $after KiB with 500 clients"
		[ $((after - before)) -lt 1000 ]
	fi
}
