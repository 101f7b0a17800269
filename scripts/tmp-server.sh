# shellcheck shell=bash
# What the throwaway servers of the tests share (sourced by
# scripts/redis-tmp.sh and scripts/etcd-tmp.sh, which set NAME for
# messages and define `ready PORT`, true once the server answers):
#   free_port          a port of 127.0.0.1 nothing listens on now
#   tmp_ready DIR PID PORT
#                      waits (10 s at most) until `ready PORT`; then keeps
#                      PORT in DIR/port and PID in DIR/pid, prints PORT and
#                      returns 0; else stops PID and returns 1
#   tmp_stop DIR       stops the server started in DIR (SIGTERM, then
#                      SIGKILL after 10 s)
#   tmp_main USAGE "$@"
#                      the start|stop command line; start calls start()

die() {
	echo "$NAME: $*" >&2
	exit 1
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

tmp_ready() {
	local dir=$1 pid=$2 port=$3 i
	for ((i = 0; i < 200; i++)); do
		if ready "$port"; then
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
	return 1
}

tmp_stop() {
	local dir=$1 pid i
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

tmp_main() {
	local usage=$1
	shift
	case ${1:-} in
	start)
		[ $# -ge 2 ] || die "usage: $usage"
		shift
		start "$@"
		;;
	stop)
		[ $# -eq 2 ] || die "usage: $NAME.sh stop DIR"
		tmp_stop "$2"
		;;
	*)
		die "usage: $NAME.sh start|stop DIR"
		;;
	esac
}
