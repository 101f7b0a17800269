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

NAME=etcd-tmp
# shellcheck source=scripts/tmp-server.sh
. "$(dirname "$0")/tmp-server.sh"

# ready PORT: etcd says it is healthy.
ready() {
	curl -sf "http://127.0.0.1:$1/health" 2>/dev/null |
	    grep -q '"health":"true"'
}

start() {
	local dir=$1 port peer
	command -v etcd >/dev/null ||
		die "etcd is missing (Debian package etcd-server)"
	command -v etcdctl >/dev/null ||
		die "etcdctl is missing (Debian package etcd-client)"
	mkdir -p "$dir" || exit 1
	for _ in 1 2 3 4 5; do
		if ! port=$(free_port) || ! peer=$(free_port); then
			die "cannot find a free port"
		fi
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
		tmp_ready "$dir" $! "$port" && return 0
	done
	die "etcd did not start (see $dir/etcd.log)"
}

tmp_main "etcd-tmp.sh start DIR" "$@"
