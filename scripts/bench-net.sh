#!/usr/bin/env bash
# The network part of the benchmark (scripts/bench.sh runs it;
# BENCH_NET=0 leaves it out): relay's tcp:// listening source.
#
#   bash scripts/bench-net.sh [MD [LINES]]
#
# LINES is a file of N line-framed messages (bench.sh passes its own;
# without, BENCH_MESSAGES of them are generated with scripts/gen-lines.awk);
# MD, if given, gets the table as Markdown. Best of BENCH_RUNS (3) runs:
#
#   TCP ingest, 8 clients   LINES split into 8 parts (split -n l/8), sent
#                           at once by 8 `socat -u FILE TCP:127.0.0.1:PORT`
#                           to bin/relay -i tcp://127.0.0.1:PORT -o OUT;
#                           timed from the first send until relay, sent
#                           SIGTERM once the 8 senders are done, has
#                           drained them and ended.
#       peer: the same 8 senders to socat -u TCP-LISTEN:PORT,fork,reuseaddr
#             STDOUT >OUT, timed until OUT holds every byte sent.
#       target: at most 1.5 times socat's time (ratio >= 0.67).
#       check: relay's OUT, sorted, is LINES sorted (every line once);
#             socat's OUT holds LINES' bytes and lines.
#   Idle clients            relay -i tcp://... -o OUT with 1 client, then
#                           with 1,000 clients (one Python process holding
#                           the connections), each of which sends one line
#                           and stays connected; relay's VmHWM once it has
#                           accepted them all (its descriptors counted in
#                           /proc/PID/fd), before SIGTERM.
#       target: flat: at most 4 KiB a client beyond relay with 1 client.
#       check: OUT holds the clients' 1 or 1,000 lines.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

RUNS=${BENCH_RUNS:-3}
RELAY=${BENCH_RELAY:-bin/relay}
IDLE=${BENCH_NET_IDLE:-1000}
MD=${1:-}
LINES=${2:-}

die() {
	echo "bench-net: $*" >&2
	exit 1
}

[ -x "$RELAY" ] || die "$RELAY is missing; run make"
command -v socat >/dev/null || die "socat is missing (Debian package socat)"
command -v python3 >/dev/null || die "python3 is missing"
[ -n "${EPOCHREALTIME:-}" ] || die "needs bash 5 (EPOCHREALTIME)"
[ "$(ulimit -n)" -gt $((IDLE + 64)) ] ||
	die "ulimit -n is $(ulimit -n): $IDLE clients need more descriptors"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/libstream-bench-net.XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "$LINES" ]; then
	LINES=$tmp/lines.txt
	awk -v n="${BENCH_MESSAGES:-1000000}" -f scripts/gen-lines.awk \
	    >"$LINES"
fi
N=$(wc -l <"$LINES")
BYTES=$(wc -c <"$LINES")
split -n l/8 -d "$LINES" "$tmp/part"
sort "$LINES" >"$tmp/sorted"

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# wait_for SECONDS CMD...: runs CMD every 5 ms until it succeeds; fails
# after SECONDS.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.005
	done
}

listening() {
	ss -Htln "sport = :$1" | grep -q .
}

size_is() {
	[ "$(stat -c %s "$1")" -eq "$2" ]
}

# keep NAME SECONDS: the lowest time in SEC[NAME].
declare -A SEC KIB
keep() {
	if [ -z "${SEC[$1]:-}" ] || awk -v a="$2" -v b="${SEC[$1]}" \
	    'BEGIN { exit !(a < b) }'; then
		SEC[$1]=$2
	fi
}

since() {
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }'
}

# send PORT: the 8 parts sent at once by 8 socat clients; waits for them.
send() {
	local f s=()
	for f in "$tmp"/part0[0-7]; do
		socat -u "FILE:$f" "TCP:127.0.0.1:$1" &
		s+=($!)
	done
	for f in "${s[@]}"; do
		wait "$f" || die "a socat sender failed"
	done
}

# run_relay: one timed TCP ingest through relay, checked.
run_relay() {
	local port rpid t0
	port=$(free_port)
	rm -f "$tmp/out"
	"$RELAY" -i "tcp://127.0.0.1:$port" -o "$tmp/out" 2>"$tmp/err" &
	rpid=$!
	pids+=("$rpid")
	wait_for 10 listening "$port" || die "relay did not listen"
	t0=$EPOCHREALTIME
	send "$port"
	kill -TERM "$rpid"
	wait "$rpid" || die "relay failed: $(cat "$tmp/err")"
	keep relay "$(since "$t0")"
	sort "$tmp/out" | cmp -s - "$tmp/sorted" ||
		die "relay: its output is not the $N lines, each once"
}

# run_socat: the same senders to socat -u TCP-LISTEN,fork.
run_socat() {
	local port spid t0
	port=$(free_port)
	rm -f "$tmp/out"
	socat -u "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr" STDOUT \
	    >"$tmp/out" &
	spid=$!
	pids+=("$spid")
	wait_for 10 listening "$port" || die "socat did not listen"
	t0=$EPOCHREALTIME
	send "$port"
	wait_for 60 size_is "$tmp/out" "$BYTES" ||
		die "socat: $(stat -c %s "$tmp/out") bytes of $BYTES"
	keep socat "$(since "$t0")"
	kill "$spid"
	wait "$spid" 2>/dev/null || true
	[ "$(wc -l <"$tmp/out")" -eq "$N" ] || die "socat: not $N lines"
}

# hold PORT COUNT: a Python process connecting COUNT clients, each sending
# one line, and keeping them open until its standard input ends.
hold() {
	python3 -c '
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
c = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"idle client %d\n" % i)
    c.append(s)
print("connected", flush=True)
sys.stdin.read()
' "$1" "$2"
}

fds() {
	local n
	n=$(find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	[ "$n" -ge "$2" ]
}

# run_idle COUNT: relay's VmHWM (KiB) with COUNT idle clients, in
# KIB[COUNT].
run_idle() {
	local count=$1 port rpid hpid m
	port=$(free_port)
	rm -f "$tmp/out"
	"$RELAY" -i "tcp://127.0.0.1:$port" -o "$tmp/out" 2>"$tmp/err" &
	rpid=$!
	pids+=("$rpid")
	wait_for 10 listening "$port" || die "relay did not listen"
	base=$(find "/proc/$rpid/fd" -mindepth 1 -maxdepth 1 | wc -l)
	mkfifo "$tmp/hold"
	hold "$port" "$count" <"$tmp/hold" >"$tmp/held" &
	hpid=$!
	pids+=("$hpid")
	exec 9>"$tmp/hold"
	wait_for 60 grep -q connected "$tmp/held" ||
		die "$count clients did not connect"
	wait_for 60 fds "$rpid" $((base + count)) ||
		die "relay did not accept the $count clients"
	m=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$rpid/status")
	kill -TERM "$rpid"
	wait "$rpid" || die "relay failed: $(cat "$tmp/err")"
	exec 9>&-
	wait "$hpid" || true
	rm -f "$tmp/hold"
	[ "$(wc -l <"$tmp/out")" -eq "$count" ] ||
		die "relay wrote $(wc -l <"$tmp/out") of the $count clients' lines"
	if [ -z "${KIB[$count]:-}" ] || [ "$m" -gt "${KIB[$count]}" ]; then
		KIB[$count]=$m
	fi
}

echo "TCP ingest: $N lines from 8 clients, best of $RUNS"
for ((i = 0; i < RUNS; i++)); do
	run_socat
	run_relay
	run_idle 1
	run_idle "$IDLE"
done

table=$(awk -v n="$N" -v r="${SEC[relay]}" -v s="${SEC[socat]}" \
    -v k1="${KIB[1]}" -v kn="${KIB[$IDLE]}" -v idle="$IDLE" '
	BEGIN {
		printf "relay -i tcp://, 8 clients\t%.3f\t%.0f\t%.2f\t-\t>= 0.67 of socat\t%s\n",
		    r, n / r, s / r, (s / r >= 0.67 ? "meets" : "below")
		printf "peer: socat TCP-LISTEN,fork, 8 clients\t%.3f\t%.0f\t-\t-\t-\t-\n",
		    s, n / s
		printf "relay -i tcp://, 1 idle client\t-\t-\t-\t%d\t-\t-\n", k1
		per = (kn - k1) / (idle - 1)
		printf "relay -i tcp://, %d idle clients\t-\t-\t-\t%d\t<= 4 KiB a client (%.2f)\t%s\n",
		    idle, kn, per, (per <= 4 ? "meets" : "below")
	}')
head="task	seconds	messages/s	vs socat	peak KiB	target	result"
echo
{ echo "$head"; echo "$table"; } | awk -F '\t' -f scripts/table.awk
notes="TCP: the $N lines in 8 parts, sent at once by 8 socat clients to each
receiver; relay's time runs until it has drained them and ended (SIGTERM
once the senders are done), socat's until its output holds every byte.
vs socat = socat's seconds / relay's. relay's output, sorted, is the input
sorted. Idle: each client sent one line and stays connected; peak KiB is
relay's VmHWM once it has accepted them all; the target's figure in
parentheses is what each client beyond the first costs."
echo
echo "$notes"
if [ -n "$MD" ]; then
	{
		{ echo "$head"; echo "$table"; } |
		    awk -F '\t' -f scripts/mdtable.awk
		echo
		echo "$notes"
	} >"$MD"
fi
