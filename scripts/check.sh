#!/usr/bin/env bash
# The test command: builds libstream and its commands twice, plainly and
# with -fsanitize=address,undefined, runs the C unit tests and the bats
# suites against each build, and ends with "N passed, N failed".
set -u
# the Python reference codec (tests/ref/ssref.py) leaves no caches in the tree
export PYTHONDONTWRITEBYTECODE=1
cd "$(dirname "$0")/.." || exit 1
log=build/check
rm -rf "$log"
mkdir -p "$log"
pass=0 fail=0 skip=0
failed=()

# Counts the TAP lines of file $2 for test group $1; a non-zero exit
# status $3 with no failing line counts as one failure.
count_tap() {
	local group=$1 file=$2 rc=$3 p f s
	p=$(grep -Ec '^ok ' "$file" | head -n 1)
	s=$(grep -Eci '^ok .*# skip' "$file" | head -n 1)
	f=$(grep -Ec '^not ok ' "$file" | head -n 1)
	p=$((p - s))
	if [ "${CI:-}" = true ] && [ "$s" -gt 0 ]; then
		f=$((f + s)) s=0
		failed+=("$group: a test skipped under CI")
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		failed+=("$group: exited $rc with no failing test (crash?)")
	fi
	while IFS= read -r line; do
		failed+=("$group: $line")
	done < <(grep -E '^not ok ' "$file")
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
}

run_variant() {
	local name=$1 makeflags=$2 out=$3 bin=$4 san=$5 rc t
	echo "== $name build"
	# shellcheck disable=SC2086
	if ! make -j2 WERROR=1 $makeflags tests >"$log/$name-build.log" 2>&1; then
		tail -n 30 "$log/$name-build.log"
		fail=$((fail + 1))
		failed+=("$name: build failed (see $log/$name-build.log)")
		return
	fi
	for t in "$out"/tests/test-*; do
		[ -x "$t" ] || continue
		echo "== $name unit: ${t##*/}"
		CMOCKA_MESSAGE_OUTPUT=TAP "$t" >"$log/$name-${t##*/}.tap" \
		    2>"$log/$name-${t##*/}.err"
		rc=$?
		count_tap "$name ${t##*/}" "$log/$name-${t##*/}.tap" "$rc"
	done
	echo "== $name bats"
	# shellcheck disable=SC2086
	LS_BIN=$PWD/$bin LS_TOOLS=$PWD/$out/tools LS_SAN=$san \
	    bats --tap $jobs tests/bats >"$log/$name-bats.tap" 2>&1 </dev/null
	rc=$?
	count_tap "$name bats" "$log/$name-bats.tap" "$rc"
}

# The bats files run two at a time (LS_JOBS=1: one), the tests of each
# file in order: most of their time is spent waiting on processes.
jobs=
if [ "${LS_JOBS:-2}" -gt 1 ]; then
	jobs="--jobs ${LS_JOBS:-2} --no-parallelize-within-files"
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

run_variant plain "" build bin 0
run_variant sanitizer "SAN=1" build/asan build/asan/bin 1

if [ ${#failed[@]} -gt 0 ]; then
	echo "failures:"
	printf '  %s\n' "${failed[@]}"
	echo "(logs in $log)"
fi
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
