#!/usr/bin/env bash
# The etcd part of the benchmark (scripts/bench.sh runs it when etcd and
# etcdctl are installed; BENCH_ETCD=0 leaves it out): relay's etcd:// output
# and input beside etcdctl doing the same work on the same server.
#
#   bash scripts/bench-etcd.sh [MD [LINES]]
#
# LINES is a file of line-framed messages with 100-byte payloads (bench.sh
# passes its own); its first M (BENCH_ETCD_MESSAGES, default 20,000: etcd
# is slow per put) are used; without LINES they are generated the same way.
# MD, if given, gets the table as Markdown. A throwaway etcd
# (scripts/etcd-tmp.sh: 127.0.0.1, a free port, data in a temp dir) serves
# every run; the keys of a run are deleted before it (untimed).
# BENCH_RELAY names another relay binary. Best of BENCH_RUNS (3) each:
#
#   stdio->etcd   bin/relay -o etcd://127.0.0.1:PORT/r <LINES: M puts under
#                 /r/STREAM/SEQ, in transactions of 128 (one HTTP request
#                 each, through etcd's JSON gateway, one connection)
#       peer:     etcdctl txn, once per 128 puts, each reading its batch
#                 ("put /c/STREAM/SEQ "VALUE"") from a file made beforehand
#                 (untimed). etcdctl has no bulk put: one `etcdctl put` per
#                 message would pay a process and a connection per put
#                 (unfair to etcdctl), a txn of all M puts is refused by
#                 etcd (--max-txn-ops 128); txns of 128 are what relay
#                 sends, so both make the same M/128 requests, etcdctl
#                 paying one process start and one gRPC connection each.
#   etcd->stdio   bin/relay -i etcd://127.0.0.1:PORT/r/ --exit-at-end
#                 (the list: pages of 1024 keys at one revision), the keys
#                 relay wrote, to a file
#       peer:     etcdctl get --prefix /r/ --print-value-only (one request)
#   watch         a following bin/relay -i etcd://.../w/ --from rev:R (R
#                 the next revision) receives the M puts that bin/relay -o
#                 etcd://.../w makes meanwhile: seconds from the start of
#                 the puts until the follower has written M messages
#       peer:     etcdctl watch --prefix /w/ --rev R following the same puts
#
# Checks (so that a broken run cannot look fast): after every write run,
# the prefix holds M keys; after the last, the values of /r/ and /c/ are
# the input payloads (sorted: etcd lists in key order); every read and
# follower run wrote M messages. Peak MiB: /usr/bin/time's %M (for
# etcdctl txn, its largest process); a follower's VmHWM before it stops.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

RUNS=${BENCH_RUNS:-3}
RELAY=${BENCH_RELAY:-bin/relay}
M=${BENCH_ETCD_MESSAGES:-20000}
MD=${1:-}
LINES=${2:-}
TIME=/usr/bin/time

die() {
	echo "bench-etcd: $*" >&2
	exit 1
}

[ -x "$RELAY" ] || die "$RELAY is missing; run make"
[ -x "$TIME" ] || die "$TIME is missing (Debian package time)"
command -v etcd >/dev/null || die "etcd is missing (Debian package etcd-server)"
command -v etcdctl >/dev/null ||
	die "etcdctl is missing (Debian package etcd-client)"
[ -n "${EPOCHREALTIME:-}" ] || die "needs bash 5 (EPOCHREALTIME)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/libstream-bench-etcd.XXXXXX")
fpid=
cleanup() {
	[ -z "$fpid" ] || kill "$fpid" 2>/dev/null || true
	bash scripts/etcd-tmp.sh stop "$tmp/etcd"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -n "$LINES" ]; then
	head -n "$M" "$LINES" >"$tmp/lines.txt"
else
	awk -v n="$M" -f scripts/gen-lines.awk >"$tmp/lines.txt"
fi
M=$(wc -l <"$tmp/lines.txt")
[ "$M" -gt 0 ] || die "no messages"
sed 's/^[^]]*\] //' "$tmp/lines.txt" | sort >"$tmp/payloads.sorted"

# etcdctl's batches: the same keys relay writes (PREFIX/STREAM/SEQ, SEQ in
# 20 digits), the value quoted as etcdctl txn reads it (Go syntax), 128 a
# transaction, each file a txn's stdin: no compares, the puts, no else.
mkdir "$tmp/txn"
awk -v dir="$tmp/txn" '{
	split($0, f, " [|] ")
	p = $0
	sub(/^[^]]*\] /, "", p)
	gsub(/\\/, "&&", p)
	gsub(/"/, "\\\"", p)
	b = int((NR - 1) / 128)
	out = sprintf("%s/%06d", dir, b)
	if (out != last) {
		if (last != "") {
			printf "\n\n" >last
			close(last)
		}
		printf "\n" >out
		last = out
	}
	printf "put -- /c/%s/%020d \"%s\"\n", f[2], f[3], p >out
} END { if (last != "") printf "\n\n" >last }' "$tmp/lines.txt"

# curl's: the same puts under /g/ as the JSON bodies relay sends (base64
# key and value, 128 a txn), and a curl config sending them one after the
# other on one connection.
mkdir "$tmp/gw"
python3 - "$tmp/lines.txt" "$tmp/gw" <<'PY'
import base64, re, sys
src, out = sys.argv[1], sys.argv[2]
b64 = lambda b: base64.b64encode(b).decode()
ops = []
for line in open(src, "rb"):
    m = re.match(rb"\[[^|]*\| (\S+) \| (\d+) \| \d+\] (.*)\n", line)
    key = b"/g/%s/%020d" % (m.group(1), int(m.group(2)))
    ops.append('{"request_put":{"key":"%s","value":"%s"}}' %
               (b64(key), b64(m.group(3))))
for i in range(0, len(ops), 128):
    with open("%s/%06d" % (out, i // 128), "w") as f:
        f.write('{"success":[' + ",".join(ops[i:i + 128]) + "]}")
PY
port=$(bash scripts/etcd-tmp.sh start "$tmp/etcd")
EP=127.0.0.1:$port
U=etcd://$EP

ctl() {
	etcdctl --endpoints "$EP" "$@"
}

# count PREFIX: the keys under PREFIX.
count() {
	ctl get --prefix "$1" --keys-only | grep -c . || true
}

# revision: etcd's current revision.
revision() {
	ctl endpoint status -w json |
	    sed -n 's/.*"revision":\([0-9]*\).*/\1/p'
}

# keep NAME SECONDS KIB: the lowest time in SEC[NAME], the highest peak in
# RSS[NAME].
declare -A SEC RSS
keep() {
	if [ -z "${SEC[$1]:-}" ] || awk -v a="$2" -v b="${SEC[$1]}" \
	    'BEGIN { exit !(a < b) }'; then
		SEC[$1]=$2
	fi
	if [ -z "${RSS[$1]:-}" ] || [ "$3" -gt "${RSS[$1]}" ]; then
		RSS[$1]=$3
	fi
}

# run NAME IN OUT CMD...: one timed run of CMD under /usr/bin/time.
run() {
	local name=$1 in=$2 out=$3 t0 t1
	shift 3
	t0=$EPOCHREALTIME
	"$TIME" -f %M -o "$tmp/rss" "$@" <"$in" >"$out" ||
		die "$name: $* failed"
	t1=$EPOCHREALTIME
	keep "$name" "$(awk -v a="$t0" -v b="$t1" \
	    'BEGIN { printf "%.4f", b - a }')" "$(tail -n 1 "$tmp/rss")"
}

# ctl_txns: every batch through its own etcdctl txn.
ctl_txns() {
	local f
	for f in "$tmp"/txn/*; do
		etcdctl --endpoints "$EP" txn <"$f" >/dev/null || return 1
	done
}
export -f ctl_txns
export EP tmp

for f in "$tmp"/gw/*; do
	[ "$f" = "$tmp/gw/000000" ] || echo next
	printf 'url = "http://%s/v3/kv/txn"\ndata-binary = "@%s"\n' "$EP" "$f"
	printf 'output = "/dev/null"\nfail\n'
done >"$tmp/curl.conf"

# lines FILE N: waits (at most 120 s) until FILE has N lines.
lines() {
	local i
	for ((i = 0; i < 12000; i++)); do
		[ "$(wc -l <"$1")" -ge "$2" ] && return 0
		sleep 0.01
	done
	die "$1: $(wc -l <"$1") lines, not $2, after 120 s"
}

# next_rev: empties /w/, sets R to the revision the next change will have.
next_rev() {
	ctl del --prefix /w/ >/dev/null
	R=$(($(revision) + 1))
}

# follow NAME PER CMD...: CMD follows /w/ from revision R (next_rev) while
# relay puts the M messages there; timed until CMD wrote PER lines a
# message.
follow() {
	local name=$1 per=$2 t0 t1 m
	shift 2
	"$@" >"$tmp/follow.out" 2>"$tmp/follow.err" &
	fpid=$!
	sleep 0.2	# it connects (it starts from R either way)
	t0=$EPOCHREALTIME
	"$RELAY" -o "$U/w" <"$tmp/lines.txt" || die "$name: relay -o failed"
	lines "$tmp/follow.out" $((per * M))
	t1=$EPOCHREALTIME
	m=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$fpid/status")
	kill -TERM "$fpid"
	wait "$fpid" || true
	fpid=
	[ "$(wc -l <"$tmp/follow.out")" -eq $((per * M)) ] ||
		die "$name: $(wc -l <"$tmp/follow.out") lines, not $((per * M))"
	keep "$name" "$(awk -v a="$t0" -v b="$t1" \
	    'BEGIN { printf "%.4f", b - a }')" "$m"
}

echo "etcd on port $port, $M messages, best of $RUNS"
for ((i = 0; i < RUNS; i++)); do
	ctl del --prefix /r/ >/dev/null
	run w_relay "$tmp/lines.txt" /dev/null "$RELAY" -o "$U/r"
	[ "$(count /r/)" -eq "$M" ] || die "relay -o: $(count /r/) keys, not $M"
	ctl del --prefix /c/ >/dev/null
	run w_ctl /dev/null /dev/null bash -c ctl_txns
	[ "$(count /c/)" -eq "$M" ] || die "etcdctl txn: $(count /c/) keys, not $M"
	ctl del --prefix /g/ >/dev/null
	run w_curl /dev/null /dev/null curl -s -S -K "$tmp/curl.conf"
	[ "$(count /g/)" -eq "$M" ] || die "curl: $(count /g/) keys, not $M"
	run r_relay /dev/null "$tmp/r.out" "$RELAY" -i "$U/r/" --exit-at-end
	[ "$(wc -l <"$tmp/r.out")" -eq "$M" ] ||
		die "relay -i: $(wc -l <"$tmp/r.out") messages, not $M"
	run r_ctl /dev/null "$tmp/c.out" etcdctl --endpoints "$EP" get \
	    --prefix /r/ --print-value-only
	[ "$(wc -l <"$tmp/c.out")" -eq "$M" ] ||
		die "etcdctl get: $(wc -l <"$tmp/c.out") values, not $M"
	next_rev
	follow f_relay 1 "$RELAY" -i "$U/w/" --from "rev:$R"
	next_rev
	follow f_ctl 3 etcdctl --endpoints "$EP" watch --prefix /w/ --rev "$R"
done
sed 's/^[^]]*\] //' "$tmp/r.out" | sort | cmp -s - "$tmp/payloads.sorted" ||
	die "relay -i: the payloads read are not the input's"
for p in /r/ /c/ /g/; do
	ctl get --prefix "$p" --print-value-only | sort |
	    cmp -s - "$tmp/payloads.sorted" ||
		die "the values under $p are not the input payloads"
done

table=$(awk -v n="$M" -v wr="${SEC[w_relay]}" -v wc="${SEC[w_ctl]}" \
    -v rr="${SEC[r_relay]}" -v rc="${SEC[r_ctl]}" -v fr="${SEC[f_relay]}" \
    -v fc="${SEC[f_ctl]}" -v mwr="${RSS[w_relay]}" -v mwc="${RSS[w_ctl]}" \
    -v mrr="${RSS[r_relay]}" -v mrc="${RSS[r_ctl]}" \
    -v mfr="${RSS[f_relay]}" -v mfc="${RSS[f_ctl]}" \
    -v wg="${SEC[w_curl]}" -v mwg="${RSS[w_curl]}" '
	function row(task, s, ratio, kib) {
		printf "%s\t%d\t%.3f\t%.0f\t%s\t%.1f\n", task, n, s, n / s,
		    ratio, kib / 1024
	}
	BEGIN {
		row("relay stdio->etcd (txns of 128)", wr,
		    sprintf("%.2f, %.2f curl", wc / wr, wg / wr), mwr)
		row("peer: etcdctl txn, 128 puts each", wc, "-", mwc)
		row("peer: curl, the same txns to the JSON gateway", wg, "-",
		    mwg)
		row("relay etcd->stdio (--exit-at-end)", rr,
		    sprintf("%.2f", rc / rr), mrr)
		row("peer: etcdctl get --prefix --print-value-only", rc, "-",
		    mrc)
		row("relay following the puts (watch)", fr,
		    sprintf("%.2f", fc / fr), mfr)
		row("peer: etcdctl watch --prefix, same puts", fc, "-", mfc)
	}')
head="task	messages	seconds	messages/s	vs peer	peak MiB"
echo
{ echo "$head"; echo "$table"; } | awk -F '\t' -v tail=0 -f scripts/table.awk
ver=$(etcd --version | awk '/^etcd Version/ { print $3 }')
notes="vs peer = the peer's seconds / relay's seconds, against the row
below it (the write also against curl); one etcd $ver on loopback, fsync
on, best of $RUNS. etcdctl has no bulk put: its peer runs etcdctl txn once
per 128 puts (etcd's --max-txn-ops), the requests relay makes, paying a
process start and a gRPC connection for each. relay sends its txns over
one HTTP connection to etcd's JSON gateway (base64 keys and values), as
curl does with the same bodies built beforehand: the gap between them is
relay's own cost. etcdctl get reads all keys in one gRPC response; relay
lists through the JSON gateway in pages of 1024, whose encoding on etcd's
side is most of its time. The watch rows time, from the start of relay
-o's puts, until the follower has written all $M (relay's messages;
etcdctl watch's 3 lines an event): the puts bound them. Counts and values
are checked (see scripts/bench-etcd.sh)."
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
