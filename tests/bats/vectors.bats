#!/usr/bin/env bats
# The golden files of format/vectors: the writer reproduces each one byte
# for byte, the reader decodes it to its .messages.tsv, it verifies, and
# ss-decode renders it as its .expected.jsonl says, in ndjson and in log
# format. Then the damaged files of format/vectors/corrupt.
#
# One test per vector and check; the first test fails if a vector is added
# to format/vectors without being added to the table here.

load helper

VECTORS="binary consumer large many-streams no-eos-truncated rotate-2048
sample-1 splice-256 tiny-128"

# --- checks, one function per kind -----------------------------------------

# (a) the writer gives NAME.ss back byte for byte.
check_writer() {
	local name=$1
	build_vector "$name" "$T/$name.ss"
	run cmp "$T/$name.ss" "$VEC/$name.ss"
	assert_success
}

# (b) ss-tsv decodes NAME.ss to the complete messages of NAME.messages.tsv
# and ends with "end SIZE", or for a truncated vector "partial N" with N the
# offset where the first incomplete message starts.
check_tsv() {
	local name=$1 size cut n
	size=$(fsize "$VEC/$name.ss")
	cut=$(vector_arg "$name" truncate)
	runf "$SS_TSV" "$VEC/$name.ss"
	assert_equal "$status" 0
	vector_complete_tsv "$name" >"$T/want"
	n=$(wc -l <"$T/want")
	head -n "$n" "$T/out" >"$T/got"
	run diff "$T/want" "$T/got"
	assert_success
	# exactly one line after the messages
	assert_equal "$(wc -l <"$T/out")" "$((n + 1))"
	if [ -z "$cut" ]; then
		assert_equal "$(tail -n 1 "$T/out")" "end $size"
		return
	fi
	assert_equal "$size" "$cut"
	run tail -n 1 "$T/out"
	assert_output --regexp '^partial [0-9]+$'
	local at=${output#partial }
	[ "$at" -ge 128 ] && [ "$at" -lt "$cut" ] ||
		fail "partial offset $at not inside the file"
	# the untruncated file cut at that offset ends at a message boundary
	# after the same messages
	local ni nc ci
	ni=$(vector_arg "$name" interval)
	nc=$(vector_arg "$name" created)
	ci=$(vector_arg "$name" name)
	"$SS_BUILD" -n "$ci" -c "$nc" -i "$ni" "$T/whole.ss" \
		<"$VEC/$name.messages.tsv"
	truncate -s "$at" "$T/whole.ss"
	runf "$SS_TSV" "$T/whole.ss"
	assert_equal "$status" 0
	{ cat "$T/want"; echo "end $at"; } >"$T/want2"
	run diff "$T/want2" "$T/out"
	assert_success
}

# (c) the vector verifies: ss-tsv -v decodes it like ss-tsv, and ss-decode
# -v prints one "ok" line (a cut file is not at fault: format/README.md
# 3.11, exit status 0 per ss-decode(1)).
check_verify() {
	local name=$1 size iv n cut
	size=$(fsize "$VEC/$name.ss")
	iv=$(vector_arg "$name" interval)
	cut=$(vector_arg "$name" truncate)
	"$SS_TSV" "$VEC/$name.ss" >"$T/plain" || true
	runf "$SS_TSV" -v "$VEC/$name.ss"
	assert_equal "$status" 0
	run diff "$T/plain" "$T/out"
	assert_success
	n=$(vector_complete_tsv "$name" | wc -l)
	runf "$SS_DECODE" -v "$VEC/$name.ss"
	if [ -z "$cut" ]; then
		assert_equal "$(cat "$T/out")" \
		    "$VEC/$name.ss: ok, $n messages, $(((size - 1) / iv)) beacons, $size bytes"
		assert_equal "$(cat "$T/err")" ""
	else
		local at
		at=$(tail -n 1 "$T/plain")
		at=${at#partial }
		assert_equal "$(cat "$T/err")" \
		    "ss-decode: $VEC/$name.ss: truncated at byte $at"
		run cat "$T/out"
		assert_output --regexp "^$VEC/$name.ss: ok, $n messages, [0-9]+ beacons, [0-9]+ bytes\$"
	fi
	assert_equal "$status" 0
}

# jq program: $got (parsed ndjson lines) against $exp (.expected.jsonl);
# prints one line per payload that differs.
JQ_PAYLOADS='
def hexval: if . >= 97 then . - 87 else . - 48 end;
def want:
	# (jq 1.6 reads "\u0000" as 0: a text with a control character other
	# than white space is never JSON, so it is not given to fromjson)
	if has("text") then .text as $t
		| if ($t | explode | any(. < 32 and . != 9 and . != 10 and . != 13))
		  then $t else (try ($t | fromjson) catch $t) end
	else .bytes | explode
		| [range(0; length; 2) as $i | (.[$i] | hexval) * 16 + (.[$i + 1] | hexval)]
	end;
range(0; [($exp | length), ($got | length)] | max) as $i
| select(($got[$i] | has("payload") | not) or $got[$i].payload != ($exp[$i] | want))
| "message \($i): got \($got[$i].payload | tojson), want \($exp[$i] | want | tojson)"'

# Rewrites ndjson lines as TSV "key shard seq timestamp" from their text (so
# that numbers beyond 2^53 are compared exactly); a line of another shape
# becomes "BAD <line>".
ndjson_headers() {
	sed -E 's/^\{"header":\{"stream_key":"([A-Za-z0-9._-]+)","shard_id":([0-9]+),"sequence":([0-9]+),"timestamp":"([^"]*)"\}(,"payload":.*)?\}$/\1\t\2\t\3\t\4/; t; s/^/BAD /' "$1"
}

# TSV "key shard seq timestamp" of TSV messages on stdin.
tsv_headers() {
	awk -F '\t' "$AWK_LIB"'{ print $1 "\t" $2 "\t" $3 "\t" tsfmt($4) }'
}

# (d) ss-decode -F ndjson: every line is one JSON value; headers match the
# .messages.tsv fields exactly; payloads match .expected.jsonl.
check_ndjson() {
	local name=$1 n cut
	cut=$(vector_arg "$name" truncate)
	runf "$SS_DECODE" -F ndjson "$VEC/$name.ss"
	assert_equal "$status" 0
	if [ -z "$cut" ]; then
		assert_equal "$(cat "$T/err")" ""
	else
		run cat "$T/err"
		assert_output --regexp "^ss-decode: $VEC/$name.ss: truncated at byte [0-9]+\$"
	fi
	n=$(wc -l <"$VEC/$name.expected.jsonl")
	assert_equal "$(wc -l <"$T/out")" "$n"
	# each line on its own is valid JSON
	run jq -R -c 'fromjson | type' "$T/out"
	assert_success
	assert_equal "$(printf '%s\n' "$output" | grep -c '^"object"$')" "$n"
	# headers, textually
	ndjson_headers "$T/out" >"$T/got-h"
	vector_complete_tsv "$name" | tsv_headers >"$T/want-h"
	run diff "$T/want-h" "$T/got-h"
	assert_success
	# payloads, semantically
	jq -R -c 'fromjson' "$T/out" >"$T/parsed"
	run jq -n -r --slurpfile got "$T/parsed" \
		--slurpfile exp "$VEC/$name.expected.jsonl" "$JQ_PAYLOADS"
	assert_success
	assert_output ""
}

# jq program: the log lines ss-decode must print for $exp (expected.jsonl)
# with key, shard and sequence taken as text from $tsv (messages.tsv);
# messages whose payload has no line form are left out.
JQ_LOG='
def ts: (. / 1000 | floor | todate | rtrimstr("Z"))
	+ "." + (. % 1000 | tostring | ("00" + .)[-3:]);
($tsv | split("\n") | map(select(length > 0) | split("\t"))) as $t
| range(0; $exp | length) as $i
| $exp[$i] | select(has("text") and (.text | test("\n") | not))
| "[\(.timestamp_ms | ts) | \($t[$i][0]) | \($t[$i][2]) | \($t[$i][1])] \(.text)"'

# jq program: indices of the messages of $exp with no line form.
JQ_NOTLINE='range(0; $exp | length) as $i
| $exp[$i] | select(has("text") and (.text | test("\n") | not) | not) | $i'

# (d) ss-decode in log format prints the expected lines; each message that
# cannot be a line is skipped with a warning naming its offset (checked by
# cutting the file one byte into the message: ss-tsv then reports the same
# offset as partial after the same number of messages), and the exit status
# is 1 if anything was skipped.
check_log() {
	local name=$1 cut skipped i off want_status=0
	cut=$(vector_arg "$name" truncate)
	runf "$SS_DECODE" "$VEC/$name.ss"
	mv "$T/out" "$T/log"
	mv "$T/err" "$T/log-err"
	jq -n -j --rawfile tsv "$VEC/$name.messages.tsv" \
		--slurpfile exp "$VEC/$name.expected.jsonl" "$JQ_LOG + \"\\n\"" \
		>"$T/want-log"
	run cmp "$T/want-log" "$T/log"
	if [ "$status" -ne 0 ]; then
		diff -a "$T/want-log" "$T/log" | head -n 20
		fail "log output of $name differs"
	fi
	skipped=$(jq -n -r --slurpfile exp "$VEC/$name.expected.jsonl" \
		"$JQ_NOTLINE")
	local nwarn=0
	for i in $skipped; do
		nwarn=$((nwarn + 1))
		want_status=1
		run sed -n "${nwarn}p" "$T/log-err"
		assert_output --regexp "^ss-decode: $VEC/$name.ss: byte [0-9]+: .*skipped"
		off=$(echo "$output" | sed -E 's/^[^:]*: [^:]*: byte ([0-9]+):.*/\1/')
		head -c "$((off + 1))" "$VEC/$name.ss" >"$T/cut.ss"
		runf "$SS_TSV" "$T/cut.ss"
		assert_equal "$(wc -l <"$T/out")" "$((i + 1))"
		assert_equal "$(tail -n 1 "$T/out")" "partial $off"
	done
	local rest
	rest=$(sed -n "$((nwarn + 1)),\$p" "$T/log-err")
	if [ -z "$cut" ]; then
		assert_equal "$rest" ""
	else
		[[ $rest =~ ^ss-decode:\ $VEC/$name.ss:\ truncated\ at\ byte\ [0-9]+$ ]] ||
			fail "want one truncation warning, got: $rest"
	fi
	runf "$SS_DECODE" "$VEC/$name.ss"
	assert_equal "$status" "$want_status"
}

# --- the table --------------------------------------------------------------

@test "vectors: the table of this file names every vector of format/vectors" {
	assert_equal "$(vector_names | tr '\n' ' ')" "$(echo $VECTORS) "
	local v
	for v in $VECTORS; do
		for ext in args expected.jsonl messages.tsv; do
			[ -f "$VEC/$v.$ext" ] || fail "$v.$ext is missing"
		done
	done
}

@test "binary: writer reproduces the file" { check_writer binary; }
@test "binary: ss-tsv decodes the messages" { check_tsv binary; }
@test "binary: verifies" { check_verify binary; }
@test "binary: ss-decode ndjson" { check_ndjson binary; }
@test "binary: ss-decode log" { check_log binary; }

@test "consumer: writer reproduces the file" { check_writer consumer; }
@test "consumer: ss-tsv decodes the messages" { check_tsv consumer; }
@test "consumer: verifies" { check_verify consumer; }
@test "consumer: ss-decode ndjson" { check_ndjson consumer; }
@test "consumer: ss-decode log" { check_log consumer; }

@test "large: writer reproduces the file" { check_writer large; }
@test "large: ss-tsv decodes the messages" { check_tsv large; }
@test "large: verifies" { check_verify large; }
@test "large: ss-decode ndjson" { check_ndjson large; }
@test "large: ss-decode log" { check_log large; }

@test "many-streams: writer reproduces the file" { check_writer many-streams; }
@test "many-streams: ss-tsv decodes the messages" { check_tsv many-streams; }
@test "many-streams: verifies" { check_verify many-streams; }
@test "many-streams: ss-decode ndjson" { check_ndjson many-streams; }
@test "many-streams: ss-decode log" { check_log many-streams; }

@test "no-eos-truncated: writer reproduces the file" { check_writer no-eos-truncated; }
@test "no-eos-truncated: ss-tsv decodes the messages" { check_tsv no-eos-truncated; }
@test "no-eos-truncated: verifies" { check_verify no-eos-truncated; }
@test "no-eos-truncated: ss-decode ndjson" { check_ndjson no-eos-truncated; }
@test "no-eos-truncated: ss-decode log" { check_log no-eos-truncated; }

@test "rotate-2048: writer reproduces the file" { check_writer rotate-2048; }
@test "rotate-2048: ss-tsv decodes the messages" { check_tsv rotate-2048; }
@test "rotate-2048: verifies" { check_verify rotate-2048; }
@test "rotate-2048: ss-decode ndjson" { check_ndjson rotate-2048; }
@test "rotate-2048: ss-decode log" { check_log rotate-2048; }

@test "sample-1: writer reproduces the file" { check_writer sample-1; }
@test "sample-1: ss-tsv decodes the messages" { check_tsv sample-1; }
@test "sample-1: verifies" { check_verify sample-1; }
@test "sample-1: ss-decode ndjson" { check_ndjson sample-1; }
@test "sample-1: ss-decode log" { check_log sample-1; }

@test "splice-256: writer reproduces the file" { check_writer splice-256; }
@test "splice-256: ss-tsv decodes the messages" { check_tsv splice-256; }
@test "splice-256: verifies" { check_verify splice-256; }
@test "splice-256: ss-decode ndjson" { check_ndjson splice-256; }
@test "splice-256: ss-decode log" { check_log splice-256; }

@test "tiny-128: writer reproduces the file" { check_writer tiny-128; }
@test "tiny-128: ss-tsv decodes the messages" { check_tsv tiny-128; }
@test "tiny-128: verifies" { check_verify tiny-128; }
@test "tiny-128: ss-decode ndjson" { check_ndjson tiny-128; }
@test "tiny-128: ss-decode log" { check_log tiny-128; }

# --- corrupt files ----------------------------------------------------------

# Rows of corrupt/faults.tsv: file offset kind good.
faults() {
	grep -v '^#' "$CORRUPT/faults.tsv"
}

@test "corrupt: faults.tsv lists every damaged file" {
	local f listed
	[ "$(faults | wc -l)" -ge 1 ] || fail "faults.tsv is empty"
	for f in "$CORRUPT"/*.ss; do
		listed=$(faults | cut -f 1 | grep -Fxc "${f##*/}") || true
		assert_equal "${f##*/}: $listed" "${f##*/}: 1"
	done
}

@test "corrupt: ss-tsv reports each fault at its offset after the good messages" {
	local file off kind good
	while IFS=$'\t' read -r file off kind good; do
		runf "$SS_TSV" "$CORRUPT/$file"
		assert_equal "$file: status $status" "$file: status 1"
		# the good messages are the first ones of consumer.ss
		head -n "$good" "$VEC/consumer.messages.tsv" >"$T/want"
		head -n "$good" "$T/out" >"$T/got"
		run diff "$T/want" "$T/got"
		assert_success
		assert_equal "$file: $(wc -l <"$T/out")" "$file: $((good + 1))"
		run tail -n 1 "$T/out"
		assert_output --regexp "^corrupt $off [^ ]"
		# -v stops at the same fault
		runf "$SS_TSV" -v "$CORRUPT/$file"
		assert_equal "$file: -v status $status" "$file: -v status 1"
		run tail -n 1 "$T/out"
		assert_output --regexp "^corrupt $off [^ ]"
	done < <(faults)
}

@test "corrupt: ss-decode prints the good messages, names the offset, exits 1" {
	local file off kind good fmt
	while IFS=$'\t' read -r file off kind good; do
		for fmt in ndjson log; do
			runf "$SS_DECODE" -F "$fmt" "$CORRUPT/$file"
			assert_equal "$file $fmt: status $status" "$file $fmt: status 1"
			"$SS_DECODE" -F "$fmt" "$VEC/consumer.ss" |
				head -n "$good" >"$T/want"
			run diff "$T/want" "$T/out"
			assert_success
			run cat "$T/err"
			assert_output --regexp "^ss-decode: $CORRUPT/$file: byte $off: [^ ]"
			assert_equal "$(wc -l <"$T/err")" 1
		done
	done < <(faults)
}

@test "corrupt: ss-decode -v reports the fault and a summary with faults, exits 1" {
	local file off kind good
	while IFS=$'\t' read -r file off kind good; do
		runf "$SS_DECODE" -v "$CORRUPT/$file"
		assert_equal "$file: status $status" "$file: status 1"
		run grep -c "^ss-decode: $CORRUPT/$file: byte $off: " "$T/err"
		assert_output 1
		run cat "$T/out"
		assert_output --regexp "^$CORRUPT/$file: [1-9][0-9]* faults, [0-9]+ messages, [0-9]+ beacons, [0-9]+ bytes\$"
	done < <(faults)
}

@test "corrupt: ss-decode -v resynchronises after a fault and reports a later one" {
	local at
	cp "$VEC/consumer.ss" "$T/two.ss"
	# bad-crc.ss's damage: first payload byte of hello-43, message at 2131
	printf '\x48' | dd of="$T/two.ss" bs=1 seek=2165 conv=notrunc status=none
	# the message that holds byte 3300 (between the beacons at 3072 and
	# 4096): cut there, ss-tsv names where it starts
	at=$(head -c 3300 "$VEC/consumer.ss" | "$SS_TSV" /dev/stdin | tail -n 1)
	[[ $at =~ ^partial\ (3[1-9][0-9][0-9])$ ]] || fail "unexpected: $at"
	at=${BASH_REMATCH[1]}
	# its first payload byte: 1 + 5 ("hello") + 28 bytes in
	printf '\x00' | dd of="$T/two.ss" bs=1 seek=$((at + 34)) conv=notrunc status=none
	runf "$SS_DECODE" -v "$T/two.ss"
	assert_equal "$status" 1
	run grep -c "^ss-decode: $T/two.ss: byte 2131: " "$T/err"
	assert_output 1
	run grep -c "^ss-decode: $T/two.ss: byte $at: " "$T/err"
	assert_output 1
	run cat "$T/out"
	assert_output --regexp "^$T/two.ss: 2 faults, [0-9]+ messages, [0-9]+ beacons, [0-9]+ bytes\$"
}
