#!/usr/bin/env bats
# batch(1): every message once and in order through batching by count,
# bytes, time and key, and back with --split; the byte limit against a
# model; commands per batch with -j, per-key order, retries, dead letters,
# a worker killed, SIGTERM mid-stream; End-of-Stream; usage. Nothing here
# measures time: background processes run under timeout(1), waits poll for
# a state with a generous limit, and the assertions are about order, counts
# and bounds.

load helper

BATCH=$LS_BIN/batch
RELAY=$LS_BIN/relay
# the longest any one command may run before timeout(1) stops it
LIMIT=60

# $D/gen.txt: 100,000 messages as lines with every meta field, over 300
# keys (key-K, shard K%5), each key's sequences consecutive from a key's
# own start, timestamps non-decreasing with ties, and payloads of every
# kind the encoding tells apart: JSON of each type, with and without
# inner blanks, JSON strings, text with quotes, backslashes, tabs, control
# and non-ASCII characters, outer blanks, empty, and some over 1,000 bytes.
# Each payload but the empty ones and literals holds its message number.
setup_file() {
	awk -v N=100000 -v K=300 "$AWK_LIB"'
	BEGIN {
		srand(20261123)
		ts = 1700000000000
		for (i = 0; i < N; i++) {
			k = int(rand() * K)
			if (!(k in seq)) seq[k] = k * 1000 + int(rand() * 900)
			r = int(rand() * 18)
			if (r == 0) p = "plain text " i
			else if (r == 1) p = "{\"user\":\"u" (i % 17) "\",\"n\":" i "}"
			else if (r == 2) p = "[" i ",{\"a\":[true,null,\"x\"]}]"
			else if (r == 3) p = i
			else if (r == 4) p = "-" i ".5e-3"
			else if (r == 5) p = "\"quoted " i "\""
			else if (r == 6) p = "  leading " i
			else if (r == 7) p = "trailing " i " "
			else if (r == 8) p = "back\\slash \"q\" /" i
			else if (r == 9) p = "h\303\251llo \342\234\223 " i
			else if (r == 10) p = "tab\there\001ctl " i
			else if (r == 11) p = "{\"user\": \"u" (i % 17) "\", \"sp\": [ " i " ]}"
			else if (r == 12) p = "{not json " i
			else if (r == 13) p = (i % 2) ? "true" : "null"
			else if (r == 14) p = ""
			else if (r == 15) p = "{\"n\":" i ",\"user\":\"u\\\"" (i % 5) "\"}"
			else if (r == 16) p = "\"\\u00e9\\n" i "\""
			else {
				p = "long-" i "-"
				n = rand() < 0.1 ? 1100 + int(rand() * 400) : int(rand() * 200)
				while (length(p) < n) p = p "abcdefghij"
			}
			ts += int(rand() * 3)
			printf "[%s | key-%d | %d | %d] %s\n", tsfmt(ts), k, seq[k]++, k % 5, p
		}
	}' >"$BATS_FILE_TMPDIR/gen.txt"
}

setup() {
	ls_setup
	D=$BATS_FILE_TMPDIR
	local b
	for b in "$BATCH" "$RELAY"; do
		[ -x "$b" ] || fail "$b is missing: run 'make' (LS_BIN)"
	done
}

teardown() {
	# whatever a failed test left running
	bg_kill_all
}

# batch ARGS...: the batch under test, never for longer than LIMIT.
batch() {
	timeout -k 5 "$LIMIT" "$BATCH" "$@"
}

# payloads: the payloads of lines on stdin (what follows the meta block).
payloads() {
	sed 's/^[^]]*] //'
}

# sizes: for each batch line on stdin, "COUNT BYTES": its number of
# elements (by jq) and the length of its payload.
sizes() {
	payloads | tee "$T/sizes.p" | jq -c length >"$T/sizes.n" &&
		awk '{ print length($0) }' "$T/sizes.p" | paste -d ' ' "$T/sizes.n" -
}

# per_key_order FILE: prints a line for each message of FILE (lines with
# every meta field) that does not follow the one before of its key, in
# sequence: one more, or the key's first.
per_key_order() {
	awk -F ' [|] ' '{
		k = $2; s = $3 + 0
		if ((k in last) && s != last[k] + 1) print "key " k ": seq " s " after " last[k]
		last[k] = s
	}' "$1"
}

# stats_in N FILE: the --stats lines of FILE show N messages read.
stats_in() {
	grep -q "\"in\":$1," "$2"
}

# ---------------------------------------------------------------------------
# 1. Every message once, in order: counts, bytes, keys, --split

@test "batch -n: 100,000 messages over 300 keys, batches of 97 in input order with the first message's meta; --split gives every message back" {
	batch -n 97 -i "$D/gen.txt" >"$T/b.txt"
	# 1031 batches: 1030 of 97, then 90; each with the meta of its first
	sizes <"$T/b.txt" | cut -d ' ' -f 1 | sort | uniq -c | awk '{ print $1, $2 }' >"$T/counts"
	printf '1 90\n1030 97\n' | cmp - "$T/counts" || fail "counts: $(cat "$T/counts")"
	tail -n 1 "$T/sizes.n" | grep -qx 90 || fail "the short batch is not the last"
	cut -d ']' -f 1 "$T/b.txt" >"$T/got.meta"
	awk 'NR % 97 == 1' "$D/gen.txt" | cut -d ']' -f 1 | cmp - "$T/got.meta" || fail "batch meta is not its first message's"
	# --split: the payloads in input order; element i of a batch has the
	# batch's key, shard and time, and sequence batch seq + i
	batch --split -i "$T/b.txt" >"$T/s.txt"
	awk '{
		i = NR - 1
		if (i % 97 == 0) {
			split(substr($0, 2, index($0, "] ") - 2), f, " [|] ")
			ts = f[1]; key = f[2]; seq = f[3]; sh = f[4]
		}
		printf "[%s | %s | %d | %s] %s\n", ts, key, seq + i % 97, sh, substr($0, index($0, "] ") + 2)
	}' "$D/gen.txt" >"$T/want"
	cmp "$T/want" "$T/s.txt" || fail "split: $(diff "$T/want" "$T/s.txt" | head -n 4)"
}

@test "batch --keep-meta, then --split: exactly the input, timestamps, shards and sequences included; default -n is 100" {
	batch --keep-meta -i "$D/gen.txt" >"$T/b.txt"
	[ "$(wc -l <"$T/b.txt")" -eq 1000 ] || fail "$(wc -l <"$T/b.txt") batches"
	sizes <"$T/b.txt" | cut -d ' ' -f 1 | sort -u | grep -qx 100 || fail "not 100 a batch"
	# every element is {"header":{...},"payload":P} with the message's meta
	head -n 1 "$T/b.txt" | payloads | jq -c '.[0].header' >"$T/h"
	head -n 1 "$D/gen.txt" | awk -F ' [|] ' '{
		printf "{\"stream_key\":\"%s\",\"shard_id\":%d,\"sequence\":%d,\"timestamp\":\"%s\"}\n",
		    $2, substr($4, 1, index($4, "]") - 1), $3, substr($1, 2) }' | cmp - "$T/h" ||
		fail "header: $(cat "$T/h")"
	batch --split -i "$T/b.txt" | cmp - "$D/gen.txt" || fail "--split does not give the input back"
}

@test "batch --by stream: per-key batches of at most 50, every key's messages once and in order; --split restores key, shard and sequence" {
	batch -n 50 --by stream --keep-meta -i "$D/gen.txt" >"$T/b.txt"
	# each batch holds one key's consecutive messages, the batch's key
	payloads <"$T/b.txt" | jq -r '[length, (map(.header.stream_key) | unique | length),
	    .[0].header.stream_key, (map(.header.sequence) | . == ([range(.[0]; .[0] + length)]))] | @tsv' >"$T/per"
	cut -d ' ' -f 3 "$T/b.txt" | paste - "$T/per" | awk -F '\t' '
	    $2 > 50 || $3 != 1 || $4 != $1 || $5 != "true" { print "batch " NR ": " $0 }' >"$T/bad"
	[ ! -s "$T/bad" ] || fail "$(head -n 3 "$T/bad")"
	# all batches of a key are full but its last
	cut -f 1,3 "$T/per" | awk -F '\t' '{ if (($2 in open) && open[$2] != 50) print "key " $2 ": a batch of " open[$2] " before another"; open[$2] = $1 }' >"$T/bad"
	[ ! -s "$T/bad" ] || fail "$(head -n 3 "$T/bad")"
	# back: the input's messages, each key in order, exactly
	batch --split -i "$T/b.txt" >"$T/s.txt"
	sort "$D/gen.txt" | cmp - <(sort "$T/s.txt") || fail "not the input's messages"
	run per_key_order "$T/s.txt"
	assert_output ""
	# without --keep-meta: key, sequence and shard come back too, since
	# each key's sequences are consecutive
	batch -n 50 --by stream -i "$D/gen.txt" | batch --split >"$T/s2.txt"
	cut -d '|' -f 2- "$D/gen.txt" | sort | cmp - <(cut -d '|' -f 2- "$T/s2.txt" | sort) ||
		fail "split without --keep-meta"
	run per_key_order "$T/s2.txt"
	assert_output ""
}

@test "batch --by field:user: one open batch per value (and one for messages without it), each value's messages once, in order" {
	batch -n 20 --by field:user --keep-meta -i "$D/gen.txt" >"$T/b.txt"
	# the value of each element, "" without one; one value a batch
	payloads <"$T/b.txt" | jq -r '[length, (map(.payload | objects | .user // "" ) +
	    map(.payload | select(type != "object") | "") | unique | length),
	    (.[0].payload | objects | .user) // ""] | @tsv' >"$T/per"
	awk -F '\t' '$1 > 20 || $2 != 1 { print "batch " NR ": " $0 }' "$T/per" >"$T/bad"
	[ ! -s "$T/bad" ] || fail "$(head -n 3 "$T/bad")"
	# 23 values: u0..u16, u"0..u"4 and none
	[ "$(cut -f 3 "$T/per" | sort -u | wc -l)" -eq 23 ] || fail "values: $(cut -f 3 "$T/per" | sort -u | tr '\n' ' ')"
	awk -F '\t' '{ if (($3 in open) && open[$3] != 20) print "value " $3 ": a batch of " open[$3] " before another"; open[$3] = $1 }' \
	    "$T/per" >"$T/bad"
	[ ! -s "$T/bad" ] || fail "$(head -n 3 "$T/bad")"
	# every message once, and each value's messages in input order
	batch --split -i "$T/b.txt" >"$T/s.txt"
	sort "$D/gen.txt" | cmp - <(sort "$T/s.txt") || fail "not the input's messages"
	awk 'NR == FNR { at[$0] = NR; next }
	{
		v = ""
		if (match($0, /] \{("n":[0-9]+,)?"user": ?"(\\"|[^"])*"/)) {
			v = substr($0, RSTART, RLENGTH); sub(/.*"user": ?/, "", v)
		}
		if ((v in last) && at[$0] < last[v]) print "value " v ": line " at[$0] " after " last[v]
		last[v] = at[$0]
	}' "$D/gen.txt" "$T/s.txt" >"$T/bad"
	[ ! -s "$T/bad" ] || fail "$(head -n 3 "$T/bad")"
}

# model_bytes B C KEYED: from "KEY LEN" lines (each message's element
# length, in input order) on stdin, prints the batches that -b B (and -n C
# unless 0) must make, "KEY COUNT BYTES" in order of closing, for each key
# if KEYED, or as one group. LEN is the array element; with EXEC (1) it is
# the line and its newline, and a batch is its lines only.
model_bytes() { # B C KEYED [EXEC]
	awk -v B="$1" -v C="$2" -v keyed="$3" -v ex="${4:-0}" '
	function close_(g) {
		print g, cnt[g], ex ? cur[g] : cur[g] + 1
		delete open[g]
	}
	{
		g = keyed ? $1 : "all"; e = $2
		if ((g in open) && cur[g] + (ex ? e : 1 + e + 1) > B) close_(g)
		if (!(g in open)) { open[g] = 1; cur[g] = ex ? e : 1 + e; cnt[g] = 1 }
		else { cur[g] += ex ? e : 1 + e; cnt[g]++ }
		if (C && cnt[g] == C) close_(g)
	}
	END { for (g in open) print g, cnt[g], ex ? cur[g] : cur[g] + 1 }'
}

@test "batch -b: no batch past the limit unless one message alone is; a batch closes only when the next message would not fit" {
	# each message's element, as a batch of one
	batch -n 1 -i "$D/gen.txt" | payloads | awk '{ print "all", length($0) - 2 }' >"$T/elems"
	[ "$(wc -l <"$T/elems")" -eq 100000 ] || fail "elements"
	batch -b 1000 -i "$D/gen.txt" >"$T/b.txt"
	sizes <"$T/b.txt" >"$T/got"
	# the bound, and a few messages alone over it
	awk '$2 > 1000 && $1 != 1 { print "batch " NR ": " $0 } $2 > 1000 { over++ }
	    END { if (over < 10) print over " batches over the limit" }' "$T/got" >"$T/bad"
	[ ! -s "$T/bad" ] || fail "$(head -n 3 "$T/bad")"
	# exactly the batches the rule makes
	model_bytes 1000 0 0 <"$T/elems" | cut -d ' ' -f 2- | cmp - "$T/got" ||
		fail "not the model's batches: $(model_bytes 1000 0 0 <"$T/elems" | cut -d ' ' -f 2- | diff - "$T/got" | head -n 4)"
	batch --split -i "$T/b.txt" | payloads | cmp - <(payloads <"$D/gen.txt") || fail "split"
	# with -n as well, whichever comes first
	batch -b 700 -n 9 -i "$D/gen.txt" | sizes >"$T/got"
	model_bytes 700 9 0 <"$T/elems" | cut -d ' ' -f 2- | cmp - "$T/got" || fail "-b 700 -n 9"
	grep -q '^9 ' "$T/got" && awk '$2 > 640 && $1 < 9' "$T/got" | grep -q . || fail "neither limit ever closed a batch"
}

@test "batch -b --by stream --keep-meta: per key, the batches the rule makes, the headers counted" {
	batch -n 1 --keep-meta -i "$D/gen.txt" >"$T/ones"
	paste -d ' ' <(cut -d ' ' -f 3 "$T/ones") <(payloads <"$T/ones" | awk '{ print length($0) - 2 }') >"$T/elems"
	batch -b 2000 -n 30 --by stream --keep-meta -i "$D/gen.txt" >"$T/b.txt"
	paste -d ' ' <(cut -d ' ' -f 3 "$T/b.txt") <(sizes <"$T/b.txt") >"$T/got"
	awk '$3 > 2000 && $2 != 1 { print "batch " NR ": " $0 }' "$T/got" >"$T/bad"
	[ ! -s "$T/bad" ] || fail "$(head -n 3 "$T/bad")"
	# each key's batches in order (keys interleave, so compare per key)
	model_bytes 2000 30 1 <"$T/elems" | sort -s -k 1,1 >"$T/want"
	sort -s -k 1,1 "$T/got" | cmp - "$T/want" || fail "not the model's batches: $(sort -s -k 1,1 "$T/got" | diff - "$T/want" | head -n 4)"
	batch --split -i "$T/b.txt" | sort | cmp - <(sort "$D/gen.txt") || fail "split"
}

@test "batch: a .ss round trip with --keep-meta --by stream -n -b restores every message and the End-of-Stream" {
	"$RELAY" -i "$D/gen.txt" -o "$T/in.ss" </dev/null
	batch -i "$T/in.ss" -o "$T/b.ss" --keep-meta --by stream -n 64 -b 3000 --beacon-interval 4096 </dev/null
	batch --split -i "$T/b.ss" -o "$T/s.ss" </dev/null
	"$SS_TSV" -v "$T/in.ss" | sed '$d' >"$T/in.tsv"
	"$SS_TSV" -v "$T/s.ss" >"$T/s.tsv" || fail "s.ss does not verify"
	sed '$d' "$T/s.tsv" >"$T/s.msgs"
	# the same messages, each key in order, then the input's EOS, stamped as it was
	tail -n 1 "$T/s.msgs" | cmp - <(tail -n 1 "$T/in.tsv") || fail "EOS: $(tail -n 1 "$T/s.msgs")"
	sort "$T/in.tsv" | cmp - <(sort "$T/s.msgs") || fail "not the same messages"
	awk -F '\t' '{ if (($1 in l) && $3 != l[$1] + 1) print $1 " " $3 " after " l[$1]; l[$1] = $3 }' "$T/s.msgs" >"$T/bad"
	[ ! -s "$T/bad" ] || fail "$(head -n 3 "$T/bad")"
	# and b.ss holds fewer, larger messages than in.ss
	local n
	n=$("$SS_TSV" "$T/b.ss" | sed '$d' | wc -l)
	[ "$n" -gt 1000 ] && [ "$n" -lt 10000 ] || fail "$n batches"
}

@test "batch: the element encoding: JSON other than strings as it is, the rest as strings; nesting at the limit round trips" {
	printf '%s\n' '[k | 1] {"a": [1, 2]}' '[k | 2] "str"' '[k | 3] text "q" \' \
	    '[k | 4] -1.50e+3' '[k | 5]  01' '[k | 6] true' '[k | 7] [ ]' '[k | 8] {"a":1} ' \
	    '[k | 9] nulls' >"$T/in.txt"
	batch -i "$T/in.txt" | payloads >"$T/got"
	printf '%s\n' '[{"a": [1, 2]},"\"str\"","text \"q\" \\",-1.50e+3," 01",true,[ ],"{\"a\":1} ","nulls"]' |
		cmp - "$T/got" || fail "got: $(cat "$T/got")"
	jq -e . "$T/got" >/dev/null || fail "not JSON"
	# 511 levels fit in an array and 510 in an element of --keep-meta
	# (JSON ends at 512); one more is taken as a string. A batch that is
	# not JSON would be passed on whole by --split, with a warning.
	local d m
	for d in 510 511 512; do
		printf '[k | 1] %s%s\n[k | 2] x\n' "$(printf '%*s' "$d" '' | tr ' ' '[')" \
		    "$(printf '%*s' "$d" '' | tr ' ' ']')" >"$T/deep.txt"
		for m in "" --keep-meta; do
			batch $m -i "$T/deep.txt" >"$T/b" 2>"$T/err" || fail "depth $d $m: $(cat "$T/err")"
			batch --split -i "$T/b" 2>"$T/err" | payloads | cmp - <(payloads <"$T/deep.txt") ||
				fail "depth $d $m: split: $(cat "$T/err")"
			[ ! -s "$T/err" ] || fail "depth $d $m: $(cat "$T/err")"
		done
	done
}

@test "batch: payloads that are not UTF-8 are named and not batched; newlines survive a .ss round trip; --exec cannot take them" {
	{
		printf 'k\t0\t1\t1700000000001\t%s\n' 6f6b31 fffe 6c696e650a627265616b
		printf 'k\t1\t4\t1700000000004\t%s\n' 6f6b32 c328 22
	} | awk -F '\t' 'BEGIN { OFS = "\t" } { $3 = NR; print }' >"$T/in.tsv"
	"$SS_BUILD" "$T/in.ss" <"$T/in.tsv"
	runf batch -i "$T/in.ss" -o "$T/b.ss" --keep-meta
	assert_equal "$status" 1
	[ "$(grep -c 'payload is not UTF-8; not batched$' "$T/err")" -eq 2 ] || fail "stderr: $(cat "$T/err")"
	grep -q "in.ss: byte [0-9]*: stream k seq 2: " "$T/err" || fail "stderr: $(cat "$T/err")"
	grep -q "in.ss: byte [0-9]*: stream k seq 5: " "$T/err" || fail "stderr: $(cat "$T/err")"
	batch --split -i "$T/b.ss" -o "$T/s.ss" </dev/null
	grep -v 'fffe$\|c328$' "$T/in.tsv" | cmp - <("$SS_TSV" "$T/s.ss" | sed '$d' | grep -v "^$EOS_KEY") ||
		fail "split: $("$SS_TSV" "$T/s.ss")"
	# lines for a command cannot hold a newline
	runf batch -i "$T/in.ss" --exec cat
	assert_equal "$status" 1
	grep -q 'stream k seq 3: .*; not batched$' "$T/err" || fail "stderr: $(cat "$T/err")"
	[ "$(wc -l <"$T/out")" -eq 3 ] || fail "out: $(cat "$T/out")"
}

@test "batch --split: a message that is not an array passes as it is, with a warning; an empty array gives nothing" {
	printf '[k | 5] [1,2]\n[k | 6] not an array\n[k | 7] []\n[k | 8] {"a":1}\n' >"$T/in.txt"
	runf batch --split -i "$T/in.txt"
	assert_equal "$status" 0
	run cut -d '|' -f 2- "$T/out"
	assert_output "$(printf ' k | 5 | 0] 1\n k | 6 | 0] 2\n k | 6 | 0] not an array\n k | 8 | 0] {"a":1}')"
	[ "$(grep -c 'not a batch (a JSON array); passed on as it is$' "$T/err")" -eq 2 ] || fail "stderr: $(cat "$T/err")"
}

# ---------------------------------------------------------------------------
# 2. Time

@test "batch -t 200ms: on a slow trickle, each batch comes out while the writer still holds the pipe" {
	mkfifo "$T/feed"
	exec 5<>"$T/feed"
	BG_IN=$T/feed bg "$T/b.pid" "$T/out" "$T/err" "$BATCH" -t 200ms -n 100
	local bgp=$BG st
	echo '[a | 1] one' >&5
	wait_until 30 lines_at_least 1 "$T/out" || fail "no batch while the input is open"
	# two lines in one write: one batch
	printf '[a | 2] two\n[a | 3] three\n' >&5
	wait_until 30 lines_at_least 2 "$T/out" || fail "no second batch"
	printf '[a | 4] four\n' >&5
	exec 5>&-
	wait "$bgp" && st=0 || st=$?
	assert_equal "status $st: $(cat "$T/err")" "status 0: "
	run cut -d '|' -f 2- "$T/out"
	assert_output "$(printf ' a | 1 | 0] ["one"]\n a | 2 | 0] ["two","three"]\n a | 4 | 0] ["four"]')"
}

@test "batch -t --by stream: each key's batch has its own timer; with --exec the command runs while the input is open" {
	mkfifo "$T/feed"
	exec 5<>"$T/feed"
	BG_IN=$T/feed bg "$T/b.pid" "$T/out" "$T/err" "$BATCH" -t 200ms --by stream
	local bgp=$BG st
	printf '[a | 1] a1\n[b | 1] b1\n' >&5
	wait_until 30 lines_at_least 2 "$T/out" || fail "batches: $(cat "$T/out")"
	printf '[a | 2] a2\n' >&5
	wait_until 30 lines_at_least 3 "$T/out" || fail "batches: $(cat "$T/out")"
	exec 5>&-
	wait "$bgp" && st=0 || st=$?
	assert_equal "status $st: $(cat "$T/err")" "status 0: "
	run cut -d '|' -f 2- "$T/out"
	assert_line --index 2 ' a | 2 | 0] ["a2"]'
	[ "${#lines[@]}" -eq 3 ]
	# the same through a command, and its output as it comes
	exec 5<>"$T/feed"
	BG_IN=$T/feed bg "$T/x.pid" "$T/xout" "$T/xerr" "$BATCH" -t 200ms --by stream --exec 'echo "$STREAM_KEY $(wc -l)"'
	bgp=$BG
	printf '[a | 1] a1\n[a | 2] a2\n' >&5
	wait_until 30 lines_at_least 1 "$T/xout" || fail "no command ran"
	printf '[b | 1] b1\n' >&5
	wait_until 30 lines_at_least 2 "$T/xout" || fail "no second command ran"
	exec 5>&-
	wait "$bgp" && st=0 || st=$?
	assert_equal "status $st: $(cat "$T/xerr")" "status 0: "
	run cat "$T/xout"
	assert_output "$(printf 'a 2\nb 1')"
}

# ---------------------------------------------------------------------------
# 3. End of Stream

@test "batch: the input's End-of-Stream ends it and is passed on, stamped as it was; --split passes it; --no-eos and --exec do not" {
	printf '[k | 0] a\n[k | 1] b\n[2022-01-01T00:00:07 | %s | 0 | 0] EOS\n[k | 2] after\n' "$EOS_KEY" >"$T/in.txt"
	local eos="[2022-01-01T00:00:07.000 | $EOS_KEY | 0 | 0] EOS"
	runf batch -i "$T/in.txt"
	assert_equal "$status" 0
	run cut -d '|' -f 2- "$T/out"
	assert_output "$(printf ' k | 0 | 0] ["a","b"]\n %s | 0 | 0] EOS' "$EOS_KEY")"
	tail -n 1 "$T/out" | grep -qxF "$eos" || fail "EOS: $(tail -n 1 "$T/out")"
	batch --split -i "$T/out" | tail -n 1 | grep -qxF "$eos" || fail "split drops the EOS"
	batch --split -i "$T/out" | grep -c . | grep -qx 3 || fail "split"
	# .ss: the input's EOS; without one in the input, one stamped now
	batch -i "$T/in.txt" -o "$T/x.ss" </dev/null
	"$SS_TSV" -v "$T/x.ss" | sed '$d' | tail -n 1 | grep -qx "$(printf '%s\t0\t0\t1640995207000\t454f53' "$EOS_KEY")" ||
		fail "x.ss: $("$SS_TSV" "$T/x.ss")"
	head -n 2 "$T/in.txt" | batch -o "$T/y.ss"
	"$SS_TSV" -v "$T/y.ss" | sed '$d' | tail -n 1 | grep -q "^$EOS_KEY	" || fail "y.ss has no EOS"
	# --no-eos
	batch -i "$T/in.txt" --no-eos | grep -c . | grep -qx 1 || fail "--no-eos"
	batch -i "$T/in.txt" --no-eos -o "$T/z.ss" </dev/null
	! "$SS_TSV" "$T/z.ss" | grep -q "^$EOS_KEY" || fail "z.ss has an EOS"
	# a command gets the messages before it, and no EOS comes out
	runf batch -i "$T/in.txt" --exec cat
	assert_equal "$status" 0
	run cut -d ']' -f 2- "$T/out"
	assert_output "$(printf ' a\n b')"
}

# ---------------------------------------------------------------------------
# 4. Commands

# The worker of the --exec tests: takes a lock directory per key (and
# records an overlap if it is held), reads its batch, prints "attempt KEY
# FIRST N" and then "KEY FIRST LAST COUNT ATTEMPT WORKER", and fails its
# first attempt at batches whose first sequence is a multiple of 7.
write_worker() {
	cat >"$T/worker.sh" <<'EOF'
lock=$LOCKS/$STREAM_KEY
if ! mkdir "$lock" 2>/dev/null; then
	echo "overlap: $STREAM_KEY attempt $STREAM_ATTEMPT" >>"$LOCKS.overlaps"
	exit 99
fi
first= last= n=0
while IFS= read -r line; do
	s=${line#*| }; s=${s#*| }; s=${s%% |*}
	[ -n "$first" ] || first=$s
	last=$s; n=$((n + 1))
done
echo "attempt $STREAM_KEY $first $STREAM_ATTEMPT"
sleep 0.01
rmdir "$lock"
[ $((first % 7)) -ne 0 ] || [ "$STREAM_ATTEMPT" -gt 1 ] || exit 3
echo "$STREAM_KEY $first $last $n $STREAM_ATTEMPT $STREAM_WORKER"
EOF
	mkdir "$T/locks"
}

@test "batch --exec -j 4 --by stream: a key's batches never run at once nor out of order, retries included; a failed attempt's output is dropped" {
	write_worker
	awk 'BEGIN { srand(5); for (i = 0; i < 2000; i++) { k = int(rand() * 6); printf "[k%d | %d] m%d\n", k, s[k]++, i } }' >"$T/in.txt"
	LOCKS=$T/locks runf batch -n 20 --by stream -j 4 --backoff 1ms..4ms -i "$T/in.txt" --exec "sh $T/worker.sh"
	assert_equal "status $status: $(grep -v 'exited with status 3; retry 1 of 3$' "$T/err" | head -n 3)" "status 0: "
	[ ! -e "$T/locks.overlaps" ] || fail "overlaps: $(head -n 3 "$T/locks.overlaps")"
	grep '^attempt ' "$T/out" >"$T/attempts" || true
	grep -v '^attempt ' "$T/out" >"$T/runs"
	# per key: batches of 20 but the last, consecutive, complete, each once
	awk '
	{
		k = $1
		if ($2 != next_[k] + 0) print "key " k ": batch from " $2 " after one to " next_[k] - 1
		if ($4 != $3 - $2 + 1) print "key " k ": batch " $2 "-" $3 " of " $4
		if ((k in n) && n[k] != 20) print "key " k ": a batch of " n[k] " before " $2
		if ($5 != ($2 % 7 == 0 ? 2 : 1)) print "key " k ": batch " $2 " on attempt " $5
		next_[k] = $3 + 1; n[k] = $4; total += $4; w[$6]++
	}
	END {
		for (s in w) if (s !~ /^[0-3]$/) print "worker " s
		if (length(w) < 2) print "only " length(w) " worker slot used"
		print total
	}' "$T/runs" >"$T/check"
	[ "$(sed '$d' "$T/check")" = "" ] || fail "$(head -n 4 "$T/check")"
	[ "$(tail -n 1 "$T/check")" -eq 2000 ] || fail "$(tail -n 1 "$T/check") messages"
	local k
	for k in 0 1 2 3 4 5; do
		[ "$(awk -v k=k$k '$1 == k' "$T/runs" | tail -n 1 | cut -d ' ' -f 3)" -eq "$(($(grep -c "^\[k$k " "$T/in.txt") - 1))" ] ||
			fail "key k$k does not end at its last message"
	done
	# what a failed attempt printed is gone: one attempt line per batch, the last
	awk '{ print "attempt", $1, $2, $5 }' "$T/runs" | sort | cmp - <(sort "$T/attempts") || fail "attempt lines"
	[ "$(grep -c 'exited with status 3; retry 1 of 3$' "$T/err")" -eq "$(awk '$2 % 7 == 0' "$T/runs" | wc -l)" ] ||
		fail "retries reported: $(grep -c retry "$T/err")"
	[ -z "$(ls "$T/locks")" ]
}

@test "batch --exec -b: the lines a command is given stay within the limit unless one line alone is; each batch as the rule makes it" {
	head -n 1500 "$D/gen.txt" >"$T/in.txt"
	awk '{ print "all", length($0) + 1 }' "$T/in.txt" >"$T/elems"
	runf batch -b 1000 -i "$T/in.txt" --exec 'wc -lc'
	assert_equal "status $status: $(head -n 3 "$T/err")" "status 0: "
	awk '{ print $1, $2 }' "$T/out" >"$T/got"
	model_bytes 1000 0 0 1 <"$T/elems" | cut -d ' ' -f 2- | cmp - "$T/got" ||
		fail "not the model's batches: $(model_bytes 1000 0 0 1 <"$T/elems" | cut -d ' ' -f 2- | diff - "$T/got" | head -n 4)"
	awk '$2 > 1000 && $1 != 1 { print } $2 > 1000 { over++ } END { if (!over) print "none over" }' "$T/got" | grep -q . &&
		fail "$(awk '$2 > 1000 && $1 != 1' "$T/got" | head -n 2)"
	# the lines themselves, in order
	runf batch -b 1000 -i "$T/in.txt" --exec cat
	assert_equal "$status" 0
	cmp "$T/in.txt" "$T/out" || fail "lines: $(diff "$T/in.txt" "$T/out" | head -n 4)"
}

# poison_input: 250 messages with every meta field over 4 keys, some of
# whose payloads are "poison-N".
poison_input() {
	awk "$AWK_LIB"'BEGIN { srand(9); for (i = 0; i < 250; i++) {
		k = int(rand() * 4); p = rand() < 0.04 ? "poison-" i : "fine-" i
		printf "[%s | k%d | %d | 0] %s\n", tsfmt(1700000000000 + i), k, s[k]++, p } }' >"$T/in.txt"
}

@test "batch --dead-letter x.ss: a batch that keeps failing goes there whole after its record; relay replays it; the rest go on; exit 1" {
	poison_input
	runf batch -n 10 --by stream -j 3 --retries 2 --backoff 1ms..2ms --dead-letter "$T/dl.ss" \
	    -i "$T/in.txt" --exec 'in=$(cat); echo "junk $STREAM_ATTEMPT"; case $in in *poison*) exit 5;; esac; printf "%s\n" "$in"'
	assert_equal "$status" 1
	grep -q 'dead-lettered: [1-9][0-9]* batches, [1-9][0-9]* messages$' "$T/err" || fail "stderr: $(tail -n 2 "$T/err")"
	# the file verifies and ends with an EOS; relay reads it
	"$SS_TSV" -v "$T/dl.ss" | sed '$d' | tail -n 1 | grep -q "^$EOS_KEY	" || fail "dl.ss does not end with EOS"
	"$RELAY" -i "$T/dl.ss" -o "$T/dl.txt" </dev/null
	sed -i '$d' "$T/dl.txt"
	# each record, then its batch: reason, attempts, count, key, first seq
	awk -F ' [|] ' '
	$2 == "dead-letter" {
		if (left) print "record " r ": " left " messages missing"
		r = substr($0, index($0, "] ") + 2); left = -1; next
	}
	{
		p = substr($0, index($0, "] ") + 2)
		if (left == -1) {
			if (!match(r, /"messages":[0-9]+/)) print "record " r
			left = substr(r, RSTART + 11, RLENGTH - 11) + 0
			want = "{\"reason\":\"exited with status 5\",\"attempts\":3,\"messages\":" left \
			    ",\"stream_key\":\"" $2 "\",\"sequence\":" $3 "}"
			if (r != want) print "record " r " want " want
			poisoned = 0
		}
		if (p ~ /^poison/) poisoned = 1
		if (--left == 0 && !poisoned) print "a batch without poison: " r
		print $0 >"/dev/stderr"
	}
	END { if (left) print "last record: " left " messages missing" }' "$T/dl.txt" 2>"$T/dead" >"$T/bad"
	[ ! -s "$T/bad" ] || fail "$(head -n 3 "$T/bad")"
	[ -s "$T/dead" ] || fail "nothing dead-lettered"
	# every message either printed (once, by a good batch) or dead, never both
	grep -v '^junk ' "$T/out" >"$T/good"
	! grep -q poison "$T/good" || fail "poison printed"
	sort "$T/good" "$T/dead" | cmp - <(sort "$T/in.txt") || fail "not every message once"
	grep -q '^junk 1$' "$T/out" && ! grep -q '^junk [23]$' "$T/out" || fail "a failed attempt's output came out"
	# replay one key's dead letters with relay
	local k
	k=$(awk -F ' [|] ' 'NR == 1 { print $2 }' "$T/dead")
	"$RELAY" -i "file://$T/dl.ss/$k" </dev/null | sed '$d' | cmp - <(grep -F " | $k | " "$T/dead") || fail "replay of $k"
}

@test "batch --exec without --dead-letter: the failed batch's messages follow a warning on stderr; a lines --dead-letter file gets the same" {
	poison_input
	runf batch -n 10 --retries 0 -i "$T/in.txt" --exec 'in=$(cat); case $in in *poison*) exit 5;; esac; printf "%s\n" "$in"'
	assert_equal "$status" 1
	grep -q ' exited with status 5 after 1 attempt; its messages follow$' "$T/err" || fail "stderr: $(head -n 3 "$T/err")"
	grep '^\[' "$T/err" | grep -v ' | dead-letter | ' >"$T/dead"
	[ -s "$T/dead" ] || fail "no messages on stderr"
	sort "$T/out" "$T/dead" | cmp - <(sort "$T/in.txt") || fail "not every message once"
	runf batch -n 10 --retries 0 -i "$T/in.txt" --dead-letter "$T/dl.txt" --exec 'in=$(cat); case $in in *poison*) exit 5;; esac; printf "%s\n" "$in"'
	assert_equal "$status" 1
	grep -v ' | dead-letter | ' "$T/dl.txt" | cmp - "$T/dead" || fail "the lines file differs"
	[ "$(grep -c ' | dead-letter | ' "$T/dl.txt")" -ge 1 ]
	# nothing dead: exit 0, and an empty file
	runf batch -n 10 -i "$T/in.txt" --dead-letter "$T/dl2.txt" --exec cat
	assert_equal "$status" 0
	[ -e "$T/dl2.txt" ] && [ ! -s "$T/dl2.txt" ]
}

@test "batch --on-error stop: after the first dead batch no command runs; what was read is printed or dead, once" {
	awk 'BEGIN { for (i = 0; i < 3000; i++) printf "[k%d | %d] m%d\n", i % 3, int(i / 3), i }' >"$T/in.txt"
	runf batch -n 10 -j 2 --retries 1 --backoff 1ms..2ms --on-error stop --dead-letter "$T/dl.txt" \
	    -i "$T/in.txt" --exec 'echo start >>'"$T"'/ran; in=$(cat)
	    case $STREAM_ATTEMPT$in in 2*"] m75"*) echo stopped >>'"$T"'/ran; exit 4;; *"] m75"*) exit 4;; esac
	    sleep 0.01; printf "%s\n" "$in"'
	assert_equal "$status" 1
	grep -q 'seq 23 exited with status 4 after 2 attempts$' "$T/err" || fail "stderr: $(head -n 3 "$T/err")"
	grep -v ' | dead-letter | ' "$T/dl.txt" | cut -d ']' -f 2- >"$T/dead"
	cut -d ']' -f 2- "$T/out" >"$T/good"
	# what came out, printed or dead, is each once, and a prefix of the input
	local n
	n=$(cat "$T/good" "$T/dead" | wc -l)
	[ "$n" -lt 1000 ] || fail "$n messages handled: it did not stop"
	sort "$T/good" "$T/dead" | uniq -d | grep -q . && fail "a message twice"
	sort "$T/good" "$T/dead" | cmp - <(head -n "$n" "$T/in.txt" | cut -d ']' -f 2- | sort) || fail "not a prefix of the input"
	grep -q '"reason":"not run: an earlier batch failed"' "$T/dl.txt" || fail "no batch was left unrun"
	# once the last attempt fails, no command starts but (-j 2) one that
	# may have started while it ended
	[ "$(awk '/stopped/ { s = 1 } s && /start/ { n++ } END { print n + 0 }' "$T/ran")" -le 1 ] ||
		fail "commands ran on: $(tail -n 5 "$T/ran" | tr '\n' ' ')"
}

@test "batch --exec: a worker killed with SIGKILL mid-batch is retried; its output appears once, nothing is lost" {
	awk 'BEGIN { for (i = 0; i < 200; i++) printf "[k | %d] m%d\n", i, i }' >"$T/in.txt"
	cat >"$T/w.sh" <<EOF
in=\$(cat)
echo "start \$STREAM_ATTEMPT \${in%%]*}]"
case \$in in *"] m50"*) if [ "\$STREAM_ATTEMPT" = 1 ]; then echo \$\$ >"$T/victim.pid"; exec sleep 60; fi;; esac
printf '%s\n' "\$in"
EOF
	bg "$T/b.pid" "$T/out" "$T/err" "$BATCH" -n 10 -j 2 --backoff 1ms..2ms -i "$T/in.txt" --exec "exec sh $T/w.sh"
	local bgp=$BG st
	wait_until 30 test -s "$T/victim.pid" || fail "the worker did not start"
	kill -KILL "$(cat "$T/victim.pid")"
	wait "$bgp" && st=0 || st=$?
	assert_equal "status $st: $(grep -v 'retry 1 of 3$' "$T/err")" "status 0: "
	grep -q 'seq 50 killed by signal 9 (Killed); retry 1 of 3$' "$T/err" || fail "stderr: $(cat "$T/err")"
	# in any order (-j 2), each once
	grep -v '^start ' "$T/out" | cut -d ']' -f 2- | sort | cmp - <(cut -d ']' -f 2- "$T/in.txt" | sort) ||
		fail "messages: $(grep -v '^start ' "$T/out" | cut -d ']' -f 2- | sort | diff - <(cut -d ']' -f 2- "$T/in.txt" | sort) | head -n 4)"
	[ "$(grep -c '^start ' "$T/out")" -eq 20 ] || fail "$(grep -c '^start ' "$T/out") outputs"
	grep -q '^start 2 .* k | 50 | ' "$T/out" || fail "the batch at 50 was not run again"
}

@test "batch --exec: SIGTERM mid-stream with slow commands: exit 0, every message read before it printed once, the rest left unread" {
	awk 'BEGIN { for (i = 0; i < 1000; i++) printf "[k%d | %d] m%d\n", i % 4, int(i / 4), i }' >"$T/in.txt"
	mkfifo "$T/feed"
	exec 5<>"$T/feed"
	# the whole input waits in the pipe, and the writer keeps it open
	cat "$T/in.txt" >&5
	BG_IN=$T/feed bg "$T/b.pid" "$T/out" "$T/err" "$BATCH" -n 50 --by stream -j 2 --backoff 1ms..2ms \
	    --stats --stats-interval 10ms --exec 'in=$(cat); echo "junk $STREAM_KEY $STREAM_ATTEMPT"; sleep 0.1
	    case $STREAM_ATTEMPT$STREAM_KEY in 1k[13]) exit 1;; esac; printf "%s\n" "$in"'
	local bgp=$BG st
	wait_until 30 grep -q '"out":[1-9]' "$T/err" || fail "no batch done: $(tail -n 1 "$T/err")"
	kill -TERM "$(cat "$T/b.pid")"
	wait "$bgp" && st=0 || st=$?
	assert_equal "status $st: $(grep -v '^{' "$T/err" | grep -v 'retry 1 of 3$')" "status 0: "
	# what is left in the pipe was not read
	exec 6<"$T/feed"
	exec 5>&-
	cat <&6 >"$T/left"
	exec 6<&-
	grep -v '^junk ' "$T/out" | cut -d ']' -f 2- | sort >"$T/got"
	sort -u "$T/got" | cmp -s - "$T/got" || fail "a message twice"
	cut -d ']' -f 2- "$T/left" | cat "$T/got" - | sort | cmp - <(cut -d ']' -f 2- "$T/in.txt" | sort) ||
		fail "read $(wc -l <"$T/got"), left $(wc -l <"$T/left") of 1000"
	grep -q 'retry 1 of 3$' "$T/err" || fail "no retries"
	! grep -q '^junk k[13] 1$' "$T/out" || fail "a failed attempt's output came out"
	grep -q '^junk k[13] 2$' "$T/out" || fail "no retried batch came out"
}

@test "batch -t: SIGTERM while the input is open and quiet flushes the open batches and exits 0" {
	mkfifo "$T/feed"
	exec 5<>"$T/feed"
	printf '[a | 1] a1\n[b | 1] b1\n[a | 2] a2\n' >&5
	BG_IN=$T/feed bg "$T/b.pid" "$T/out" "$T/err" "$BATCH" -t 1h --by stream --stats --stats-interval 10ms
	local bgp=$BG st
	wait_until 30 stats_in 3 "$T/err" || fail "not read: $(tail -n 1 "$T/err")"
	kill -TERM "$(cat "$T/b.pid")"
	wait "$bgp" && st=0 || st=$?
	exec 5>&-
	assert_equal "status $st" "status 0"
	# the keys' batches in any order
	run bash -c "cut -d '|' -f 2- '$T/out' | sort"
	assert_output "$(printf ' a | 1 | 0] ["a1","a2"]\n b | 1 | 0] ["b1"]')"
	# the same with a command
	exec 5<>"$T/feed"
	printf '[a | 1] a1\n[b | 1] b1\n' >&5
	BG_IN=$T/feed bg "$T/x.pid" "$T/xout" "$T/xerr" "$BATCH" -t 1h --stats --stats-interval 10ms --exec 'sleep 0.05; cat'
	bgp=$BG
	wait_until 30 stats_in 2 "$T/xerr" || fail "not read: $(tail -n 1 "$T/xerr")"
	kill -TERM "$(cat "$T/x.pid")"
	wait "$bgp" && st=0 || st=$?
	exec 5>&-
	assert_equal "status $st" "status 0"
	run cut -d '|' -f 2- "$T/xout"
	assert_output "$(printf ' a | 1 | 0] a1\n b | 1 | 0] b1')"
}

@test "batch --exec: the environment of a command: STREAM_WORKER, STREAM_ATTEMPT and STREAM_KEY of the first message" {
	printf '[x | 1] a\n[y | 1] b\n[y | 2] c\n' >"$T/in.txt"
	runf batch -n 2 -i "$T/in.txt" --exec 'cat >/dev/null; echo "$STREAM_WORKER $STREAM_ATTEMPT $STREAM_KEY"'
	assert_equal "$status" 0
	run cat "$T/out"
	assert_output "$(printf '0 1 x\n0 1 y')"
}

@test "batch: a standard output whose reader has gone ends it quietly, as SIGPIPE would; a broken FIFO named by -o is an error" {
	batch -n 100 -i "$D/gen.txt" -o "$T/b.txt" </dev/null
	local args st
	for args in "-n 1 -i $D/gen.txt" "--split -i $T/b.txt" "-n 100 -i $D/gen.txt --exec cat"; do
		# shellcheck disable=SC2086
		batch $args 2>"$T/err" </dev/null | head -n 1 >/dev/null
		st=${PIPESTATUS[0]}
		[ "$st" -eq 141 ] || fail "$args: status $st: $(cat "$T/err")"
		[ ! -s "$T/err" ] || fail "$args: $(cat "$T/err")"
	done
	mkfifo "$T/fifo"
	head -c 1 "$T/fifo" >/dev/null 3>&- &
	runf batch -n 1 -i "$D/gen.txt" -o "$T/fifo"
	assert_equal "$status" 1
	grep -q 'Broken pipe' "$T/err" || fail "stderr: $(cat "$T/err")"
}

# ---------------------------------------------------------------------------
# 5. Usage

@test "batch: usage errors exit 2 with a message and no output" {
	local -a cases=(
		"-n 0"
		"-n x"
		"-b 0"
		"-t 0"
		"-t 500us"
		"--by key"
		"--by field:"
		"-j 2"
		"--retries 1"
		"--backoff 1ms..2ms"
		"--dead-letter $T/dl.ss"
		"--on-error stop"
		"--exec cat -j 0"
		"--exec cat --retries 1001"
		"--exec cat --on-error maybe"
		"--exec cat --backoff 5ms..1ms"
		"--exec cat --backoff 0..1s"
		"--exec cat --backoff 1ms"
		"--exec cat -o $T/o.txt"
		"--exec cat --keep-meta"
		"--split -n 3"
		"--split --by stream"
		"--split --exec cat"
		"--append --force"
		"--on-bad-line maybe"
		"--stats-interval often"
		"--beacon-interval 10"
		"--bogus"
		"extra"
	)
	local c
	for c in "${cases[@]}"; do
		# shellcheck disable=SC2086
		runf batch $c </dev/null
		[ "$status" -eq 2 ] || fail "'$c': status $status"
		[ -s "$T/err" ] || fail "'$c': no message"
		[ ! -s "$T/out" ] || fail "'$c': output $(cat "$T/out")"
	done
	[ ! -e "$T/dl.ss" ] && [ ! -e "$T/o.txt" ]
	runf batch --bogus
	grep -q '^usage: batch ' "$T/err" || fail "no usage: $(cat "$T/err")"
	# runtime errors exit 1
	runf batch -i "$T/missing"
	assert_equal "$status" 1
	printf 'x\n' >"$T/exists"
	printf 'x\n' | batch -o "$T/exists" 2>"$T/err" && status=0 || status=$?
	assert_equal "$status" 1
	grep -q 'file exists' "$T/err"
}
