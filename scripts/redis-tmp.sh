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

NAME=redis-tmp
# shellcheck source=scripts/tmp-server.sh
. "$(dirname "$0")/tmp-server.sh"

# ready PORT: the server answers PING (with the password of --requirepass).
ready() {
	REDISCLI_AUTH=$pass redis-cli -p "$1" ping 2>/dev/null | grep -q PONG
}

start() {
	local dir=$1 port a prev=""
	pass=""
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
		tmp_ready "$dir" $! "$port" && return 0
	done
	die "redis-server did not start (see $dir/redis.log)"
}

tmp_main "redis-tmp.sh start DIR [options...]" "$@"
