# Shared helpers for the bats suites of libstream.
#
# The commands under test are taken from $LS_BIN (ss-decode) and the test
# tools from $LS_TOOLS (ss-build, ss-tsv); scripts/check.sh points them at
# the plain and at the sanitizer build in turn. Run by hand, they default
# to the plain build of this tree.

bats_require_minimum_version 1.5.0

# bats-support and bats-assert (Debian packages bats-support, bats-assert).
# Their load.bash files fork a dirname(1) per source file, which costs more
# than most of our tests take; their sources are read directly instead, in
# the same order (support first).
BATS_LIBS=/usr/lib/bats
if [ -d "$BATS_LIBS/bats-support/src" ] && [ -d "$BATS_LIBS/bats-assert/src" ]; then
	for _f in "$BATS_LIBS"/bats-support/src/*.bash \
	    "$BATS_LIBS"/bats-assert/src/*.bash; do
		# shellcheck disable=SC1090
		source "$_f"
	done
	unset _f
else
	load "$BATS_LIBS/bats-support/load"
	load "$BATS_LIBS/bats-assert/load"
fi

# this file is tests/bats/helper.bash
REPO=${BATS_TEST_DIRNAME%/*}
REPO=${REPO%/*}
LS_BIN=${LS_BIN:-$REPO/bin}
LS_TOOLS=${LS_TOOLS:-$REPO/build/tools}
VEC=$REPO/format/vectors
CORRUPT=$VEC/corrupt
SS_DECODE=$LS_BIN/ss-decode
SS_BUILD=$LS_TOOLS/ss-build
SS_TSV=$LS_TOOLS/ss-tsv
EOS_KEY=SEA_STREAMER_INTERNAL
export LC_ALL=C
# tests/ref/ssref.py is imported from here and there: no __pycache__ in the tree
export PYTHONDONTWRITEBYTECODE=1

# Under the sanitizer build (scripts/check.sh sets LS_SAN=1), where every
# process start costs tens of milliseconds, the tests that loop over many
# cases run every LS_STRIDE-th of them: the plain build runs them all,
# and the sample still takes the sanitizer through every code path.
LS_STRIDE=1
[ "${LS_SAN:-0}" = 1 ] && LS_STRIDE=3

# sample: every LS_STRIDE-th line of standard input, from the first, and
# the last.
sample() {
	awk -v s="$LS_STRIDE" '(NR - 1) % s == 0 { print; next }
	    { last = $0 } END { if ((NR - 1) % s != 0) print last }'
}

# Every vector NAME of format/vectors (NAME.ss), one a line.
vector_names() {
	local f
	for f in "$VEC"/*.ss; do
		f=${f##*/}
		echo "${f%.ss}"
	done
}

# Per-test setup: checks the binaries and makes $T, an empty directory of
# this test's own. A .bats file that needs more defines its own setup()
# and calls this first.
ls_setup() {
	local b
	for b in "$SS_DECODE" "$SS_BUILD" "$SS_TSV"; do
		[ -x "$b" ] || fail "$b is missing: run 'make tests' (LS_BIN/LS_TOOLS)"
	done
	T=$BATS_TEST_TMPDIR/t
	mkdir -p "$T"
}

setup() {
	ls_setup
}

# runf CMD...: runs CMD with stdout to $T/out and stderr to $T/err (files,
# so that payload bytes such as NUL survive) and sets $status.
runf() {
	"$@" >"$T/out" 2>"$T/err" && status=0 || status=$?
}

# Value of field KEY (name, created, interval, truncate) in NAME.args, or
# nothing.
vector_arg() {
	local name=$1 key=$2 kv kvs
	read -ra kvs <"$VEC/$name.args"
	for kv in "${kvs[@]}"; do
		if [ "${kv%%=*}" = "$key" ]; then
			echo "${kv#*=}"
			return 0
		fi
	done
}

# build_vector NAME OUT: writes NAME.messages.tsv with the header fields of
# NAME.args to OUT, then cuts OUT to truncate=N bytes if the args say so.
build_vector() {
	local name=$1 out=$2 n c i cut
	n=$(vector_arg "$name" name)
	c=$(vector_arg "$name" created)
	i=$(vector_arg "$name" interval)
	cut=$(vector_arg "$name" truncate)
	[ -n "$n" ] && [ -n "$c" ] && [ -n "$i" ] ||
		fail "$name.args lacks name, created or interval"
	"$SS_BUILD" -n "$n" -c "$c" -i "$i" "$out" <"$VEC/$name.messages.tsv" ||
		fail "ss-build failed on $name"
	if [ -n "$cut" ]; then
		truncate -s "$cut" "$out"
	fi
}

# The TSV lines of the complete messages of vector NAME: all of
# NAME.messages.tsv, or for a truncated vector those listed in its
# .expected.jsonl (the messages before the cut).
vector_complete_tsv() {
	local name=$1
	if [ -n "$(vector_arg "$name" truncate)" ]; then
		head -n "$(wc -l <"$VEC/$name.expected.jsonl")" \
			"$VEC/$name.messages.tsv"
	else
		cat "$VEC/$name.messages.tsv"
	fi
}

# Size of a file in bytes.
fsize() {
	stat -c %s "$1"
}

# awk functions shared by the suites:
#  tsfmt(ms): "YYYY-MM-DDTHH:MM:SS.mmm" (UTC) of a millisecond timestamp
#    below 2^53; computed independently of libstream.
#  hex(s): lowercase hex of the printable ASCII string s.
#  ge(a, b): a >= b for decimal strings of any length (no leading zeros),
#    exact beyond 2^53 where awk's numbers are not.
#  gt(a, b): a > b, likewise.
AWK_LIB='
function tsfmt(ms,   d, r, z, era, doe, yoe, y, doy, mp, dd, m) {
	d = int(ms / 86400000); r = ms - d * 86400000
	z = d + 719468; era = int(z / 146097); doe = z - era * 146097
	yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
	y = yoe + era * 400; doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
	mp = int((5 * doy + 2) / 153); dd = doy - int((153 * mp + 2) / 5) + 1
	m = mp < 10 ? mp + 3 : mp - 9
	if (m <= 2) y++
	return sprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03d", y, m, dd,
	    int(r / 3600000), int(r % 3600000 / 60000), int(r % 60000 / 1000),
	    r % 1000)
}
function hex(s,   i, o) {
	if (!("a" in ORD)) for (i = 32; i < 127; i++) ORD[sprintf("%c", i)] = i
	o = ""
	for (i = 1; i <= length(s); i++) o = o sprintf("%02x", ORD[substr(s, i, 1)])
	return o
}
function ge(a, b) {
	a = a ""; b = b ""
	if (length(a) != length(b)) return length(a) > length(b)
	return a >= b
}
function gt(a, b) {
	return ge(a, b) && (a "") != (b "")
}
'

# eos_tsv TS: the TSV line of an End-of-Stream marker stamped TS.
eos_tsv() {
	printf '%s\t0\t0\t%s\t454f53\n' "$EOS_KEY" "$1"
}

# gen_tsv FIRST COUNT [STREAMS]: COUNT messages as TSV, numbered from
# FIRST, over STREAMS streams (default 3): key sK, shard K%2, sequence
# = message number, timestamp 1700000000000 + number, payload
# "msg-<number>-" padded with x to a length that varies from 0 to 300
# bytes, so that messages get cut by beacons of small intervals.
gen_tsv() {
	awk -v first="$1" -v count="$2" -v streams="${3:-3}" "$AWK_LIB"'
	BEGIN {
		for (i = first; i < first + count; i++) {
			p = "msg-" i "-"
			n = (i * 37) % 301
			while (length(p) < n) p = p "x"
			k = i % streams
			printf "s%d\t%d\t%d\t%.0f\t%s\n", k, k % 2, i,
			    1700000000000 + i, hex(p)
		}
	}'
}

# --- background commands and waiting, shared by the suites -----------------

# LIMIT: seconds after which bg stops a command under test; a suite may
# set its own (it is read when bg runs).
: "${LIMIT:=60}"

# bg PIDFILE OUT ERR CMD...: starts CMD in the background under timeout(1)
# with standard input from $BG_IN (default /dev/null), standard output and
# error to OUT and ERR, and the test's descriptors 3, 5 and 6 closed.
# CMD's own pid is written to PIDFILE before it starts (signal it only
# once it has shown that it runs); $BG is the pid to wait for, whose
# status is CMD's (124 if it had to be stopped).
bg() {
	local pidf=$1 out=$2 errf=$3
	shift 3
	timeout -k 5 "$LIMIT" bash -c 'echo $$ >"$0"; exec "$@"' "$pidf" "$@" \
	    <"${BG_IN:-/dev/null}" >"$out" 2>"$errf" 3>&- 5>&- 6>&- &
	BG=$!
}

# free_port: a port of 127.0.0.1 nobody listens on now, for TCP and UDP
# both (the tests that start servers).
free_port() {
	python3 -c 'import socket
while True:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p)
    break'
}

# Named background commands (follow.bats, net.bats; a suite with a
# process of its own to stop may define its own stop):
declare -gA BGS
# start NAME CMD...: runs CMD in the background, output to $T/NAME.out,
# errors to $T/NAME.err.
start() {
	local n=$1
	shift
	bg "$T/$n.pid" "$T/$n.out" "$T/$n.err" "$@"
	BGS[$n]=$BG
}

# finish NAME: waits for NAME to end (by itself, or by timeout(1));
# sets $status.
finish() {
	wait "${BGS[$1]}" && status=0 || status=$?
}

# stop NAME: SIGTERM to NAME, then finish.
stop() {
	kill -TERM "$(cat "$T/$1.pid")"
	finish "$1"
}

# bg_kill_all: kills (SIGKILL) every command bg started in this test (a
# $T/*.pid) and what each of them started (a shell's pipeline), for a
# teardown: a failed test must not leave them running.
bg_kill_all() {
	local f
	for f in "$T"/*.pid; do
		[ -s "$f" ] || continue
		pkill -KILL -P "$(cat "$f")" 2>/dev/null
		kill -KILL "$(cat "$f")" 2>/dev/null
	done
	return 0
}

# wait_until SECONDS CMD...: runs CMD every 10 ms until it succeeds;
# returns 1 if it has not after about SECONDS. (CMD may be eval of a
# string using the caller's variables: none of them is shadowed here.)
wait_until() {
	local _wu_end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -le "$_wu_end" ] || return 1
		sleep 0.01
	done
}

# lines_at_least N FILE: FILE has at least N lines.
lines_at_least() {
	[ -e "$2" ] && [ "$(wc -l <"$2")" -ge "$1" ]
}

# expect_failures STATUS CMD CASE...: for each case "ARGS|TEXT", CMD ARGS
# (split on white space, standard input /dev/null) exits with STATUS and
# TEXT in its standard error; under status 2 (usage) it writes nothing to
# standard output.
expect_failures() {
	local st=$1 cmd=$2 c args want
	shift 2
	for c in "$@"; do
		args=${c%%|*} want=${c#*|}
		# shellcheck disable=SC2086
		runf "$cmd" $args </dev/null
		assert_equal "$args: status $status" "$args: status $st"
		grep -qF -- "$want" "$T/err" || fail "$args: stderr: $(cat "$T/err")"
		[ "$st" -ne 2 ] || [ ! -s "$T/out" ] || fail "$args: wrote to stdout"
	done
}

# expect_outputs FUNC CASE...: for each case "ARGS|WANT", FUNC ARGS (split
# on white space) prints WANT; fails naming every case that does not.
expect_outputs() {
	local f=$1 c args want got bad=()
	shift
	for c in "$@"; do
		args=${c%%|*} want=${c#*|}
		# shellcheck disable=SC2086
		got=$("$f" $args)
		[ "$got" = "$want" ] || bad+=("$args: got '$got', want '$want'")
	done
	[ "${#bad[@]}" -eq 0 ] || fail "$(printf '%s\n' "${bad[@]}")"
}

# --- the fault shim (tests/tools/faultshim.c), for faults.bats and others --

# preload BIN: the LD_PRELOAD list for BIN: the shim, after the
# sanitizer's runtime if BIN is linked with it (ASan must come first).
preload() {
	local asan
	asan=$(ldd "$1" | awk '$1 ~ /^libasan\.so/ { print $3; exit }')
	echo "${asan:+$asan }$LS_TOOLS/faultshim.so"
}

# faulty VAR=VALUE... CMD ARGS...: runs command CMD of $LS_BIN with the
# shim and the fault variables, FAULT_LOG=$T/log (emptied first), stdout
# to $T/out and stderr to $T/err, under timeout(1); sets $status.
faulty() {
	local vars=()
	while [[ $1 == *=* ]]; do
		vars+=("$1")
		shift
	done
	local bin=$LS_BIN/$1
	shift
	: >"$T/log"
	runf timeout -k 5 "$LIMIT" env LD_PRELOAD="$(preload "$bin")" \
	    FAULT_LOG="$T/log" "${vars[@]}" "$bin" "$@" </dev/null
}

# logged KEY: the count KEY (writes, syncs, reads, wfail, sfail, wshort,
# eintr, rshort) of the last faulty run's process (the first line: the
# command's own, before any child's).
logged() {
	local v
	v=$(head -n 1 "$T/log" | tr ' ' '\n' | sed -n "s/^$1=//p")
	[ -n "$v" ] || fail "no $1 in the fault log: $(cat "$T/log")"
	echo "$v"
}
