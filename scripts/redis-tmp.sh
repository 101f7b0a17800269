#!/usr/bin/env bash
# A throwaway redis-server for the tests and the benchmark.
#
#   scripts/redis-tmp.sh start DIR [redis-server options...]
#       starts redis-server on a free port of 127.0.0.1, without
#       persistence, its files in DIR (created), in the background; waits
#       until it answers PING and prints its port. The port is kept in
#       DIR/port, the process id in DIR/pid.
#   scripts/redis-tmp.sh stop DIR
#       stops the server started in DIR (SIGTERM, then waits for it).
#
# Extra options such as --requirepass go to redis-server; PING is then
# sent with REDISCLI_AUTH set from --requirepass.
set -u

die() {
	echo "redis-tmp: $*" >&2
	exit 1
}

# free_port: a port of 127.0.0.1 nothing listens on now.
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

start() {
	local dir=$1 port pid i pass="" a prev=""
	shift
	command -v redis-server >/dev/null ||
		die "redis-server is missing (Debian package redis-server)"
	command -v redis-cli >/dev/null ||
		die "redis-cli is missing (Debian package redis-tools)"
	for a in "$@"; do
		[ "$prev" = --requirepass ] && pass=$a
		prev=$a
	done
	mkdir -p "$dir" || exit 1
	for _ in 1 2 3 4 5; do
		port=$(free_port) || die "cannot find a free port"
		redis-server --port "$port" --bind 127.0.0.1 --save '' \
		    --appendonly no --daemonize no --dir "$dir" \
		    --logfile "$dir/redis.log" "$@" </dev/null >/dev/null 2>&1 3>&- &
		pid=$!
		for ((i = 0; i < 200; i++)); do
			if REDISCLI_AUTH=$pass redis-cli -p "$port" ping \
			    2>/dev/null | grep -q PONG; then
				echo "$port" >"$dir/port"
				echo "$pid" >"$dir/pid"
				echo "$port"
				return 0
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	die "redis-server did not start (see $dir/redis.log)"
}

stop() {
	local dir=$1 pid
	[ -f "$dir/pid" ] || return 0
	pid=$(cat "$dir/pid")
	kill "$pid" 2>/dev/null
	# not our child when started by another shell: poll
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
	rm -f "$dir/pid"
}

case ${1:-} in
start)
	[ $# -ge 2 ] || die "usage: redis-tmp.sh start DIR [options...]"
	shift
	start "$@"
	;;
stop)
	[ $# -eq 2 ] || die "usage: redis-tmp.sh stop DIR"
	stop "$2"
	;;
*)
	die "usage: redis-tmp.sh start|stop DIR"
	;;
esac
