#!/bin/sh
# Installs the Debian packages libstream needs for building, testing, the
# demo and benchmarks, when any is missing. Needs root to install.
set -eu

PKGS="gcc make pkg-config libbsd-dev zlib1g-dev libcmocka-dev bats
bats-assert bats-support jq time python3 parallel libhiredis-dev
librdkafka-dev redis-server redis-tools kcat libmicrohttpd-dev
libcurl4-gnutls-dev libgnutls28-dev etcd-server etcd-client curl socat
netcat-openbsd apache2-utils openssl iproute2"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "scripts/deps.sh: installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "scripts/deps.sh: run as root, or install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! apt-get install -y -q --no-install-recommends $missing </dev/null; then
	apt-get update -q </dev/null
	apt-get install -y -q --no-install-recommends $missing </dev/null
fi
