#!/usr/bin/env bats
# Damage must never pass as a whole file: each case of the "Integrity"
# issue, with the outcome tests/README.md lists.

load helper

RELAY=$LS_BIN/relay
LENGTHS=$REPO/tests/tools/ss-lengths.py

# setbyte FILE OFFSET VALUE: writes the byte VALUE (decimal) at OFFSET.
setbyte() {
	printf "$(printf '\\%03o' "$2")" |
		dd of="$1" bs=1 seek="$3" conv=notrunc status=none
}

@test "a payload size made too large, with beacons after it, is damage: verify fails at the beacon" {
	cp "$VEC/consumer.ss" "$T/bad.ss"
	# bit 0 of byte 158: the first payload size, 7, becomes 16,777,223
	setbyte "$T/bad.ss" 1 158
	runf "$SS_DECODE" --verify "$T/bad.ss"
	assert_equal "$status" 1
	grep -qx "ss-decode: $T/bad.ss: byte 1025: beacon claims 39 remaining bytes, the message at byte 128 has 16776364" "$T/err" ||
		fail "stderr: $(cat "$T/err")"
	grep -q "1 faults" "$T/out" || fail "stdout: $(cat "$T/out")"
	runf "$SS_DECODE" "$T/bad.ss"
	assert_equal "$status" 1
	! grep -q truncated "$T/err" || fail "called damage a cut: $(cat "$T/err")"
}

@test "--skip-corrupt resumes at the next beacon after a payload size made too large" {
	cp "$VEC/consumer.ss" "$T/bad.ss"
	setbyte "$T/bad.ss" 1 158
	runf "$RELAY" -i "$T/bad.ss" -o "$T/rep.ss" --skip-corrupt
	assert_equal "$status" 1
	grep -q "skipped bytes 128 to 1102" "$T/err" || fail "stderr: $(cat "$T/err")"
	# what follows the damage is all there: the messages after beacon 1
	"$SS_TSV" "$VEC/consumer.ss" | grep -v '^end' | tail -n 80 >"$T/want"
	"$SS_TSV" "$T/rep.ss" | grep -v '^end' | cut -f 1-3,5 >"$T/got"
	cut -f 1-3,5 "$T/want" | diff - "$T/got"
}

@test "a payload size made too large in the last interval, before End-of-Stream, is damage; append refuses" {
	cp "$VEC/consumer.ss" "$T/bad.ss"
	read -r field start kind < <(python3 "$LENGTHS" "$T/bad.ss" | tail -n 2 | head -n 1)
	assert_equal "$kind" damage
	setbyte "$T/bad.ss" 1 $((field + 1))
	runf "$SS_DECODE" --verify "$T/bad.ss"
	assert_equal "$status" 1
	grep -q "byte $start: the message at byte $start runs past the End-of-Stream that ends the file" "$T/err" ||
		fail "stderr: $(cat "$T/err")"
	cp "$T/bad.ss" "$T/before.ss"
	runf "$RELAY" --append -o "$T/bad.ss" <<<"[k | 1] more"
	assert_equal "$status" 1
	grep -q "runs past the End-of-Stream" "$T/err" || fail "stderr: $(cat "$T/err")"
	cmp "$T/bad.ss" "$T/before.ss"
}

@test "every payload size made too large is reported as damage unless the file ends inside that message" {
	local v field start kind bad=() n=0
	for v in consumer no-eos-truncated splice-256 tiny-128 rotate-2048 large; do
		while read -r field start kind; do
			cp "$VEC/$v.ss" "$T/m.ss"
			setbyte "$T/m.ss" 127 "$field"
			"$SS_DECODE" --verify "$T/m.ss" >"$T/out" 2>"$T/err" && st=0 || st=$?
			n=$((n + 1))
			if [ "$kind" = damage ] && [ "$st" -ne 1 ]; then
				bad+=("$v: size at $field (message at $start): status $st, $(head -c 200 "$T/err")")
			elif [ "$kind" = cut ] && ! grep -q "truncated at byte $start\$" "$T/err"; then
				bad+=("$v: size at $field (message at $start): not reported cut: $(head -c 200 "$T/err")")
			fi
		done < <(python3 "$LENGTHS" "$VEC/$v.ss" | sample)
	done
	[ "$n" -gt 60 ] || fail "only $n cases"
	[ "${#bad[@]}" -eq 0 ] || fail "$(printf '%s\n' "${bad[@]}")"
}
