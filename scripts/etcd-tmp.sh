#!/usr/bin/env bash
# A throwaway etcd for the tests.
#
#   scripts/etcd-tmp.sh start DIR
#       starts etcd on two free ports of 127.0.0.1 (clients, peers), its
#       data in DIR/data (DIR created), in the background; waits until it
#       answers and prints the client port. The port is kept in DIR/port,
#       the process id in DIR/pid.
#   scripts/etcd-tmp.sh stop DIR
#       stops the etcd started in DIR (SIGTERM, then waits for it).
set -u

die() {
	echo "etcd-tmp: $*" >&2
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
	local dir=$1 port peer pid i
	command -v etcd >/dev/null ||
		die "etcd is missing (Debian package etcd-server)"
	command -v etcdctl >/dev/null ||
		die "etcdctl is missing (Debian package etcd-client)"
	mkdir -p "$dir" || exit 1
	for _ in 1 2 3 4 5; do
		port=$(free_port) && peer=$(free_port) ||
			die "cannot find a free port"
		[ "$port" != "$peer" ] || continue
		rm -rf "$dir/data"
		ETCDCTL_API=3 etcd --name tmp --data-dir "$dir/data" \
		    --listen-client-urls "http://127.0.0.1:$port" \
		    --advertise-client-urls "http://127.0.0.1:$port" \
		    --listen-peer-urls "http://127.0.0.1:$peer" \
		    --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
		    --initial-cluster "tmp=http://127.0.0.1:$peer" \
		    --log-outputs "$dir/etcd.log" --logger zap \
		    </dev/null >/dev/null 2>&1 3>&- &
		pid=$!
		for ((i = 0; i < 200; i++)); do
			if curl -sf "http://127.0.0.1:$port/health" 2>/dev/null |
			    grep -q '"health":"true"'; then
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
	die "etcd did not start (see $dir/etcd.log)"
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
	[ $# -eq 2 ] || die "usage: etcd-tmp.sh start DIR"
	start "$2"
	;;
stop)
	[ $# -eq 2 ] || die "usage: etcd-tmp.sh stop DIR"
	stop "$2"
	;;
*)
	die "usage: etcd-tmp.sh start|stop DIR"
	;;
esac
