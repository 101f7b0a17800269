#!/usr/bin/env bats
# relay(1): round trips between lines and .ss files, a live writer with a
# follower, kill -9 and SIGTERM of writers, positioning with --from, and
# every option. Nothing here measures time: background processes run
# under timeout(1), waits poll for a state with a generous limit, and the
# assertions are about order and counts.

load helper

RELAY=$LS_BIN/relay
CLOCK=$LS_BIN/clock
# the longest any one command may run before timeout(1) stops it
LIMIT=60

# Files for --from: the generated many-stream file (12000 messages over 24
# streams, per-stream sequences with gaps, non-decreasing timestamps with
# ties, interval 2048: 3 items per beacon) and two vectors; for each, its
# TSV decode (.tsv, without the trailer), its full relay decode as lines
# (.lines) and its message start offsets from the reference reader
# (.starts).
setup_file() {
	local D=$BATS_FILE_TMPDIR f
	awk "$AWK_LIB"'BEGIN {
		srand(11)
		ts = 1700000000000
		for (i = 0; i < 12000; i++) {
			k = int(rand() * 24)
			seq[k] += 1 + int(rand() * 4)
			ts += int(rand() * 3)
			p = "m" i "-"
			n = int(rand() * 90)
			while (length(p) < n) p = p "abcdefghij"
			printf "key-%d\t%d\t%.0f\t%.0f\t%s\n", int(k / 3), k % 3, seq[k], ts, hex(p)
		}
		printf "SEA_STREAMER_INTERNAL\t0\t0\t%.0f\t454f53\n", ts + 1
	}' >"$D/gen.raw"
	"$LS_TOOLS/ss-build" -n gen -c 1700000000000 -i 2048 "$D/gen.ss" <"$D/gen.raw"
	cp "$VEC/many-streams.ss" "$VEC/rotate-2048.ss" "$D/"
	for f in gen many-streams rotate-2048; do
		"$LS_TOOLS/ss-tsv" "$D/$f.ss" | sed '$d' >"$D/$f.tsv"
		timeout "$LIMIT" "$LS_BIN/relay" -i "$D/$f.ss" -o "$D/$f.lines" </dev/null
	done
	python3 -c '
import sys
sys.path.insert(0, sys.argv[1])
import ssref
for path in sys.argv[2:]:
    r = ssref.parse(open(path + ".ss", "rb").read())
    with open(path + ".starts", "w") as f:
        f.write("".join("%d\n" % s for s in r["starts"]))
' "$REPO/tests/ref" "$D/gen" "$D/many-streams" "$D/rotate-2048"
}

setup() {
	ls_setup
	D=$BATS_FILE_TMPDIR
	[ -x "$RELAY" ] || fail "$RELAY is missing: run 'make' (LS_BIN)"
	[ -x "$CLOCK" ] || fail "$CLOCK is missing: run 'make' (LS_BIN)"
}

teardown() {
	# whatever a failed test left running in a process group of its own
	local g
	for g in "$T"/*.pgid; do
		[ -s "$g" ] && kill -KILL -- "-$(cat "$g")" 2>/dev/null
	done
	return 0
}

# relay ARGS...: the relay under test, never for longer than LIMIT.
relay() {
	timeout -k 5 "$LIMIT" "$RELAY" "$@"
}

# at_least N FILE: FILE has at least N bytes.
at_least() {
	[ -e "$2" ] && [ "$(fsize "$2")" -ge "$1" ]
}

# tsv FILE: the messages of the .ss FILE as TSV, checked by ss-tsv -v (the
# trailer must say "end"); fails with the trailer otherwise.
tsv() {
	local out
	out=$("$SS_TSV" -v "$1") || {
		echo "$1 does not verify: ${out##*$'\n'}" >&2
		return 1
	}
	case ${out##*$'\n'} in
	end\ *) ;;
	*) echo "$1 does not end cleanly: ${out##*$'\n'}" >&2; return 1 ;;
	esac
	sed '$d' <<<"$out"
}

# header_json FILE: the header of the .ss FILE as JSON (ss-decode -m).
header_json() {
	"$SS_DECODE" -m -H "$1" | head -n 1 | sed 's/^# //'
}

# ---------------------------------------------------------------------------
# 1. Round trips

@test "relay: lines with every meta variant -> .ss -> lines keep every field, and fill in the missing ones" {
	cat >"$T/in.txt" <<'EOF'
a plain, raw message
[2022-01-01T00:00:00] { "payload": "anything" }
[2022-01-01T00:00:00.123 | my_topic] "a string payload"
[2022-01-01T00:00:00 | my-topic-2 | 123] ["array", "of", "values"]
[2022-01-01T00:00:00 | my-topic-2 | 123 | 4] { "payload": "anything" }
[my_topic] a amazing payload
[my_topic | 123] { "payload": "anything" }
[my_topic | 123 | 4] { "payload": "anything" }
[my_topic] after an explicit sequence
[my-topic-2] also after one
[my_topic | 7 | 4] shard 4 has its own counter
[my_topic] shard 0 goes on
plain again
[2023-06-30T23:59:59.999999999 | t] digits below the millisecond are cut
[ 2022-01-01T00:00:00.5	|  spaced  | 9 ]   two blanks kept, and one at the end 
EOF
	# key, seq, shard, timestamp (now: the time of reading), payload
	cat >"$T/want" <<'EOF'
broadcast	0	0	now	a plain, raw message
broadcast	1	0	1640995200000	{ "payload": "anything" }
my_topic	0	0	1640995200123	"a string payload"
my-topic-2	123	0	1640995200000	["array", "of", "values"]
my-topic-2	123	4	1640995200000	{ "payload": "anything" }
my_topic	1	0	now	a amazing payload
my_topic	123	0	now	{ "payload": "anything" }
my_topic	123	4	now	{ "payload": "anything" }
my_topic	124	0	now	after an explicit sequence
my-topic-2	124	0	now	also after one
my_topic	7	4	now	shard 4 has its own counter
my_topic	125	0	now	shard 0 goes on
broadcast	2	0	now	plain again
t	0	0	1688169599999	digits below the millisecond are cut
spaced	9	0	1640995200500	  two blanks kept, and one at the end 
SEA_STREAMER_INTERNAL	0	0	now	EOS
EOF
	local t0 t1
	t0=$(date +%s%3N)
	relay -i "$T/in.txt" -o "$T/x.ss" </dev/null
	t1=$(date +%s%3N)
	tsv "$T/x.ss" >"$T/x.tsv"
	# the .ss file holds exactly the expected messages
	run awk -F '\t' -v t0="$t0" -v t1="$t1" "$AWK_LIB"'
	NR == FNR { k[NR] = $1; s[NR] = $2; sh[NR] = $3; ts[NR] = $4; p[NR] = $5; n = NR; next }
	{
		i = FNR
		if ($1 != k[i] || $2 != sh[i] || $3 != s[i] || $5 != hex(p[i]))
			print "message " i ": " $1 " " $2 " " $3 " " $5 " want " k[i] " " sh[i] " " s[i] " " hex(p[i])
		if (ts[i] == "now" ? $4 + 0 < t0 || $4 + 0 > t1 : $4 != ts[i])
			print "message " i ": timestamp " $4 " want " ts[i]
	}
	END { if (FNR != n) print FNR " messages, want " n }' "$T/want" "$T/x.tsv"
	assert_output ""
	# back to lines: the canonical line of each message, with the payload
	# of the input line (columns of x.tsv: key shard seq ts hex)
	relay -i "$T/x.ss" -o "$T/y.txt" </dev/null
	paste -d '\t' <(cut -f 1-4 "$T/x.tsv") <(cut -f 5 "$T/want") |
	    awk -F '\t' "$AWK_LIB"'{ printf "[%s | %s | %s | %s] %s\n", tsfmt($4), $1, $3, $2, $5 }' >"$T/y.want"
	run diff "$T/y.want" "$T/y.txt"
	assert_success
	# and lines -> .ss again gives the same messages, the filled-in times
	# included, as they are now written out
	relay -i "$T/y.txt" -o "$T/z.ss" </dev/null
	tsv "$T/z.ss" >"$T/z.tsv"
	run diff "$T/x.tsv" "$T/z.tsv"
	assert_success
}

# check_vector_roundtrips: relays every vector but binary (payloads that
# are not lines) and no-eos-truncated (cut short) to lines and back to .ss
# with the vector's interval; prints a line per difference.
check_vector_roundtrips() {
	local name iv n=0 st
	for name in $(vector_names); do
		case $name in binary | no-eos-truncated) continue ;; esac
		n=$((n + 1))
		iv=$(vector_arg "$name" interval)
		relay -i "$VEC/$name.ss" -o "$T/$name.txt" </dev/null 2>"$T/err" && st=0 || st=$?
		[ "$st" -eq 0 ] || { echo "$name: to lines: status $st: $(head -n 1 "$T/err")"; continue; }
		relay -i "$T/$name.txt" -o "$T/$name.ss" --beacon-interval "$iv" </dev/null 2>"$T/err" && st=0 || st=$?
		[ "$st" -eq 0 ] || { echo "$name: to .ss: status $st: $(head -n 1 "$T/err")"; continue; }
		"$SS_TSV" "$VEC/$name.ss" >"$T/a"
		"$SS_TSV" -v "$T/$name.ss" >"$T/b" || echo "$name: copy does not verify: $(tail -n 1 "$T/b")"
		cmp -s "$T/a" "$T/b" || echo "$name: $(diff "$T/a" "$T/b" | head -n 3 | tr '\n' ' ')"
		# same messages and interval: the same bytes after the header
		cmp -s <(tail -c +129 "$VEC/$name.ss") <(tail -c +129 "$T/$name.ss") ||
			echo "$name: bytes after the header differ"
		# every message made a line, EOS included
		[ "$(wc -l <"$T/$name.txt")" -eq "$(($(wc -l <"$T/a") - 1))" ] ||
			echo "$name: $(wc -l <"$T/$name.txt") lines"
	done
	[ "$n" -ge 7 ] || echo "only $n vectors"
}

@test "relay: keys alike but in their middle bytes are streams apart, each with its own sequence" {
	# lookups compare a key's first and last bytes first, then the rest
	for k in aXb aYb abcXdef abcYdef 01234567X01234567 01234567Y01234567 \
	    0123456789X123456789 0123456789Y123456789; do
		printf '[2024-01-01T00:00:00 | %s] a\n[2024-01-01T00:00:00 | %s] b\n' "$k" "$k"
	done >"$T/in.txt"
	sort -t'|' -k2,2 "$T/in.txt" >"$T/turns.txt"
	cat "$T/in.txt" "$T/turns.txt" >"$T/all.txt"
	run "$RELAY" -o "$T/x.ss" <"$T/all.txt"
	[ "$status" -eq 0 ] || fail "relay: $output"
	run "$SS_DECODE" -v "$T/x.ss"
	[ "$status" -eq 0 ] || fail "ss-decode -v: $output"
	# every key's four messages numbered 0 to 3
	"$SS_DECODE" "$T/x.ss" | grep -v SEA_STREAMER_INTERNAL |
	    awk -F'|' '{ if (!($2 in n)) keys++; n[$2]++
	    if ($3 + 0 != n[$2] - 1) bad = bad " " $2 ":" $3 }
	    END { if (keys != 8) bad = bad " keys:" keys; print bad }' >"$T/bad"
	[ "$(cat "$T/bad")" = "" ] || fail "$(cat "$T/bad")"
}

@test "relay: beacons of one item rotate over the streams known then, by key, while new ones keep coming" {
	# 101 keys, new ones among the old up to the end; a beacon's item is
	# the next in key order of the streams counted before it (with the
	# message it cuts): streams added are merged into the sorted ones
	for i in $(seq 1 300); do
		printf '[2024-01-01T00:00:00 | k%03d] %0100d\n' $((i * 37 % 101)) "$i"
	done >"$T/in.txt"
	run "$RELAY" --beacon-interval 1000 -o "$T/x.ss" <"$T/in.txt"
	[ "$status" -eq 0 ] || fail "relay: $output"
	cat >"$T/check.awk" <<'EOF'
{ line[NR] = $0 }
END {
	for (i = 1; i <= NR; i++) {
		if (line[i] ~ /^\[/) {
			split(line[i], f, " [|] ")
			known[f[2]] = 1
			continue
		}
		if (line[i] !~ /"beacon"/)
			continue
		if (line[i] !~ /"remaining_bytes":0,/ && line[i + 1] ~ /^\[/) {
			split(line[i + 1], f, " [|] ")
			known[f[2]] = 1
		}
		n = 0
		for (k in known)
			n++
		match(line[i], /"stream_key":"[^"]*"/)
		got = substr(line[i], RSTART + 14, RLENGTH - 15)
		rank = 0
		for (k in known)
			if (k < got)
				rank++
		if (!(got in known) || rank != b % n)
			printf "beacon %d: %s, rank %d of %d\n", b + 1, got, rank, n
		b++
	}
}
EOF
	"$SS_DECODE" -m "$T/x.ss" >"$T/meta"
	[ "$(grep -c '"beacon"' "$T/meta")" -ge 40 ] || fail "few beacons"
	LC_ALL=C awk -f "$T/check.awk" "$T/meta" >"$T/bad"
	[ ! -s "$T/bad" ] || fail "$(head -n 3 "$T/bad")"
}

@test "relay: every vector -> lines -> .ss (same interval) gives the same messages" {
	run check_vector_roundtrips
	assert_success
	assert_output ""
}

@test "relay: binary.ss -> .ss keeps every message, those that cannot be lines too" {
	runf relay -i "$VEC/binary.ss" -o "$T/b.ss" --beacon-interval 1024
	assert_equal "$status" 0
	[ ! -s "$T/err" ] || fail "stderr: $(cat "$T/err")"
	"$SS_TSV" "$VEC/binary.ss" >"$T/a"
	"$SS_TSV" -v "$T/b.ss" >"$T/b" || fail "copy does not verify"
	run diff "$T/a" "$T/b"
	assert_success
}

@test "relay: binary.ss -> lines writes every line-able message, names each other one, exits 1" {
	runf relay -i "$VEC/binary.ss" -o -
	assert_equal "$status" 1
	# the messages whose payload is UTF-8 without a newline, as lines
	jq -r 'select(has("text") and (.text | contains("\n") | not)) |
	    "[" + (.timestamp_ms / 1000 | floor | todate | .[0:19]) + "." +
	    ("00" + (.timestamp_ms % 1000 | tostring) | .[-3:]) + " | " +
	    .stream_key + " | " + (.sequence | tostring) + " | " +
	    (.shard_id | tostring) + "] " + .text' \
	    "$VEC/binary.expected.jsonl" >"$T/want"
	[ "$(wc -l <"$T/want")" -ge 10 ] || fail "expected too few lines"
	cmp "$T/want" "$T/out" || fail "lines differ: $(diff "$T/want" "$T/out" | head -n 4)"
	# every other message is named by its byte offset, stream and sequence
	python3 -c '
import sys, json
sys.path.insert(0, sys.argv[1])
import ssref
r = ssref.parse(open(sys.argv[2], "rb").read())
for m, s in zip(r["messages"], r["starts"]):
    p = m.payload
    try:
        p.decode("utf-8")
        ok = b"\n" not in p
    except UnicodeDecodeError:
        ok = False
    if not ok:
        print("byte %d: stream %s seq %d:" % (s, m.key, m.seq))
' "$REPO/tests/ref" "$VEC/binary.ss" >"$T/skips" 2>"$T/pyerr" ||
		fail "reference reader: $(cat "$T/pyerr")"
	local n
	n=$(wc -l <"$T/skips")
	[ "$n" -ge 5 ] || fail "only $n messages that cannot be lines"
	[ "$((n + $(wc -l <"$T/want")))" -eq "$(wc -l <"$VEC/binary.expected.jsonl")" ] ||
		fail "lines and skips do not add up"
	run grep -c 'not written to stdout$' "$T/err"
	assert_output "$n"
	while IFS= read -r s; do
		grep -qF "binary.ss: $s " "$T/err" || fail "no warning for $s"
	done <"$T/skips"
	grep -qx "relay: skipped: $n" "$T/err" || fail "no final count: $(tail -n 1 "$T/err")"
}

# ---------------------------------------------------------------------------
# 2. A live writer and a follower

@test "relay: a --follow reader of a live writer's file prints every message once, in order, and ends at its EOS" {
	mkfifo "$T/feed"
	exec 5<>"$T/feed"	# the writer's input stays open until closed here
	BG_IN=$T/feed bg "$T/w.pid" "$T/w.out" "$T/w.err" "$RELAY" -o "$T/f.ss" --beacon-interval 256
	local wbg=$BG rbg st
	# first half, written slowly
	"$CLOCK" --interval 2ms --count 200 --stream live --payload 'a%n' >&5
	wait_until 30 at_least 128 "$T/f.ss" || fail "the writer wrote no header"
	bg "$T/r.pid" "$T/r.out" "$T/r.err" "$RELAY" -i "$T/f.ss" --follow -o -
	rbg=$BG
	# the follower has caught up with the first half before the rest exists
	wait_until 30 lines_at_least 200 "$T/r.out" || fail "follower printed $(wc -l <"$T/r.out") lines of the first 200"
	"$CLOCK" --interval 2ms --count 200 --stream live --payload 'b%n' >&5
	exec 5>&-
	wait "$wbg" && st=0 || st=$?
	assert_equal "writer status $st" "writer status 0"
	wait "$rbg" && st=0 || st=$?
	assert_equal "follower status $st: $(cat "$T/r.err")" "follower status 0: "
	# exactly the file's messages (which verifies)
	tsv "$T/f.ss" >/dev/null
	relay -i "$T/f.ss" -o "$T/all" </dev/null
	cmp "$T/all" "$T/r.out" || fail "follower output differs: $(diff "$T/all" "$T/r.out" | head -n 4)"
	# which are a0..a199 then b0..b199, each once, and the EOS
	run awk '
	{ want = NR <= 200 ? "live | " (NR - 1) " | 0] a" (NR - 1) : \
	      NR <= 400 ? "live | " (NR - 201) " | 0] b" (NR - 201) : \
	      "SEA_STREAMER_INTERNAL | 0 | 0] EOS" }
	substr($0, 28) != want { print "line " NR ": " $0 }
	END { if (NR != 401) print NR " lines" }' "$T/r.out"
	assert_output ""
	# messages were spliced by many beacons
	[ "$(fsize "$T/f.ss")" -gt $((256 * 40)) ] || fail "file too small for many beacons"
}

# ---------------------------------------------------------------------------
# 3. kill -9 of a writer, then --append

@test "relay: after kill -9 of a writer at random points (20; 7 under the sanitizer), --append keeps a prefix, adds 10, verifies" {
	# 5000 lines with explicit sequences over three keys, and what they are
	# as TSV without the timestamp (key, shard, seq, payload hex)
	awk 'BEGIN { for (i = 0; i < 5000; i++) {
		p = "m" i "-"; n = (i * 37) % 200
		while (length(p) < n) p = p "x"
		printf "[k%d | %d] %s\n", i % 3, i, p } }' >"$T/in.txt"
	awk "$AWK_LIB"'{ match($0, /^\[[^]]*\] /); split(substr($0, 2, RLENGTH - 3), f, " \\| ")
		printf "%s\t0\t%s\t%s\n", f[1], f[2], hex(substr($0, RLENGTH + 1)) }' "$T/in.txt" >"$T/in.tsv"
	awk 'BEGIN { for (i = 0; i < 10; i++) printf "[app | %d] appended-%d\n", i, i }' >"$T/app.txt"
	{
		awk "$AWK_LIB"'BEGIN { for (i = 0; i < 10; i++) printf "app\t0\t%d\t%s\n", i, hex("appended-" i) }'
		printf '%s\t0\t0\t454f53\n' "$EOS_KEY"
	} >"$T/app.tsv"
	local rounds=$(((20 + LS_STRIDE - 1) / LS_STRIDE))
	run check_kills "$rounds"
	assert_success
	assert_output --regexp "^cut( [0-9]+){$rounds}\$"
	# some writers died before their input was done (any killed within
	# 0.2 s of starting must have: the feed takes longer)
	local m early=0
	for m in ${output#cut }; do
		[ "$m" -lt 5000 ] && early=$((early + 1))
	done
	[ "$early" -ge 1 ] || fail "every writer finished: $output"
}

# check_kills N: N rounds of: a slow feed of in.txt into relay -o x.ss, the
# relay killed with SIGKILL after a random delay (seeded), then app.txt
# appended with --append. Prints a line per fault, and last "cut" with the
# number of input messages each file kept.
check_kills() {
	local round delay pid st n m cuts=()
	RANDOM=4242
	for ((round = 1; round <= $1; round++)); do
		rm -f "$T/x.ss" "$T/k.pid"
		delay=$((RANDOM % 300))
		# 20 bursts of 250 lines, 10 ms apart: at least 0.2 s in all
		timeout -k 5 "$LIMIT" bash -c '
		awk "{ print; if (NR % 250 == 0) { fflush(); system(\"sleep 0.01\") } }" "$1" |
		    { echo $BASHPID >"$2"; exec "$3" -o "$4" --beacon-interval 512; }' \
		    _ "$T/in.txt" "$T/k.pid" "$RELAY" "$T/x.ss" </dev/null >/dev/null 2>&1 3>&- &
		pid=$!
		if ! wait_until 30 at_least 128 "$T/x.ss"; then
			echo "round $round: no header"
			kill -KILL "$(cat "$T/k.pid")" 2>/dev/null
			wait "$pid"
			continue
		fi
		sleep "$(printf '0.%03d' "$delay")"
		kill -KILL "$(cat "$T/k.pid")" 2>/dev/null
		wait "$pid"
		relay --append -o "$T/x.ss" <"$T/app.txt" 2>"$T/err" && st=0 || st=$?
		[ "$st" -eq 0 ] || { echo "round $round: append status $st: $(cat "$T/err")"; continue; }
		"$SS_DECODE" -v "$T/x.ss" >/dev/null 2>"$T/err" ||
			{ echo "round $round: ss-decode -v: $(head -n 1 "$T/err")"; continue; }
		tsv "$T/x.ss" 2>"$T/err" >"$T/x.tsv" ||
			{ echo "round $round: $(cat "$T/err")"; continue; }
		cut -f 1,2,3,5 "$T/x.tsv" >"$T/got"
		n=$(wc -l <"$T/got")
		m=$((n - 11))
		if [ "$m" -lt 0 ] || [ "$m" -gt 5000 ]; then
			echo "round $round: $n messages"
			continue
		fi
		head -n "$m" "$T/got" | cmp -s - <(head -n "$m" "$T/in.tsv") ||
			echo "round $round: the first $m messages are not the input's first $m"
		tail -n 11 "$T/got" | cmp -s - "$T/app.tsv" ||
			echo "round $round: the last 11 are not the 10 appended and the EOS"
		cuts+=("$m")
	done
	echo "cut ${cuts[*]}"
}

# ---------------------------------------------------------------------------
# 4. SIGTERM of clock | relay

@test "relay: SIGTERM to clock, then to its relay: the .ss file has every tick clock wrote, then EOS" {
	mkfifo "$T/pipe"
	exec 5<>"$T/pipe"	# keeps the relay's input open after clock ends
	BG_IN=$T/pipe bg "$T/r.pid" "$T/r.out" "$T/r.err" "$RELAY" -o "$T/x.ss"
	local rbg=$BG cbg st
	timeout -k 5 "$LIMIT" bash -c '{ echo $BASHPID >"$1"; exec "$2" -i 5ms; } | tee "$3"
	    echo "${PIPESTATUS[0]}" >"$4"' _ "$T/c.pid" "$CLOCK" "$T/side" "$T/c.status" \
	    </dev/null >"$T/pipe" 2>"$T/c.err" 3>&- &
	cbg=$!
	wait_until 30 lines_at_least 20 "$T/side" || fail "clock wrote $(wc -l <"$T/side") ticks"
	kill -TERM "$(cat "$T/c.pid")"
	wait "$cbg"
	assert_equal "clock status $(cat "$T/c.status")" "clock status 0"
	# clock ended after a whole line
	[ "$(tail -c 1 "$T/side" | od -An -c | tr -d ' ')" = '\n' ] || fail "clock's last line is cut"
	local n
	n=$(wc -l <"$T/side")
	# the relay has written out all it read before it waits for more
	wait_until 30 eval '[ "$("$SS_TSV" "$T/x.ss" | grep -c "^clock	")" -ge "$n" ]' ||
		fail "relay wrote $("$SS_TSV" "$T/x.ss" | grep -c "^clock	") of $n ticks"
	kill -TERM "$(cat "$T/r.pid")"
	wait "$rbg" && st=0 || st=$?
	exec 5>&-
	assert_equal "relay status $st: $(cat "$T/r.err")" "relay status 0: "
	"$SS_DECODE" -v "$T/x.ss" >/dev/null || fail "ss-decode -v fails"
	tsv "$T/x.ss" >"$T/x.tsv"
	tail -n 1 "$T/x.tsv" | grep -q "^$EOS_KEY	" || fail "no EOS at the end"
	relay -i "$T/x.ss" -o "$T/x.lines" </dev/null
	sed '$d' "$T/x.lines" >"$T/ticks"
	cmp "$T/side" "$T/ticks" || fail "ticks differ: $(diff "$T/side" "$T/ticks" | head -n 4)"
	[ "$n" -ge 20 ]
}

@test "relay: SIGTERM to the process group of clock | relay: both exit 0, the file verifies and ends with EOS" {
	# tee ignores SIGTERM (as does the shell), so it passes on all clock wrote
	timeout -k 5 "$LIMIT" setsid -w bash -c 'echo $$ >"$1"; trap "" TERM
	    "$2" -i 5ms | tee "$3" | "$4" -o "$5"
	    echo "${PIPESTATUS[*]}" >"$6"' _ "$T/g.pgid" "$CLOCK" "$T/side" "$RELAY" "$T/x.ss" "$T/status" \
	    </dev/null >/dev/null 2>"$T/err" 3>&- &
	local bgp=$!
	wait_until 30 eval '[ "$("$SS_TSV" "$T/x.ss" 2>/dev/null | grep -c "^clock	")" -ge 10 ]' ||
		fail "no ticks in the file"
	kill -TERM -- "-$(cat "$T/g.pgid")"
	wait "$bgp"
	assert_equal "statuses $(cat "$T/status")" "statuses 0 0 0"
	[ ! -s "$T/err" ] || fail "stderr: $(cat "$T/err")"
	"$SS_DECODE" -v "$T/x.ss" >/dev/null || fail "ss-decode -v fails"
	tsv "$T/x.ss" >"$T/x.tsv"
	tail -n 1 "$T/x.tsv" | grep -q "^$EOS_KEY	" || fail "no EOS at the end"
	relay -i "$T/x.ss" -o "$T/x.lines" </dev/null
	sed '$d' "$T/x.lines" >"$T/ticks"
	# the file holds clock's ticks from the first on, in order; a tick still
	# in the pipe when the relay was signalled may be missing at the end
	local n
	n=$(wc -l <"$T/ticks")
	[ "$n" -ge 10 ] || fail "$n ticks"
	head -n "$n" "$T/side" | cmp - "$T/ticks" || fail "not clock's ticks: $(diff <(head -n "$n" "$T/side") "$T/ticks" | head -n 4)"
}

# ---------------------------------------------------------------------------
# 5. --from

# from_targets F: the table of positions for file F, one a line:
# "KIND VALUE [KEY]" with KIND seq, time (VALUE in ms) or beacon, from
# messages at several places, one ms before them, with and without their
# key, and extremes.
from_targets() {
	awk -F '\t' '
	{ k[NR] = $1; sq[NR] = $3; t[NR] = $4; n = NR }
	END {
		split("1 2 3 40 " int(n / 7) " " int(n / 3) " " int(n / 2) " " \
		    int(2 * n / 3) " " (n - 3) " " (n - 1), at, " ")
		for (i = 1; i in at; i++) {
			p = at[i]
			print "seq " sq[p]
			print "seq " sq[p] " " k[p]
			print "time " t[p]
			printf "time %.0f\n", t[p] - 1
			print "time " t[p] " " k[p]
			printf "time %.0f %s\n", t[p] - 1, k[p]
		}
		print "seq 0"
		print "seq 18446744073709551615"
		print "seq 0 " k[2]
		print "time 0"
		print "time 0 " k[3]
		print "time 253402300799999"
	}' "$D/$1.tsv"
	local size iv last b
	size=$(fsize "$D/$1.ss")
	iv=$(header_json "$D/$1.ss" | jq .beacon_interval)
	last=$(((size - 1) / iv))
	for b in 0 1 2 $((last / 3)) $((last / 2)) $((last - 1)) "$last"; do
		echo "beacon $b"
		echo "beacon $b $(awk -F '\t' -v r=$((b * 7 % 10 + 1)) 'NR == r { print $1 }' "$D/$1.tsv")"
	done
}

# first_matches F TARGETS: for each target of the file TARGETS, "KIND VALUE [KEY]", a line
# "POSITION|KEY|INDEX": the --from argument and the line of F's
# full decode where a linear scan finds the first match (one past the
# last if none): for seq, the first message (of KEY) with sequence >= S;
# for time, with timestamp > T; for beacon N, the first message that
# starts after byte N * interval (KEY then only filters what follows).
first_matches() {
	local iv
	iv=$(header_json "$D/$1.ss" | jq .beacon_interval)
	paste "$D/$1.tsv" "$D/$1.starts" | awk -F '\t' -v iv="$iv" -v tf="$2" "$AWK_LIB"'
	FILENAME == tf {
		split($0, a, " ")
		nt++; kind[nt] = a[1]; val[nt] = a[2]; key[nt] = a[3]; hit[nt] = 0
		next
	}
	{
		for (i = 1; i <= nt; i++) {
			if (hit[i]) continue
			if (kind[i] == "seq") c = ge($3, val[i]) && (key[i] == "" || $1 == key[i])
			else if (kind[i] == "time") c = gt($4, val[i]) && (key[i] == "" || $1 == key[i])
			else c = val[i] == 0 || $6 + 0 > val[i] * iv
			if (c) hit[i] = FNR
		}
		n = FNR
	}
	END {
		for (i = 1; i <= nt; i++) {
			pos = kind[i] ":" (kind[i] == "time" ? tsfmt(val[i]) : val[i])
			printf "%s|%s|%d\n", pos, key[i], hit[i] ? hit[i] : n + 1
		}
	}' "$2" -
}

# check_from F: for every target of from_targets F, relay -i F --from POS
# (or file://F/KEY) prints the lines of F's full decode from the first
# match on (with KEY, only those of KEY and the EOS). Prints a line per
# mismatch, then the number of targets.
check_from() {
	local f=$1 pos key idx n=0 uri st
	[ "$(wc -l <"$D/$f.lines")" -eq "$(wc -l <"$D/$f.tsv")" ] || echo "$f: not every message is a line"
	from_targets "$f" >"$T/targets"
	first_matches "$f" "$T/targets" >"$T/matches"
	[ "$(wc -l <"$T/matches")" -eq "$(wc -l <"$T/targets")" ] || echo "$f: no match table"
	# the table reaches both ends
	cut -d '|' -f 3 "$T/matches" | grep -qx 1 || echo "$f: no target at the first message"
	cut -d '|' -f 3 "$T/matches" | grep -qx "$(($(wc -l <"$D/$f.lines") + 1))" ||
		echo "$f: no target past the end"
	while IFS='|' read -r pos key idx; do
		n=$((n + 1))
		uri=$D/$f.ss
		[ -z "$key" ] || uri=file://$D/$f.ss/$key
		relay -i "$uri" --from "$pos" </dev/null >"$T/got" 2>"$T/err" && st=0 || st=$?
		[ "$st" -eq 0 ] || { echo "$f $pos $key: status $st: $(head -n 1 "$T/err")"; continue; }
		tail -n "+$idx" "$D/$f.lines" | awk -v key="$key" -v eos="$EOS_KEY" '
		    key == "" || index($0, " | " key " | ") == 25 ||
		    index($0, " | " eos " | ") == 25' >"$T/want"
		cmp -s "$T/want" "$T/got" ||
			echo "$f $pos ${key:0:20}: want $(wc -l <"$T/want") lines from $(head -n 1 "$T/want" | cut -c 1-70), got $(wc -l <"$T/got") from $(head -n 1 "$T/got" | cut -c 1-70)"
	done < <(sample <"$T/matches")
	echo "$n targets"
}

@test "relay --from: many-streams.ss, seq, time and beacon targets, with and without a key, match a linear scan" {
	run check_from many-streams
	assert_success
	assert_output --regexp '^[0-9]+ targets$'
	[ "${output% targets}" -ge $((70 / LS_STRIDE)) ]
}

@test "relay --from: rotate-2048.ss, seq, time and beacon targets, with and without a key, match a linear scan" {
	run check_from rotate-2048
	assert_success
	assert_output --regexp '^[0-9]+ targets$'
	[ "${output% targets}" -ge $((70 / LS_STRIDE)) ]
}

@test "relay --from: a generated 12000-message 24-stream file, with and without a key, matches a linear scan" {
	# the generated file is what it should be
	"$SS_TSV" -v "$D/gen.ss" >"$T/v" || fail "gen.ss does not verify"
	sed '$d' "$T/v" | cmp - "$D/gen.raw" || fail "gen.ss is not its input"
	[ "$(cut -f 1,2 "$D/gen.raw" | sort -u | wc -l)" -eq 25 ]
	run check_from gen
	assert_success
	assert_output --regexp '^[0-9]+ targets$'
	[ "${output% targets}" -ge $((70 / LS_STRIDE)) ]
}

@test "relay --from: end, a beacon past the end, and inputs that cannot be positioned" {
	# end: only the trailing EOS is left
	runf relay -i "$VEC/rotate-2048.ss" --from end
	assert_equal "$status" 0
	tail -n 1 "$D/rotate-2048.lines" | cmp - "$T/out" || fail "from end: $(cat "$T/out")"
	runf relay -i "$VEC/rotate-2048.ss" --from beacon:1000
	assert_equal "$status" 1
	grep -q 'beacon 1000' "$T/err" || fail "stderr: $(cat "$T/err")"
	[ ! -s "$T/out" ]
	# lines cannot be positioned
	relay -i "$VEC/consumer.ss" -o "$T/c.txt" </dev/null
	runf relay -i "$T/c.txt" --from seq:3
	assert_equal "$status" 1
	grep -q 'c.txt: .*start' "$T/err" || fail "stderr: $(cat "$T/err")"
	# nor a pipe
	cat "$VEC/consumer.ss" | timeout "$LIMIT" "$RELAY" -i /dev/stdin --from seq:3 >"$T/out" 2>"$T/err" && status=0 || status=$?
	assert_equal "$status" 1
	[ -s "$T/err" ]
	# which is read from the start without --from
	cat "$VEC/consumer.ss" | timeout "$LIMIT" "$RELAY" -i /dev/stdin >"$T/out" 2>"$T/err"
	relay -i "$VEC/consumer.ss" | cmp - "$T/out"
}

@test "relay --follow --from end: only messages added later, then it ends at their EOS" {
	head -n 20 "$VEC/many-streams.messages.tsv" | "$SS_BUILD" "$T/f.ss"
	bg "$T/r.pid" "$T/r.out" "$T/r.err" "$RELAY" -i "$T/f.ss" --follow --from end -o "$T/o.ss"
	local rbg=$BG st
	# the output's header is written once the input is positioned
	wait_until 30 at_least 128 "$T/o.ss" || fail "no output"
	printf '[n | 1] new1\n[n | 2] new2\n' | relay --append -o "$T/f.ss"
	wait "$rbg" && st=0 || st=$?
	assert_equal "status $st: $(cat "$T/r.err")" "status 0: "
	tsv "$T/o.ss" | cut -f 1,2,3,5 >"$T/got"
	printf 'n\t0\t1\t6e657731\nn\t0\t2\t6e657732\n%s\t0\t0\t454f53\n' "$EOS_KEY" | cmp - "$T/got" ||
		fail "got: $(cat "$T/got")"
}

# ---------------------------------------------------------------------------
# 6. Options

@test "relay: an existing output is refused; --force replaces it; --append continues it" {
	printf '[a | 0] one\n[a | 1] two\n' >"$T/in1"
	printf '[a | 2] three\n' >"$T/in2"
	relay -i "$T/in1" -o "$T/x.ss" </dev/null
	cp "$T/x.ss" "$T/orig.ss"
	relay -i "$T/in1" -o "$T/x.txt" </dev/null
	cp "$T/x.txt" "$T/orig.txt"
	local f
	for f in x.ss x.txt; do
		runf relay -i "$T/in2" -o "$T/$f"
		assert_equal "$f: status $status" "$f: status 1"
		grep -qF "$T/$f: file exists" "$T/err" || fail "$f: stderr: $(cat "$T/err")"
		cmp -s "$T/$f" "$T/orig.${f#x.}" || fail "$f was changed"
	done
	# --force: only the new message
	relay -i "$T/in2" -o "$T/x.ss" --force </dev/null
	tsv "$T/x.ss" | cut -f 1,3 >"$T/got"
	printf 'a\t2\n%s\t0\n' "$EOS_KEY" | cmp - "$T/got" || fail "force: $(cat "$T/got")"
	relay -i "$T/in2" -o "$T/x.txt" --force </dev/null
	run cut -d '|' -f 2- "$T/x.txt"
	assert_output " a | 2 | 0] three"
	# --append to .ss: the old messages, the new one, one EOS
	cp "$T/orig.ss" "$T/x.ss"
	relay -i "$T/in2" -o "$T/x.ss" --append </dev/null
	tsv "$T/x.ss" | cut -f 1,3,5 >"$T/got"
	printf 'a\t0\t6f6e65\na\t1\t74776f\na\t2\t7468726565\n%s\t0\t454f53\n' "$EOS_KEY" | cmp - "$T/got" ||
		fail "append: $(cat "$T/got")"
	# --append to lines: appended as text
	cp "$T/orig.txt" "$T/x.txt"
	relay -i "$T/in2" -o "$T/x.txt" --append </dev/null
	[ "$(wc -l <"$T/x.txt")" -eq 3 ]
	head -n 2 "$T/x.txt" | cmp - "$T/orig.txt"
	tail -n 1 "$T/x.txt" | grep -q '| a | 2 | 0] three$'
	# --append creates a missing file; keeps an old file's own interval
	relay -i "$T/in1" -o "$T/new.ss" --append --beacon-interval 300 </dev/null
	tsv "$T/new.ss" >/dev/null
	header_json "$T/new.ss" | jq -e '.beacon_interval == 300' >/dev/null || fail "new file's interval"
	relay -i "$T/in2" -o "$T/new.ss" --append --beacon-interval 4096 </dev/null
	header_json "$T/new.ss" | jq -e '.beacon_interval == 300' >/dev/null || fail "append changed the interval"
	# a FIFO or device is written as it is
	relay -i "$T/in1" -o /dev/null </dev/null
}

@test "relay: --no-eos leaves out the End-of-Stream of a .ss output and of a line output" {
	relay -i "$VEC/consumer.ss" -o "$T/x.ss" --no-eos --beacon-interval 1024 </dev/null
	tsv "$T/x.ss" >"$T/got"
	"$SS_TSV" "$VEC/consumer.ss" | sed '$d' | grep -v "^$EOS_KEY	" | cmp - "$T/got" ||
		fail "not the messages without EOS"
	# without it, the EOS is the input's own
	relay -i "$VEC/consumer.ss" -o "$T/y.ss" --beacon-interval 1024 </dev/null
	"$SS_TSV" "$VEC/consumer.ss" | sed '$d' | cmp - <(tsv "$T/y.ss")
	# lines: an EOS read is forwarded, but not with --no-eos
	relay -i "$VEC/consumer.ss" -o "$T/a.txt" </dev/null
	tail -n 1 "$T/a.txt" | grep -q "| $EOS_KEY | 0 | 0] EOS$" || fail "no EOS line"
	relay -i "$VEC/consumer.ss" -o "$T/n.txt" --no-eos </dev/null
	sed '$d' "$T/a.txt" | cmp - "$T/n.txt" || fail "--no-eos lines: $(tail -n 1 "$T/n.txt")"
	# and none is made up for an input without one
	printf 'x\ny\n' | relay -o "$T/b.txt"
	[ "$(wc -l <"$T/b.txt")" -eq 2 ]
	! grep -q "$EOS_KEY" "$T/b.txt"
	# a .ss output of such an input gets one anyway
	printf 'x\ny\n' | relay -o "$T/b.ss"
	tsv "$T/b.ss" | tail -n 1 | grep -q "^$EOS_KEY	0	0	[0-9]*	454f53$"
}

@test "relay: an input End-of-Stream ends that input, and stamps the output's" {
	printf 'a\n[2022-01-01T00:00:07 | %s | 0 | 0] EOS\nafter\n' "$EOS_KEY" >"$T/in.txt"
	runf relay -i "$T/in.txt"
	assert_equal "$status" 0
	run cut -d ']' -f 2- "$T/out"
	assert_output "$(printf ' a\n EOS')"
	relay -i "$T/in.txt" -o "$T/x.ss" </dev/null
	run bash -c "'$SS_TSV' '$T/x.ss' | sed '\$d' | cut -f 1,4,5"
	assert_line --index 1 "$(printf '%s\t1640995207000\t454f53' "$EOS_KEY")"
	assert_equal "${#lines[@]}" 2
}

@test "relay: --beacon-interval sets the new file's interval; messages spliced by beacons verify" {
	local iv
	for iv in 128 200 1024 65536; do
		relay -i "$VEC/large.ss" -o "$T/x$iv.ss" --beacon-interval "$iv" </dev/null
		header_json "$T/x$iv.ss" | jq -e --argjson iv "$iv" '.beacon_interval == $iv' >/dev/null ||
			fail "interval $iv: $(header_json "$T/x$iv.ss")"
		"$SS_DECODE" -v "$T/x$iv.ss" >/dev/null || fail "interval $iv: does not verify"
		"$SS_TSV" "$VEC/large.ss" | sed '$d' | cmp - <(tsv "$T/x$iv.ss") || fail "interval $iv: messages differ"
		# beacons where the interval says
		[ "$(fsize "$T/x$iv.ss")" -gt "$((2 * iv))" ] || [ "$iv" -eq 65536 ]
	done
	# the default is 1 MiB
	relay -i "$VEC/large.ss" -o "$T/d.ss" </dev/null
	header_json "$T/d.ss" | jq -e '.beacon_interval == 1048576' >/dev/null
}

@test "relay: --sync none, interval and every write the same correct file" {
	local s
	"$SS_TSV" "$VEC/consumer.ss" | sed '$d' >"$T/want"
	for s in none interval every; do
		relay -i "$VEC/consumer.ss" -o "$T/$s.ss" --sync "$s" --beacon-interval 1024 </dev/null
		"$SS_DECODE" -v "$T/$s.ss" >/dev/null || fail "$s: does not verify"
		tsv "$T/$s.ss" | cmp - "$T/want" || fail "$s: messages differ"
		relay -i "$VEC/consumer.ss" -o "$T/$s.txt" --sync "$s" </dev/null
		relay -i "$VEC/consumer.ss" | cmp - "$T/$s.txt" || fail "$s: lines differ"
	done
	# where strace works, count the fsyncs: none, some, one a message
	if strace -f -qq -e trace=fsync -o "$T/st" true 2>/dev/null; then
		for s in none interval every; do
			rm -f "$T/s.ss"
			# (LeakSanitizer cannot run under ptrace)
			ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
			    strace -f -qq -e trace=fsync,fdatasync -o "$T/st.$s" \
			    "$RELAY" -i "$VEC/consumer.ss" -o "$T/s.ss" --sync "$s" </dev/null
		done
		assert_equal "none: $(grep -c sync "$T/st.none")" "none: 0"
		[ "$(grep -c sync "$T/st.interval")" -ge 1 ] || fail "interval: no fsync"
		[ "$(grep -c sync "$T/st.every")" -ge 100 ] || fail "every: $(grep -c sync "$T/st.every") fsyncs"
	fi
}

# zlines FILE: how many lines FILE decompresses to so far (a file still
# being written ends early, which zcat reports)
zlines() {
	zcat "$1" 2>/dev/null | wc -l
}

@test "relay --sync every to a .gz output: each message is in the file, readable, while relay runs; fsync'd after the trailer" {
	mkfifo "$T/feed"
	exec 5<>"$T/feed"
	BG_IN=$T/feed bg "$T/w.pid" "$T/w.out" "$T/w.err" "$RELAY" \
	    -o "$T/z.txt.gz" --sync every
	local wbg=$BG st n
	for n in 1 2 3; do
		printf '[2024-01-01T00:00:00.00%d | k | %d | 0] m%d\n' \
		    "$n" "$n" "$n" >&5
		wait_until 20 eval '[ "$(zlines "$T/z.txt.gz")" -ge '"$n"' ]' ||
			fail "message $n not in the file: $(zlines "$T/z.txt.gz") lines"
	done
	exec 5>&-
	wait "$wbg" && st=0 || st=$?
	assert_equal "status $st: $(cat "$T/w.err")" "status 0: "
	gzip -t "$T/z.txt.gz"
	assert_equal "$(zcat "$T/z.txt.gz" | sed 's/.*] //' | tr '\n' ' ')" \
	    "m1 m2 m3 "
	# .ss.gz too: what is synced decodes, the finished file verifies
	relay -i "$VEC/consumer.ss" -o "$T/z.ss.gz" --sync every </dev/null
	relay -i "$T/z.ss.gz" | cmp - <(relay -i "$VEC/consumer.ss") ||
		fail ".ss.gz with --sync every differs"
	# where strace works: one fsync a message, and one after the trailer
	if strace -f -qq -e trace=fsync -o "$T/st" true 2>/dev/null; then
		rm -f "$T/s.txt.gz"
		printf 'a\nb\nc\n' |
		    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		    strace -f -qq -e trace=fsync,close -o "$T/st" \
		    "$RELAY" -o "$T/s.txt.gz" --sync every
		# from the first fsync on: one a message (F), zlib closing its
		# descriptor (Z), the last fsync after the trailer, the close (C)
		run awk -F '[()]' '/ fsync\(/ && fd == "" { fd = $2 }
		    fd == "" || $2 == -1 { next }
		    / fsync\(/ { t = t "F" } / close\(/ { t = t ($2 == fd ? "C" : "Z") }
		    END { print t }' "$T/st"
		assert_output FFFZFC
	fi
}

@test "relay --on-bad-line: fail, skip and raw, with and without --quiet" {
	printf '[k | 1] good1\n[bad topic] x\n[k | 2] good2\n[k | 3\nlast\n' >"$T/bad.txt"
	local l2="relay: $T/bad.txt: line 2: column 2: invalid timestamp or stream key 'bad topic'"
	local l4="relay: $T/bad.txt: line 4: column 1: meta block has no closing ']'"
	# policy @ -q or not @ status @ payloads written @ stderr lines (~)
	local -a cases=(
		"fail@@1@good1@$l2"
		"fail@-q@1@good1@$l2"
		"skip@@1@good1 good2 last@$l2 (skipped)~$l4 (skipped)~relay: skipped: 2"
		"skip@-q@0@good1 good2 last@relay: skipped: 2"
		"raw@@0@good1 [bad topic] x good2 [k | 3 last@relay: $T/bad.txt: 2 lines taken raw"
		"raw@-q@0@good1 [bad topic] x good2 [k | 3 last@"
	)
	local c policy quiet want_status want_out want_err got bad=()
	for c in "${cases[@]}"; do
		IFS='@' read -r policy quiet want_status want_out want_err <<<"$c"
		# shellcheck disable=SC2086
		runf relay -i "$T/bad.txt" --on-bad-line "$policy" $quiet </dev/null
		got=$(cut -d ']' -f 2- "$T/out" | cut -c 2- | paste -sd ' ')
		[ "$status" -eq "$want_status" ] || bad+=("$policy $quiet: status $status")
		[ "$got" = "$want_out" ] || bad+=("$policy $quiet: wrote '$got'")
		[ "$(cat "$T/err")" = "$(tr '~' '\n' <<<"$want_err")" ] ||
			bad+=("$policy $quiet: stderr '$(cat "$T/err")'")
	done
	[ "${#bad[@]}" -eq 0 ] || fail "$(printf '%s\n' "${bad[@]}")"
	# raw lines get the meta of a line without any: broadcast, counted on
	relay -i "$T/bad.txt" --on-bad-line raw </dev/null 2>/dev/null | cut -d ' ' -f 3-7 >"$T/meta"
	run cat "$T/meta"
	assert_output "$(printf '%s\n' 'k | 1 | 0]' 'broadcast | 0 | 0]' 'k | 2 | 0]' 'broadcast | 1 | 0]' 'broadcast | 2 | 0]')"
	# from standard input the warnings name stdin
	timeout "$LIMIT" "$RELAY" --on-bad-line skip <"$T/bad.txt" >/dev/null 2>"$T/err" || true
	grep -qx "relay: stdin: line 4: column 1: meta block has no closing ']' (skipped)" "$T/err" ||
		fail "stderr: $(cat "$T/err")"
	# fail into a .ss output: the good line before, no EOS, so that
	# --append continues it
	runf relay -i "$T/bad.txt" -o "$T/x.ss"
	assert_equal "$status" 1
	tsv "$T/x.ss" | cut -f 1,3,5 >"$T/got"
	printf 'k\t1\t676f6f6431\n' | cmp - "$T/got" || fail "got $(cat "$T/got")"
	relay -i "$T/bad.txt" --on-bad-line skip -q -o "$T/x.ss" --append 2>/dev/null
	tsv "$T/x.ss" | cut -f 1,3,5 >"$T/got"
	printf 'k\t1\t676f6f6431\nk\t1\t676f6f6431\nk\t2\t676f6f6432\nbroadcast\t0\t6c617374\n%s\t0\t454f53\n' "$EOS_KEY" |
	    cmp - "$T/got" || fail "appended: $(cat "$T/got")"
}

@test "relay: stdio:///k1,k2 filters keys: keyless lines pass an input filter, an output filter drops them" {
	printf '[a | 1] a1\n[b | 1] b1\nplain\n[c | 1] c1\n[a | 2] a2\n[2022-01-01T00:00:00 | %s | 0 | 0] EOS\n' "$EOS_KEY" >"$T/k.txt"
	# input filter
	timeout "$LIMIT" "$RELAY" -i stdio:///a,c <"$T/k.txt" >"$T/out"
	run cut -d ']' -f 2- "$T/out"
	assert_output "$(printf ' a1\n plain\n c1\n a2\n EOS')"
	run bash -c "cut -d '|' -f 2 '$T/out' | tr -d ' ' | paste -sd ,"
	assert_output "a,broadcast,c,a,$EOS_KEY"
	# output filter: listed keys and the EOS only
	runf relay -i "$T/k.txt" -o stdio:///b,a --stats
	assert_equal "$status" 0
	run cut -d ']' -f 2- "$T/out"
	assert_output "$(printf ' a1\n b1\n a2\n EOS')"
	grep '^{' "$T/err" | jq -e '.in == 6 and .out == 3 and .filtered == 2' >/dev/null ||
		fail "stats: $(cat "$T/err")"
	# stdio:// and - are everything (the meta but the time of reading)
	timeout "$LIMIT" "$RELAY" -i stdio:// -o - <"$T/k.txt" | cut -d '|' -f 2- >"$T/a"
	timeout "$LIMIT" "$RELAY" -i - -o stdio:// <"$T/k.txt" | cut -d '|' -f 2- >"$T/b"
	[ "$(wc -l <"$T/a")" -eq 6 ] || fail "stdio:// gave $(wc -l <"$T/a") lines"
	cmp "$T/a" "$T/b"
	# a filtered .ss output
	relay -i "$T/k.txt" -o "$T/x.ss" </dev/null
	timeout "$LIMIT" "$RELAY" -i "$T/x.ss" -o stdio:///c >"$T/out"
	run cut -d ']' -f 2- "$T/out"
	assert_output "$(printf ' c1\n EOS')"
}

@test "relay: file://PATH/KEY reads one stream of a .ss or a line file, and writes one to a .ss file" {
	printf '[a | 1] a1\n[b | 1] b1\nplain\n[c | 1] c1\n[a | 2] a2\n' >"$T/k.txt"
	relay -i "$T/k.txt" -o "$T/k.ss" </dev/null
	runf relay -i "file://$T/k.ss/a"
	assert_equal "$status" 0
	run cut -d ']' -f 2- "$T/out"
	assert_output "$(printf ' a1\n a2\n EOS')"
	# relative to the working directory, and file://PATH alone
	(cd "$T" && timeout "$LIMIT" "$RELAY" -i file://k.ss/b </dev/null) >"$T/out"
	run cut -d ']' -f 2- "$T/out"
	assert_output "$(printf ' b1\n EOS')"
	relay -i "file://$T/k.ss" </dev/null | cmp - <(relay -i "$T/k.ss" </dev/null)
	# a line file: keyless lines pass
	runf relay -i "file://$T/k.txt/c"
	run cut -d ']' -f 2- "$T/out"
	assert_output "$(printf ' plain\n c1')"
	# an output file://X.ss/KEY: the file X.ss with stream KEY only
	relay -i "$T/k.ss" -o "file://$T/only-a.ss/a" </dev/null
	[ ! -e "$T/only-a.ss/a" ]
	tsv "$T/only-a.ss" | cut -f 1,3 >"$T/got"
	printf 'a\t1\na\t2\n%s\t0\n' "$EOS_KEY" | cmp - "$T/got"
	# file://X.ss.gz/KEY: gzip, as X.ss.gz names it, both ways
	relay -i "$T/k.ss" -o "file://$T/only-a.ss.gz/a" </dev/null
	zcat "$T/only-a.ss.gz" >"$T/unz.ss" || fail "only-a.ss.gz is not gzip"
	tsv "$T/unz.ss" | cut -f 1,3 >"$T/got"
	printf 'a\t1\na\t2\n%s\t0\n' "$EOS_KEY" | cmp - "$T/got"
	runf relay -i "file://$T/k.ss.gz/b"
	assert_equal "$status" 1
	relay -i "$T/k.ss" -o "$T/k.ss.gz" </dev/null
	runf relay -i "file://$T/k.ss.gz/b"
	assert_equal "$status" 0
	run cut -d ']' -f 2- "$T/out"
	assert_output "$(printf ' b1\n EOS')"
	# a missing PATH/KEY is a missing file
	runf relay -i "file://$T/nope.ss/a"
	assert_equal "$status" 1
	grep -q "nope.ss/a" "$T/err"
}

@test "relay: .gz outputs equal the plain ones through zcat and read back; .gz with --from, --follow or --append is refused" {
	relay -i "$VEC/consumer.ss" -o "$T/c.txt" </dev/null
	relay -i "$VEC/consumer.ss" -o "$T/c.txt.gz" </dev/null
	zcat "$T/c.txt.gz" | cmp - "$T/c.txt" || fail "lines .gz differ"
	relay -i "$T/c.txt.gz" -o "$T/back.txt" </dev/null
	cmp "$T/c.txt" "$T/back.txt" || fail "lines .gz read back differ"
	relay -i "$VEC/consumer.ss" -o "$T/c.ss.gz" --beacon-interval 1024 </dev/null
	zcat "$T/c.ss.gz" >"$T/z.ss"
	"$SS_DECODE" -v "$T/z.ss" >/dev/null || fail ".ss.gz does not verify"
	"$SS_TSV" "$VEC/consumer.ss" | cmp - <("$SS_TSV" "$T/z.ss") || fail ".ss.gz messages differ"
	# its header names the file without .gz
	header_json "$T/z.ss" | jq -e '.file_name == "c.ss"' >/dev/null ||
		fail "header: $(header_json "$T/z.ss")"
	relay -i "$T/c.ss.gz" -o "$T/back.ss" --beacon-interval 1024 </dev/null
	"$SS_TSV" "$VEC/consumer.ss" | cmp - <("$SS_TSV" "$T/back.ss") || fail ".ss.gz read back differs"
	local f a
	for f in c.ss.gz c.txt.gz; do
		for a in --from=seq:3 --follow --from=end; do
			runf relay -i "$T/$f" "$a"
			assert_equal "$f $a: status $status" "$f $a: status 1"
			grep -qF "$T/$f: --follow and positions other than start need the uncompressed file" "$T/err" ||
				fail "$f $a: $(cat "$T/err")"
			[ ! -s "$T/out" ]
		done
	done
	runf relay -i "$T/c.txt" -o "$T/c.ss.gz" --append
	assert_equal "$status" 1
	grep -qF "$T/c.ss.gz: cannot append to a compressed file" "$T/err"
	zcat "$T/c.ss.gz" | cmp - "$T/z.ss"
	# a damaged .gz input cannot be repaired, it ends at the damage
	gzip -c "$CORRUPT/bad-crc.ss" >"$T/bad.ss.gz"
	runf relay -i "$T/bad.ss.gz" --skip-corrupt
	assert_equal "$status" 1
	[ "$(wc -l <"$T/out")" -eq 43 ]
	grep -q 'byte 2131: .*nothing readable after it' "$T/err" || fail "stderr: $(cat "$T/err")"
}

@test "relay: two inputs are merged by timestamp, ties in input order, EOS stamped with the latest" {
	printf '[2022-01-01T00:00:01 | a | 0] a0\n[2022-01-01T00:00:03 | a | 1] a1\n[2022-01-01T00:00:05 | a | 2] a2\n[2022-01-01T00:00:06 | %s | 0 | 0] EOS\n' "$EOS_KEY" >"$T/a.txt"
	printf '[2022-01-01T00:00:02 | b | 0] b0\n[2022-01-01T00:00:03 | b | 1] b1\n[2022-01-01T00:00:04 | b | 2] b2\n[2022-01-01T00:00:09 | b | 3] b3\n[2022-01-01T00:00:09.5 | %s | 0 | 0] EOS\n' "$EOS_KEY" >"$T/b.txt"
	relay -i "$T/b.txt" -o "$T/b.ss" </dev/null
	local want
	want=$(printf '%s\n' a0 b0 a1 b1 b2 a2 b3 EOS)
	runf relay -i "$T/a.txt" -i "$T/b.ss"
	assert_equal "$status" 0
	run cut -d ' ' -f 8 "$T/out"
	assert_output "$want"
	assert_line --index 7 "EOS"
	grep -q '^\[2022-01-01T00:00:09.500 | ' "$T/out" || fail "EOS not stamped 09.500: $(tail -n 1 "$T/out")"
	# the other order: ties go to b first
	runf relay -i "$T/b.ss" -i "$T/a.txt"
	run cut -d ' ' -f 8 "$T/out"
	assert_output "$(printf '%s\n' a0 b0 b1 a1 b2 a2 b3 EOS)"
	# into a .ss file; three inputs
	relay -i "$T/a.txt" -i "$T/b.txt" -i "$VEC/consumer.ss" -o "$T/m.ss" </dev/null
	tsv "$T/m.ss" >"$T/m.tsv"
	[ "$(wc -l <"$T/m.tsv")" -eq $((3 + 4 + 100 + 1)) ]
	# timestamps never decrease, each input keeps its order
	run awk -F '\t' '$4 + 0 < p { print "line " NR } { p = $4 + 0 }' "$T/m.tsv"
	assert_output ""
	grep '^hello	' "$T/m.tsv" | cmp - <("$SS_TSV" "$VEC/consumer.ss" | grep '^hello	')
}

@test "relay --skip-corrupt: each damaged vector warns with the byte range and keeps the messages before and after" {
	local file fault kind good from to
	"$SS_TSV" "$VEC/consumer.ss" | sed '$d' >"$T/all"
	python3 -c '
import sys
sys.path.insert(0, sys.argv[1])
import ssref
r = ssref.parse(open(sys.argv[2], "rb").read())
print("\n".join(str(s) for s in r["starts"]))' "$REPO/tests/ref" "$VEC/consumer.ss" >"$T/starts"
	while IFS=$'\t' read -r file fault kind good; do
		[ "$kind" != magic ] || continue
		# skipped: from the start of the first message not read to the
		# first message after the next beacon past the fault
		from=$(sed -n "$((good + 1))p" "$T/starts")
		to=$(awk -v b=$(((fault / 1024 + 1) * 1024)) '$1 > b { print; exit }' "$T/starts")
		runf relay -i "$CORRUPT/$file" --skip-corrupt -o "$T/r.ss"
		assert_equal "$file: status $status" "$file: status 1"
		grep -qE "^relay: $CORRUPT/$file: byte $fault: .*; skipped bytes $from to $to\$" "$T/err" ||
			fail "$file: stderr: $(cat "$T/err"), want bytes $fault, $from to $to"
		{
			head -n "$good" "$T/all"
			paste "$T/all" "$T/starts" | awk -F '\t' -v to="$to" '$6 + 0 >= to' | cut -f 1-5
		} >"$T/want"
		tsv "$T/r.ss" | cmp - "$T/want" || fail "$file: messages differ"
		rm -f "$T/r.ss"
		# without --skip-corrupt: the messages before, status 1
		runf relay -i "$CORRUPT/$file"
		assert_equal "$file: status $status" "$file: status 1"
		[ "$(wc -l <"$T/out")" -eq "$good" ] || fail "$file: $(wc -l <"$T/out") lines before the damage"
		grep -q "$file: " "$T/err" || fail "$file: stderr: $(cat "$T/err")"
	done <"$CORRUPT/faults.tsv"
}

# stats_of ARGS...: relays with --stats and prints the final counters as
# "in out filtered skipped raw corrupt bytes", or "N objects" if stderr
# does not hold exactly one, well-formed.
stats_of() {
	timeout "$LIMIT" "$RELAY" --stats "$@" </dev/null >/dev/null 2>"$T/stats.err"
	local n
	n=$(grep -c '^{' "$T/stats.err")
	if [ "$n" -ne 1 ]; then
		echo "$n objects"
		return
	fi
	grep '^{' "$T/stats.err" | jq -r 'select(.program == "relay" and
	    (.elapsed_ms | type) == "number" and (.rate | type) == "number") |
	    "\(.in) \(.out) \(.filtered) \(.skipped) \(.raw) \(.corrupt) \(.bytes)"'
}

# payload_bytes: the payload bytes of the TSV messages on stdin but EOS.
payload_bytes() {
	grep -v "^$EOS_KEY	" | awk -F '\t' '{ n += length($5) / 2 } END { print n + 0 }'
}

@test "relay --stats: one valid JSON object at the end with the right counts" {
	printf '[k | 1] good1\n[bad topic] x\n[k | 2] good2\n[k | 3\nlast\n' >"$T/bad.txt"
	printf '[a | 1] a1\n[b | 1] b1\nplain\n' >"$T/k.txt"
	local many consumer binary corrupt
	many=$("$SS_TSV" "$VEC/many-streams.ss" | sed '$d' | payload_bytes)
	consumer=$("$SS_TSV" "$VEC/consumer.ss" | sed '$d' | payload_bytes)
	# binary.ss: the payloads that can be lines
	binary=$(jq -r 'select(has("text") and (.text | contains("\n") | not) and
	    .stream_key != "SEA_STREAMER_INTERNAL") | .text | utf8bytelength' \
	    "$VEC/binary.expected.jsonl" | awk '{ n += $1 } END { print n }')
	# bad-crc.ss: the 43 messages before the damage and those after beacon 3
	corrupt=$( { "$SS_TSV" "$VEC/consumer.ss" | head -n 43
		"$SS_TSV" -s beacon:3 "$VEC/consumer.ss" | sed '$d'; } | payload_bytes)
	local -a cases=(
		"-i $VEC/many-streams.ss -o /dev/null|2001 2000 0 0 0 0 $many"
		"-i $VEC/consumer.ss -o $T/c.ss|101 100 0 0 0 0 $consumer"
		"-i $T/k.txt -o stdio:///a|3 1 2 0 0 0 2"
		"-i $T/bad.txt --on-bad-line skip|3 3 0 2 0 0 14"
		"-i $T/bad.txt --on-bad-line skip -q|3 3 0 2 0 0 14"
		"-i $T/bad.txt --on-bad-line raw|5 5 0 0 2 0 33"
		"-i $VEC/binary.ss|31 18 0 12 0 0 $binary"
		"-i $CORRUPT/bad-crc.ss --skip-corrupt -o /dev/null|80 79 0 0 0 1 $corrupt"
	)
	expect_outputs stats_of "${cases[@]}"
}

@test "relay: SIGUSR1 during --follow prints the counters once, with or without --stats; --stats-interval prints more" {
	head -n 50 "$VEC/many-streams.messages.tsv" | "$SS_BUILD" "$T/f.ss"
	bg "$T/r.pid" "$T/r.out" "$T/r.err" "$RELAY" -i "$T/f.ss" --follow -o -
	local rbg=$BG st
	wait_until 30 lines_at_least 50 "$T/r.out" || fail "follower printed $(wc -l <"$T/r.out") lines"
	kill -USR1 "$(cat "$T/r.pid")"
	wait_until 30 lines_at_least 1 "$T/r.err" || fail "no counters on SIGUSR1"
	kill -TERM "$(cat "$T/r.pid")"
	wait "$rbg" && st=0 || st=$?
	assert_equal "status $st" "status 0"
	# one object: no --stats, so none at the end
	run jq -c '[.program, .in, .out]' "$T/r.err"
	assert_output '["relay",50,50]'
	# with --stats and a short interval: several objects, the last at the end
	bg "$T/s.pid" "$T/s.out" "$T/s.err" "$RELAY" -i "$T/f.ss" --follow -o /dev/null --stats --stats-interval 20ms
	rbg=$BG
	wait_until 30 lines_at_least 3 "$T/s.err" || fail "fewer than 3 objects: $(cat "$T/s.err")"
	kill -TERM "$(cat "$T/s.pid")"
	wait "$rbg" && st=0 || st=$?
	assert_equal "status $st" "status 0"
	jq -e -s 'length >= 3 and all(.program == "relay") and (last | .in == 50 and .out == 50)' "$T/s.err" >/dev/null ||
		fail "objects: $(cat "$T/s.err")"
	# counters never go back
	run jq -s -c '[.[] | .elapsed_ms] as $e | [range(1; length) | select($e[.] < $e[. - 1])]' "$T/s.err"
	assert_output '[]'
}

@test "relay --follow: SIGTERM ends it with an End-of-Stream on its .ss output, status 0" {
	head -n 30 "$VEC/many-streams.messages.tsv" | "$SS_BUILD" "$T/f.ss"
	bg "$T/r.pid" "$T/r.out" "$T/r.err" "$RELAY" -i "$T/f.ss" --follow -o "$T/o.ss"
	local rbg=$BG st
	wait_until 30 eval '[ "$("$SS_TSV" "$T/o.ss" 2>/dev/null | wc -l)" -ge 31 ]' || fail "no messages relayed"
	kill -TERM "$(cat "$T/r.pid")"
	wait "$rbg" && st=0 || st=$?
	assert_equal "status $st: $(cat "$T/r.err")" "status 0: "
	tsv "$T/o.ss" >"$T/got"
	[ "$(wc -l <"$T/got")" -eq 31 ]
	head -n 30 "$T/got" | cmp - <(head -n 30 "$VEC/many-streams.messages.tsv")
	tail -n 1 "$T/got" | grep -q "^$EOS_KEY	"
	# a file that has its EOS already: replayed, and relay ends by itself
	runf relay -i "$VEC/consumer.ss" --follow
	assert_equal "$status" 0
	relay -i "$VEC/consumer.ss" </dev/null | cmp - "$T/out"
}

@test "relay: a file cut short is relayed up to its last complete message with a warning, status 0" {
	runf relay -i "$VEC/no-eos-truncated.ss" -o "$T/x.ss" --beacon-interval 512
	assert_equal "$status" 0
	grep -qx "relay: $VEC/no-eos-truncated.ss: truncated at byte [0-9]*" "$T/err" || fail "stderr: $(cat "$T/err")"
	vector_complete_tsv no-eos-truncated >"$T/want"
	tsv "$T/x.ss" | grep -v "^$EOS_KEY	" | cmp - "$T/want"
}

@test "relay: usage errors exit 2 with a message" {
	local -a cases=(
		"--bogus|unrecognized option"
		"--from nowhere|--from: bad position 'nowhere'"
		"--from seq:x|--from: bad number"
		"--from time:yesterday|--from: bad time"
		"--from beacon:-1|--from: bad number"
		"--on-bad-line maybe|--on-bad-line: 'maybe'"
		"--sync sometimes|--sync: 'sometimes'"
		"--append --force|--append and --force do not go together"
		"-f -i a -i b|--follow takes a single input"
		"--beacon-interval 127|beacon interval '127'"
		"--beacon-interval x|beacon interval 'x'"
		"--stats-interval 5q|--stats-interval: bad duration"
		"stray|usage: relay"
		"-i|requires an argument"
	)
	expect_failures 2 relay "${cases[@]}"
}

@test "relay: refused URIs and missing inputs exit 1 naming them" {
	local -a cases=(
		"-o redis://127.0.0.1:1/k|relay: redis://127.0.0.1:1/k: "
		"-i rediss://host/k|TLS (rediss://) is not supported"
		"-i rediss://:pw@host/k|relay: rediss://:***@host/k: TLS (rediss://)"
		"-i $T/no-such-file.ss|$T/no-such-file.ss: No such file or directory"
		"-i file://$T/absent|$T/absent: No such file or directory"
		"-o $T/no-dir/x.ss|$T/no-dir/x.ss: No such file or directory"
		"-i stdio:///bad!key|invalid stream key 'bad!key'"
	)
	expect_failures 1 relay "${cases[@]}"
}

@test "relay: a path of 400 bytes is shortened in a message, never the reason after it" {
	local long=$T/$(printf 'd123456789/%.0s' $(seq 36))
	runf "$RELAY" -i "${long}x.ss" </dev/null
	assert_equal "$status" 1
	run cat "$T/err"
	assert_output --partial "relay: $T/d123456789/"
	assert_output --partial "..."
	assert_output --partial "/d123456789/x.ss: No such file or directory"
	[ "$(wc -c <"$T/err")" -lt 256 ] || fail "not shortened: $(cat "$T/err")"
	runf "$RELAY" -o "${long}x.ss" </dev/null
	assert_equal "$status" 1
	run cat "$T/err"
	assert_output --partial "x.ss: No such file or directory"
}

@test "relay: a reader of its output that goes away ends it quietly (SIGPIPE)" {
	# far more than the pipe and relay's buffer hold
	[ "$(fsize "$D/gen.lines")" -gt 1000000 ] || fail "gen.lines is small"
	timeout "$LIMIT" bash -c '"$1" -i "$2" | head -n 1 >"$3"; echo "${PIPESTATUS[0]}" >"$4"' \
	    _ "$RELAY" "$D/gen.ss" "$T/out" "$T/status" </dev/null 2>"$T/err"
	assert_equal "$(cat "$T/status")" 141
	[ ! -s "$T/err" ] || fail "stderr: $(cat "$T/err")"
	head -n 1 "$D/gen.lines" | cmp - "$T/out"
}
