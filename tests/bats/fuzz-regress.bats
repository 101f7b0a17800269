#!/usr/bin/env bats
# Fuzzing kept by make check: the inputs of tests/fuzz/regress (files that
# tests/fuzz/diff-ss.py found disagreeing with tests/ref/ssref.py, and
# crashes of the libFuzzer harnesses, HARNESS-crash-*) replayed through
# the commands and the harnesses' replay builds (build/replay, no clang),
# and a seeded sample of the differential harness. See tests/README.md.

load helper

DIFF_SS=$REPO/tests/fuzz/diff-ss.py
REGRESS=$REPO/tests/fuzz/regress
REPLAY=${LS_TOOLS%/tools}/replay

setup() {
	ls_setup
	[ -x "$REPLAY/fuzz-ss" ] ||
		fail "$REPLAY/fuzz-ss is missing: run 'make tests'"
}

# The kept .ss inputs whose note ends "bug: TAG" (TAG empty: those with no
# bug line), one path a line.
regress_ss() {
	local f tag
	for f in "$REGRESS"/*.ss; do
		[ -e "$f" ] || continue
		tag=$(sed -n 's/^bug: //p' "$f.note" 2>/dev/null)
		[ "$tag" = "$1" ] && echo "$f"
	done
}

# no_crash WHAT: fails unless $status is 0, 1 or 2 and $T/err has no
# sanitizer report.
no_crash() {
	case $status in
	0 | 1 | 2) ;;
	*) fail "$1: exit status $status (a signal or a sanitizer)" ;;
	esac
	if grep -E 'Sanitizer|runtime error:' "$T/err" >/dev/null; then
		fail "$1: $(grep -E 'Sanitizer|runtime error:' "$T/err" | head -n 1)"
	fi
}

@test "regress: every kept input replays through the commands and harnesses without a crash" {
	local f base h n=0
	for f in "$REGRESS"/*; do
		[ -f "$f" ] || continue
		base=${f##*/}
		case $base in
		*.note) continue ;;
		fuzz-*-*)
			h=${base%%-crash-*}
			h=${h%%-leak-*}
			h=${h%%-timeout-*}
			[ -x "$REPLAY/$h" ] || fail "$base: no harness $h"
			runf "$REPLAY/$h" "$f"
			assert_equal "$base: $status" "$base: 0"
			no_crash "$h $base" ;;
		*.ss)
			[ -s "$f.note" ] || fail "$base has no note"
			runf "$REPLAY/fuzz-ss" "$f"
			assert_equal "fuzz-ss $base: $status" "fuzz-ss $base: 0"
			for opts in "" "-F ndjson" "--verify" "-m -F ndjson"; do
				# shellcheck disable=SC2086
				runf "$SS_DECODE" $opts "$f"
				no_crash "ss-decode $opts $base"
			done
			for opts in "" "-v" "-s end" "-s beacon:1" "-s seq:5"; do
				# shellcheck disable=SC2086
				runf "$SS_TSV" $opts "$f"
				no_crash "ss-tsv $opts $base"
			done ;;
		*) fail "$base: not an input kind this file replays" ;;
		esac
		n=$((n + 1))
	done
	[ "$n" -ge 1 ] || fail "tests/fuzz/regress holds no input"
}

@test "regress: the harnesses' replay builds pass on the vectors" {
	local f
	runf "$REPLAY/fuzz-ss" "$VEC"/*.ss "$CORRUPT"/*.ss
	assert_equal "fuzz-ss: $status" "fuzz-ss: 0"
	no_crash fuzz-ss
	for f in "$VEC"/*.messages.tsv; do
		cut -f 5 "$f" | head -n 20 | xxd -r -p >"$T/payloads"
		for h in fuzz-ndjson fuzz-json fuzz-split fuzz-line fuzz-uri; do
			runf "$REPLAY/$h" "$T/payloads" "$VEC/binary.expected.jsonl"
			assert_equal "$h ${f##*/}: $status" "$h ${f##*/}: 0"
			no_crash "$h ${f##*/}"
		done
	done
}

@test "diff-ss: the vectors and corrupt files as they are agree with ssref" {
	runf python3 "$DIFF_SS" --file "$VEC"/*.ss "$CORRUPT"/*.ss
	[ "$status" -eq 0 ] || fail "$(cat "$T/out" "$T/err")"
}

@test "diff-ss: a mutation that cannot agree is reported (the check can fail)" {
	# ss-tsv replaced by a stand-in that prints no message and "end 0"
	mkdir "$T/tools"
	printf '#!/bin/sh\necho end 0\n' >"$T/tools/ss-tsv"
	chmod +x "$T/tools/ss-tsv"
	runf python3 "$DIFF_SS" --tools "$T/tools" --file "$VEC/consumer.ss"
	assert_equal "$status" 1
	run grep -c '^DISAGREE .*ss-tsv: reference end 4830 after 101 messages' "$T/out"
	assert_output 1
}

# Bug "overlong-size" (fixed): a message whose declared size runs past
# the end of the file was reported as a file cut short ("truncated",
# ss-tsv "partial", --verify exit 0), although a beacon after the
# message's start says how many bytes it really has left.
@test "regress (bug overlong-size): .ss inputs agree with ssref" {
	local -a files
	mapfile -t files < <(regress_ss overlong-size)
	[ "${#files[@]}" -ge 1 ] || fail "no input tagged overlong-size"
	runf python3 "$DIFF_SS" --file "${files[@]}"
	[ "$status" -eq 0 ] || fail "$(cat "$T/out" "$T/err")"
}

# Bug "cut-key" (fixed): a message whose key bytes are present and hold
# a byte outside the key alphabet, but whose header runs past the end of
# the file, was reported as a file cut short instead of a key fault.
@test "regress (bug cut-key): .ss inputs agree with ssref" {
	local -a files
	mapfile -t files < <(regress_ss cut-key)
	[ "${#files[@]}" -ge 1 ] || fail "no input tagged cut-key"
	runf python3 "$DIFF_SS" --file "${files[@]}"
	[ "$status" -eq 0 ] || fail "$(cat "$T/out" "$T/err")"
}

@test "regress: .ss inputs tied to no known bug agree with ssref" {
	local -a files
	mapfile -t files < <(regress_ss "")
	if [ "${#files[@]}" -eq 0 ]; then
		# then every kept .ss input is tied to one of the bugs above
		assert_equal "$(($(regress_ss overlong-size | wc -l) + \
		    $(regress_ss cut-key | wc -l)))" \
		    "$(find "$REGRESS" -name '*.ss' | wc -l)"
		return 0
	fi
	runf python3 "$DIFF_SS" --file "${files[@]}"
	[ "$status" -eq 0 ] || fail "$(cat "$T/out" "$T/err")"
}

# A sample of the differential harness: 300 seeded mutations (100 under
# the sanitizer build, where each process start costs more). Before the
# fixes it found inputs of the bug overlong-size (seed 1: 11 of 300).
@test "diff-ss: seeded mutations agree with ssref" {
	local n=300
	[ "${LS_SAN:-0}" = 1 ] && n=100
	runf python3 "$DIFF_SS" -s 1 -n "$n" --tmp "$T"
	[ "$status" -eq 0 ] || fail "$(grep -v '^DISAGREE' "$T/out"; grep -m 12 '^DISAGREE' "$T/out"; cat "$T/err")"
	assert_equal "$(tail -n 1 "$T/out")" "diff-ss: seed 1: $n mutations, 0 disagreeing"
}
