#!/usr/bin/env bats
# Positioning (ls_ss_seek through ss-tsv -s): for tables of targets, the
# messages read after positioning are exactly those a linear scan of the
# whole decode gives: for seq:S the first message (of the named stream if
# any) with sequence >= S and every message after it in file order, for
# time:T likewise with timestamp > T; for beacon:N the first message that
# starts after beacon N, whose offset comes from the independent reader
# tests/ref/ssref.py.

load helper

# Files: two vectors, and a generated file of 20000 messages over 30
# streams (10 keys x 3 shards; monotone sequences with gaps, non-decreasing
# timestamps with ties) written with interval 1024 (one item per beacon: a
# search without a stream cannot use the beacons) and with interval 32768
# (every beacon names every stream).
setup_file() {
	local D=$BATS_FILE_TMPDIR
	awk -v n=20000 'BEGIN {
		srand(7)
		pool = ""
		for (i = 0; i < 120; i++) pool = pool sprintf("%02x", 97 + (i * 7) % 26)
		ts = 1700000000000
		for (i = 0; i < n; i++) {
			k = int(rand() * 30)
			seq[k] += 1 + int(rand() * 3)
			ts += int(rand() * 3)
			len = int(rand() * 110)
			printf "key-%d\t%d\t%.0f\t%.0f\t%s\n", int(k / 3), k % 3, seq[k], ts,
			    substr(pool, 1, 2 * len)
		}
		printf "SEA_STREAMER_INTERNAL\t0\t0\t%.0f\t454f53\n", ts + 1
	}' >"$D/gen.tsv"
	"$LS_TOOLS/ss-build" -n gen -c 1700000000000 -i 1024 "$D/gen-1024.ss" <"$D/gen.tsv"
	"$LS_TOOLS/ss-build" -n gen -c 1700000000000 -i 32768 "$D/gen-32768.ss" <"$D/gen.tsv"
	cp "$VEC/many-streams.ss" "$VEC/rotate-2048.ss" "$D/"
	local f
	for f in gen-1024 gen-32768 many-streams rotate-2048; do
		"$LS_TOOLS/ss-tsv" "$D/$f.ss" >"$D/$f.full"
	done
	# message start offsets, one a line, from the reference reader
	python3 -c '
import sys
sys.path.insert(0, sys.argv[1])
import ssref
for path in sys.argv[2:]:
    r = ssref.parse(open(path + ".ss", "rb").read())
    assert not r["truncated"]
    with open(path + ".starts", "w") as f:
        f.write("".join("%d\n" % s for s in r["starts"]))
' "$REPO/tests/ref" "$D/gen-1024" "$D/gen-32768" "$D/many-streams" \
		"$D/rotate-2048"
}

setup() {
	ls_setup
	D=$BATS_FILE_TMPDIR
}

# targets FILE: the table of seq and time targets for FILE, one a line,
# "seq S", "seq S KEY SHARD", "time T", "time T KEY SHARD": taken from
# messages at several places of the file (S and T of that message, T - 1,
# with and without its stream), plus fixed extremes.
targets() {
	awk -F '\t' '
	$1 ~ /^(end|partial|corrupt)$/ || NF < 5 { next }
	{ k[NR] = $1; sh[NR] = $2; sq[NR] = $3; t[NR] = $4; n = NR }
	END {
		split("1 2 3 50 " int(n / 7) " " int(n / 3) " " int(n / 2) " " \
		    int(2 * n / 3) " " (n - 3) " " (n - 1) " " n, at, " ")
		for (i = 1; i in at; i++) {
			p = at[i]
			print "seq " sq[p]
			print "seq " sq[p] " " k[p] " " sh[p]
			print "time " t[p]
			printf "time %.0f\n", t[p] - 1
			print "time " t[p] " " k[p] " " sh[p]
			printf "time %.0f %s %s\n", t[p] - 1, k[p], sh[p]
		}
		print "seq 0"
		print "seq 1"
		print "seq 18446744073709551615"
		print "seq 18446744073709551615 " k[1] " " sh[1]
		print "seq 0 SEA_STREAMER_INTERNAL 0"
		print "seq 0 no-such-stream 0"
		print "time 0"
		print "time 18446744073709551615"
		print "time 0 " k[2] " " sh[2]
	}' "$D/$1.full"
}

# expected FILE <targets: "TARGET INDEX" for each target, INDEX the line of
# FILE.full where a linear scan finds the first match (the trailer line if
# none).
expected() {
	awk "$AWK_LIB"'
	FILENAME != FULL {
		nt++; split($0, a, " ")
		kind[nt] = a[1]; val[nt] = a[2]; key[nt] = a[3]; shard[nt] = a[4]
		line[nt] = $0; hit[nt] = 0
		next
	}
	{
		split($0, f, "\t")
		if ($0 ~ /^(end|partial|corrupt) /) {
			for (i = 1; i <= nt; i++) if (!hit[i]) hit[i] = FNR
			next
		}
		for (i = 1; i <= nt; i++) {
			if (hit[i]) continue
			if (key[i] != "" && (f[1] != key[i] || f[2] != shard[i])) continue
			if (kind[i] == "seq" ? ge(f[3], val[i]) : gt(f[4], val[i]))
				hit[i] = FNR
		}
	}
	END { for (i = 1; i <= nt; i++) print line[i] "\t" hit[i] }
	' FS='\t' FULL="$D/$1.full" - "$D/$1.full"
}

# check_targets FILE: ss-tsv -s for every target of targets FILE gives the
# tail of FILE.full from the expected line. (The loop runs in a plain bash,
# outside bats' per-command tracing, and prints one line per mismatch.)
check_targets() {
	local f=$1
	targets "$f" | expected "$f" >"$T/expected"
	sample <"$T/expected" >"$T/sample"
	run bash -c '
	f=$1 D=$2 T=$3 SS_TSV=$4
	while IFS=$'"'\\t'"' read -r target idx; do
		read -r kind val key shard <<<"$target"
		pos="$kind:$val"
		[ -z "$key" ] || pos="$pos@$key/$shard"
		"$SS_TSV" -s "$pos" "$D/$f.ss" >"$T/out" && st=0 || st=$?
		if [ "$st" -ne 0 ]; then
			echo "$pos: status $st: $(tail -n 1 "$T/out")"
		elif ! tail -n "+$idx" "$D/$f.full" | cmp -s - "$T/out"; then
			echo "$pos: want from line $idx of the full decode" \
			    "($(sed -n "${idx}p" "$D/$f.full" | cut -c 1-60))," \
			    "got $(($(wc -l <"$T/out") - 1)) messages from" \
			    "$(head -n 1 "$T/out" | cut -c 1-60)"
		fi
	done <"$T/sample"' _ "$f" "$D" "$T" "$SS_TSV"
	assert_success
	assert_output ""
	[ "$(wc -l <"$T/expected")" -ge 40 ] || fail "only a few targets"
	# the table reaches both ends: some targets match the first message,
	# some nothing
	cut -f 2 "$T/expected" | grep -qx 1 || fail "no target at the first message"
	cut -f 2 "$T/expected" | grep -qx "$(wc -l <"$D/$f.full")" ||
		fail "no target past the end"
}

# check_beacons FILE: beacon:N for N = 0, 1, 2, some in the middle and the
# last starts at the first message that starts after N*I; beacon:N past the
# end is an error; start and end.
check_beacons() {
	local f=$1 size iv last n idx
	size=$(fsize "$D/$f.ss")
	iv=$("$SS_DECODE" -m -H "$D/$f.ss" | head -n 1 | sed -E 's/.*"beacon_interval":([0-9]+)\}$/\1/')
	[[ $iv =~ ^[0-9]+$ ]] || fail "no interval: $iv"
	last=$(((size - 1) / iv))
	[ "$last" -ge 3 ] || fail "$f: only $last beacons"
	runf "$SS_TSV" -s start "$D/$f.ss"
	cmp -s "$D/$f.full" "$T/out" || fail "$f: start is not the whole file"
	# end: after the last message but a trailing End-of-Stream
	runf "$SS_TSV" -s end "$D/$f.ss"
	assert_equal "$status" 0
	if tail -n 2 "$D/$f.full" | head -n 1 | grep -q "^$EOS_KEY	"; then
		assert_equal "$(<"$T/out")" "$(tail -n 2 "$D/$f.full")"
	else
		assert_equal "$(<"$T/out")" "$(tail -n 1 "$D/$f.full")"
	fi
	for n in 0 1 2 3 $((last / 3)) $((last / 2)) $((last - 2)) $((last - 1)) "$last"; do
		if [ "$n" -eq 0 ]; then
			idx=1
		else
			idx=$(awk -v b=$((n * iv)) '$1 > b { print NR; exit }' "$D/$f.starts")
			[ -n "$idx" ] || idx=$(wc -l <"$D/$f.full")
		fi
		runf "$SS_TSV" -s "beacon:$n" "$D/$f.ss"
		assert_equal "$f beacon:$n: status $status" "$f beacon:$n: status 0"
		tail -n "+$idx" "$D/$f.full" | cmp -s - "$T/out" ||
			fail "$f beacon:$n: want from line $idx, got $(($(wc -l <"$T/out") - 1)) messages"
	done
	for n in $((last + 1)) $((last + 2)) 1000000; do
		runf "$SS_TSV" -s "beacon:$n" "$D/$f.ss"
		assert_equal "$f beacon:$n: status $status" "$f beacon:$n: status 1"
		run cat "$T/out"
		assert_output --regexp '^error [0-9]+ .'
	done
}

@test "positioning: the generated file is what it should be" {
	assert_equal "$(wc -l <"$D/gen.tsv")" 20001
	# the decode is the input, ending at the end
	{ cat "$D/gen.tsv"; echo "end $(fsize "$D/gen-1024.ss")"; } >"$T/want"
	cmp -s "$T/want" "$D/gen-1024.full" || fail "gen-1024 does not decode to its input"
	assert_equal "$(cut -f 1,2 "$D/gen.tsv" | sort -u | wc -l)" 31
	# per stream, sequences increase; timestamps never decrease
	run awk -F '\t' '($1 "/" $2) in last && $3 + 0 <= last[$1 "/" $2] + 0 { print "seq " NR }
		$4 + 0 < ts { print "ts " NR } { last[$1 "/" $2] = $3; ts = $4 + 0 }' "$D/gen.tsv"
	assert_output ""
	# both verify
	runf "$SS_TSV" -v "$D/gen-1024.ss"
	assert_equal "$status" 0
	runf "$SS_TSV" -v "$D/gen-32768.ss"
	assert_equal "$status" 0
	assert_equal "$(sed '$d' "$D/gen-32768.full" | cmp - "$D/gen.tsv" && echo same)" same
}

@test "positioning: many-streams.ss, seq and time targets" { check_targets many-streams; }
@test "positioning: many-streams.ss, beacons, start and end" { check_beacons many-streams; }
@test "positioning: rotate-2048.ss, seq and time targets" { check_targets rotate-2048; }
@test "positioning: rotate-2048.ss, beacons, start and end" { check_beacons rotate-2048; }
@test "positioning: generated, interval 1024, seq and time targets" { check_targets gen-1024; }
@test "positioning: generated, interval 1024, beacons, start and end" { check_beacons gen-1024; }
@test "positioning: generated, interval 32768, seq and time targets" { check_targets gen-32768; }
@test "positioning: generated, interval 32768, beacons, start and end" { check_beacons gen-32768; }

@test "positioning: a pipe cannot be positioned, but start reads it" {
	cat "$VEC/consumer.ss" | "$SS_TSV" -s seq:5 /dev/stdin >"$T/out" && status=0 || status=$?
	assert_equal "$status" 1
	run cat "$T/out"
	assert_output --regexp '^error [0-9]+ .'
}
