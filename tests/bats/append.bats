#!/usr/bin/env bats
# Appending to .ss files (ls_ss_writer_append through ss-build -a): after a
# writer is killed (the file cut anywhere), appending keeps every complete
# message, drops the incomplete tail and a trailing EOS, and gives a file
# that verifies.

load helper

# check_cuts SRC CUT...: for each CUT, cuts a copy of SRC there, appends
# five messages, and prints a line for every cut whose result is wrong.
# What must survive a cut is what the reader decodes of the cut file
# (complete messages only), less a trailing End-of-Stream.
check_cuts() {
	local src=$1 cut keep want
	shift
	gen_tsv 1000 5 >"$T/new.tsv"
	for cut in "$@"; do
		head -c "$cut" "$src" >"$T/c.ss"
		"$SS_TSV" "$T/c.ss" | grep -v '^end \|^partial ' |
		    grep -v "^$EOS_KEY	" >"$T/kept"
		if ! "$SS_BUILD" -a -n other -c 5 "$T/c.ss" <"$T/new.tsv" \
		    2>"$T/err"; then
			echo "cut $cut: append failed: $(cat "$T/err")"
			continue
		fi
		if ! "$SS_TSV" -v "$T/c.ss" >"$T/out"; then
			echo "cut $cut: does not verify: $(tail -n 1 "$T/out")"
			continue
		fi
		{
			cat "$T/kept" "$T/new.tsv"
			echo "end $(fsize "$T/c.ss")"
		} >"$T/want"
		cmp -s "$T/want" "$T/out" ||
		    echo "cut $cut: $(diff "$T/want" "$T/out" | head -n 3 |
		    tr '\n' ' ')"
		# nothing complete before the cut was lost
		head -n "$(wc -l <"$T/kept")" "$T/out" | cmp -s - "$T/kept" ||
		    echo "cut $cut: lost a complete message"
	done
}

@test "append after a cut anywhere in splice-256.ss: prefix kept, 5 appended, verifies" {
	local src=$VEC/splice-256.ss size cuts=() c b
	size=$(fsize "$src")
	for ((c = 128; c <= size; c += 89 * LS_STRIDE)); do cuts+=("$c"); done
	# around beacons, where messages are spliced or end exactly
	for ((b = 256; b < size; b += 256 * 7 * LS_STRIDE)); do
		for d in -2 -1 0 1 5 6 7 8; do cuts+=($((b + d))); done
	done
	cuts+=("$size" $((size - 1)))
	[ "${#cuts[@]}" -gt $((150 / LS_STRIDE)) ] || fail "only ${#cuts[@]} cuts"
	run check_cuts "$src" "${cuts[@]}"
	assert_success
	assert_output ""
}

@test "append after a cut in a many-stream file with a large message: verifies" {
	local src=$VEC/large.ss size cuts=() c
	size=$(fsize "$src")
	for ((c = 128; c <= size; c += 997 * LS_STRIDE)); do cuts+=("$c"); done
	run check_cuts "$src" "${cuts[@]}"
	assert_success
	assert_output ""
}

@test "append drops a trailing End-of-Stream" {
	cp "$VEC/consumer.ss" "$T/f.ss"
	gen_tsv 1 2 | "$SS_BUILD" -a "$T/f.ss"
	run "$SS_TSV" -v "$T/f.ss"
	assert_success
	# 100 messages, the 2 new ones, no EOS in between
	[ "$(grep -c "^$EOS_KEY	" <<<"$output")" -eq 0 ]
	[ "$(grep -vc '^end ' <<<"$output")" -eq 102 ]
}

@test "append exactly on a beacon boundary puts an empty beacon there" {
	# header 128 + a 128-byte message (key "a", 95-byte payload) ends on
	# the first boundary of a 256-byte interval
	local pay
	pay=$(printf '%095d' 0 | od -v -An -tx1 | tr -d ' \n')
	printf 'a\t0\t0\t1\t%s\n' "$pay" | "$SS_BUILD" -i 256 "$T/c.ss"
	[ "$(fsize "$T/c.ss")" -eq 263 ] || fail "expected a beacon at 256"
	head -c 256 "$T/c.ss" >"$T/cut.ss"
	gen_tsv 1 3 | "$SS_BUILD" -a "$T/cut.ss"
	# the empty beacon: 0x0D, remaining 0, count 0, 0x0D
	run bash -c "tail -c +257 '$T/cut.ss' | head -c 7 | od -An -tx1"
	assert_output " 0d 00 00 00 00 00 0d"
	run "$SS_TSV" -v "$T/cut.ss"
	assert_success
	[ "$(grep -vc '^end ' <<<"$output")" -eq 4 ]
}

@test "appending to something that is not a .ss file fails and leaves it alone" {
	seq 1 100 >"$T/x.ss"
	run "$SS_BUILD" -a "$T/x.ss" </dev/null
	assert_failure
	assert_output --partial "not a .ss file"
	seq 1 100 | cmp - "$T/x.ss"
}
