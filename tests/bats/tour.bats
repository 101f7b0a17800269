#!/usr/bin/env bats
# The tour of README.md, run as written. The commands are read from
# README.md itself (the indented block after "A tour:", up to the next
# paragraph; "#" starts a comment, a trailing "\" continues a line) and
# run in order, with bash -o pipefail, in a directory of their own with
# $LS_BIN first in PATH, after the inputs they assume are made (events.log,
# more.log, damaged.ss, enrich.sh, load.sh; live.ss is written by a clock
# while it is followed). Each command has one entry in TOUR below, a glob
# of the command and the function that runs and checks it: its exit status
# and what it wrote. A command of the README that no entry matches, or an
# entry that no command matches, fails the first test.
#
# One change is made to the commands: the ports of the URIs, Redis's 6379
# and Kafka's 9092, become those of the servers started here on
# 127.0.0.1: a redis-server on a free port (scripts/redis-tmp.sh) and
# tests/tools/kafka-mock, whose brokers listen on ports the system picks
# (librdkafka's mock cluster cannot be given one), so that the test never
# meets a server of someone else's.

load helper

LIMIT=30
REDIS_TMP=$REPO/scripts/redis-tmp.sh

# glob of the command, then the function that runs it
TOUR=(
	'clock --count 100 --interval 10ms | relay -o ticks.ss|t_record'
	'relay -i ticks.ss|t_replay'
	'ss-decode --format ndjson ticks.ss | jq *|t_jq'
	'relay -i ticks.ss --from seq:90|t_from_seq'
	'relay -i ticks.ss --from time:*|t_from_time'
	'relay -i live.ss --follow|t_follow'
	"relay -i 'stdio:///orders,refunds' -o orders.ss < events.log|t_keys"
	'relay -i file://orders.ss/orders|t_file_key'
	'relay --append -o orders.ss < more.log|t_append'
	'ss-decode --verify orders.ss|t_verify'
	'relay -i damaged.ss -o repaired.ss --skip-corrupt|t_repair'
	'relay -i orders.ss | partition -n 4 --key field:user_id --hash kafka part%d.ss|t_partition'
	"printf 'a part-a.ss*' >members.txt|t_members_file"
	'clock --interval 10ms | partition --members members.txt --key field:tick &|t_members_start'
	'printf * >m.new && mv m.new members.txt|t_members_join'
	'relay -i orders.ss -o redis://*/orders --maxlen 1000000|t_redis_out'
	'relay -i redis://*/orders --group loaders --consumer c1 --from start -f|t_redis_group'
	'relay -i orders.ss -o kafka://*/orders --headers|t_kafka_out'
	'relay -i kafka://*/orders --group g1 --exit-at-end -o copy.ss|t_kafka_group'
	'relay -i orders.ss | fanout --mode demand --exec ./enrich.sh -j 3|t_fanout'
	'relay -i orders.ss | batch --by stream -n 500 -t 1s --exec ./load.sh -j 4 --retries 5 --backoff 100ms..10s --dead-letter failed.ss|t_batch'
	'mkfifo p0 p1|t_mkfifo'
	'clock --interval 10ms | partition -n 2 --key field:tick p%d &|t_topo_clock'
	'batch -i p0 -n 100 -o b0.ss & batch -i p1 -n 100 -o b1.ss &|t_topo_batch'
)

setup_file() {
	local D=$BATS_FILE_TMPDIR
	"$REDIS_TMP" start "$D/redis" >"$D/redis.port" || return 1
	"$LS_TOOLS/kafka-mock" -t orders:3 >"$D/mock.boot" 2>"$D/mock.err" 3>&- &
	echo $! >"$D/mock.pid"
	wait_until 20 test -s "$D/mock.boot" || return 1
}

teardown_file() {
	local D=$BATS_FILE_TMPDIR
	"$REDIS_TMP" stop "$D/redis"
	[ -e "$D/mock.pid" ] && kill "$(cat "$D/mock.pid")" 2>/dev/null
	true
}

setup() {
	ls_setup
	RP=$(cat "$BATS_FILE_TMPDIR/redis.port")
	KB=$(head -n 1 "$BATS_FILE_TMPDIR/mock.boot")
	[ -n "$RP" ] && [ -n "$KB" ] || fail "no redis-server or kafka-mock"
	W=$BATS_TEST_TMPDIR/w
	mkdir -p "$W"
}

# The background shells, and what they started (a failed test must not
# leave a clock and a partition running).
teardown() {
	bg_kill_all
}

# tour_commands: the commands of the tour in README.md, one a line.
tour_commands() {
	awk '
	/^A tour:$/ { on = 1; next }
	!on { next }
	/^[^ ]/ { exit }
	/^    / {
		l = substr($0, 5)
		if (cont != "") { sub(/^ +/, "", l); l = cont " " l; cont = "" }
		else if (l ~ /^#/ || l ~ /^ *$/) next
		if (l ~ /\\$/) { sub(/ *\\$/, "", l); cont = l; next }
		print l
	}' "$REPO/README.md"
}

# entry_for CMD: the TOUR entry whose glob matches CMD, if exactly one does.
entry_for() {
	local e n=0 hit=
	for e in "${TOUR[@]}"; do
		# shellcheck disable=SC2053
		if [[ $1 == ${e%|*} ]]; then
			hit=$e
			n=$((n + 1))
		fi
	done
	[ "$n" -eq 1 ] && echo "$hit"
}

# local_ports CMD: CMD with the example ports replaced by ours.
local_ports() {
	local c=${1//127.0.0.1:6379/127.0.0.1:$RP}
	echo "${c//127.0.0.1:9092/${KB%%,*}}"
}

# run_cmd: runs $CMD (in $W), stdout to $T/out, stderr to $T/err; sets
# status.
run_cmd() {
	runf timeout -k 5 "$LIMIT" bash -o pipefail -c "$CMD" </dev/null
}

# bg_cmd NAME: starts $CMD in the background (bg), as bash -o pipefail -c
# CMD, or through exec if it is a simple command, which is then the
# process in $T/NAME.pid; stdout to $T/NAME.out, stderr to $T/NAME.err.
bg_cmd() {
	local c=$CMD
	[[ $c == *[\|\&\;\<\>]* ]] || c="exec $c"
	bg "$T/$1.pid" "$T/$1.out" "$T/$1.err" bash -o pipefail -c "$c"
}

# ended NAME: the process of $T/NAME.pid is gone.
ended() {
	! kill -0 "$(cat "$T/$1.pid")" 2>/dev/null
}

# expect STATUS: the last command exited with STATUS.
expect() {
	[ "$status" -eq "$1" ] ||
		fail "$CMD: status $status, not $1; stderr: $(cat "$T/err")"
}

# same WANT GOT: the files are equal, else fails naming the command.
same() {
	diff -u "$1" "$2" >"$T/diff" || fail "$CMD: $(cat "$T/diff")"
}

# body FILE: the lines of FILE but an End-of-Stream message.
body() {
	grep -v "| $EOS_KEY |" "$1" || true
}

# lines_of FILE.ss: the messages of FILE.ss as lines, End-of-Stream left out.
lines_of() {
	"$LS_BIN/relay" -i "$W/$1" >"$T/lines" || fail "$1 does not read"
	body "$T/lines"
}

# payload_of LINE...: the payloads of lines read on standard input.
payloads() {
	sed 's/^\[[^]]*\] //'
}

# --- the inputs the tour assumes ---------------------------------------

make_inputs() {
	local i k
	for ((i = 1; i <= 12; i++)); do
		k=orders
		[ $((i % 3)) -eq 0 ] && k=refunds
		[ $((i % 4)) -eq 0 ] && k=audit
		printf '[2026-11-23T10:00:%02d.000 | %s | %d | 0] {"user_id":"u%d","amount":%d}\n' \
		    "$i" "$k" "$i" $((i % 5)) $((i * 10))
	done >"$W/events.log"
	printf '[2026-11-23T10:01:00.000 | orders | 13 | 0] {"user_id":"u3","amount":130}\n' \
	    >"$W/more.log"
	grep -E '\| (orders|refunds) \|' "$W/events.log" >"$T/orders.want"
	cat "$T/orders.want" "$W/more.log" >"$T/orders2.want"
	# a file with beacons every 128 bytes, one byte of message 4 changed
	"$LS_BIN/relay" --beacon-interval 128 -o "$W/damaged.ss" <"$W/events.log"
	i=$(grep -obUa '"amount":40' "$W/damaged.ss" | cut -d: -f1)
	[ -n "$i" ] || fail "no message 4 in damaged.ss"
	printf X | dd of="$W/damaged.ss" bs=1 seek="$i" conv=notrunc 2>/dev/null
	cat >"$W/enrich.sh" <<-'EOF'
	#!/bin/sh
	# adds a member to each order, a line at a time
	exec sed -u 's/}$/,"enriched":true}/'
	EOF
	cat >"$W/load.sh" <<-'EOF'
	#!/bin/sh
	# loads a batch into the store (a file per stream here); the first
	# try of a refunds batch finds the store busy
	if [ "$STREAM_KEY" = refunds ] && [ "$STREAM_ATTEMPT" = 1 ]; then
		echo "load.sh: store busy" >&2
		exit 75
	fi
	n=$(tee -a "store-$STREAM_KEY.log" | wc -l)
	echo "$STREAM_KEY: loaded $n on attempt $STREAM_ATTEMPT"
	EOF
	chmod +x "$W/enrich.sh" "$W/load.sh"
}

# --- one function per command: runs "$CMD" and checks what it did ------

t_record() {
	run_cmd
	expect 0
	run "$SS_DECODE" --verify "$W/ticks.ss"
	assert_output --partial 'ticks.ss: ok, 101 messages'
}

t_replay() {
	run_cmd
	expect 0
	body "$T/out" | payloads >"$T/got"
	seq 0 99 | sed 's/.*/{"tick":&}/' >"$T/want"
	same "$T/want" "$T/got"
	grep -q "| clock | 99 | 0] " "$T/out" || fail "$CMD: no tick 99 meta"
	tail -n 1 "$T/out" | grep -q "| $EOS_KEY | 0 | 0] EOS$" ||
		fail "$CMD: no End-of-Stream at the end"
}

t_jq() {
	run_cmd
	expect 0
	jq -r '"\(.header.sequence) \(.payload.tick)"' "$T/out" >"$T/got"
	seq 0 10 90 | sed 's/.*/& &/' >"$T/want"
	same "$T/want" "$T/got"
}

t_from_seq() {
	run_cmd
	expect 0
	body "$T/out" | payloads >"$T/got"
	seq 90 99 | sed 's/.*/{"tick":&}/' >"$T/want"
	same "$T/want" "$T/got"
}

# from a time: the messages stamped at or after it, End-of-Stream included
t_from_time() {
	local t=${CMD##*time:}
	run_cmd
	expect 0
	"$LS_BIN/relay" -i "$W/ticks.ss" |
	    awk -v t="$t" 'substr($1, 2) >= t' >"$T/want"
	same "$T/want" "$T/out"
	[ -s "$T/out" ] || fail "$CMD: nothing"
}

# follows live.ss while a clock writes it; SIGTERM to the clock ends the
# file with End-of-Stream, which ends the follower by itself
t_follow() {
	local clock
	bg "$T/clock.pid" "$T/clock.out" "$T/clock.err" \
	    "$LS_BIN/clock" --interval 20ms --stream live -o "$W/live.ss"
	clock=$BG
	wait_until 20 test -s "$W/live.ss" || fail "clock wrote no live.ss"
	bg_cmd follow
	wait_until 20 lines_at_least 5 "$T/follow.out" || fail "$CMD: no ticks"
	kill -TERM "$(cat "$T/clock.pid")"
	wait "$clock" || fail "clock: status $?"
	wait "$BG" && status=0 || status=$?
	cp "$T/follow.err" "$T/err"
	expect 0
	"$LS_BIN/relay" -i "$W/live.ss" >"$T/want"
	same "$T/want" "$T/follow.out"
	tail -n 1 "$T/follow.out" | grep -q "| $EOS_KEY |" ||
		fail "$CMD: no End-of-Stream"
	[ ! -s "$T/err" ] || fail "$CMD: $(cat "$T/err")"
}

t_keys() {
	run_cmd
	expect 0
	lines_of orders.ss >"$T/got"
	same "$T/orders.want" "$T/got"
}

t_file_key() {
	run_cmd
	expect 0
	grep '| orders |' "$W/events.log" >"$T/want"
	body "$T/out" >"$T/got"
	same "$T/want" "$T/got"
}

# after a crash: the writer was killed inside its last message
t_append() {
	truncate -s -5 "$W/orders.ss"
	run_cmd
	expect 0
	grep -q 'orders.ss: byte [0-9]*: dropped an incomplete tail' "$T/err" ||
		fail "$CMD: stderr: $(cat "$T/err")"
	lines_of orders.ss >"$T/got"
	same "$T/orders2.want" "$T/got"
}

t_verify() {
	local n
	n=$(($(wc -l <"$T/orders2.want") + 1))
	run_cmd
	expect 0
	grep -q "^orders.ss: ok, $n messages" "$T/out" ||
		fail "$CMD: $(cat "$T/out")"
}

t_repair() {
	run_cmd
	expect 1
	grep -q 'damaged.ss: byte [0-9]*: checksum mismatch in stream audit seq 4 .*; skipped bytes' \
	    "$T/err" || fail "$CMD: stderr: $(cat "$T/err")"
	grep -v '| 4 | 0]' "$W/events.log" >"$T/want"
	lines_of repaired.ss >"$T/got"
	same "$T/want" "$T/got"
	"$SS_DECODE" --verify "$W/repaired.ss" >/dev/null ||
		fail "repaired.ss does not verify"
}

# every message in one partition, a user's in the same one, whose number
# is the shard
t_partition() {
	local p
	run_cmd
	expect 0
	: >"$T/all"
	: >"$T/users"
	for p in 0 1 2 3; do
		lines_of "part$p.ss" >"$T/part"
		awk -v p="$p" -F' [|] ' '$4 + 0 != p { exit 1 }' "$T/part" ||
		    fail "part$p.ss: a shard is not $p"
		sed 's/| [0-9]*] /| 0] /' "$T/part" >>"$T/all"
		grep -o '"user_id":"[^"]*"' "$T/part" | sed "s/\$/ $p/" >>"$T/users"
	done
	sort "$T/all" >"$T/got"
	sort "$T/orders2.want" >"$T/want"
	same "$T/want" "$T/got"
	[ "$(sort -u "$T/users" | cut -d' ' -f1 | uniq -d)" = "" ] ||
		fail "$CMD: a user in two partitions: $(sort -u "$T/users")"
}

t_redis_out() {
	run_cmd
	expect 0
	redis-cli -p "$RP" --raw XRANGE orders - + >"$T/x"
	awk 'p { print; p = 0 } $0 == "payload" { p = 1 }' "$T/x" >"$T/got"
	payloads <"$T/orders2.want" >"$T/want"
	same "$T/want" "$T/got"
}

# a new group from the start reads the whole stream, and acknowledges it
t_redis_group() {
	local n
	n=$(wc -l <"$T/orders2.want")
	bg_cmd group
	wait_until 20 lines_at_least "$n" "$T/group.out" ||
		fail "$CMD: read $(wc -l <"$T/group.out") of $n: $(cat "$T/group.err")"
	kill -TERM "$(cat "$T/group.pid")"
	wait "$BG" && status=0 || status=$?
	cp "$T/group.err" "$T/err"
	expect 0
	same "$T/orders2.want" "$T/group.out"
	[ ! -s "$T/err" ] || fail "$CMD: $(cat "$T/err")"
	[ "$(redis-cli -p "$RP" XPENDING orders loaders | head -n 1)" = 0 ] ||
		fail "$CMD: entries left pending"
}

t_kafka_out() {
	run_cmd
	expect 0
	timeout "$LIMIT" kcat -b "$KB" -C -t orders -e -q -f '%k %h %s\n' |
	    sort >"$T/got"
	sed -E 's/^\[[^ ]+ \| ([^ ]+) \| ([0-9]+) \| ([0-9]+)\] /\1 seq\/shard=\2\/\3 /' \
	    "$T/orders2.want" | sort >"$T/want"
	same "$T/want" "$T/got"
}

t_kafka_group() {
	run_cmd
	expect 0
	lines_of copy.ss | sort >"$T/got"
	sort "$T/orders2.want" >"$T/want"
	same "$T/want" "$T/got"
}

t_fanout() {
	run_cmd
	expect 0
	sort "$T/out" >"$T/got"
	sed 's/}$/,"enriched":true}/' "$T/orders2.want" | sort >"$T/want"
	same "$T/want" "$T/got"
}

t_batch() {
	run_cmd
	expect 0
	sort "$T/out" >"$T/got"
	printf '%s\n' 'orders: loaded 7 on attempt 1' \
	    'refunds: loaded 3 on attempt 2' >"$T/want"
	same "$T/want" "$T/got"
	grep -q 'store busy' "$T/err" || fail "$CMD: no failed try"
	grep '| refunds |' "$T/orders2.want" >"$T/want"
	same "$T/want" "$W/store-refunds.log"
	[ ! -e "$W/failed.ss" ] || [ -z "$(lines_of failed.ss)" ] ||
		fail "$CMD: dead letters: $(lines_of failed.ss)"
}

t_mkfifo() {
	run_cmd
	expect 0
	[ -p "$W/p0" ] && [ -p "$W/p1" ] || fail "$CMD: no FIFOs"
}

# topo_bg NAME: starts $CMD, whose jobs end with "&", in the background
# (bg) in a shell that then waits for those jobs and exits with the
# status of the last that failed; the shell is the process of
# $T/NAME.pid, $T/NAME.out and .err its outputs.
topo_bg() {
	# shellcheck disable=SC2016
	bg "$T/$1.pid" "$T/$1.out" "$T/$1.err" bash -o pipefail -c \
	    "$CMD"' st=0; for j in $(jobs -p); do wait "$j" || st=$?; done; exit $st'
}

# child NAME [SHELL]: the pid of the process NAME started by the shell of
# $T/SHELL.pid (clock.pid unless given: the first stage of the topology).
child() {
	ps -o pid=,comm= --ppid "$(cat "$T/${2:-clock}.pid")" |
	    awk -v n="$1" '$2 == n { print $1 }'
}

t_members_file() {
	run_cmd
	expect 0
	printf 'a part-a.ss\nb part-b.ss\n' >"$T/want"
	same "$T/want" "$W/members.txt"
}

# the ticks flow to part-a.ss and part-b.ss
t_members_start() {
	topo_bg members
	MEMBERS=$BG
	# shellcheck disable=SC2016
	wait_until 20 eval '[ -n "$(child clock members)" ]' || fail "$CMD: no clock"
	wait_until 20 test -s "$W/part-a.ss" || fail "$CMD: nothing in part-a.ss"
	wait_until 20 test -s "$W/part-b.ss" || fail "$CMD: nothing in part-b.ss"
}

# c joins, said once on standard error, and takes some of the ticks that
# come after; one SIGTERM to the clock ends the partition, whose three
# files then hold every tick once, each in order
t_members_join() {
	local f
	run_cmd
	expect 0
	wait_until 20 grep -q '^partition: members: +c (members.txt line 3), 2 targets -> 3$' \
	    "$T/members.err" || fail "$CMD: not seen: $(cat "$T/members.err")"
	sleep 0.5
	kill -TERM "$(child clock members)"
	wait "$MEMBERS" || fail "partition --members: status $?: $(cat "$T/members.err")"
	[ "$(wc -l <"$T/members.err")" -eq 1 ] || fail "$(cat "$T/members.err")"
	for f in a b c; do
		"$SS_DECODE" --verify "$W/part-$f.ss" >/dev/null || fail "part-$f.ss"
		lines_of "part-$f.ss" | payloads | jq -r .tick >"$T/$f.ticks"
		sort -n -c "$T/$f.ticks" || fail "part-$f.ss: ticks out of order"
	done
	[ -s "$T/c.ticks" ] || fail "no ticks in part-c.ss"
	sort -n "$T/a.ticks" "$T/b.ticks" "$T/c.ticks" >"$T/got"
	seq 0 $(($(wc -l <"$T/got") - 1)) >"$T/want"
	same "$T/want" "$T/got"
}

t_topo_clock() {
	topo_bg clock
	TOPO_CLOCK=$BG
	# shellcheck disable=SC2016
	wait_until 20 eval '[ -n "$(child clock)" ]' || fail "$CMD: no clock"
}

# the batchers run while the clock ticks; one SIGTERM to the clock ends
# the partition and then the batchers, each ending its file with EOS
t_topo_batch() {
	local clock f
	topo_bg batch
	sleep 1
	clock=$(child clock)
	[ -n "$clock" ] || fail "the clock is gone: $(cat "$T/clock.err")"
	kill -TERM "$clock"
	wait "$TOPO_CLOCK" || fail "clock | partition: status $?: $(cat "$T/clock.err")"
	wait "$BG" || fail "$CMD: status $?: $(cat "$T/batch.err")"
	[ ! -s "$T/clock.err" ] || fail "clock | partition: $(cat "$T/clock.err")"
	[ ! -s "$T/batch.err" ] || fail "$CMD: $(cat "$T/batch.err")"
	for f in b0 b1; do
		"$SS_DECODE" --verify "$W/$f.ss" >/dev/null || fail "$f.ss"
		lines_of "$f.ss" | payloads | jq -r '.[].tick' >"$T/$f.ticks"
		[ -s "$T/$f.ticks" ] || fail "no ticks in $f.ss"
	done
	sort -n "$T/b0.ticks" "$T/b1.ticks" >"$T/got"
	seq 0 $(($(wc -l <"$T/got") - 1)) >"$T/want"
	same "$T/want" "$T/got"
}

# ---------------------------------------------------------------------------

@test "tour: every command of README.md's tour has one entry here, and every entry one command" {
	local c e bad=()
	tour_commands >"$T/cmds"
	while IFS= read -r c; do
		entry_for "$c" >/dev/null || bad+=("no single entry for: $c")
	done <"$T/cmds"
	for e in "${TOUR[@]}"; do
		[ "$(while IFS= read -r c; do
			# shellcheck disable=SC2053
			[[ $c == ${e%|*} ]] && echo "$c"
		    done <"$T/cmds" | wc -l)" -eq 1 ] ||
			bad+=("no single command for: ${e%|*}")
	done
	[ "${#bad[@]}" -eq 0 ] || fail "$(printf '%s\n' "${bad[@]}")"
}

@test "tour: the commands of README.md's tour run as written, in order, and do what their comments say" {
	local c e
	PATH=$LS_BIN:$PATH
	cd "$W"
	make_inputs
	tour_commands >"$T/cmds"
	while IFS= read -r c; do
		e=$(entry_for "$c") || fail "no single entry for: $c"
		CMD=$(local_ports "$c")
		"${e##*|}" </dev/null
	done <"$T/cmds"
}
