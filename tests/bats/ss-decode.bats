#!/usr/bin/env bats
# ss-decode(1): options, formats, diagnostics, exit statuses, following.

load helper

CONSUMER=$VEC/consumer.ss
FIRST_LOG='[2023-08-10T16:49:14.745 | hello | 0 | 1] hello-0'
FIRST_JSON='{"header":{"stream_key":"hello","shard_id":1,"sequence":0,"timestamp":"2023-08-10T16:49:14.745"},"payload":"hello-0"}'
LAST_LOG='[2023-08-10T16:49:14.921 | SEA_STREAMER_INTERNAL | 0 | 0] EOS'

# --- formats ----------------------------------------------------------------

@test "formats: each spelling of the format and file options" {
	local -a table=(
		"log|"
		"log|-F log"
		"log|-Flog"
		"log|--format log"
		"log|--format=log"
		"ndjson|-F ndjson"
		"ndjson|-Fndjson"
		"ndjson|--format ndjson"
		"ndjson|--format=ndjson"
		"ndjson|-F log -F ndjson"
		"log|--format ndjson -F log"
		"log|--file $CONSUMER"
		"ndjson|--file=$CONSUMER -F ndjson"
		"ndjson|--format ndjson --file $CONSUMER"
	)
	local row fmt opts first file
	"$SS_DECODE" "$CONSUMER" >"$T/log"
	"$SS_DECODE" -F ndjson "$CONSUMER" >"$T/ndjson"
	assert_equal "$(head -n 1 "$T/log")" "$FIRST_LOG"
	assert_equal "$(tail -n 1 "$T/log")" "$LAST_LOG"
	assert_equal "$(head -n 1 "$T/ndjson")" "$FIRST_JSON"
	assert_equal "$(wc -l <"$T/log") $(wc -l <"$T/ndjson")" "101 101"
	for row in "${table[@]}"; do
		fmt=${row%%|*} opts=${row#*|} file=$CONSUMER
		[[ $opts == *--file* ]] && file=
		# shellcheck disable=SC2086
		runf "$SS_DECODE" $opts $file
		assert_equal "[$opts] status $status" "[$opts] status 0"
		cmp -s "$T/$fmt" "$T/out" || fail "[$opts]: not the $fmt output"
		[ ! -s "$T/err" ] || fail "[$opts]: stderr: $(<"$T/err")"
	done
}

@test "formats: log and ndjson print the same messages, in file order" {
	"$SS_DECODE" -F ndjson "$VEC/rotate-2048.ss" >"$T/nd"
	"$SS_DECODE" "$VEC/rotate-2048.ss" >"$T/log"
	jq -r '"[\(.header.timestamp) | \(.header.stream_key) | \(.header.sequence) | \(.header.shard_id)] \(.payload)"' \
		"$T/nd" >"$T/nd-as-log"
	run diff "$T/nd-as-log" "$T/log"
	assert_success
	assert_equal "$(wc -l <"$T/log")" 301
}

@test "ndjson: payload rendering (JSON minified, text as string, bytes as array)" {
	local -a table=(
		# payload (a printf format) | its rendering, literally
		'  [ 1 , 2 , 3 ]  |[1,2,3]'
		'{"a b" : "c  d",\n "e":\t[ ]}|{"a b":"c  d","e":[]}'
		'"str"|"str"'
		' 7 |7'
		'1e5|1e5'
		'-0.5E-3|-0.5E-3'
		'true|true'
		'null|null'
		'plain|"plain"'
		'|""'
		'tru|"tru"'
		'01|"01"'
		'{"a":1,}|"{\"a\":1,}"'
		'[1] [2]|"[1] [2]"'
		'tab\there "q" back\\slash|"tab\there \"q\" back\\slash"'
		'nul\000x|"nul\u0000x"'
		'line\nbreak\r\n|"line\nbreak\r\n"'
		'\377\376|[255,254]'
		'\300\257|[192,175]'
		'ok\342\202|[111,107,226,130]'
		'\355\240\200|[237,160,128]'
		'caf\303\251 \342\234\223|"café ✓"'
	)
	local row i=0 pay want
	: >"$T/in.tsv"
	for row in "${table[@]}"; do
		pay=${row%|*}
		printf 'k\t0\t%d\t1700000000000\t%s\n' "$i" \
			"$(printf -- "$pay" | od -An -v -tx1 | tr -d ' \n')" >>"$T/in.tsv"
		i=$((i + 1))
	done
	"$SS_BUILD" -i 256 "$T/j.ss" <"$T/in.tsv"
	runf "$SS_DECODE" -F ndjson "$T/j.ss"
	assert_equal "$status" 0
	assert_equal "$(wc -l <"$T/out")" "${#table[@]}"
	i=0
	for row in "${table[@]}"; do
		want=${row##*|}
		i=$((i + 1))
		assert_equal "$i: $(sed -n "${i}p" "$T/out")" \
		    "$i: {\"header\":{\"stream_key\":\"k\",\"shard_id\":0,\"sequence\":$((i - 1)),\"timestamp\":\"2023-11-14T22:13:20.000\"},\"payload\":$want}"
	done
	run jq -R -c 'fromjson | .payload' "$T/out"
	assert_success
}

@test "ndjson: JSON nested 512 deep is embedded, 513 deep is a string" {
	local a b
	a=$(printf '%512s' '' | tr ' ' '[')$(printf '%512s' '' | tr ' ' ']')
	b=$(printf '%513s' '' | tr ' ' '[')$(printf '%513s' '' | tr ' ' ']')
	{
		printf 'k\t0\t0\t0\t%s\n' "$(printf '%s' "$a" | od -An -v -tx1 | tr -d ' \n')"
		printf 'k\t0\t1\t0\t%s\n' "$(printf '%s' "$b" | od -An -v -tx1 | tr -d ' \n')"
	} | "$SS_BUILD" "$T/deep.ss"
	runf "$SS_DECODE" -F ndjson "$T/deep.ss"
	assert_equal "$status" 0
	assert_equal "$(sed -n 1p "$T/out" | sed 's/.*"payload"://')" "$a}"
	assert_equal "$(sed -n 2p "$T/out" | sed 's/.*"payload"://')" "\"$b\"}"
}

@test "log: timestamps always have three fraction digits, in UTC" {
	local ts
	local -a stamps=(0 1 10 100 999 1000 1001 59999 60000 86399999 86400000
		951782400000 951868799999 978307199999 1691686154740
		1700000000000 4102444800000 253402300799999)
	: >"$T/in.tsv"
	for ts in "${stamps[@]}"; do
		printf 't\t0\t0\t%s\t78\n' "$ts" >>"$T/in.tsv"
	done
	"$SS_BUILD" -i 256 "$T/ts.ss" <"$T/in.tsv"
	awk -F '\t' "$AWK_LIB"'{ print "[" tsfmt($4) " | t | 0 | 0] x" }' \
		"$T/in.tsv" >"$T/want"
	# spot checks of the independent formatter itself
	assert_equal "$(sed -n 1p "$T/want")" "[1970-01-01T00:00:00.000 | t | 0 | 0] x"
	assert_equal "$(sed -n 12p "$T/want")" "[2000-02-29T00:00:00.000 | t | 0 | 0] x"
	assert_equal "$(sed -n 18p "$T/want")" "[9999-12-31T23:59:59.999 | t | 0 | 0] x"
	runf "$SS_DECODE" "$T/ts.ss"
	assert_equal "$status" 0
	run diff "$T/want" "$T/out"
	assert_success
	# and on every vector
	local v
	for v in $(vector_names); do
		"$SS_DECODE" -H "$VEC/$v.ss" >"$T/h" 2>/dev/null || true
		run grep -cvE '^\[[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} \| [A-Za-z0-9._-]+ \| [0-9]+ \| [0-9]+\]$' "$T/h"
		assert_equal "$v: $output" "$v: 0"
	done
}

@test "log: output reads back through ss-build -l to the same messages" {
	local v skip
	# a file of awkward but printable payloads
	{
		for pay in ' leading space' 'trailing space ' '	tab' '[bracket first' \
		    '] close' 'a | b | c' '[2020-01-01T00:00:00 | x | 1 | 2] inner meta' \
		    '' ' ' '  ' "cr at end$(printf '\r')" 'unicode ✓ ü 😀' 'x]y' \
		    '{"json": [1, 2]}'; do
			printf '%s' "$pay" | od -An -v -tx1 | tr -d ' \n' >"$T/hex"
			printf 'a.b_c-D\t18446744073709551615\t18446744073709551615\t1700000000123\t%s\n' \
			    "$(<"$T/hex")"
		done
		printf '0\t0\t0\t0\t30\n'
		printf '123\t7\t00\t999\t\n'
	} >"$T/odd.tsv"
	"$SS_BUILD" -i 128 "$T/odd.ss" <"$T/odd.tsv"
	for v in "$T/odd" "$VEC/consumer" "$VEC/sample-1" "$VEC/binary" \
	    "$VEC/many-streams" "$VEC/tiny-128"; do
		"$SS_DECODE" "$v.ss" 2>/dev/null | "$SS_BUILD" -l -i 1024 "$T/back.ss"
		"$SS_TSV" "$v.ss" | sed '$d' >"$T/orig.tsv"
		if [ -f "$v.expected.jsonl" ]; then
			# drop the messages that have no line form
			skip=$(jq -r 'select(has("text") and (.text | test("\n") | not) | not) | input_line_number' \
				"$v.expected.jsonl" | tr '\n' ' ')
			awk -v skip=" $skip" 'index(skip, " " NR " ") == 0' \
				"$T/orig.tsv" >"$T/want.tsv"
		else
			cp "$T/orig.tsv" "$T/want.tsv"
		fi
		runf "$SS_TSV" "$T/back.ss"
		assert_equal "$status" 0
		sed '$d' "$T/out" >"$T/back.tsv"
		run diff "$T/want.tsv" "$T/back.tsv"
		assert_success
		if [ "$v" = "$T/odd" ]; then
			assert_equal "$(wc -l <"$T/back.tsv")" 16
			# key '123' with sequence "00" and an empty payload
			assert_equal "$(tail -n 1 "$T/back.tsv")" "$(printf '123\t7\t0\t999\t')"
		fi
	done
}

@test "log: unprintable payloads are skipped with a warning and exit 1; ndjson and -H keep them" {
	runf "$SS_DECODE" "$VEC/binary.ss"
	assert_equal "$status" 1
	assert_equal "$(wc -l <"$T/out")" 19
	assert_equal "$(wc -l <"$T/err")" 12
	run grep -c '^ss-decode: .*/binary.ss: byte [0-9][0-9]*: .*skipped' "$T/err"
	assert_output 12
	# the first one: message 1 (bin, shard 2, bytes ff fe fd) starts at 174
	# (the header is 128 bytes, message 0 "text"/"plain text" 46)
	assert_equal "$(head -n 1 "$T/err" | grep -o 'byte [0-9]*')" "byte 174"
	runf "$SS_DECODE" -F ndjson "$VEC/binary.ss"
	assert_equal "$status" 0
	assert_equal "$(wc -l <"$T/out")" 31
	assert_equal "$(<"$T/err")" ""
	runf "$SS_DECODE" -H "$VEC/binary.ss"
	assert_equal "$status" 0
	assert_equal "$(wc -l <"$T/out")" 31
	assert_equal "$(<"$T/err")" ""
}

# --- header-only and meta ----------------------------------------------------

@test "--header-only: log prints the meta block only, ndjson leaves out the payload" {
	local v opt
	for v in consumer rotate-2048 sample-1; do
		"$SS_DECODE" "$VEC/$v.ss" | sed -E 's/^(\[[^]]*\]) .*$/\1/' >"$T/want-log"
		"$SS_DECODE" -F ndjson "$VEC/$v.ss" |
			sed -E 's/,"payload":.*\}$/}/' >"$T/want-nd"
		for opt in -H --header-only; do
			runf "$SS_DECODE" "$opt" "$VEC/$v.ss"
			assert_equal "$status" 0
			run diff "$T/want-log" "$T/out"
			assert_success
			runf "$SS_DECODE" "$opt" -F ndjson "$VEC/$v.ss"
			assert_equal "$status" 0
			run diff "$T/want-nd" "$T/out"
			assert_success
			run jq -e -s 'all(has("payload") | not) and length > 0' "$T/out"
			assert_success
		done
	done
	assert_equal "$(head -n 1 "$T/want-log")" "[2023-09-15T08:39:37.912 | file | 1 | 0]"
}

@test "--meta: header line and one line per beacon (log format)" {
	local opt
	for opt in -m --meta; do
		runf "$SS_DECODE" "$opt" "$CONSUMER"
		assert_equal "$status" 0
		assert_equal "$(sed -n 1p "$T/out")" \
		    '# {"file_name":"consumer-1691686154741","created_at":"2023-08-10T16:49:14.742","beacon_interval":1024}'
		assert_equal "$(grep -c '^# ' "$T/out")" 5
		assert_equal "$(grep -c '^# {"beacon":' "$T/out")" 4
		assert_equal "$(grep -vc '^# ' "$T/out")" 101
		# the messages are those of a plain decode
		grep -v '^# ' "$T/out" >"$T/msgs"
		"$SS_DECODE" "$CONSUMER" >"$T/plain"
		run diff "$T/plain" "$T/msgs"
		assert_success
	done
	# the beacons, as format/README.md 3.6 describes them, each before the
	# message it interrupts
	local -a want=(
		'1|1024|39|20|2023-08-10T16:49:14.773|2887|hello-20'
		'2|2048|44|42|.*|61736|hello-42'
		'3|3072|4|63|.*|.*|hello-63'
		'4|4096|9|85|.*|.*|hello-85'
	)
	local row n off rem seq ts crc msg line
	for row in "${want[@]}"; do
		IFS='|' read -r n off rem seq ts crc msg <<<"$row"
		line=$(grep -n "^# {\"beacon\":$n," "$T/out" | cut -d: -f1)
		[ -n "$line" ] || fail "no line for beacon $n"
		run sed -n "${line}p" "$T/out"
		assert_output --regexp "^# \{\"beacon\":$n,\"offset\":$off,\"remaining_bytes\":$rem,\"items\":\[\{\"header\":\{\"stream_key\":\"hello\",\"shard_id\":1,\"sequence\":$seq,\"timestamp\":\"$ts\"\},\"running_checksum\":$crc\}\]\}\$"
		run sed -n "$((line + 1))p" "$T/out"
		assert_output --regexp " $msg\$"
	done
	assert_equal "$(grep '^# {"beacon":1,' "$T/out")" \
	    '# {"beacon":1,"offset":1024,"remaining_bytes":39,"items":[{"header":{"stream_key":"hello","shard_id":1,"sequence":20,"timestamp":"2023-08-10T16:49:14.773"},"running_checksum":2887}]}'
}

@test "--meta: ndjson wraps the same JSON in /* */; rotation over many streams" {
	runf "$SS_DECODE" -m -F ndjson "$CONSUMER"
	assert_equal "$status" 0
	"$SS_DECODE" -m "$CONSUMER" | sed -n 's/^# \(.*\)$/\/* \1 *\//p' >"$T/want-meta"
	grep '^/\* ' "$T/out" >"$T/got-meta"
	run diff "$T/want-meta" "$T/got-meta"
	assert_success
	assert_equal "$(wc -l <"$T/got-meta")" 5
	grep -v '^/\* ' "$T/out" >"$T/msgs"
	"$SS_DECODE" -F ndjson "$CONSUMER" >"$T/plain"
	run diff "$T/plain" "$T/msgs"
	assert_success
	# every meta line holds valid JSON
	run jq -R -c 'ltrimstr("/* ") | rtrimstr(" */") | fromjson | type' "$T/got-meta"
	assert_success
	# rotate-2048: 3 items per beacon (2 while there are only 2 streams),
	# 8 beacons, offsets n*2048
	"$SS_DECODE" -m -H "$VEC/rotate-2048.ss" | sed -n 's/^# //p' >"$T/rot"
	run jq -s -c '.[0].beacon_interval, [.[1:][] | [.beacon, .offset, (.items | length)]]' "$T/rot"
	assert_success
	assert_line -n 0 2048
	assert_line -n 1 '[[1,2048,2],[2,4096,3],[3,6144,3],[4,8192,3],[5,10240,3],[6,12288,3],[7,14336,3],[8,16384,3]]'
}

# --- input ------------------------------------------------------------------

@test "stdin: '-' reads the file sequentially, through a pipe too" {
	local v fmt
	for v in consumer large many-streams tiny-128; do
		for fmt in log ndjson; do
			"$SS_DECODE" -F "$fmt" "$VEC/$v.ss" >"$T/want" 2>/dev/null || true
			runf "$SS_DECODE" -F "$fmt" - <"$VEC/$v.ss"
			assert_equal "$v $fmt: status $status" "$v $fmt: status 0"
			run cmp "$T/want" "$T/out"
			assert_success
			cat "$VEC/$v.ss" | "$SS_DECODE" -F "$fmt" --file - >"$T/out" 2>"$T/err" ||
				fail "$v $fmt: pipe decode failed: $(<"$T/err")"
			run cmp "$T/want" "$T/out"
			assert_success
		done
	done
	# a cut file on a pipe: the same truncation warning, status 0
	head -c 3000 "$CONSUMER" >"$T/cut.ss"
	runf "$SS_DECODE" - <"$T/cut.ss"
	assert_equal "$status" 0
	run cat "$T/err"
	assert_output --regexp '^ss-decode: [^:]+: truncated at byte 2986$'
}

@test "EOS: printed, and nothing after it is decoded" {
	{
		printf 'a\t0\t0\t1000\t6869\n'
		printf 'eos\t0\t0\t1001\t454f53\n'                    # payload EOS, other key
		printf '%s\t0\t0\t1002\t454f54\n' "$EOS_KEY"            # reserved key, EOT
		printf '%s\t0\t0\t1003\t454f5300\n' "$EOS_KEY"          # EOS plus a byte
		printf '%s\t3\t7\t1004\t454f53\n' "$EOS_KEY"            # the EOS (any shard/seq)
		printf 'b\t0\t1\t1005\t6869\n'
		eos_tsv 1006
	} | "$SS_BUILD" -i 128 "$T/e.ss"
	local fmt
	for fmt in log ndjson; do
		runf "$SS_DECODE" -F "$fmt" "$T/e.ss"
		assert_equal "$status" 0
		assert_equal "$(<"$T/err")" ""
		assert_equal "$(wc -l <"$T/out")" 5
	done
	assert_equal "$(tail -n 1 "$T/out")" \
	    "{\"header\":{\"stream_key\":\"$EOS_KEY\",\"shard_id\":3,\"sequence\":7,\"timestamp\":\"1970-01-01T00:00:01.004\"},\"payload\":\"EOS\"}"
	# -v stops there too
	runf "$SS_DECODE" -v "$T/e.ss"
	assert_equal "$status" 0
	run cat "$T/out"
	assert_output --regexp "^$T/e.ss: ok, 5 messages, "
}

@test "truncated: a cut copy decodes to a prefix of the full decode, warns, exits 0" {
	local -a table=(
		"consumer|128 129 1018 1019 1023 1024 1025 1030 1062 1064 2048 2131 4829"
		"splice-256|255 256 257 262 263 5000 10426"
		"tiny-128|135 136 200 2553"
		"large|4096 4097 50000"
	)
	local row v cut last n
	for row in "${table[@]}"; do
		v=${row%%|*}
		"$SS_DECODE" -F ndjson "$VEC/$v.ss" >"$T/full"
		for cut in ${row#*|}; do
			head -c "$cut" "$VEC/$v.ss" >"$T/cut.ss"
			"$SS_TSV" "$T/cut.ss" >"$T/tsv" || fail "$v@$cut: ss-tsv failed"
			mapfile -t lines <"$T/tsv"
			n=$((${#lines[@]} - 1))
			last=${lines[n]}
			runf "$SS_DECODE" -F ndjson "$T/cut.ss"
			assert_equal "$v@$cut: status $status" "$v@$cut: status 0"
			head -n "$n" "$T/full" | cmp -s - "$T/out" ||
				fail "$v@$cut: not the first $n messages"
			case $last in
			"partial "*)
				assert_equal "$v@$cut: $(<"$T/err")" \
				    "$v@$cut: ss-decode: $T/cut.ss: truncated at byte ${last#partial }"
				;;
			"end $cut")
				assert_equal "$v@$cut: $(<"$T/err")" "$v@$cut: "
				;;
			*)
				fail "$v@$cut: ss-tsv ends with '$last'"
				;;
			esac
		done
	done
	# consumer.ss cut at 1063 is message 20 cut before its shard id, after
	# beacon 1: 20 messages, message 20 starting at 1018 (format/README.md
	# 3.6)
	head -c 1063 "$CONSUMER" >"$T/cut.ss"
	runf "$SS_DECODE" "$T/cut.ss"
	assert_equal "$status" 0
	assert_equal "$(wc -l <"$T/out")" 20
	assert_equal "$(tail -n 1 "$T/out")" "[2023-08-10T16:49:14.771 | hello | 19 | 1] hello-19"
	assert_equal "$(<"$T/err")" "ss-decode: $T/cut.ss: truncated at byte 1018"
}

# --- errors -----------------------------------------------------------------

@test "usage errors exit 2 and print nothing on stdout" {
	local -a table=(
		"-X $CONSUMER"
		"--bogus $CONSUMER"
		"-F xml $CONSUMER"
		"--format=xml $CONSUMER"
		"--format= $CONSUMER"
		"-F"
		"--format"
		""
		"-F ndjson"
		"$CONSUMER $CONSUMER"
		"--file $CONSUMER $CONSUMER"
		"--file"
		"-v -f $CONSUMER"
	)
	local args
	for args in "${table[@]}"; do
		# shellcheck disable=SC2086
		runf "$SS_DECODE" $args
		assert_equal "[$args] status $status" "[$args] status 2"
		assert_equal "[$args] stdout: $(<"$T/out")" "[$args] stdout: "
		[ -s "$T/err" ] || fail "[$args]: nothing on stderr"
	done
	runf "$SS_DECODE" -F xml "$CONSUMER"
	run grep -c "xml" "$T/err"
	assert_output 1
}

@test "unreadable input exits 1 and names the path" {
	runf "$SS_DECODE" "$T/no/such/file.ss"
	assert_equal "$status" 1
	assert_equal "$(<"$T/out")" ""
	run cat "$T/err"
	assert_output --regexp "^ss-decode: $T/no/such/file.ss: "
	# not a .ss file at all
	runf "$SS_DECODE" "$REPO/format/README.md"
	assert_equal "$status" 1
	assert_equal "$(<"$T/out")" ""
	run cat "$T/err"
	assert_output --regexp "^ss-decode: $REPO/format/README.md: byte [0-9]+: "
}

# --- verify -----------------------------------------------------------------

@test "--verify: an appended file (running checksums restarted) is ok" {
	gen_tsv 0 30 | "$SS_BUILD" -n app -c 1700000000000 -i 256 "$T/a.ss"
	gen_tsv 30 20 | "$SS_BUILD" -a -i 256 "$T/a.ss"
	{ gen_tsv 50 10; eos_tsv 1700000000060; } | "$SS_BUILD" -a -i 256 "$T/a.ss"
	local size
	size=$(fsize "$T/a.ss")
	for opt in -v --verify; do
		runf "$SS_DECODE" "$opt" "$T/a.ss"
		assert_equal "$(<"$T/out")" \
		    "$T/a.ss: ok, 61 messages, $(((size - 1) / 256)) beacons, $size bytes"
		assert_equal "$(<"$T/err")" ""
		assert_equal "$status" 0
	done
	runf "$SS_TSV" -v "$T/a.ss"
	assert_equal "$status" 0
	{ gen_tsv 0 60; eos_tsv 1700000000060; echo "end $size"; } >"$T/want"
	run diff "$T/want" "$T/out"
	assert_success
}

@test "--verify: damaged beacons are faults, though a plain decode reads on" {
	# offset in consumer.ss | new byte | what
	local -a table=(
		'1060|\x0c|running checksum of beacon 1'
		'1028|\x28|remaining bytes of beacon 1'
		'1051|\x13|sequence of beacon 1 item'
		'3107|\x00|timestamp of beacon 3 item'
	)
	local row off byte what
	for row in "${table[@]}"; do
		IFS='|' read -r off byte what <<<"$row"
		cp "$CONSUMER" "$T/d.ss"
		printf "$byte" | dd of="$T/d.ss" bs=1 seek="$off" conv=notrunc status=none
		run cmp -s "$CONSUMER" "$T/d.ss"
		assert_failure
		runf "$SS_DECODE" -v "$T/d.ss"
		assert_equal "$what: status $status" "$what: status 1"
		run cat "$T/out"
		assert_output --regexp "^$T/d.ss: [1-9][0-9]* faults, "
		run grep -c "^ss-decode: $T/d.ss: byte [0-9]*: " "$T/err"
		refute_output 0
	done
	# an item's running checksum is not looked at without -v
	cp "$CONSUMER" "$T/d.ss"
	printf '\x0c' | dd of="$T/d.ss" bs=1 seek=1060 conv=notrunc status=none
	runf "$SS_DECODE" "$T/d.ss"
	assert_equal "$status" 0
	assert_equal "$(wc -l <"$T/out")" 101
}

# --- follow -----------------------------------------------------------------

# wait_lines FILE N: waits (at most about 15 s) until FILE has N lines.
wait_lines() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(wc -l <"$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# Expected ndjson of TSV messages from gen_tsv (printable payloads).
tsv_to_ndjson() {
	"$SS_BUILD" -i 1048576 "$T/ref.ss" <"$1"
	"$SS_DECODE" -F ndjson "$T/ref.ss"
}

@test "--follow: a stop signal that comes twice at once is one stop, status 0" {
	local i p rc
	gen_tsv 0 3 | "$SS_BUILD" -i 1024 "$T/g.ss"
	for i in $(seq 1 20); do
		"$SS_DECODE" -f "$T/g.ss" >"$T/o$i" 2>"$T/e$i" &
		p=$!
		wait_lines "$T/o$i" 3 || fail "round $i: nothing printed"
		kill -TERM "$p"
		kill -TERM "$p" 2>/dev/null || :	# gone already: one stop
		rc=0
		wait "$p" || rc=$?
		[ "$rc" = 0 ] || fail "round $i: status $rc: $(cat "$T/e$i")"
	done
	# a SIGSTOPped follower takes both at once when it goes on:
	# SIGTERM, then SIGINT (pending signals of one number are one):
	# one stop, status 0 (it was 1)
	"$SS_DECODE" -f "$T/g.ss" >"$T/o" 2>"$T/e" &
	p=$!
	wait_lines "$T/o" 3 || fail "nothing printed"
	kill -STOP "$p"
	kill -TERM "$p"
	kill -INT "$p"
	kill -CONT "$p"
	rc=0
	wait "$p" || rc=$?
	[ "$rc" = 0 ] || fail "SIGTERM and SIGINT at once: status $rc"
}

@test "--follow: prints each message once, in order, as batches are appended, stops at EOS" {
	"$SS_BUILD" -n f -c 1700000000000 -i 256 "$T/f.ss" </dev/null
	assert_equal "$(fsize "$T/f.ss")" 128
	timeout 20 "$SS_DECODE" -f -F ndjson "$T/f.ss" >"$T/follow.out" \
		2>"$T/follow.err" 3>&- &
	local pid=$! b
	: >"$T/all.tsv"
	for b in 0 1 2 3 4 5; do
		gen_tsv $((b * 9)) 9 4 >"$T/batch.tsv"
		cat "$T/batch.tsv" >>"$T/all.tsv"
		"$SS_BUILD" -a "$T/f.ss" <"$T/batch.tsv"
		sleep 0.1
	done
	eos_tsv 1700000000999 >"$T/batch.tsv"
	cat "$T/batch.tsv" >>"$T/all.tsv"
	"$SS_BUILD" -a "$T/f.ss" <"$T/batch.tsv"
	local rc=0
	wait "$pid" || rc=$?
	assert_equal "exit $rc" "exit 0"
	assert_equal "$(<"$T/follow.err")" ""
	tsv_to_ndjson "$T/all.tsv" >"$T/want"
	assert_equal "$(wc -l <"$T/want")" 55
	run diff "$T/want" "$T/follow.out"
	assert_success
	# --follow spelling, on the finished file: prints all, exits at EOS
	runf timeout 20 "$SS_DECODE" --follow -F ndjson "$T/f.ss"
	assert_equal "$status" 0
	run diff "$T/want" "$T/out"
	assert_success
}

@test "--follow: a file growing a few bytes at a time, cut inside messages and beacons" {
	{ gen_tsv 0 40 3; eos_tsv 1700000000999; } >"$T/all.tsv"
	"$SS_BUILD" -n g -c 1700000000000 -i 128 "$T/full.ss" <"$T/all.tsv"
	local size
	size=$(fsize "$T/full.ss")
	head -c 128 "$T/full.ss" >"$T/g.ss"
	timeout 20 "$SS_DECODE" -f "$T/g.ss" >"$T/follow.out" 2>"$T/follow.err" 3>&- &
	local pid=$! at=128 step
	# grow by uneven steps: 1 byte into a beacon, then through it, ...
	for step in 1 6 7 29 1 2 100 127 128 129 3 500 1 1000; do
		[ "$at" -lt "$size" ] || break
		tail -c +"$((at + 1))" "$T/full.ss" | head -c "$step" >>"$T/g.ss"
		at=$((at + step))
		sleep 0.05
	done
	if [ "$at" -lt "$size" ]; then
		tail -c +"$((at + 1))" "$T/full.ss" >>"$T/g.ss"
	fi
	run cmp "$T/full.ss" "$T/g.ss"
	assert_success
	local rc=0
	wait "$pid" || rc=$?
	assert_equal "exit $rc" "exit 0"
	assert_equal "$(<"$T/follow.err")" ""
	"$SS_DECODE" "$T/full.ss" >"$T/want"
	assert_equal "$(wc -l <"$T/want")" 41
	run diff "$T/want" "$T/follow.out"
	assert_success
}

@test "--follow: SIGTERM and SIGINT stop the follower with status 0 after its output" {
	local sig
	for sig in TERM INT; do
		gen_tsv 0 12 | "$SS_BUILD" -i 256 "$T/s.ss"
		"$SS_DECODE" "$T/s.ss" >"$T/want"
		: >"$T/follow.out"
		# no timeout(1) in between: the signal goes to ss-decode itself
		"$SS_DECODE" -f "$T/s.ss" >"$T/follow.out" 2>"$T/follow.err" 3>&- &
		local pid=$!
		wait_lines "$T/follow.out" 12 || {
			kill -KILL "$pid"
			fail "$sig: the follower printed $(wc -l <"$T/follow.out") of 12 lines"
		}
		kill -"$sig" "$pid"
		local rc=0 i
		# it must end by itself; kill it if it has not after ~15 s
		for ((i = 0; i < 300; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid"
			fail "$sig: the follower did not stop"
		fi
		wait "$pid" || rc=$?
		assert_equal "$sig: exit $rc" "$sig: exit 0"
		run diff "$T/want" "$T/follow.out"
		assert_success
		assert_equal "$(<"$T/follow.err")" ""
	done
}
