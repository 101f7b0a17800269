#!/usr/bin/env bats
# etcd:// streams (relay), partition --members etcd:// and member(1),
# against an etcd of our own on free ports of 127.0.0.1
# (scripts/etcd-tmp.sh), cross-checked with etcdctl. Each test works
# under a prefix of its own. Nothing measures time: background commands
# run under timeout(1) and waits poll for a state.

load helper

RELAY=$LS_BIN/relay
PARTITION=$LS_BIN/partition
MEMBER=$LS_BIN/member
LIMIT=30
ETCD_TMP=$REPO/scripts/etcd-tmp.sh

setup_file() {
	local port
	port=$("$ETCD_TMP" start "$BATS_FILE_TMPDIR/etcd") || return 1
	echo "$port" >"$BATS_FILE_TMPDIR/port"
}

teardown_file() {
	"$ETCD_TMP" stop "$BATS_FILE_TMPDIR/etcd"
}

setup() {
	ls_setup
	[ -x "$RELAY" ] || fail "$RELAY is missing: run 'make' (LS_BIN)"
	P=$(cat "$BATS_FILE_TMPDIR/port")
	# a prefix of this test's own
	X=/t$BATS_TEST_NUMBER
	U=etcd://127.0.0.1:$P$X
}

teardown() {
	bg_kill_all
	# an etcd of the test's own
	[ -d "$T/e2" ] && "$ETCD_TMP" stop "$T/e2"
	return 0
}

relay() {
	timeout -k 5 "$LIMIT" "$RELAY" "$@"
}

ectl() {
	ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:$P" "$@"
}

# revision: etcd's revision now.
revision() {
	ectl get / -w json | python3 -c 'import json, sys
print(json.load(sys.stdin)["header"]["revision"])'
}

# key_revisions PREFIX: "KEY MOD_REVISION VALUE" of each key under PREFIX.
key_revisions() {
	ectl get --prefix "$1" -w json | python3 -c 'import base64, json, sys
for kv in json.load(sys.stdin).get("kvs", []):
    print(base64.b64decode(kv["key"]).decode(), kv["mod_revision"],
          base64.b64decode(kv.get("value", "")).decode())'
}

# meta FILE: "KEY SEQ SHARD PAYLOAD" of each line of a relay's output.
meta() {
	sed 's/^\[[^|]*| \([^ ]*\) | \([0-9]*\) | \([0-9]*\)\] /\1 \2 \3 /' "$1"
}

# count PREFIX: the number of keys under PREFIX.
count() {
	ectl get --prefix "$1" --keys-only | grep -c .
}

# has_key KEY, no_key KEY
has_key() {
	[ -n "$(ectl get "$1" --print-value-only)" ]
}
no_key() {
	[ -z "$(ectl get "$1" --keys-only)" ]
}

@test "relay -o etcd:// puts each message under PREFIX/STREAM/SEQ" {
	printf '%s\n' '[2024-01-01T00:00:00.000 | a | 1 | 0] one' \
	    '[2024-01-01T00:00:00.000 | b | 7 | 0] {"x":2}' \
	    '[2024-01-01T00:00:00.000 | a | 12 | 0] three' >"$T/in"
	run relay -i "$T/in" -o "$U"
	assert_success
	assert_output ''
	run ectl get --prefix "$X/"
	assert_output "$X/a/00000000000000000001
one
$X/a/00000000000000000012
three
$X/b/00000000000000000007
{\"x\":2}"
	# and back: stream keys, payloads (3, 5 and 7 bytes: every base64
	# padding), one revision for the one transaction
	relay -i "$U" --exit-at-end >"$T/back"
	local r
	r=$(revision)
	run meta "$T/back"
	assert_output "a $r 0 one
a $r 0 three
b $r 0 {\"x\":2}"
	# 1100 messages: nine transactions, all there
	awk 'BEGIN { for (i = 1; i <= 1100; i++)
	    printf "[2024-01-01T00:00:00.000 | m | %d | 0] v%d\n", i, i }' \
	    >"$T/many"
	run relay -i "$T/many" -o "$U/many"
	assert_success
	run count "$X/many/"
	assert_output 1100
	run ectl get "$X/many/m/00000000000000001100" --print-value-only
	assert_output v1100
	# read back over two pages of the list (1024 keys a page)
	relay -i "$U/many" --exit-at-end >"$T/back"
	run sed 's/.*] //' "$T/back"
	assert_output "$(seq 1 1100 | sed 's/^/v/')"
}

@test "relay -i etcd:// lists the prefix at one revision, then ends with --exit-at-end" {
	ectl put "$X/a" 1 >/dev/null
	ectl put "$X/b/c" 2 >/dev/null
	ectl put "$X/b/c" 3 >/dev/null
	ectl put "${X}x" other >/dev/null
	ectl put "$X/not a key" 4 >/dev/null
	relay -i "$U" --exit-at-end >"$T/out"
	# in key order; seq is the key's mod_revision; the stream key its
	# first segment after the prefix, or the default key where that is
	# not a stream key; ${X}x begins with $X too: a prefix is bytes
	run meta "$T/out"
	assert_output "$(key_revisions "$X" | awk '{ print $(NF - 1) }' | paste -d ' ' \
	    <(printf '%s\n' a b broadcast x) - <(printf '%s\n' '0 1' '0 3' '0 4' '0 other'))"
	assert_equal "$(wc -l <"$T/out")" 4
}

@test "relay -i etcd:// with puts racing its start: every put once, in revision order" {
	local n=60
	# keys in the order of their puts, so that the list's key order is
	# revision order too
	( for ((i = 1; i <= n; i++)); do
		ectl put "$(printf '%s/k/%04d' "$X" "$i")" "v$i" >/dev/null
	  done
	  echo done >"$T/puts-done" ) 3>&- &
	echo $! >"$T/puts.pid"
	wait_until 20 eval '[ "$(count "$X/k/")" -ge 5 ]'
	timeout -k 5 "$LIMIT" "$RELAY" -i "$U/k/" >"$T/out" 2>"$T/err" 3>&- &
	echo $! >"$T/relay.pid"
	wait_until 30 test -e "$T/puts-done"
	wait_until 20 lines_at_least "$n" "$T/out"
	# a last put after the race: seen too
	ectl put "$X/k/last" end >/dev/null	# after the digits
	wait_until 20 lines_at_least $((n + 1)) "$T/out"
	kill -TERM "$(cat "$T/relay.pid")"
	wait "$(cat "$T/relay.pid")" || true
	run cat "$T/err"
	assert_output ''
	assert_equal "$(wc -l <"$T/out")" $((n + 1))
	# each put once, with its revision, in revision order
	run meta "$T/out"
	assert_output "$(key_revisions "$X/k/" | sort -k2,2n | awk '{ k = $1; sub(/.*\//, "", k); print k, $2, 0, $3 }')"
}

@test "relay -i etcd:// watches deletions: shard 1, the key as payload" {
	ectl put "$X/a" 1 >/dev/null
	timeout -k 5 "$LIMIT" "$RELAY" -i "$U" >"$T/out" 2>"$T/err" 3>&- &
	echo $! >"$T/relay.pid"
	wait_until 20 lines_at_least 1 "$T/out"
	ectl del "$X/a" >/dev/null
	local r
	r=$(revision)
	ectl put "$X/b" 2 >/dev/null
	wait_until 20 lines_at_least 3 "$T/out"
	kill -TERM "$(cat "$T/relay.pid")"
	wait "$(cat "$T/relay.pid")" || true
	run meta "$T/out"
	assert_output "a $((r - 1)) 0 1
a $r 1 $X/a
b $((r + 1)) 0 2"
	run cat "$T/err"
	assert_output ''
}

@test "relay -i etcd:// --from rev:N watches from revision N, --from end from now" {
	ectl put "$X/a" 1 >/dev/null
	local r
	r=$(revision)
	ectl put "$X/b" 2 >/dev/null
	ectl put "$X/a" 3 >/dev/null
	timeout -k 5 "$LIMIT" "$RELAY" -i "$U" --from "rev:$((r + 1))" \
	    >"$T/out" 2>"$T/err" 3>&- &
	echo $! >"$T/relay.pid"
	timeout -k 5 "$LIMIT" "$RELAY" -i "$U" --from end \
	    >"$T/end" 2>"$T/end-err" 3>&- &
	echo $! >"$T/end.pid"
	wait_until 20 lines_at_least 2 "$T/out"
	# --from end: what comes after it started (it has once the watch
	# answers: puts until it shows one)
	until lines_at_least 1 "$T/end"; do
		ectl put "$X/c" 4 >/dev/null
		wait_until 1 lines_at_least 1 "$T/end" || true
	done
	kill -TERM "$(cat "$T/relay.pid")" "$(cat "$T/end.pid")"
	wait "$(cat "$T/relay.pid")" || true
	wait "$(cat "$T/end.pid")" || true
	run meta "$T/out"
	assert_line --index 0 "b $((r + 1)) 0 2"
	assert_line --index 1 "a $((r + 2)) 0 3"
	run grep -c -v ' | c | ' "$T/end"
	assert_output 0
	run cat "$T/err" "$T/end-err"
	assert_output ''
}

@test "relay -i etcd:// from a compacted revision fails and says so" {
	ectl put "$X/a" 1 >/dev/null
	local r
	r=$(revision)
	ectl put "$X/a" 2 >/dev/null
	ectl compact "$((r + 1))" >/dev/null
	run relay -i "$U" --from "rev:$r"
	assert_failure 1
	assert_output "relay: $U: watch from revision $r: that revision has been compacted (the oldest kept is $((r + 1)))"
}

@test "relay -o etcd:// --lease: keys live while relay runs, go once it is killed -9" {
	mkfifo "$T/fifo"
	# (not under timeout(1), whose death would leave it running: the
	# teardown kills it)
	"$RELAY" -i "$T/fifo" -o "$U" --lease 2 2>"$T/err" 3>&- &
	echo $! >"$T/relay.pid"
	exec 7>"$T/fifo"
	echo '[2024-01-01T00:00:00.000 | a | 1 | 0] leased' >&7
	wait_until 20 has_key "$X/a/00000000000000000001"
	run ectl get "$X/a/00000000000000000001" -w json
	assert_output --partial '"lease":'
	# past its TTL, kept alive
	sleep 3
	run ectl get "$X/a/00000000000000000001" --print-value-only
	assert_output leased
	kill -KILL "$(cat "$T/relay.pid")"
	exec 7>&-
	wait_until 20 no_key "$X/a/00000000000000000001"
	run ectl get --prefix "$X" --keys-only
	assert_output ''
}

@test "etcd:// errors: bad URI, no server, bad --from, bad --lease" {
	run relay -i "etcd://127.0.0.1:$P" --exit-at-end
	assert_failure 1
	assert_output "relay: etcd://127.0.0.1:$P: no key prefix: the form is etcd://HOST[:PORT]/PREFIX"
	run relay -i "etcd://127.0.0.1:x/p" --exit-at-end
	assert_failure 1
	assert_output "relay: etcd://127.0.0.1:x/p: bad port 'x'"
	run relay -i "etcd://u:pw@127.0.0.1:$P/p" --exit-at-end
	assert_failure 1
	assert_output "relay: etcd://u:***@127.0.0.1:$P/p: credentials are not supported (etcd://HOST[:PORT]/PREFIX)"
	run relay -i "$U" --from time:2024-01-01T00:00:00
	assert_failure 1
	assert_output "relay: $U: an etcd source starts at start, end or rev:N"
	run relay -i "$U" --from rev:0
	assert_failure 2
	assert_line --index 0 --partial "relay: --from rev:"
	run relay -o "$U" --lease 0 </dev/null
	assert_failure 2
	assert_line --index 0 "relay: --lease: '0' is under a second"
	run relay -o "$T/x" --lease 5 </dev/null
	assert_failure 2
	assert_line --index 0 "relay: --lease goes with an etcd:// output"
	# a port nothing listens on
	local free
	free=$(free_port)
	run relay -i "etcd://127.0.0.1:$free/p" --exit-at-end
	assert_failure 1
	assert_output --regexp "^relay: etcd://127.0.0.1:$free/p: range: Could(n't| not) connect to server$"
}

# send FIRST LAST TAG: messages of keys kFIRST..kLAST, payloads TAG-N, to
# the FIFO on descriptor 7.
send() {
	local i
	for ((i = $1; i <= $2; i++)); do
		echo "[2024-01-01T00:00:00.000 | k$i | $i | 0] $3-$i" >&7
	done
}

# keys_of FILE: the stream keys of FILE's lines, sorted.
keys_of() {
	[ -e "$1" ] || return 0
	sed 's/^\[[^|]*| \([^ ]*\) .*/\1/' "$1" | sort
}

@test "member registers NAME=OUTPUT under a lease; revokes on exit, the lease expires after kill -9" {
	timeout -k 5 "$LIMIT" "$MEMBER" --ttl 2 "$U" a "$T/a.out" \
	    2>"$T/err" 3>&- &
	echo $! >"$T/a.pid"
	wait_until 20 has_key "$X/a"
	run ectl get "$X/a" --print-value-only
	assert_output "$T/a.out"
	run ectl get "$X/a" -w json
	assert_output --partial '"lease":'
	# kept alive past its TTL
	sleep 3
	run has_key "$X/a"
	assert_success
	kill -TERM "$(cat "$T/a.pid")"
	local st=0
	wait "$(cat "$T/a.pid")" || st=$?
	assert_equal "$st" 0
	# revoked at once: no TTL to wait for
	run ectl get "$X/a" --keys-only
	assert_output ''
	run cat "$T/err"
	assert_output ''
	# kill -9: the key stays until the lease runs out
	# (not under timeout(1), whose death would leave it running: the
	# teardown kills it)
	"$MEMBER" --ttl 2 "$U" b "$T/b.out" 3>&- &
	echo $! >"$T/b.pid"
	wait_until 20 has_key "$X/b"
	kill -KILL "$(cat "$T/b.pid")"
	wait_until 20 no_key "$X/b"
	# with a command: registered while it runs, its exit status
	run timeout -k 5 "$LIMIT" "$MEMBER" "$U" c "$T/c.out" -- sh -c \
	    "ETCDCTL_API=3 etcdctl --endpoints=127.0.0.1:$P get $X/c --print-value-only; exit 3"
	assert_failure 3
	assert_output "$T/c.out"
	run ectl get "$X/c" --keys-only
	assert_output ''
}

@test "member: usage errors" {
	run "$MEMBER" "$U" a
	assert_failure 2
	assert_line --index 0 "member: OUTPUT is missing"
	run "$MEMBER" redis://x/y a b
	assert_failure 2
	assert_line --index 0 "member: 'redis://x/y' is not an etcd:// URI"
	run "$MEMBER" "$U" 'a b' out
	assert_failure 2
	assert_line --index 0 "member: NAME 'a b' is not 1 to 249 of [A-Za-z0-9._-]"
	run "$MEMBER" --ttl 0 "$U" a out
	assert_failure 2
	assert_line --index 0 "member: --ttl: '0' is under a second"
	run "$MEMBER" "$U" a out extra
	assert_failure 2
	assert_line --index 0 "member: unexpected argument 'extra' (a command follows --)"
}

@test "partition --members etcd://: joins and leaves move keys, an expired lease removes a target" {
	local pa pb pc
	timeout -k 5 "$LIMIT" "$MEMBER" --ttl 2 "$U" a "$T/a.out" 3>&- &
	echo $! >"$T/ma.pid"
	wait_until 20 has_key "$X/a"
	mkfifo "$T/in"
	timeout -k 5 "$LIMIT" "$PARTITION" --members "$U" -i "$T/in" \
	    2>"$T/err" 3>&- &
	echo $! >"$T/part.pid"
	exec 7>"$T/in"
	send 1 20 one
	wait_until 20 lines_at_least 20 "$T/a.out"
	# b joins: some keys move to it
	timeout -k 5 "$LIMIT" "$MEMBER" --ttl 2 "$U" b "$T/b.out" 3>&- &
	echo $! >"$T/mb.pid"
	wait_until 20 grep -q '+b' "$T/err"
	send 1 20 two
	wait_until 20 eval '[ $(($(wc -l <"$T/a.out") + $(cat "$T/b.out" 2>/dev/null | wc -l))) -ge 40 ]'
	pb=$(keys_of "$T/b.out" | uniq)
	[ -n "$pb" ]
	# every key of b's went there only for "two", and nowhere else then
	run grep -c -- '] two-' "$T/b.out"
	assert_output "$(echo "$pb" | wc -l)"
	run grep -c -- '] two-' "$T/a.out"
	assert_output "$((20 - $(echo "$pb" | wc -l)))"
	# b leaves (member ends): its keys come back to a
	kill -TERM "$(cat "$T/mb.pid")"
	wait_until 20 grep -q -- '-b (gone' "$T/err"
	send 1 20 three
	wait_until 20 eval '[ $(grep -c -- "] three-" "$T/a.out") -ge 20 ]'
	# c joins with a lease, then is killed -9: the lease ends it
	"$MEMBER" --ttl 2 "$U" c "$T/c.out" 3>&- &
	echo $! >"$T/mc.pid"
	wait_until 20 grep -q '+c' "$T/err"
	kill -KILL "$(cat "$T/mc.pid")"
	wait_until 20 grep -q -- '-c (gone' "$T/err"
	send 1 20 four
	wait_until 20 eval '[ $(grep -c -- "] four-" "$T/a.out") -ge 20 ]'
	exec 7>&-
	local st=0
	wait "$(cat "$T/part.pid")" || st=$?
	assert_equal "$st" 0
	# nothing lost, nothing twice
	assert_equal "$(cat "$T/a.out" "$T/b.out" | wc -l)" 80
	assert_equal "$(grep -c -- '] three-' "$T/b.out")" 0
	[ ! -s "$T/c.out" ]
	run sed 's/ revision [0-9]*//' "$T/err"
	assert_output "partition: members: +b ($U), 1 target -> 2
partition: members: -b (gone from $U), 2 targets -> 1
partition: members: +c ($U), 1 target -> 2
partition: members: -c (gone from $U), 2 targets -> 1"
	kill -TERM "$(cat "$T/ma.pid")"
}

@test "partition --members etcd:// with no target registered, or no etcd" {
	run timeout -k 5 "$LIMIT" "$PARTITION" --members "$U" </dev/null
	assert_failure 1
	assert_output "partition: $U: no target registered (each key PREFIX/NAME holds OUTPUT: see member(1))"
	local free
	free=$(free_port)
	run timeout -k 5 "$LIMIT" "$PARTITION" --members "etcd://127.0.0.1:$free/w" </dev/null
	assert_failure 1
	assert_output --regexp "^partition: etcd://127.0.0.1:$free/w: range: Could(n't| not) connect to server$"
	run timeout -k 5 "$LIMIT" "$MEMBER" "etcd://127.0.0.1:$free/w" a out
	assert_failure 1
	assert_output --regexp "^member: etcd://127.0.0.1:$free/w: lease grant: Could(n't| not) connect to server$"
}

@test "etcd gone: partition --members and member end with status 1, saying so" {
	local p2 st=0
	p2=$("$ETCD_TMP" start "$T/e2")
	"$MEMBER" --ttl 2 "etcd://127.0.0.1:$p2/w" a "$T/a.out" 2>"$T/m.err" \
	    3>&- &
	echo $! >"$T/m.pid"
	wait_until 20 eval 'ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:$p2" get /w/a --keys-only | grep -q .'
	mkfifo "$T/in"
	timeout -k 5 "$LIMIT" "$PARTITION" --members "etcd://127.0.0.1:$p2/w" \
	    -i "$T/in" 2>"$T/p.err" 3>&- &
	echo $! >"$T/p.pid"
	exec 7>"$T/in"
	send 1 3 x
	wait_until 20 lines_at_least 3 "$T/a.out"
	"$ETCD_TMP" stop "$T/e2"
	wait "$(cat "$T/p.pid")" || st=$?
	exec 7>&-
	assert_equal "$st" 1
	run cat "$T/p.err"
	assert_output --regexp "^partition: members: etcd://127.0.0.1:$p2/w: watch ended: [^:]+$"
	st=0
	wait "$(cat "$T/m.pid")" || st=$?
	assert_equal "$st" 1
	# said once
	run cat "$T/m.err"
	assert_output --regexp "^member: etcd://127.0.0.1:$p2/w: lease keepalive: [^:]+$"
	assert_equal "$(wc -l <"$T/m.err")" 1
}

@test "relay -i etcd:// reads a page as it comes: a page of large values is never held whole" {
	# 1000 values of 70,000 bytes: pages of 1024 keys, one page of
	# about 93 MiB of base64, which relay reads a kv at a time
	awk 'BEGIN { for (s = "x"; length(s) < 70000; s = s s) ;
	    s = substr(s, 1, 70000)
	    for (i = 1; i <= 1000; i++)
		printf "[2024-01-01T00:00:00.000 | m | %d | 0] %d%s\n", i, i, s }' \
	    >"$T/big"
	run relay -i "$T/big" -o "$U/big"
	assert_success
	run count "$X/big/"
	assert_output 1000
	run /usr/bin/time -f '%M' -o "$T/peak" "$RELAY" -i "$U/big" \
	    --exit-at-end -o "$T/back"
	assert_success
	assert_output ""
	assert_equal "$(wc -l <"$T/back")" 1000
	run cmp <(sed 's/^[^]]*\] //' "$T/back") <(sed 's/^[^]]*\] //' "$T/big")
	assert_success
	# peak KiB: the libraries (about 8 MiB) and a value or two, not the
	# page (a sanitizer's build has its own allocator)
	if [ -z "${LS_SAN:-}" ]; then
		echo "peak $(cat "$T/peak") KiB"
		[ "$(cat "$T/peak")" -lt 16384 ]
	fi
}

# kv KEY REVISION VALUE: a kv as etcd's gateway writes it.
kv() {
	printf '{"key":"%s","mod_revision":"%s","value":"%s"}' \
	    "$(printf %s "$1" | base64 -w0)" "$2" "$(printf %s "$3" | base64 -w0)"
}

# fake_relay PORT: relay -i of the fake gateway on PORT fails with status
# 1 having written the two good kvs; its errors in $output.
fake_relay() {
	local st
	relay -i "etcd://127.0.0.1:$1/f/" --exit-at-end >"$T/out" 2>"$T/err" &&
	    st=0 || st=$?
	assert_equal "$st" 1
	run sed 's/^[^|]*|//' "$T/out"
	assert_output " a | 3 | 0] one
 b | 4 | 0] two"
	run cat "$T/err"
}

@test "relay -i etcd:// passes on what came before damage in a page, then fails saying where" {
	local port good
	good="$(kv /f/a 3 one),$(kv /f/b 4 two)"
	echo '{"header":{"revision":"9"},"kvs":[]}' >"$T/resp"
	start fake timeout -k 5 "$LIMIT" python3 "$REPO/tests/tools/fake-etcd.py" \
	    "$T/resp"
	wait_until 10 test -s "$T/fake.out"
	port=$(cat "$T/fake.out")
	# each damage after two good kvs: the two are written, then relay
	# fails naming the source and the last revision it passed on
	for bad in '{"key":"L2YvYw==","mod_revision":"5","value":"#"}' \
	    '{"value":"b25l"}' '{"key":"L2YvYw==","value":"b25l"}'; do
		printf '{"header":{"revision":"9"},"kvs":[%s,%s],"count":"3"}' \
		    "$good" "$bad" >"$T/resp"
		fake_relay "$port"
		assert_output --regexp "^relay: etcd://127.0.0.1:$port/f/: after revision 4: a key (and|or) value [^:]+$"
	done
	# the page cut short after the good kvs, or a kv that is not JSON
	# after them: not JSON
	for rest in '' ',{"key":"L2YvYw==","mod_revision":"5","value":"b25l"]]}'; do
		printf '{"header":{"revision":"9"},"kvs":[%s%s' "$good" "$rest" \
		    >"$T/resp"
		fake_relay "$port"
		assert_output "relay: etcd://127.0.0.1:$port/f/: range: a response that is not JSON, after revision 4"
	done
	# whole, it is read whole, a member's string with escaped quotes,
	# backslashes and brackets in it skipped where it ends
	printf '{"header":{"revision":"9"},"kvs":[%s,%s],"count":"3"}' "$good" \
	    '{"key":"L2YvYw==","x":"\\\"}]\\\\","y":["}"],"mod_revision":"5","value":"dGhyZWU="}' \
	    >"$T/resp"
	run relay -i "etcd://127.0.0.1:$port/f/" --exit-at-end
	assert_success
	assert_equal "${#lines[@]}" 3
	assert_line --index 2 --regexp '\| c \| 5 \| 0\] three$'
}
