#!/usr/bin/env bats
# partition(1): every message to exactly one of N outputs, per-key order,
# the jump and Kafka hashes checked against independent references, the
# key choices and the shard rewrite, worker processes (their environment,
# the merge of their output a whole line at a time, death and restart),
# End-of-Stream, bad lines and usage. Nothing here measures time: workers
# and readers run under timeout(1) and the assertions are about where
# each message went and in what order.

# Worker commands are quoted so that /bin/sh, not this shell, expands them.
# shellcheck disable=SC2016

load helper

PARTITION=$LS_BIN/partition
# the longest any one command may run before timeout(1) stops it
LIMIT=60

# Made once for the file, in $BATS_FILE_TMPDIR:
#  ref.py     independent references of both hashes, from their published
#             definitions (not from libstream's sources)
#  big.lines  100000 canonical lines over 500 keys user-0 .. user-499
#             picked at random; per key the sequence numbers 0, 1, 2, ...;
#             shard 0; timestamps 2024-01-01T00:00:00.000 plus the message
#             number in ms; payload m<number>-<key>-<seq>
#  big.sorted big.lines sorted
#  big.tsv    the same messages as sorted TSV "key seq ts_ms hex(payload)"
setup_file() {
	local D=$BATS_FILE_TMPDIR
	# the interpreter itself, not a wrapper such as pyenv's, which takes
	# longer to start than most tests run
	python3 -c 'import sys; print(sys.executable)' >"$D/python"
	cat >"$D/ref.py" <<'EOF'
"""References for partition(1), written from the published algorithms.

jump:  FNV-1a 64 of the key (offset basis 0xcbf29ce484222325, prime
       0x100000001b3), the splitmix64 finaliser, then Lamping & Veach's
       jump consistent hash (2014, figure 1).
kafka: Apache Kafka's Utils.murmur2 (seed 0x9747b28c, m 0x5bd1e995, r 24,
       little-endian 4-byte blocks, tail bytes unsigned) and its default
       partitioner, (murmur2 & 0x7fffffff) % n.
As a command, "ref.py jump|kafka N" prints the partition of each line of
its standard input (the line's bytes without the newline).
"""
import sys

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1


def h64(b):
    h = 0xCBF29CE484222325
    for c in b:
        h = ((h ^ c) * 0x100000001B3) & M64
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & M64
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & M64
    h ^= h >> 31
    return h


def jump(key, n):
    b, j = -1, 0
    while j < n:
        b = j
        key = (key * 2862933555777941757 + 1) & M64
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


def murmur2(b):
    m, r, n = 0x5BD1E995, 24, len(b)
    h = (0x9747B28C ^ n) & M32
    i = 0
    while i + 4 <= n:
        k = b[i] | b[i + 1] << 8 | b[i + 2] << 16 | b[i + 3] << 24
        k = (k * m) & M32
        k ^= k >> r
        k = (k * m) & M32
        h = (h * m) & M32
        h ^= k
        i += 4
    if n - i >= 3:
        h ^= b[i + 2] << 16
    if n - i >= 2:
        h ^= b[i + 1] << 8
    if n - i >= 1:
        h ^= b[i]
        h = (h * m) & M32
    h ^= h >> 13
    h = (h * m) & M32
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h  # as Java's int


def route(b, n, how):
    if how == "kafka":
        return (murmur2(b) & 0x7FFFFFFF) % n
    return jump(h64(b), n)


if __name__ == "__main__":
    how, n = sys.argv[1], int(sys.argv[2])
    out = []
    for line in sys.stdin.buffer:
        out.append("%d\n" % route(line.rstrip(b"\n"), n, how))
    sys.stdout.write("".join(out))
EOF
	"$(cat "$D/python")" - "$D" <<'EOF'
import random, sys
d = sys.argv[1]
r = random.Random(20261123)
seq = {}
lines, tsv = [], []
for i in range(100000):
    k = "user-%d" % r.randrange(500)
    s = seq.get(k, 0)
    seq[k] = s + 1
    p = "m%d-%s-%d" % (i, k, s)
    lines.append("[2024-01-01T00:%02d:%02d.%03d | %s | %d | 0] %s\n" %
                 (i // 60000, i // 1000 % 60, i % 1000, k, s, p))
    tsv.append("%s\t%d\t%d\t%s\n" % (k, s, 1704067200000 + i, p.encode().hex()))
open(d + "/big.lines", "w").write("".join(lines))
open(d + "/big.sorted", "w").write("".join(sorted(lines)))
open(d + "/big.tsv", "w").write("".join(sorted(tsv)))
EOF
}

setup() {
	ls_setup
	D=$BATS_FILE_TMPDIR
	[ -x "$PARTITION" ] || fail "$PARTITION is missing: run 'make' (LS_BIN)"
	[ -s "$D/big.lines" ] || fail "setup_file made no big.lines"
	PY=$(cat "$D/python")
}

# partition ARGS...: the partition under test, never for longer than LIMIT.
partition() {
	timeout -k 5 "$LIMIT" "$PARTITION" "$@"
}

# ref jump|kafka N: ref.py on standard input.
ref() {
	"$PY" "$D/ref.py" "$@"
}

# ss_msgs FILE: the messages of the .ss FILE as ss-tsv TSV, checked by
# ss-tsv -v, without the End-of-Stream message that must end it and the
# trailer, which must say "end".
ss_msgs() {
	local tmp last
	tmp=$(mktemp "$BATS_TEST_TMPDIR/ss_msgs.XXXXXX")
	"$SS_TSV" -v "$1" >"$tmp" || {
		echo "$1 does not verify: $(tail -n 1 "$tmp")" >&2
		return 1
	}
	last=$(tail -n 1 "$tmp")
	case $last in
	end\ *) ;;
	*) echo "$1 does not end cleanly: $last" >&2; return 1 ;;
	esac
	last=$(tail -n 2 "$tmp" | head -n 1)
	case $last in
	"$EOS_KEY"$'\t'*) ;;
	*) echo "$1 does not end with an End-of-Stream message" >&2; return 1 ;;
	esac
	head -n -2 "$tmp"
	rm -f "$tmp"
}

# check_parts lines|tsv|merged FILE...: checks the outputs of partitioning
# big.lines, prints a line per fault. With lines, FILE... are line files
# named *.I for partition I; with tsv, ss-tsv output named *.I.tsv; with
# merged, lines in any order of partitions, the shard telling which.
# Every line must be a whole message of big.lines (meta and payload
# agree), its shard its partition, each key in one partition only, the
# sequence numbers of each key 0, 1, 2, ... in order, 100000 in all.
check_parts() {
	local mode=$1
	shift
	awk -v mode="$mode" '
	{
		if (mode == "tsv") {
			nf = split($0, f, "\t")
			key = f[1]; shard = f[2]; seq = f[3]
			ok = nf == 5
		} else {
			line = $0
			ok = sub(/^\[/, "", line)
			nf = split(line, f, / \| |\] /)
			key = f[2]; seq = f[3]; shard = f[4]
			split(f[5], q, "-")
			ok = ok && nf == 5 && f[1] ~ /^2024-01-01T00:0[01]:[0-9][0-9]\.[0-9][0-9][0-9]$/ &&
			    q[1] ~ /^m[0-9]+$/ && q[2] "-" q[3] == key && q[4] == seq
		}
		if (!ok) { print FILENAME ": not a whole message: " substr($0, 1, 80); next }
		if (mode == "merged")
			p = shard
		else {
			p = FILENAME
			sub(/\.tsv$/, "", p); sub(/\.ss$/, "", p); sub(/.*\./, "", p)
			if (shard != p) print FILENAME ": shard " shard ": " $0
		}
		if (key in part && part[key] != p) print "key " key " in partitions " part[key] " and " p
		part[key] = p
		if (seq != nx[key] + 0) print FILENAME ": " key " seq " seq " after " nx[key] - 1
		nx[key] = seq + 1
		n++
	}
	END { if (n != 100000) print n + 0 " messages, want 100000" }' "$@"
}

# same_lines FILE...: the lines of FILE..., shards set back to 0, are
# those of big.lines (as a multiset); prints the first differences.
same_lines() {
	cat "$@" | sed -E 's/ \| [0-9]+\] / | 0] /' | sort >"$T/got.sorted"
	diff "$D/big.sorted" "$T/got.sorted" | head -n 5
}

# key_parts FILE...: "key shard" of each line of FILE... (canonical lines).
key_parts() {
	awk '{ split($0, f, / \| |\] /); print f[2], f[4] }' "$@"
}

# ---------------------------------------------------------------------------
# 1. Exactly once, in order

@test "partition: 100000 messages over 500 keys into 4 line files: each once, per-key order, shard = partition" {
	runf partition -n 4 -i "$D/big.lines" "$T/out.%d"
	assert_equal "$status" 0
	[ ! -s "$T/err" ] || fail "stderr: $(cat "$T/err")"
	[ ! -s "$T/out" ] || fail "wrote to stdout"
	run check_parts lines "$T"/out.{0,1,2,3}
	assert_output ""
	run same_lines "$T"/out.*
	assert_output ""
	# no other file, and every partition got a share
	[ "$(find "$T" -name 'out.*' | wc -l)" -eq 4 ] || fail "$(ls "$T")"
	local i
	for i in 0 1 2 3; do
		[ "$(wc -l <"$T/out.$i")" -gt 15000 ] || fail "out.$i: $(wc -l <"$T/out.$i") lines"
	done
}

@test "partition: 100000 messages from standard input into 4 .ss files: each once, per-key order, each file verifies" {
	partition -n 4 "$T/out.%d.ss" <"$D/big.lines"
	local i
	for i in 0 1 2 3; do
		ss_msgs "$T/out.$i.ss" >"$T/out.$i.tsv"
	done
	run check_parts tsv "$T"/out.{0,1,2,3}.tsv
	assert_output ""
	cat "$T"/out.?.tsv | cut -f 1,3,4,5 | sort >"$T/got"
	run diff "$D/big.tsv" "$T/got"
	assert_success
	# the same split as to line files
	partition -n 4 -i "$D/big.lines" "$T/l.%d"
	for i in 0 1 2 3; do
		[ "$(wc -l <"$T/l.$i")" -eq "$(wc -l <"$T/out.$i.tsv")" ] || fail "partition $i differs"
	done
}

@test "partition --exec 'cat >FILE.\$STREAM_WORKER': each worker gets its partition's messages, once, in order" {
	runf partition -n 4 -i "$D/big.lines" --exec "cat >'$T'/w.\$STREAM_WORKER"
	assert_equal "$status" 0
	[ ! -s "$T/err" ] || fail "stderr: $(cat "$T/err")"
	[ ! -s "$T/out" ] || fail "wrote to stdout"
	run check_parts lines "$T"/w.{0,1,2,3}
	assert_output ""
	run same_lines "$T"/w.*
	assert_output ""
	# the same split as to files
	partition -n 4 -i "$D/big.lines" "$T/f.%d"
	local i
	for i in 0 1 2 3; do
		cmp "$T/w.$i" "$T/f.$i" || fail "worker $i differs from file $i"
	done
}

@test "partition --exec cat: the workers' merged output has every message once, whole lines, per-key order" {
	partition -n 4 -i "$D/big.lines" --exec cat >"$T/merged"
	run check_parts merged "$T/merged"
	assert_output ""
	run same_lines "$T/merged"
	assert_output ""
	# workers that write each line in two pieces, flushed apart
	partition -n 4 -i "$D/big.lines" --exec \
	    'awk "{ printf \"%s\", substr(\$0, 1, 30); fflush(); print substr(\$0, 31); fflush() }"' \
	    >"$T/split"
	run check_parts merged "$T/split"
	assert_output ""
	run same_lines "$T/split"
	assert_output ""
}

@test "partition --exec: long lines written in pieces by 4 workers at once come out whole; a last line without a newline gets one" {
	# each worker reads its (empty) input, then writes 20 lines of 100000
	# bytes of its own letter, 1000 bytes a write
	partition -n 4 --exec 'cat >/dev/null; awk -v w="$STREAM_WORKER" "BEGIN {
		c = substr(\"abcd\", w + 1, 1); s = \"\"
		for (i = 0; i < 1000; i++) s = s c
		for (l = 0; l < 20; l++) {
			for (i = 0; i < 100; i++) { printf \"%s\", s; fflush() }
			print \"\"; fflush()
		}
	}"' </dev/null >"$T/long"
	run awk '
	length($0) != 100000 || $0 !~ /^(a+|b+|c+|d+)$/ { print "line " NR ": " length($0) " bytes: " substr($0, 1, 20) "..." substr($0, length($0) - 20) }
	{ n[substr($0, 1, 1)]++ }
	END { if (NR != 80 || n["a"] != 20 || n["b"] != 20 || n["c"] != 20 || n["d"] != 20) print NR " lines" }' "$T/long"
	assert_output ""
	partition -n 3 --exec 'cat >/dev/null; printf "w%s-a\nw%s-b-no-newline" "$STREAM_WORKER" "$STREAM_WORKER"' \
	    </dev/null >"$T/out"
	run sort "$T/out"
	assert_output "$(printf 'w0-a\nw0-b-no-newline\nw1-a\nw1-b-no-newline\nw2-a\nw2-b-no-newline')"
	[ "$(tail -c 1 "$T/out" | od -An -c | tr -d ' ')" = '\n' ] || fail "does not end with a newline"
}

# ---------------------------------------------------------------------------
# 2. Hashing

@test "partition: jump hash from 10 to 11 outputs moves about 1/11 of 10000 keys, each to the new output 10" {
	awk 'BEGIN { for (i = 0; i < 10000; i++) printf "[2024-01-01T00:00:00.000 | key-%d | 0 | 0] x\n", i }' >"$T/in"
	partition -n 10 -i "$T/in" "$T/a.%d"
	partition -n 11 -i "$T/in" "$T/b.%d"
	key_parts "$T"/a.* | sort >"$T/a"
	key_parts "$T"/b.* | sort >"$T/b"
	run join "$T/a" "$T/b"
	[ "${#lines[@]}" -eq 10000 ] || fail "${#lines[@]} keys in both"
	run awk '
	$2 != $3 { moved++; if ($3 != 10) print $1 " moved from " $2 " to " $3 }
	END {
		f = moved / NR
		if (f < 0.06 || f > 0.12) print "moved " moved " of " NR " keys (" f ")"
		else print "ok " moved
	}' <(join "$T/a" "$T/b")
	assert_output --regexp '^ok [0-9]+$'
	# the new output took its share from every old one
	run bash -c "join '$T/a' '$T/b' | awk '\$3 == 10 { print \$2 }' | sort -u | wc -l"
	assert_output 10
}

@test "partition: the jump route of 10000 keys, each twice, for 1, 2, 10, 11 and 1000 outputs, is the documented one (Python reference)" {
	# each key twice in a row: the second time from the route partition
	# remembers
	awk 'BEGIN { for (i = 0; i < 20000; i++) printf "[2024-01-01T00:00:00.000 | key-%d | 0 | 0] x\n", int(i / 2) }' >"$T/in"
	awk 'BEGIN { for (i = 0; i < 20000; i++) print "key-" int(i / 2) }' >"$T/keys"
	local n
	for n in 1 2 10 11 1000; do
		mkdir "$T/$n"
		partition -n "$n" -i "$T/in" "$T/$n/o.%d"
		key_parts "$T/$n"/o.* | sort >"$T/got"
		paste -d ' ' "$T/keys" <(ref jump "$n" <"$T/keys") | sort >"$T/want"
		run diff "$T/want" "$T/got"
		assert_success
	done
}

@test "partition --hash kafka: Kafka's own murmur2 test keys land where the Java values say" {
	# UtilsTest.testMurmur2 of the Kafka Java client
	local -a cases=(
		"21 -973932308"
		"foobar -790332482"
		"a-little-bit-long-string -985981536"
		"a-little-bit-longer-string -1486304829"
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8 -58897971"
		"abc 479470107"
	)
	local c k h n
	# the reference agrees with Kafka's values
	run "$PY" -c '
import sys
sys.path.insert(0, sys.argv[1])
import ref
for c in sys.argv[2:]:
    k, h = c.split()
    if ref.murmur2(k.encode()) != int(h):
        print("murmur2(%s) = %d, Kafka says %s" % (k, ref.murmur2(k.encode()), h))
' "$D" "${cases[@]}"
	assert_success
	assert_output ""
	for c in "${cases[@]}"; do
		read -r k h <<<"$c"
		printf '[2024-01-01T00:00:00.000 | %s | 0 | 0] x\n' "$k"
	done >"$T/in"
	for n in 7 13 100; do
		mkdir "$T/$n"
		partition -n "$n" --hash kafka -i "$T/in" "$T/$n/o.%d"
		for c in "${cases[@]}"; do
			read -r k h <<<"$c"
			# Utils.toPositive(murmur2) % n, in bash's 64-bit arithmetic
			grep -q " | $k | " "$T/$n/o.$(((h & 0x7fffffff) % n))" ||
				fail "n=$n: $k not in partition $(((h & 0x7fffffff) % n))"
		done
	done
}

@test "partition --hash kafka: 1000 stream keys and 1000 field values (UTF-8, escaped, empty) land where the reference says" {
	"$PY" - "$T" <<'EOF'
import random, sys
t = sys.argv[1]
r = random.Random(5)
alpha = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
keys = set()
while len(keys) < 1000:
    keys.add("".join(r.choice(alpha) for _ in range(r.randint(1, 40))))
keys = sorted(keys)
with open(t + "/keys", "w", encoding="utf-8") as f:
    f.write("".join(k + "\n" for k in keys))
with open(t + "/in", "w", encoding="utf-8") as f:
    f.write("".join("[2024-01-01T00:00:00.000 | %s | 0 | 0] x\n" % k for k in keys))
# field values: the bytes between the quotes, as written, are the key
uni = "aé€𝄞z"
vals = ["", "a\\u00e9", "tab\\there", "q\\\"q"]
while len(vals) < 1000:
    vals.append("v%d-" % len(vals) + "".join(r.choice(uni) for _ in range(r.randint(0, 12))))
with open(t + "/vals", "w", encoding="utf-8") as f:
    f.write("".join(v + "\n" for v in vals))
with open(t + "/fin", "w", encoding="utf-8") as f:
    f.write("".join('[2024-01-01T00:00:00.000 | src | %d | 0] {"n":%d,"k":"%s"}\n' % (i, i, v)
                    for i, v in enumerate(vals)))
EOF
	partition -n 7 --hash kafka -i "$T/in" "$T/o.%d"
	key_parts "$T"/o.* | sort >"$T/got"
	paste -d ' ' "$T/keys" <(ref kafka 7 <"$T/keys") | sort >"$T/want"
	run diff "$T/want" "$T/got"
	assert_success
	# by field: the message number and its partition
	partition -n 12 --hash kafka --key field:k -i "$T/fin" "$T/f.%d"
	awk '{ split($0, f, / \| |\] /); print f[3], f[4] }' "$T"/f.* | sort -n >"$T/got"
	ref kafka 12 <"$T/vals" | awk '{ print NR - 1, $1 }' >"$T/want"
	run diff "$T/want" "$T/got"
	assert_success
}

# ---------------------------------------------------------------------------
# 3. Keys and shards

# field_input FILE: 200 messages of stream src, shard 5, seq I, whose
# payload is, by I % 5: {"user_id":"u<J>"}, {"user_id":<J>} (a number),
# {} without it, the member only in a nested object, not JSON; J = I % 40.
field_input() {
	awk 'BEGIN {
		for (i = 0; i < 200; i++) {
			j = i % 40; c = i % 5
			p = c == 0 ? "{\"i\":" i ",\"user_id\":\"u" j "\"}" : \
			    c == 1 ? "{\"i\":" i ", \"user_id\" : " j " }" : \
			    c == 2 ? "{\"i\":" i "}" : \
			    c == 3 ? "{\"i\":" i ",\"x\":{\"user_id\":\"u" j "\"}}" : "plain " i
			printf "[2024-01-01T00:00:00.000 | src | %d | 5] %s\n", i, p
		}
	}' >"$1"
}

# field_want N KEEP MISSING: the expected "partition line" of each message
# of field_input for N outputs (the value's text hashed: u<J> for a
# string, <J> for a number); KEEP 1 keeps shard 5; MISSING 1 sends the
# messages without the field to partition "missing", shard kept.
field_want() {
	local n=$1 keep=$2 missing=$3
	awk 'BEGIN { for (i = 0; i < 200; i++) { j = i % 40; c = i % 5
		print c == 0 ? "u" j : c == 1 ? j : "-" } }' >"$T/vals"
	paste "$T/vals" <(ref jump "$n" <"$T/vals") "$T/in" | awk -F '\t' -v keep="$keep" -v missing="$missing" '
	{
		p = $1 == "-" ? (missing ? "missing" : 0) : $2
		s = keep || p == "missing" ? 5 : p
		line = $3
		sub(/ \| 5\] /, " | " s "] ", line)
		print p "\t" line
	}' | sort
}

# got_parts FILE...: "partition line" of each line of FILE..., named *.I
# or *missing*.
got_parts() {
	awk '{ p = FILENAME; if (p ~ /missing/) p = "missing"; else sub(/.*\./, "", p); print p "\t" $0 }' "$@" | sort
}

@test "partition --key field:user_id: strings and numbers hashed as their text; messages without it to partition 0, shard 0" {
	field_input "$T/in"
	runf partition -n 8 --key field:user_id -i "$T/in" "$T/o.%d"
	assert_equal "$status" 0
	[ ! -s "$T/err" ] || fail "stderr: $(cat "$T/err")"
	field_want 8 0 0 >"$T/want"
	got_parts "$T"/o.* >"$T/got"
	run diff "$T/want" "$T/got"
	assert_success
	# a string value routes as the stream key of the same bytes, the
	# number 6 as the key 6 and as the string "6"
	printf '[u5] a\n[6] b\n' | partition -n 8 "$T/s.%d"
	printf '[2024-01-01T00:00:00.000 | a | 0 | 0] {"user_id":"6"}\n' |
	    partition -n 8 --key field:user_id "$T/n.%d"
	local u5 n6 s6
	u5=$(grep -l '"user_id":"u5"}$' "$T"/o.*)
	n6=$(grep -l ' : 6 }$' "$T"/o.*)
	s6=$(grep -l . "$T"/n.*)
	assert_equal "${u5##*.}" "$(grep -l ' | u5 | ' "$T"/s.* | sed 's/.*\.//')"
	assert_equal "${n6##*.}" "$(grep -l ' | 6 | ' "$T"/s.* | sed 's/.*\.//')"
	assert_equal "${n6##*.}" "${s6##*.}"
}

@test "partition --key field:user_id --keep-shard keeps every shard; --missing FILE takes the messages without it, shards kept" {
	field_input "$T/in"
	partition -n 8 --key field:user_id --keep-shard -i "$T/in" "$T/k.%d"
	field_want 8 1 0 >"$T/want"
	got_parts "$T"/k.* >"$T/got"
	run diff "$T/want" "$T/got"
	assert_success
	partition -n 8 --key field:user_id --missing "$T/the-missing" -i "$T/in" "$T/m.%d"
	field_want 8 0 1 >"$T/want"
	got_parts "$T"/m.* "$T/the-missing" >"$T/got"
	run diff "$T/want" "$T/got"
	assert_success
	[ "$(wc -l <"$T/the-missing")" -eq 120 ] || fail "$(wc -l <"$T/the-missing") missing"
	# a .ss file for the missing ones, with its End-of-Stream
	partition -n 2 --key field:user_id --missing "$T/miss.ss" -i "$T/in" "$T/x.%d"
	ss_msgs "$T/miss.ss" >"$T/miss.tsv"
	[ "$(wc -l <"$T/miss.tsv")" -eq 120 ] || fail "$(wc -l <"$T/miss.tsv") in miss.ss"
	run cut -f 2 "$T/miss.tsv"
	[ "$(sort -u <<<"$output")" = 5 ] || fail "shards $(sort -u <<<"$output" | tr '\n' ' ')"
}

@test "partition --key shard: shard mod N, no hashing, from a .ss input; the shard rewritten unless --keep-shard" {
	local s
	{
		for s in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 1000001 18446744073709551615; do
			printf 'k\t%s\t%s\t1704067200000\t%s\n' "$s" "$s" 78
		done
		eos_tsv 1704067200001
	} >"$T/in.tsv"
	"$SS_BUILD" "$T/in.ss" <"$T/in.tsv"
	partition -n 4 --key shard -i "$T/in.ss" "$T/o.%d"
	partition -n 4 --key shard --keep-shard -i "$T/in.ss" "$T/k.%d"
	# seq = original shard; 2^64-1 mod 4 = 3
	run awk '!/SEA_STREAMER_INTERNAL/ { split($0, f, / \| |\] /); print FILENAME, f[3], f[4] }' "$T"/o.? "$T"/k.?
	local l file seq shard p
	for l in "${lines[@]}"; do
		read -r file seq shard <<<"$l"
		p=${file##*.}
		case $seq in 18446744073709551615) want=3 ;; *) want=$((seq % 4)) ;; esac
		[ "$p" = "$want" ] || fail "shard $seq in partition $p"
		case $file in
		*/o.*) [ "$shard" = "$p" ] || fail "$l: shard not rewritten" ;;
		*/k.*) [ "$shard" = "$seq" ] || fail "$l: shard not kept" ;;
		esac
	done
	[ "${#lines[@]}" -eq 44 ] || fail "${#lines[@]} messages"
	# and the End-of-Stream to each
	[ "$(cat "$T"/o.? "$T"/k.? | grep -c "$EOS_KEY")" -eq 8 ] || fail "not 8 End-of-Stream lines"
}

# ---------------------------------------------------------------------------
# 4. Workers

@test "partition --exec: STREAM_WORKER is 0 to N-1, replacing one in the environment" {
	(
		export STREAM_WORKER=junk
		partition -n 5 --exec 'cat >/dev/null; echo "w=$STREAM_WORKER"' </dev/null >"$T/out"
	)
	run sort "$T/out"
	assert_output "$(printf 'w=0\nw=1\nw=2\nw=3\nw=4')"
}

@test "partition --exec: a worker that exits 1 or is killed is an error naming it: status 1" {
	local -a cases=(
		"exit 1|worker 2 (if [ \"\$STREAM_WORKER\" = 2 ]; then exit 1; fi; exec cat >/dev/null) exited with status 1"
		"kill -9 \$\$|worker 2 (if [ \"\$STREAM_WORKER\" = 2 ]; then kill -9 \$\$; fi; exec cat >/dev/null) killed by signal 9"
		"IFS= read -r l; exit 3|exited with status 3 before its input ended"
	)
	local c what want
	for c in "${cases[@]}"; do
		what=${c%%|*} want=${c#*|}
		runf partition -n 4 -i "$D/big.lines" --exec "if [ \"\$STREAM_WORKER\" = 2 ]; then $what; fi; exec cat >/dev/null"
		assert_equal "$what: status $status" "$what: status 1"
		grep -qF -- "$want" "$T/err" || fail "$what: stderr: $(cat "$T/err")"
		grep -q 'worker [013]' "$T/err" && fail "$what: names another worker: $(cat "$T/err")"
		[ ! -s "$T/out" ] || fail "$what: stdout: $(head -n 3 "$T/out")"
	done
}

@test "partition --restart 1: a worker that dies once after one line is started again on the same pipe; nothing is lost" {
	cat >"$T/w.sh" <<'EOF'
# worker 1's first run takes one line and dies; every other run copies
if [ "$STREAM_WORKER" = 1 ] && mkdir "$T/died" 2>/dev/null; then
	IFS= read -r line && printf '%s\n' "$line" >>"$T/w.1"
	exit 1
fi
exec cat >>"$T/w.$STREAM_WORKER"
EOF
	runf partition -n 4 -i "$D/big.lines" --restart 1 --exec "T='$T' sh '$T/w.sh'"
	assert_equal "$status" 0
	assert_equal "$(cat "$T/err")" "partition: worker 1 was started again 1 time so far"
	[ -d "$T/died" ] || fail "worker 1 did not die"
	run check_parts lines "$T"/w.{0,1,2,3}
	assert_output ""
	run same_lines "$T"/w.?
	assert_output ""
}

@test "partition --restart 2: a worker that always dies after one line is run 3 times, on lines 1, 2, 3 of its partition; then status 1" {
	partition -n 4 -i "$D/big.lines" "$T/ref.%d"
	runf partition -n 4 -i "$D/big.lines" --restart 2 --exec "if [ \"\$STREAM_WORKER\" = 1 ]; then IFS= read -r l && printf '%s\n' \"\$l\" >>'$T/w.1'; exit 1; fi; exec cat >/dev/null"
	assert_equal "$status" 1
	grep -qF 'worker 1 (' "$T/err" || fail "stderr: $(cat "$T/err")"
	grep -qF 'exited with status 1 before its input ended, restarts used up' "$T/err" ||
		fail "stderr: $(cat "$T/err")"
	run diff <(head -n 3 "$T/ref.1") "$T/w.1"
	assert_success
}

@test "partition --restart 1: a worker that fails after its input ended is run again, on an empty input" {
	runf partition -n 2 --restart 1 --exec "cat >/dev/null; if mkdir '$T'/ran.\$STREAM_WORKER 2>/dev/null; then exit 1; fi; echo again \$STREAM_WORKER" </dev/null
	assert_equal "$status" 0
	run sort "$T/out"
	assert_output "$(printf 'again 0\nagain 1')"
	# without --restart it is an error
	runf partition -n 2 --exec 'cat >/dev/null; exit 4' </dev/null
	assert_equal "$status" 1
	grep -qF 'worker 0 (cat >/dev/null; exit 4) exited with status 4' "$T/err" || fail "stderr: $(cat "$T/err")"
}

# ---------------------------------------------------------------------------
# 5. End of Stream, outputs, bad lines

@test "partition: an input End-of-Stream ends the input and goes to every output, stamped as it was" {
	cat >"$T/in" <<EOF
[2024-01-01T00:00:00.000 | a | 0 | 0] one
[2024-01-01T00:00:01.000 | b | 0 | 0] two
[2024-01-01T00:00:02.000 | c | 0 | 0] three
[2024-01-01T00:00:05.000 | $EOS_KEY | 0 | 0] EOS
[2024-01-01T00:00:06.000 | d | 0 | 0] after the end
EOF
	local i eos="[2024-01-01T00:00:05.000 | $EOS_KEY | 0 | 0] EOS"
	partition -n 3 -i "$T/in" "$T/l.%d"
	partition -n 3 -i "$T/in" "$T/s.%d.ss"
	partition -n 3 --exec "cat >'$T'/w.\$STREAM_WORKER" <"$T/in"
	for i in 0 1 2; do
		[ "$(tail -n 1 "$T/l.$i")" = "$eos" ] || fail "l.$i: $(cat "$T/l.$i")"
		[ "$(grep -c "$EOS_KEY" "$T/l.$i")" -eq 1 ] || fail "l.$i: $(cat "$T/l.$i")"
		ss_msgs "$T/s.$i.ss" >"$T/s.$i.tsv"
		[ "$("$SS_TSV" "$T/s.$i.ss" | tail -n 2 | head -n 1)" = "$(eos_tsv 1704067205000)" ] ||
			fail "s.$i.ss: $("$SS_TSV" "$T/s.$i.ss")"
		# a worker's input just ends
		! grep -q "$EOS_KEY" "$T/w.$i" || fail "w.$i: $(cat "$T/w.$i")"
	done
	# shards set back to 0: the messages before the End-of-Stream
	grep -vh "$EOS_KEY" "$T"/l.? | sed -E 's/ \| [0-9]+\] / | 0] /' | sort >"$T/got"
	head -n 3 "$T/in" | cmp - "$T/got"
	cat "$T"/w.? | sed -E 's/ \| [0-9]+\] / | 0] /' | sort | cmp - "$T/got"
	[ "$(cat "$T"/s.?.tsv | wc -l)" -eq 3 ] || fail "not 3 messages in the .ss files"
	# --missing gets it too
	partition -n 2 --key field:x --missing "$T/miss" -i "$T/in" "$T/m.%d"
	[ "$(tail -n 1 "$T/miss")" = "$eos" ] || fail "miss: $(cat "$T/miss")"
}

@test "partition: without an input End-of-Stream only .ss outputs end with one; --no-eos leaves it out of both" {
	printf '[2024-01-01T00:00:00.000 | a | 0 | 0] one\n[2024-01-01T00:00:00.000 | b | 0 | 0] two\n' >"$T/in"
	printf '[2024-01-01T00:00:05.000 | %s | 0 | 0] EOS\n' "$EOS_KEY" | cat "$T/in" - >"$T/in-eos"
	partition -n 2 -i "$T/in" "$T/l.%d"
	partition -n 2 -i "$T/in" "$T/s.%d.ss"
	partition -n 2 --no-eos -i "$T/in-eos" "$T/nl.%d"
	partition -n 2 --no-eos -i "$T/in-eos" "$T/ns.%d.ss"
	local i
	for i in 0 1; do
		! grep -q "$EOS_KEY" "$T/l.$i" "$T/nl.$i" || fail "an End-of-Stream line"
		ss_msgs "$T/s.$i.ss" >/dev/null
		run "$SS_TSV" -v "$T/ns.$i.ss"
		assert_success
		refute_output --partial "$EOS_KEY"
	done
	[ "$(cat "$T"/l.? | wc -l)" -eq 2 ] && [ "$(cat "$T"/nl.? | wc -l)" -eq 2 ] || fail "messages lost"
}

@test "partition: FIFOs as outputs are written as they are" {
	mkfifo "$T/f.0" "$T/f.1" "$T/f.2"
	local i pids=()
	for i in 0 1 2; do
		timeout -k 5 "$LIMIT" cat "$T/f.$i" >"$T/r.$i" &
		pids+=($!)
	done
	partition -n 3 -i "$D/big.lines" "$T/f.%d"
	for i in 0 1 2; do
		wait "${pids[$i]}" || fail "reader $i: status $?"
	done
	partition -n 3 -i "$D/big.lines" "$T/l.%d"
	for i in 0 1 2; do
		cmp "$T/r.$i" "$T/l.$i"
	done
}

@test "partition: templates: %% is a %, -n 1 needs no %d, many %d in one name, - is standard output" {
	cd "$T"
	printf '[a] x\n[b] y\n[c] z\n' >in
	partition -n 2 -i in 'p%%d.%d'
	[ -f 'p%d.0' ] && [ -f 'p%d.1' ] || fail "$(ls)"
	partition -n 1 -i in one
	[ "$(wc -l <one)" -eq 3 ] || fail "one: $(cat one)"
	run partition -n 1 -i in -
	assert_success
	[ "${#lines[@]}" -eq 3 ] || fail "stdout: $output"
	# 32 %d in a name: 101 names up to 97 bytes long
	mkdir many
	partition -n 101 -i in "many/p$(printf '%%d%.0s' {1..32})" </dev/null
	[ "$(find many -type f | wc -l)" -eq 101 ] || fail "$(find many -type f | wc -l) files"
	[ -f "many/p$(printf '100%.0s' {1..32})" ] || fail "no many/p100100...100"
	[ -f "many/p$(printf '7%.0s' {1..32})" ] || fail "no many/p77...7"
	[ "$(cat many/* | wc -l)" -eq 3 ] || fail "messages lost"
}

@test "partition: an existing output is refused naming it (status 1); --force replaces, --append continues" {
	printf '[2024-01-01T00:00:00.000 | a | 0 | 0] x\n' >"$T/in"
	partition -n 1 -i "$T/in" "$T/o"
	runf partition -n 1 -i "$T/in" "$T/o"
	assert_equal "$status" 1
	grep -qF "$T/o: file exists" "$T/err" || fail "stderr: $(cat "$T/err")"
	partition -n 1 --force -i "$T/in" "$T/o"
	[ "$(wc -l <"$T/o")" -eq 1 ] || fail "--force: $(cat "$T/o")"
	partition -n 1 --append -i "$T/in" "$T/o"
	[ "$(wc -l <"$T/o")" -eq 2 ] || fail "--append: $(cat "$T/o")"
	partition -n 1 -i "$T/in" "$T/o.ss"
	partition -n 1 --append -i "$T/in" "$T/o.ss"
	[ "$(ss_msgs "$T/o.ss" | wc -l)" -eq 2 ] || fail "--append .ss: $("$SS_TSV" "$T/o.ss")"
}

@test "partition: refused outputs and missing inputs exit 1 naming them" {
	local -a cases=(
		"-n 2 -i $T/no-such-file o.%d|$T/no-such-file: No such file or directory"
		"-n 2 $T/no-dir/o.%d|$T/no-dir/o.0: No such file or directory"
		"-n 2 rediss://host/t%d|rediss://host/t0: TLS (rediss://) is not supported"
		"-n 2 --key field:x --missing $T/no-dir/m o.%d|$T/no-dir/m: No such file or directory"
	)
	cd "$T"
	expect_failures 1 partition "${cases[@]}"
}

@test "partition --on-bad-line: fail, skip and raw, with and without --quiet" {
	printf '[2024-01-01T00:00:00.000 | a | 0 | 0] one\n[my_topic | 1 | 2 | 3] bad\n[2024-01-01T00:00:00.000 | b | 0 | 0] two\n' >"$T/in"
	local -a cases=(
		# options|status|messages written|a line of stderr
		"|1|one|in: line 2: column 21: too many meta fields"
		"--on-bad-line fail|1|one|in: line 2: column 21: too many meta fields"
		"--on-bad-line skip|1|one two|in: line 2: column 21: too many meta fields (skipped)"
		"--on-bad-line skip -q|0|one two|skipped: 1"
		"--on-bad-line raw|0|(below)|in: 1 lines taken raw"
	)
	local c opts st msgs want
	for c in "${cases[@]}"; do
		IFS='|' read -r opts st msgs want <<<"$c"
		rm -f "$T"/o.*
		# shellcheck disable=SC2086
		runf partition -n 2 $opts -i "$T/in" "$T/o.%d"
		assert_equal "$opts: status $status" "$opts: status $st"
		grep -qF -- "$want" "$T/err" || fail "$opts: stderr: $(cat "$T/err")"
		[ "$(cat "$T"/o.* | sed 's/^[^]]*\] //' | sort | tr '\n' ' ')" = "$(tr ' ' '\n' <<<"$msgs" | sort | tr '\n' ' ')" ] ||
			[ "$opts" = "--on-bad-line raw" ] ||
			fail "$opts: wrote $(cat "$T"/o.*)"
	done
	# raw: the whole bad line is the payload of a broadcast message
	grep -qF '| broadcast | 0 | ' "$T"/o.* || fail "raw: $(cat "$T"/o.*)"
	[ "$(cat "$T"/o.* | wc -l)" -eq 3 ] || fail "raw: $(cat "$T"/o.*)"
	grep -qF '] [my_topic | 1 | 2 | 3] bad' "$T"/o.* || fail "raw: $(cat "$T"/o.*)"
}

@test "partition: a failure leaves .ss outputs without an End-of-Stream, holding what came before; --append continues them" {
	printf '[2024-01-01T00:00:00.000 | k%d | 0 | 0] before\n' 1 2 3 4 5 6 >"$T/in"
	printf '[my_topic | 1 | 2 | 3] bad\n[2024-01-01T00:00:00.000 | k7 | 0 | 0] after\n' >>"$T/in"
	runf partition -n 2 -i "$T/in" "$T/o.%d.ss"
	assert_equal "$status" 1
	local i
	for i in 0 1; do
		run "$SS_TSV" -v "$T/o.$i.ss"
		assert_success
		assert_output --regexp $'(^|\n)end [0-9]+$'
		refute_output --partial "$EOS_KEY"
		refute_output --partial 6166746572	# "after"
	done
	[ "$( { "$SS_TSV" "$T/o.0.ss"; "$SS_TSV" "$T/o.1.ss"; } | grep -c 6265666f7265)" -eq 6 ] ||
		fail "not the 6 messages before the bad line"
	printf '[2024-01-01T00:00:00.000 | k8 | 0 | 0] more\n' | partition -n 2 --append "$T/o.%d.ss"
	for i in 0 1; do
		ss_msgs "$T/o.$i.ss" >/dev/null
	done
	[ "$( { ss_msgs "$T/o.0.ss"; ss_msgs "$T/o.1.ss"; } | wc -l)" -eq 7 ] || fail "not 7 messages after --append"
}

@test "partition --stats: one JSON object at the end with the right counts" {
	printf '[2024-01-01T00:00:00.000 | k%d | 0 | 0] msg\n' 1 2 3 4 5 6 7 8 9 10 >"$T/in"
	printf '[2024-01-01T00:00:01.000 | %s | 0 | 0] EOS\n' "$EOS_KEY" >>"$T/in"
	runf partition -n 3 --stats -i "$T/in" "$T/o.%d"
	assert_equal "$status" 0
	grep '^{' "$T/err" | jq -e '.program == "partition" and .in == 11 and .out == 10 and
	    .bytes == 30 and .skipped == 0' >/dev/null || fail "stats: $(cat "$T/err")"
}

@test "partition: usage errors exit 2 with a message and create nothing" {
	local -a cases=(
		"|-n: the number of partitions is needed"
		"o.%d|-n: the number of partitions is needed"
		"-n 0 o.%d|partition count '0' is too small"
		"-n 65537 o.%d|partition count '65537' is too large"
		"-n x o.%d|partition count 'x' is invalid"
		"-n 2 o|template 'o' has no %d for the partition number"
		"-n 2 o.%%d|template 'o.%%d' has no %d"
		"-n 2 o.%x.%d|template: '%x' is not %d or %%"
		"-n 2 o.%d%|template: '% ' is not %d or %%"
		"-n 2 o.%d.%x|template: '%x' is not %d or %%"
		"-n 1 o%x|template: '%x' is not %d or %%"
		"-n 2|usage: partition"
		"-n 2 a.%d b.%d|usage: partition"
		"-n 2 --exec cat o.%d|usage: partition"
		"-n 2 --hash md5 o.%d|--hash: 'md5' is not jump or kafka"
		"-n 2 --key user o.%d|--key: 'user' is not stream, shard or field:NAME"
		"-n 2 --key field: o.%d|--key: 'field:' is not"
		"-n 2 --missing m o.%d|--missing goes with --key field:NAME"
		"-n 2 --append --force o.%d|--append and --force do not go together"
		"-n 2 --restart 1001 --exec cat|--restarts '1001' is too large"
		"-n 2 --restart -1 --exec cat|--restarts '-1' is too small"
		"-n 2 --on-bad-line maybe o.%d|--on-bad-line: 'maybe'"
		"-n 2 --beacon-interval 127 o.%d|beacon interval '127'"
		"-n 2 --stats-interval 5q o.%d|--stats-interval: bad duration"
		"-n 2 --bogus o.%d|unrecognized option"
		"-n|requires an argument"
	)
	cd "$T"
	expect_failures 2 partition "${cases[@]}"
	[ "$(ls "$T")" = "$(printf 'err\nout')" ] || fail "created $(ls "$T")"
}
