#!/usr/bin/env bats
# partition --members: targets by name from a file, rendezvous hashing
# checked against an independent reference, few keys moved by a change
# (10,000 keys), a change while 1,000,000 messages flow (none lost, order
# per key kept in every output and across the change, about 1/N of the
# keys moved), SIGHUP, bad files at start and at reload, a NAME moved to
# another OUTPUT, a target that leaves and comes back, usage. Inputs that
# change mid-stream come through a FIFO this file holds open: each change
# is made, and seen applied (its warning), before the rest of the input
# is written, so nothing depends on how fast the machine is.

load helper

PARTITION=$LS_BIN/partition
LIMIT=120

# Made once for the file, in $BATS_FILE_TMPDIR:
#  ref.py     rendezvous hashing from its definition (not from libstream's
#             sources): "ref.py NAME..." prints the NAME each key (a line
#             of standard input) goes to
#  k10.lines  10,000 messages, one for each key key-0 .. key-9999
#  big.lines  1,000,000 messages over 1000 keys u0 .. u999 (message i has
#             key u(i*7 % 1000) and seq i, so seq grows per key)
setup_file() {
	local D=$BATS_FILE_TMPDIR
	python3 -c 'import sys; print(sys.executable)' >"$D/python"
	cat >"$D/ref.py" <<'EOF'
"""Rendezvous (highest random weight) hashing, as partition --members.

The hash of a string: FNV-1a 64 (offset basis 0xcbf29ce484222325, prime
0x100000001b3) then the splitmix64 finaliser. The weight of a name for a
key: the finaliser of hash(key) ^ hash(name). A key goes to the name of
highest weight.
"""
import sys

M = (1 << 64) - 1


def fin(h):
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & M
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & M
    return h ^ (h >> 31)


def h64(b):
    h = 0xCBF29CE484222325
    for c in b:
        h = ((h ^ c) * 0x100000001B3) & M
    return fin(h)


names = [(n, h64(n.encode())) for n in sys.argv[1:]]
out = []
for line in sys.stdin.buffer:
    k = h64(line.rstrip(b"\n"))
    out.append(max(names, key=lambda nh: fin(k ^ nh[1]))[0] + "\n")
sys.stdout.write("".join(out))
EOF
	awk 'BEGIN { for (i = 0; i < 10000; i++)
	    printf "[2024-01-01T00:00:00.000 | key-%d | %d | 0] p%d\n", i, i, i }' \
	    >"$D/k10.lines"
	awk 'BEGIN { for (i = 0; i < 1000000; i++)
	    printf "[2024-01-01T00:00:00.000 | u%d | %d | 0] p\n", i * 7 % 1000, i }' \
	    >"$D/big.lines"
}

setup() {
	ls_setup
	D=$BATS_FILE_TMPDIR
	[ -x "$PARTITION" ] || fail "$PARTITION is missing: run 'make' (LS_BIN)"
	[ -s "$D/big.lines" ] || fail "setup_file made no big.lines"
	PY=$(cat "$D/python")
	mkdir -p "$T/o"
}

teardown() {
	exec 8>&- 2>/dev/null || true
	if [ -n "${BG:-}" ]; then
		kill "$(cat "$T/pid" 2>/dev/null)" 2>/dev/null || true
		wait "$BG" 2>/dev/null || true
	fi
}

# members FILE NAME...: writes FILE (through a rename, as a user should)
# naming targets NAME, each writing $T/o/NAME.txt, or NAME=OUTPUT.
members() {
	local f=$1 n
	shift
	{
		echo "# written by members.bats"
		for n in "$@"; do
			case $n in
			*=*) echo "${n%%=*} $T/o/${n#*=}" ;;
			*) echo "$n $T/o/$n.txt" ;;
			esac
		done
	} >"$f.tmp"
	mv "$f.tmp" "$f"
}

# key_map DIR: "KEY FILE" for each line of each file in DIR (the file
# without .txt), sorted and unique.
key_map() {
	local f
	for f in "$1"/*.txt; do
		awk -F ' [|] ' -v n="$(basename "$f" .txt)" '{ print $2, n }' "$f"
	done | sort -u
}

# order_kept DIR: in each file of DIR the seq of each key grows; and for
# each key, the seq ranges of the files holding it do not overlap (what
# went to an old target came before what went to the new one).
order_kept() {
	local f
	for f in "$1"/*.txt; do
		awk -F ' [|] ' -v f="$f" '{
			if (($2 in last) && $3 + 0 <= last[$2]) {
				print f ": " $2 " seq " $3 " after " last[$2]; exit 1
			}
			last[$2] = $3 + 0
		}' "$f" || return 1
	done
	for f in "$1"/*.txt; do
		awk -F ' [|] ' -v n="$(basename "$f")" '
		    !($2 in lo) { lo[$2] = $3 } { hi[$2] = $3 }
		    END { for (k in lo) print k, lo[k], hi[k], n }' "$f"
	done | sort -k1,1 -k2,2n | awk '
	    $1 == key && $2 <= hi { print "key " $1 ": " $4 " overlaps " f; bad = 1 }
	    { key = $1; hi = $3; f = $4 } END { exit bad }'
}

# in_range X LO HI: LO <= X <= HI.
in_range() {
	[ "$1" -ge "$2" ] && [ "$1" -le "$3" ] || fail "$1 is not in [$2, $3]"
}

# start_fifo ARGS...: partition --members $T/m.txt ARGS... in the
# background, reading the FIFO $T/in, which descriptor 8 holds open.
start_fifo() {
	mkfifo "$T/in"
	bg "$T/pid" "$T/out" "$T/err" "$PARTITION" --members "$T/m.txt" \
	    -i "$T/in" "$@"
	exec 8>"$T/in"
}

# lines_in DIR: the lines of all the files in DIR.
lines_in() {
	cat "$1"/*.txt 2>/dev/null | wc -l
}

@test "members: keys go where the reference's rendezvous hashing sends them" {
	members "$T/m.txt" n0 n1 n2 n3
	runf "$PARTITION" --members "$T/m.txt" -i "$D/k10.lines"
	[ "$status" -eq 0 ] || fail "status $status: $(cat "$T/err")"
	key_map "$T/o" >"$T/got"
	sed 's/^.* | \(key-[0-9]*\) | .*$/\1/' "$D/k10.lines" >"$T/keys"
	"$PY" "$D/ref.py" n0 n1 n2 n3 <"$T/keys" | paste -d ' ' "$T/keys" - |
	    sort -u >"$T/want"
	cmp -s "$T/got" "$T/want" ||
		fail "$(diff "$T/got" "$T/want" | head -n 5)"
	[ "$(wc -l <"$T/got")" -eq 10000 ]
	# the shard is kept, the lines unchanged
	cat "$T"/o/*.txt | sort | cmp -s - <(sort "$D/k10.lines")
}

@test "members: of 10,000 keys a join or a leave moves about 1/N, none between staying targets" {
	# run NAMES...: the key map of a run with those targets, in $T/map
	run_with() {
		rm -rf "$T/o" && mkdir "$T/o"
		members "$T/m.txt" "$@"
		runf "$PARTITION" --members "$T/m.txt" -i "$D/k10.lines"
		[ "$status" -eq 0 ] || fail "status $status: $(cat "$T/err")"
		key_map "$T/o"
	}
	run_with n0 n1 n2 n3 >"$T/four"
	run_with n0 n1 n2 n3 n4 >"$T/five"
	run_with n0 n2 n3 >"$T/three"
	run_with n3 n1 n0 n2 >"$T/again"	# the order does not matter
	cmp -s "$T/four" "$T/again" || fail "the order of the names moved keys"
	# a join: ideal 10000/5 = 2000 moves, each to n4
	moved=$(join "$T/four" "$T/five" | awk '$2 != $3' | wc -l)
	wrong=$(join "$T/four" "$T/five" | awk '$2 != $3 && $3 != "n4"' | wc -l)
	in_range "$moved" 1600 2400
	[ "$wrong" -eq 0 ] || fail "$wrong keys moved between staying targets"
	# a leave: ideal 10000/4 = 2500 moves, each from n1
	moved=$(join "$T/four" "$T/three" | awk '$2 != $3' | wc -l)
	wrong=$(join "$T/four" "$T/three" | awk '$2 != $3 && $2 != "n1"' | wc -l)
	in_range "$moved" 2000 3000
	[ "$wrong" -eq 0 ] || fail "$wrong keys moved between staying targets"
	[ "$(join "$T/four" "$T/three" | wc -l)" -eq 10000 ]
}

@test "members: a target joins while 1,000,000 messages flow: none lost, order kept, about 1/5 of the keys moved" {
	local n=1000000 first=900000
	[ "${LS_SAN:-0}" = 1 ] && LIMIT=600
	members "$T/m.txt" n0 n1 n2 n3
	head -n "$first" "$D/big.lines" >"$T/part1"
	tail -n "+$((first + 1))" "$D/big.lines" >"$T/part2"
	start_fifo --stats --members-interval 10ms
	cat "$T/part1" >&8 &
	local writer=$!
	# the change lands while the first part flows (or, if that is
	# all read first, right after it): in any case before the second
	wait_until 60 eval '[ "$(lines_in "$T/o")" -ge 50000 ]' ||
		fail "no output: $(cat "$T/err")"
	members "$T/m.txt" n0 n1 n2 n3 n4
	wait_until 60 grep -q 'members: +n4 (.*m.txt line 6), 4 targets -> 5' \
	    "$T/err" || fail "no change reported: $(cat "$T/err")"
	wait "$writer"
	cat "$T/part2" >&8
	exec 8>&-
	wait "$BG" || fail "status $?: $(cat "$T/err")"
	BG=
	# none lost, nothing added
	[ "$(lines_in "$T/o")" -eq "$n" ]
	cat "$T"/o/*.txt | sort | cmp -s - <(sort "$D/big.lines") ||
		fail "the outputs do not hold the input"
	order_kept "$T/o" || fail "order broken"
	# keys in two outputs moved; ideal 1000/5 = 200, each to n4
	key_map "$T/o" | awk '{ c[$1]++; if ($2 == "n4") to[$1] = 1 }
	    END { for (k in c) if (c[k] > 1) { m++; if (!(k in to)) w++ }
	          print m + 0, w + 0 }' >"$T/moves"
	read -r moved wrong <"$T/moves"
	in_range "$moved" 160 240
	[ "$wrong" -eq 0 ] || fail "$wrong keys moved between staying targets"
	grep -q '"changes":1,"targets":5}' "$T/err" ||
		fail "no stats: $(cat "$T/err")"
}

@test "members: across a join mid-stream, a key's messages reach the outputs in order (one FIFO read by one reader)" {
	# Every target writes the same FIFO, under another spelling of its
	# path, so that its reader sees the order in which the targets'
	# buffers were written out. The joining target is first in the file
	# (flushed first): had the old targets' buffers not been written out
	# before the change, a moved key's newer messages could come first.
	local P=$T/merge S
	[ "${LS_SAN:-0}" = 1 ] && LIMIT=600
	S=("$P" "file://$P" "$T/./merge" "$T/././merge" "file://$T/./merge")
	mkfifo "$P"
	cat "$P" >"$T/merged" &
	local reader=$!
	printf 'n0 %s\nn1 %s\nn2 %s\nn3 %s\n' "${S[@]:0:4}" >"$T/m.txt"
	head -n 900000 "$D/big.lines" >"$T/part1"
	tail -n +900001 "$D/big.lines" >"$T/part2"
	start_fifo --members-interval 10ms
	cat "$T/part1" >&8 &
	local writer=$!
	wait_until 60 eval '[ "$(wc -l <"$T/merged")" -ge 50000 ]' ||
		fail "no output: $(cat "$T/err")"
	printf 'n4 %s\nn0 %s\nn1 %s\nn2 %s\nn3 %s\n' "${S[4]}" "${S[@]:0:4}" \
	    >"$T/m.tmp"
	mv "$T/m.tmp" "$T/m.txt"
	wait_until 60 grep -q 'members: +n4 (.*m.txt line 1), 4 targets -> 5' \
	    "$T/err" || fail "no change reported: $(cat "$T/err")"
	wait "$writer"
	cat "$T/part2" >&8
	exec 8>&-
	wait "$BG" || fail "status $?: $(cat "$T/err")"
	BG=
	wait "$reader"
	[ "$(wc -l <"$T/merged")" -eq 1000000 ]
	awk -F ' [|] ' '($2 in last) && $3 + 0 <= last[$2] {
		print "line " NR ": " $2 " seq " $3 " after " last[$2]; bad = 1; exit
	    } { last[$2] = $3 + 0 } END { exit bad }' "$T/merged"
	sort "$T/merged" | cmp -s - <(sort "$D/big.lines")
}

@test "members: SIGHUP reads the file again; a leave moves only the leaver's keys" {
	members "$T/m.txt" n0 n1 n2
	head -n 30000 "$D/big.lines" >"$T/part1"
	sed -n '30001,60000p' "$D/big.lines" >"$T/part2"
	# looked at only on SIGHUP
	start_fifo --members-interval 0
	cat "$T/part1" >&8
	wait_until 30 eval '[ "$(lines_in "$T/o")" -eq 30000 ]' ||
		fail "part 1 not out: $(cat "$T/err")"
	members "$T/m.txt" n0 n2
	sleep 0.5
	! grep -q 'members:' "$T/err" || fail "changed without SIGHUP: $(cat "$T/err")"
	kill -HUP "$(cat "$T/pid")"
	wait_until 30 grep -q 'members: -n1 (gone from .*m.txt), 3 targets -> 2' \
	    "$T/err" || fail "no change reported: $(cat "$T/err")"
	# SIGHUP with nothing changed says so
	kill -HUP "$(cat "$T/pid")"
	wait_until 30 grep -q "members: $T/m.txt read again: no change" \
	    "$T/err" || fail "no report: $(cat "$T/err")"
	cat "$T/part2" >&8
	exec 8>&-
	wait "$BG" || fail "status $?: $(cat "$T/err")"
	BG=
	# n1 got nothing of part 2; the others got their old keys and n1's
	[ "$(awk -F ' [|] ' '$3 + 0 >= 30000' "$T/o/n1.txt" | wc -l)" -eq 0 ] ||
		fail "n1 got messages after it left"
	[ "$(lines_in "$T/o")" -eq 60000 ]
	order_kept "$T/o" || fail "order broken"
	key_map "$T/o" | awk '{ c[$1]++; if ($2 == "n1") from[$1] = 1 }
	    END { for (k in c) if (c[k] > 1 && !(k in from)) w++; print w + 0 }' \
	    >"$T/wrong"
	[ "$(cat "$T/wrong")" -eq 0 ] || fail "keys moved between staying targets"
}

@test "members: a bad file at start is an error naming the file and the line" {
	local f=$T/m.txt
	bad() {	# bad TEXT WANT: the file holds TEXT (none: no file); stderr has WANT
		rm -f "$f"
		[ "$1" = none ] || printf '%b' "$1" >"$f"
		runf "$PARTITION" --members "$f" </dev/null
		[ "$status" -eq 1 ] || fail "'$1': status $status"
		grep -qF -- "$2" "$T/err" || fail "'$1': $(cat "$T/err")"
		[ ! -s "$T/out" ] || fail "'$1': wrote to stdout"
	}
	bad 'a o/a\nb\n' "$f: line 2: NAME 'b' has no OUTPUT"
	bad '# c\n\na o/a x\n' "$f: line 3: 'x' after NAME and OUTPUT"
	bad 'a o/a\nb o/b\na o/c\n' "$f: line 3: NAME 'a' is given twice (first at line 1)"
	bad 'a o/a\nb o/a\n' "$f: line 2: output 'o/a' is already 'a''s (at line 1)"
	bad '# nothing\n\n' "$f: no target"
	bad 'a o/a\nb\0 o/b\n' "$f: line 2: a NUL byte"
	bad none "$f: No such file or directory"
	[ -z "$(ls "$T/o")" ] || fail "outputs made: $(ls "$T/o")"
}

@test "members: a bad file at reload keeps the membership, with a warning" {
	members "$T/m.txt" n0 n1 n2
	head -n 20000 "$D/big.lines" >"$T/part1"
	sed -n '20001,40000p' "$D/big.lines" >"$T/part2"
	start_fifo
	cat "$T/part1" >&8
	wait_until 30 eval '[ "$(lines_in "$T/o")" -eq 20000 ]' ||
		fail "part 1 not out: $(cat "$T/err")"
	printf 'n0 %s\nn9\n' "$T/o/n0.txt" >"$T/m.tmp"
	mv "$T/m.tmp" "$T/m.txt"
	wait_until 30 grep -q "members: $T/m.txt: line 2: NAME 'n9' has no OUTPUT (membership unchanged)" \
	    "$T/err" || fail "no warning: $(cat "$T/err")"
	# a target whose output cannot be opened: refused as a whole
	printf 'n0 %s\nn1 %s\nn2 %s\nn3 %s\n' "$T/o/n0.txt" "$T/o/n1.txt" \
	    "$T/o/n2.txt" "$T/nodir/n3.txt" >"$T/m.tmp"
	mv "$T/m.tmp" "$T/m.txt"
	wait_until 30 grep -q "nodir/n3.txt.*(membership unchanged)" "$T/err" ||
		fail "no warning: $(cat "$T/err")"
	cat "$T/part2" >&8
	exec 8>&-
	wait "$BG" || fail "status $?: $(cat "$T/err")"
	BG=
	! grep -q 'targets ->' "$T/err" || fail "changed: $(cat "$T/err")"
	# every key where the first membership sends it
	key_map "$T/o" >"$T/got"
	cut -d ' ' -f 1 "$T/got" >"$T/keys"
	"$PY" "$D/ref.py" n0 n1 n2 <"$T/keys" | paste -d ' ' "$T/keys" - >"$T/want"
	cmp -s "$T/got" "$T/want" || fail "$(diff "$T/got" "$T/want" | head -n 5)"
	[ "$(lines_in "$T/o")" -eq 40000 ]
}

@test "members: a NAME moved to another OUTPUT takes its keys with it, no other key moves" {
	members "$T/m.txt" n0 n1 n2
	head -n 20000 "$D/big.lines" >"$T/part1"
	sed -n '20001,40000p' "$D/big.lines" >"$T/part2"
	start_fifo
	cat "$T/part1" >&8
	wait_until 30 eval '[ "$(lines_in "$T/o")" -eq 20000 ]' ||
		fail "part 1 not out: $(cat "$T/err")"
	members "$T/m.txt" n0 n1=moved.txt n2
	wait_until 30 grep -q "members: n1 moves from $T/o/n1.txt to $T/o/moved.txt" \
	    "$T/err" || fail "no move reported: $(cat "$T/err")"
	cat "$T/part2" >&8
	exec 8>&-
	wait "$BG" || fail "status $?: $(cat "$T/err")"
	BG=
	# n1's keys are moved.txt's, and every other key stayed
	sed -n 's/^.* | \(u[0-9]*\) | .*$/\1/p' "$T/o/n1.txt" | sort -u >"$T/k1"
	sed -n 's/^.* | \(u[0-9]*\) | .*$/\1/p' "$T/o/moved.txt" | sort -u >"$T/km"
	[ -s "$T/k1" ] && cmp -s "$T/k1" "$T/km" || fail "n1's keys changed"
	key_map "$T/o" | sed 's/ moved$/ n1/' | sort -u >"$T/map"
	[ "$(wc -l <"$T/map")" -eq 1000 ] || fail "a key is in two targets"
	order_kept "$T/o" || fail "order broken"
	[ "$(awk -F ' [|] ' '$3 + 0 >= 20000' "$T/o/n1.txt" | wc -l)" -eq 0 ]
	[ "$(lines_in "$T/o")" -eq 40000 ]
}

@test "members: a target that leaves and comes back continues its .ss output" {
	printf 'n0 %s\nn1 %s\n' "$T/o/n0.ss" "$T/o/n1.ss" >"$T/m.txt"
	for p in 1 2 3; do
		sed -n "$(((p - 1) * 1000 + 1)),$((p * 1000))p" "$D/big.lines" \
		    >"$T/part$p"
	done
	start_fifo
	cat "$T/part1" >&8
	wait_until 30 eval '[ "$({ "$SS_DECODE" "$T/o/n0.ss"
	    "$SS_DECODE" "$T/o/n1.ss"; } 2>/dev/null | wc -l)" -eq 1000 ]' ||
		fail "part 1 not out: $(cat "$T/err")"
	printf 'n0 %s\n' "$T/o/n0.ss" >"$T/m.tmp"
	mv "$T/m.tmp" "$T/m.txt"
	wait_until 30 grep -q 'members: -n1 ' "$T/err" || fail "$(cat "$T/err")"
	cat "$T/part2" >&8
	printf 'n0 %s\nn1 %s\n' "$T/o/n0.ss" "$T/o/n1.ss" >"$T/m.tmp"
	mv "$T/m.tmp" "$T/m.txt"
	wait_until 30 grep -q 'members: +n1 ' "$T/err" || fail "$(cat "$T/err")"
	cat "$T/part3" >&8
	exec 8>&-
	wait "$BG" || fail "status $?: $(cat "$T/err")"
	BG=
	# n1.ss: whole, its part 1 and part 3 keys, nothing of part 2, and
	# one End-of-Stream, at the end
	"$SS_DECODE" -v "$T/o/n1.ss" >"$T/v" || fail "$(cat "$T/v")"
	"$SS_DECODE" "$T/o/n1.ss" >"$T/n1"
	[ "$(grep -c "$EOS_KEY" "$T/n1")" -eq 1 ]
	tail -n 1 "$T/n1" | grep -q "$EOS_KEY"
	sed '$d' "$T/n1" | awk -F ' [|] ' '$3 >= 1000 && $3 < 2000' >"$T/mid"
	[ ! -s "$T/mid" ] || fail "n1 got part 2: $(head -n 3 "$T/mid")"
	sed '$d' "$T/n1" | awk -F ' [|] ' '$3 >= 2000' | grep -q . ||
		fail "n1 got nothing of part 3"
	{ "$SS_DECODE" "$T/o/n0.ss"; "$SS_DECODE" "$T/o/n1.ss"; } |
	    grep -v "$EOS_KEY" | sort | cmp -s - <(head -n 3000 "$D/big.lines" | sort)
}

@test "members: usage errors say why" {
	members "$T/m.txt" n0
	expect_failures 2 "$PARTITION" \
	    "--members $T/m.txt -n 2|--members and -n do not go together" \
	    "--members $T/m.txt out%d|--members takes no template" \
	    "--members $T/m.txt --exec cat|--members and --exec do not go together" \
	    "--members $T/m.txt --key shard|--members goes with --key stream or field:NAME" \
	    "--members $T/m.txt --hash kafka|--members hashes by name" \
	    "-n 2 --members-interval 1s out%d|--members-interval goes with --members" \
	    "--members $T/m.txt --members-interval x|--members-interval"
}
