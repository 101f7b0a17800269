#!/usr/bin/env bats
# I/O faults, made by tests/tools/faultshim.c (LD_PRELOAD): short writes
# and short or interrupted reads change no output byte; a write or an
# fsync that fails, at any point of an output, is an exit status of 1 and
# a diagnostic naming the output, and the output does not end with an
# End-of-Stream unless it is whole. The points at which to fail are
# counted by a run without faults (FAULT_LOG), so that every one is tried
# (a sample of them under the sanitizer, or where there are many).

load helper

LIMIT=30

# Inputs: large.ss (every kind of message, ends with an End-of-Stream) as
# it is, as lines, and both compressed; references are made per test.
setup_file() {
	local D=$BATS_FILE_TMPDIR
	cp "$VEC/large.ss" "$D/in.ss"
	"$LS_BIN/relay" -i "$D/in.ss" -o "$D/in.txt" </dev/null
	"$LS_BIN/relay" -i "$D/in.ss" -o "$D/in.ss.gz" </dev/null
	"$LS_BIN/relay" -i "$D/in.ss" -o "$D/in.txt.gz" </dev/null
}

setup() {
	ls_setup
	D=$BATS_FILE_TMPDIR
	SHIM=$LS_TOOLS/faultshim.so
	[ -e "$SHIM" ] || fail "$SHIM is missing: run 'make tests' (LS_TOOLS)"
	if [ ! -s "$D/in.txt" ] || [ ! -s "$D/in.txt.gz" ]; then
		fail "setup_file failed"
	fi
	cd "$T" || fail "no $T"
	# references: the same names (a .ss header holds its file's name)
	mkdir ref
}

# norm FILE: FILE's bytes, uncompressed if it ends in .gz (which must be
# whole), with a .ss header's creation time zeroed: the one field that
# differs between two runs.
norm() {
	local f=$1 n
	if [[ $f == *.gz ]]; then
		gzip -dc <"$f" >"$f.norm" || fail "$f: not a whole gzip file"
	else
		cat <"$f" >"$f.norm"
	fi
	if [[ $f == *.ss || $f == *.ss.gz ]]; then
		n=$(od -An -tu1 -j3 -N1 "$f.norm")
		dd if=/dev/zero of="$f.norm" bs=1 seek=$((4 + n)) count=8 \
		    conv=notrunc status=none
	fi
	echo "$f.norm"
}

# same A B: A and B are the same output (norm), else fails naming them.
same() {
	cmp "$(norm "$1")" "$(norm "$2")" >&2 || fail "$2 differs from $1"
}

# ends_whole FILE: FILE (.ss, .ss.gz, lines, .gz) ends with an
# End-of-Stream (a cut .gz file gives what can be uncompressed).
ends_whole() {
	local f=$1 plain=$1.plain
	if [[ $f == *.gz ]]; then
		gzip -dc <"$f" >"$plain" 2>/dev/null
		f=${f%.gz}
	else
		cp "$f" "$plain"
	fi
	if [[ $f == *.ss ]]; then
		"$SS_TSV" "$plain" 2>/dev/null | grep -v '^end \|^partial \|^corrupt ' |
		    tail -n 1 | grep -q "^$EOS_KEY	"
	else
		tail -n 1 "$plain" | grep -q "^\[[^]]*| $EOS_KEY | [^]]*\] EOS\$"
	fi
}

# points COUNT: the call numbers at which to fail, of COUNT calls: all up
# to 12 (4 under the sanitizer), else the first 4, 8 between, the last 3.
points() {
	local c=$1 all=12 i step
	[ "${LS_SAN:-0}" = 1 ] && all=4
	if [ "$c" -le "$all" ]; then
		seq 1 "$c"
		return
	fi
	step=$(((c - 7) / 8 + 1))
	{
		seq 1 4
		seq 5 "$step" $((c - 3))
		seq $((c - 2)) "$c"
	} | sample
}

# check_fail_loud WANT OUT: the last faulty run failed as it should: status
# 1 (not 0, not a crash nor a sanitizer's 99), a diagnostic naming OUT
# with WANT, the fault made (the log's wfail or sfail), and OUT, if it
# ends with an End-of-Stream, the same as $T/ref/OUT.
check_fail_loud() {
	local want=$1 out=$2
	[ "$status" -eq 1 ] || {
		echo "status $status, want 1: $(head -c 300 "$T/err")"
		return
	}
	grep -qF -- "$out" "$T/err" && grep -qF -- "$want" "$T/err" ||
	    echo "stderr does not name $out ($want): $(head -c 300 "$T/err")"
	[ "$(logged wfail)$(logged sfail)" != 00 ] ||
	    echo "no fault was made: $(cat "$T/log")"
	if [ -e "$out" ] && ends_whole "$out"; then
		cmp -s "$(norm "$out")" "$(norm "ref/$out")" ||
		    echo "$out ends with an End-of-Stream but is not whole"
	fi
}

# ---------------------------------------------------------------------------

@test "faultshim: a malformed variable stops the command (125) naming it; the faults asked for are made and counted" {
	local v
	for v in FAULT_WRITE_FAIL=x FAULT_WRITE_FAIL=0 FAULT_WRITE_FAIL=2:EFOO \
	    FAULT_FSYNC_FAIL=1:EIO FAULT_READ_EINTR=1 FAULT_WRITE_SHORT=-3; do
		faulty "$v" ss-decode "$VEC/consumer.ss"
		[ "$status" -eq 125 ] || fail "$v: status $status"
		grep -qF "faultshim: malformed $v" "$T/err" ||
		    fail "$v: stderr: $(cat "$T/err")"
	done
	faulty FAULT_WRITE_SHORT=10 FAULT_READ_SHORT=100 ss-decode \
	    "$VEC/consumer.ss"
	assert_equal "$status" 0
	# 4830 bytes read in pieces of 100, 5242 written in pieces of 10
	[ "$(logged rshort)" -ge 48 ] || fail "$(cat "$T/log")"
	[ "$(logged wshort)" -ge 524 ] || fail "$(cat "$T/log")"
	faulty FAULT_WRITE_FAIL=1:ENOSPC ss-decode "$VEC/consumer.ss"
	assert_equal "$status" 1
	grep -qF "No space left on device" "$T/err" || fail "$(cat "$T/err")"
	assert_equal "$(logged wfail)" 1
}

@test "relay: short writes, short and interrupted reads: .ss, .ss.gz, line and .gz outputs are those of a run without faults" {
	local in out mode vars args bad=()
	for in in in.ss in.txt; do
		for out in o.ss o.ss.gz o.txt o.txt.gz; do
			"$LS_BIN/relay" --force -i "$D/$in" -o "ref/$out" </dev/null ||
			    fail "relay $in -> $out failed without faults"
			# faults | relay options
			for mode in "FAULT_WRITE_SHORT=7|" \
			    "FAULT_READ_SHORT=5 FAULT_READ_EINTR=3|" \
			    "FAULT_WRITE_SHORT=1000 FAULT_READ_EINTR=2|--sync every"; do
				vars=${mode%|*} args=${mode#*|}
				rm -f "$out"
				# shellcheck disable=SC2086
				faulty $vars relay -i "$D/$in" -o "$out" $args
				[ "$status" -eq 0 ] && [ ! -s "$T/err" ] || {
					bad+=("$in -> $out, $mode: status $status: $(head -c 200 "$T/err")")
					continue
				}
				same "ref/$out" "$out"
				[ "$(logged wshort)$(logged eintr)$(logged rshort)" != 000 ] ||
				    bad+=("$in -> $out, $mode: no fault made")
			done
		done
	done
	[ "${#bad[@]}" -eq 0 ] || fail "$(printf '%s\n' "${bad[@]}")"
}

@test "relay: .gz inputs read in short pieces give the same output; an interrupted read of one is an error naming it, not a hang" {
	local in
	for in in in.ss.gz in.txt.gz; do
		"$LS_BIN/relay" -i "$D/$in" -o "ref/$in.txt" </dev/null
		faulty FAULT_READ_SHORT=3 FAULT_PATH="$in" relay -i "$D/$in" \
		    -o "$in.txt"
		assert_equal "$in: status $status" "$in: status 0"
		same "ref/$in.txt" "$in.txt"
		[ "$(logged rshort)" -gt 100 ] || fail "$(cat "$T/log")"
		# zlib's gzread keeps the error, and drops what it had read
		faulty FAULT_READ_EINTR=2 FAULT_READ_SHORT=50 FAULT_PATH="$in" \
		    relay -i "$D/$in" -o "$in.eintr.txt"
		assert_equal "$in: status $status" "$in: status 1"
		grep -qF "relay: $D/$in: read: Interrupted system call" \
		    "$T/err" || fail "$in: stderr: $(cat "$T/err")"
	done
}

@test "ss-decode: short writes, short and interrupted reads: the same bytes, as log, ndjson and with -m" {
	local v f mode bad=()
	for v in large many-streams splice-256 binary; do
		for f in "-F log" "-F ndjson" "-m"; do
			local want=0
			# shellcheck disable=SC2086
			"$SS_DECODE" $f "$VEC/$v.ss" >"ref.$v" 2>/dev/null ||
			    want=$?
			for mode in "FAULT_WRITE_SHORT=3" \
			    "FAULT_READ_SHORT=7 FAULT_READ_EINTR=2 FAULT_WRITE_SHORT=4096"; do
				# shellcheck disable=SC2086
				faulty $mode ss-decode $f "$VEC/$v.ss"
				[ "$status" -eq "$want" ] ||
				    bad+=("$v $f $mode: status $status, want $want")
				cmp -s "ref.$v" "$T/out" ||
				    bad+=("$v $f $mode: output differs")
			done
		done
	done
	[ "${#bad[@]}" -eq 0 ] || fail "$(printf '%s\n' "${bad[@]}")"
}

@test "relay: a write that fails (EIO, ENOSPC) at any point of a .ss, .ss.gz, line or .gz output: status 1 naming it, never a whole-looking output" {
	local out sync n w e bad=() tried=0
	local errs=(EIO ENOSPC ENOSPC+)
	for out in o.ss o.ss.gz o.txt o.txt.gz; do
		"$LS_BIN/relay" -i "$D/in.ss" -o "ref/$out" </dev/null
		for sync in none every; do
			rm -f "$out"
			faulty FAULT_PATH="$out" relay --sync "$sync" \
			    -i "$D/in.ss" -o "$out"
			assert_equal "$status" 0
			w=$(logged writes)
			[ "$w" -ge 1 ] || fail "$out: no write counted"
			for n in $(points "$w"); do
				e=${errs[n % 3]}
				[ "$e" = ENOSPC+ ] && e=$n+:ENOSPC || e=$n:$e
				rm -f "$out"
				faulty FAULT_PATH="$out" FAULT_WRITE_FAIL="$e" \
				    relay --sync "$sync" -i "$D/in.ss" -o "$out"
				local why
				why=$(check_fail_loud "relay: $out: " "$out")
				[ -z "$why" ] ||
				    bad+=("$out --sync $sync, write $e of $w: $why")
				tried=$((tried + 1))
			done
		done
	done
	[ "${#bad[@]}" -eq 0 ] || fail "$(printf '%s\n' "${bad[@]}")"
	local least=30
	[ "${LS_SAN:-0}" = 1 ] && least=15
	[ "$tried" -ge "$least" ] || fail "only $tried points tried"
}

@test "relay --sync every and interval: an fsync that fails at any point: status 1 naming the output, never a whole-looking output" {
	local out sync n s bad=()
	for out in o.ss o.ss.gz o.txt; do
		"$LS_BIN/relay" -i "$D/in.ss" -o "ref/$out" </dev/null
		for sync in every interval; do
			rm -f "$out"
			faulty FAULT_PATH="$out" relay --sync "$sync" \
			    -i "$D/in.ss" -o "$out"
			assert_equal "$status" 0
			s=$(logged syncs)
			[ "$s" -ge 1 ] || fail "$out --sync $sync: no fsync"
			for n in $(points "$s"); do
				rm -f "$out"
				faulty FAULT_PATH="$out" FAULT_FSYNC_FAIL="$n" \
				    relay --sync "$sync" -i "$D/in.ss" -o "$out"
				local why
				why=$(check_fail_loud "fsync: Input/output error" \
				    "$out")
				[ -z "$why" ] ||
				    bad+=("$out --sync $sync, fsync $n of $s: $why")
			done
		done
	done
	[ "${#bad[@]}" -eq 0 ] || fail "$(printf '%s\n' "${bad[@]}")"
}

@test "relay: a write to standard output that fails is an error naming stdout, status 1" {
	local n
	for n in 1 2 3; do
		faulty FAULT_PATH="$T/out" FAULT_WRITE_FAIL="$n:EIO" \
		    FAULT_WRITE_SHORT=30000 \
		    relay -i "$D/in.ss"
		assert_equal "write $n: status $status" "write $n: status 1"
		grep -qF "relay: stdout: write: Input/output error" "$T/err" ||
		    fail "write $n: stderr: $(cat "$T/err")"
	done
}

@test "partition: a write that fails at any point of any of 3 outputs: status 1 naming it; short writes and reads change no byte" {
	local ext i n w out bad=()
	for ext in ss ss.gz txt; do
		"$LS_BIN/partition" -n 3 -i "$D/in.ss" "ref/p.%d.$ext" </dev/null
		faulty FAULT_WRITE_SHORT=9 FAULT_READ_SHORT=11 FAULT_READ_EINTR=4 \
		    partition -n 3 -i "$D/in.ss" "p.%d.$ext"
		assert_equal "$ext: status $status" "$ext: status 0"
		for i in 0 1 2; do
			same "ref/p.$i.$ext" "p.$i.$ext"
		done
		rm -f p.*
		faulty FAULT_PATH=/p. partition -n 3 -i "$D/in.ss" "p.%d.$ext"
		w=$(logged writes)
		for n in $(points "$w"); do
			rm -f p.*
			faulty FAULT_PATH=/p. FAULT_WRITE_FAIL="$n:ENOSPC" \
			    partition -n 3 -i "$D/in.ss" "p.%d.$ext"
			out=$(grep -o "p\.[0-2]\.$ext" "$T/err" | head -n 1)
			[ -n "$out" ] || {
				bad+=("$ext write $n of $w: status $status, no output named: $(head -c 200 "$T/err")")
				continue
			}
			local why
			why=$(check_fail_loud "No space left on device" "$out")
			[ -z "$why" ] || bad+=("$ext write $n of $w: $why")
		done
	done
	[ "${#bad[@]}" -eq 0 ] || fail "$(printf '%s\n' "${bad[@]}")"
}

@test "batch: a write that fails at any point of a .ss or line output: status 1 naming it; short writes and reads change no byte" {
	local out n w bad=()
	for out in b.ss b.txt; do
		"$LS_BIN/batch" -n 10 -i "$D/in.ss" -o "ref/$out" </dev/null
		faulty FAULT_WRITE_SHORT=9 FAULT_READ_SHORT=11 FAULT_READ_EINTR=4 \
		    batch -n 10 -i "$D/in.ss" -o "$out"
		assert_equal "$out: status $status" "$out: status 0"
		same "ref/$out" "$out"
		rm -f "$out"
		faulty FAULT_PATH="$out" batch -n 10 -i "$D/in.ss" -o "$out"
		w=$(logged writes)
		for n in $(points "$w"); do
			rm -f "$out"
			faulty FAULT_PATH="$out" FAULT_WRITE_FAIL="$n:EIO" \
			    batch -n 10 -i "$D/in.ss" -o "$out"
			local why
			why=$(check_fail_loud "$out" "$out")
			[ -z "$why" ] || bad+=("$out write $n of $w: $why")
		done
	done
	[ "${#bad[@]}" -eq 0 ] || fail "$(printf '%s\n' "${bad[@]}")"
}
