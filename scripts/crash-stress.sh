#!/usr/bin/env bash
# crash-stress.sh [TRIALS] [SEED]: kills relay with SIGKILL while it writes
# a file, checks that what it left reads back as a prefix of its input,
# continues the file with `relay --append` from the first message missing,
# and checks that the file then reads back as the whole input, once, in
# order. TRIALS (default 200) alternate line files and .ss files, every
# fourth .ss file with a beacon interval of 128 or 256 bytes so that
# messages are spliced; SEED (default from the clock) makes the inputs and
# the kill points. The commands are taken from $LS_BIN (default bin/ of
# this tree). Ends with "crash-stress: N trials, N failed"; exit status 1
# if a trial failed, 2 on a usage error.
#
# Each failed trial is reported with its number and the seed, and its
# files are kept in the directory named: in (the input), crashed (the file
# as the kill left it), out.txt or out.ss (the file after --append), rest
# (what --append was given) and the standard error of each step (*.err).
#
# The input is a regular file, not a throttled pipe. relay writes its
# output out before each read of its input, and from a pipe it reads at
# most 64 KiB, so every write would end on a message boundary and only a
# write cut short by the kill itself would leave part of a message. From a
# file it reads 256 KiB, and as the input spells the meta compactly
# ([2026-01-01T00:00:07|k3|17]) while relay writes it in full, the output
# of one read overflows relay's 256 KiB buffer, which is then written out,
# for a .ss file or a long line in the middle of a message; a message
# longer than the buffer is written out alone, before the bytes that end
# it. The kill is aimed at a random count of bytes written (wchar in
# /proc/PID/io), so that it follows such a write closely, whatever the
# speed of the build and the load of the machine.
set -u
export LC_ALL=C
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${LS_BIN:-$here/bin}
relay=$bin/relay
ss_decode=$bin/ss-decode
EOS_KEY=SEA_STREAMER_INTERNAL

usage() {
	echo "usage: crash-stress.sh [trials] [seed]" >&2
	exit 2
}

# gen DIR T HUGE: trial T's input in DIR/in, its meta spelt compactly, and
# the lines relay writes of it in DIR/want: 10000 to 30000 messages of 2
# to 6 keys k0..., each key's sequence from 0, 100 messages a second from
# 2026-01-01T00:00:00, payloads "payload-<number>-" padded with x: most
# to 0-30 bytes (so that relay's output grows well beyond its input), one
# in 5 to 150-400 bytes, one in 200 to up to 4000, and one in 4000 to 0.4
# to 1 times HUGE bytes (from 268 KB, more than relay's buffer, which it
# writes out at once).
gen() {
	awk -v seed="$seed" -v t="$2" -v dir="$1" -v huge="$3" '
	BEGIN {
		srand(seed * 1000 + t)
		n = 10000 + int(rand() * 20000)
		keys = 2 + t % 5
		x = "x"
		while (length(x) < huge)
			x = x x
		for (i = 0; i < n; i++) {
			k = int(rand() * keys)
			q = seq[k]++
			s = int(i / 100)
			ts = sprintf("2026-01-01T%02d:%02d:%02d", int(s / 3600),
			    int(s / 60) % 60, s % 60)
			r = rand()
			len = r < 0.00025 ? huge * (0.4 + rand() * 0.6) : \
			    r < 0.005 ? rand() * 4000 : \
			    r < 0.2 ? 150 + rand() * 250 : rand() * 30
			p = "payload-" i "-"
			p = p substr(x, 1, int(len) - length(p))
			printf "[%s|k%d|%d] %s\n", ts, k, q, p >dir "/in"
			printf "[%s.000 | k%d | %d | 0] %s\n", ts, k, q, p \
			    >dir "/want"
		}
	}'
}

# read_wchar PID: sets WCHAR to the bytes process PID has written; fails
# once the process is gone.
read_wchar() {
	local io=
	read -r -d '' -N 200 io 2>/dev/null <"/proc/$1/io"
	[[ $io == *"wchar: "* ]] || return 1
	io=${io#*wchar: }
	WCHAR=${io%%$'\n'*}
}

# crash DIR OUT ARGS...: relay ARGS -o OUT on DIR/in, killed once it has
# written a random count of bytes, from none to a twentieth more than the
# whole output (so that some runs end before the kill). Sets ENDED to 1 if
# relay ended by itself, and fails if it did with an error.
crash() {
	local dir=$1 out=$2 size target pid rc end=$((SECONDS + 60))
	shift 2
	# about the size of the output: .ss is close to the compact input
	size=$(stat -c %s "$dir/$([[ $out == *.ss ]] && echo in || echo want)")
	target=$(((RANDOM * 32768 + RANDOM) % (size + size / 20 + 1)))
	"$relay" "$@" -o "$out" <"$dir/in" >/dev/null 2>"$dir/crash.err" &
	pid=$!
	# a read from the FIFO $nap, which never has data, sleeps some 0.1 ms
	# without a fork, so that the loop does not take a whole core
	while read_wchar "$pid"; do
		if [ "$WCHAR" -ge "$target" ] || [ "$SECONDS" -ge "$end" ]; then
			kill -9 "$pid" 2>/dev/null
			break
		fi
		read -r -t 0.00001 -u "$nap" _
	done
	{ wait "$pid"; } 2>/dev/null
	rc=$?
	ENDED=0
	[ "$rc" -eq 137 ] && return 0
	ENDED=1
	[ "$rc" -eq 0 ] || why="relay exited $rc: $(head -c 300 "$dir/crash.err")"
	[ "$rc" -eq 0 ]
}

# check_ss_prefix DIR OUT: the .ss file OUT, read back by relay, is the
# first COMPLETE lines of DIR/want, all of them if it ends with an
# End-of-Stream message or relay ended (a kill may land after the last
# write); sets COMPLETE, and CUT to 1 if the file ends in a message.
check_ss_prefix() {
	local dir=$1 out=$2 rc eos
	COMPLETE=0 CUT=0
	[ -e "$out" ] || return 0
	timeout 60 "$relay" -i "$out" >"$dir/got" 2>"$dir/got.err"
	rc=$?
	[ "$rc" -eq 0 ] || { why="reading it back exited $rc"; return 1; }
	if grep -q 'truncated at byte' "$dir/got.err"; then
		CUT=1
	elif [ -s "$dir/got.err" ]; then
		why="reading it back: $(head -c 300 "$dir/got.err")"
		return 1
	fi
	eos=0
	if tail -n 1 "$dir/got" | grep -q "^\[[^]]* | $EOS_KEY |"; then
		eos=1
		sed -i '$d' "$dir/got"
	fi
	COMPLETE=$(wc -l <"$dir/got")
	head -n "$COMPLETE" "$dir/want" | cmp -s - "$dir/got" ||
	    { why="read back, not a prefix of the input"; return 1; }
	if { [ "$ENDED" -eq 1 ] || [ "$eos" -eq 1 ]; } &&
	    [ "$COMPLETE" -ne "$(wc -l <"$dir/want")" ]; then
		why="an End-of-Stream message or relay's end after $COMPLETE"
		return 1
	fi
}

# check_lines_prefix DIR OUT: the line file OUT is a prefix of DIR/want, byte
# for byte and read back by relay, who may report or return cut the last
# line if it lacks its newline; sets COMPLETE to the number of whole lines
# and CUT to 1 if a part of a line follows.
check_lines_prefix() {
	local dir=$1 out=$2 rc
	COMPLETE=0 CUT=0
	[ -e "$out" ] || return 0
	cmp -s -n "$(stat -c %s "$out")" "$out" "$dir/want" ||
	    { why="not a byte prefix of the input"; return 1; }
	COMPLETE=$(wc -l <"$out")
	[ "$(tail -c 1 "$out" | od -An -tx1)" = " 0a" ] || [ ! -s "$out" ] ||
		CUT=1
	timeout 60 "$relay" -i "$out" >"$dir/got" 2>"$dir/got.err"
	rc=$?
	if [ "$rc" -ne 0 ] && { [ "$CUT" -eq 0 ] ||
	    ! grep -q "line $((COMPLETE + 1)):" "$dir/got.err"; }; then
		why="reading it back exited $rc: $(head -c 300 "$dir/got.err")"
		return 1
	fi
	head -n "$COMPLETE" "$dir/got" | cmp -s - <(head -n "$COMPLETE" \
	    "$dir/want") || { why="read back, not a prefix of the input"; return 1; }
	case $(($(wc -l <"$dir/got") - COMPLETE)) in
	0) return 0 ;;
	1) [ "$CUT" -eq 1 ] || { why="a message read back twice"; return 1; } ;;
	*) why="more messages read back than written"; return 1 ;;
	esac
	tail -n 1 "$dir/got" >"$dir/got.last"
	sed -n "$((COMPLETE + 1))p" "$dir/want" >"$dir/want.last"
	cmp -s -n "$(($(stat -c %s "$dir/got.last") - 1))" "$dir/got.last" \
	    "$dir/want.last" || { why="cut last line read back as\
 '$(head -c 80 "$dir/got.last")'"; return 1; }
}

# check_appended DIR OUT KIND ARGS...: relay --append ARGS -o OUT, given
# DIR/in from message COMPLETE + 1 on, exits 0, reports the dropped part
# of a file cut inside a line or message (and nothing else); OUT then reads back as DIR/want (and an
# End-of-Stream message for a .ss file), with nothing on standard error.
check_appended() {
	local dir=$1 out=$2 kind=$3 rc
	shift 3
	tail -n "+$((COMPLETE + 1))" "$dir/in" >"$dir/rest"
	[ ! -e "$out" ] || cp "$out" "$dir/crashed"
	timeout 60 "$relay" --append "$@" -o "$out" <"$dir/rest" \
	    >/dev/null 2>"$dir/append.err"
	rc=$?
	[ "$rc" -eq 0 ] || { why="--append exited $rc: $(head -c 300 \
	    "$dir/append.err")"; return 1; }
	timeout 60 "$relay" -i "$out" >"$dir/final" 2>"$dir/final.err"
	rc=$?
	if [ "$rc" -ne 0 ] || [ -s "$dir/final.err" ]; then
		why="after --append, reading it back exited $rc: $(head -c 300 \
		    "$dir/final.err")"
		return 1
	fi
	if [ "$kind" = ss ]; then
		tail -n 1 "$dir/final" | grep -q "^\[[^]]* | $EOS_KEY | 0 | 0] EOS$" ||
		    { why="after --append, no End-of-Stream at the end"; return 1; }
		sed -i '$d' "$dir/final"
		timeout 60 "$ss_decode" --verify "$out" >/dev/null 2>"$dir/verify.err" ||
		    { why="after --append, ss-decode --verify: $(head -c 300 \
		    "$dir/verify.err")"; return 1; }
	fi
	cmp -s "$dir/want" "$dir/final" || { why="after --append, not the input\
 once: $(cmp "$dir/want" "$dir/final" 2>&1 | sed 's/.*differ: //')"
		return 1
	}
	# a cut line is always reported; a cut .ss file's partial message
	# too, unless the kill left it ending on a beacon
	if [ "$kind" = lines ] && [ "$CUT" -eq 1 ] && [ ! -s "$dir/append.err" ]; then
		why="--append did not report the cut last line"
		return 1
	fi
	if [ -s "$dir/append.err" ] && { [ "$CUT" -ne 1 ] ||
	    ! grep -qx "relay: $out: byte [0-9]*: dropped an incomplete tail of [0-9]* bytes\{0,1\} before appending" \
	    "$dir/append.err"; }; then
		why="--append: $(head -c 300 "$dir/append.err")"
		return 1
	fi
}

# trial T: one crash and append, in $work/trial-T, which is left there if
# the trial fails; counts where the kill landed. With a small beacon
# interval the largest messages are kept to 48 KB, because --append takes
# a time that grows with the square of the beacons that cut the message
# it ends in.
trial() {
	local t=$1 dir=$work/trial-$1 kind=ss name=out.ss args=() huge=670000
	case $((t % 8)) in
	4) args=(--beacon-interval 128) huge=48000 ;;
	0) args=(--beacon-interval 256) huge=48000 ;;
	esac
	[ $((t % 2)) -eq 0 ] || kind=lines name=out.txt
	mkdir -p "$dir"
	RANDOM=$((seed * 1000 + t))
	why='' ENDED=0 CUT=0
	gen "$dir" "$t" "$huge" && crash "$dir" "$dir/$name" "${args[@]}" &&
	    "check_${kind}_prefix" "$dir" "$dir/$name" &&
	    check_appended "$dir" "$dir/$name" "$kind" "${args[@]}"
	local rc=$?
	if [ "$ENDED" -eq 1 ]; then
		ended=$((ended + 1))
	elif [ "$CUT" -eq 1 ]; then
		cut[$kind]=$((cut[$kind] + 1))
	else
		between=$((between + 1))
	fi
	if [ "$rc" -ne 0 ]; then
		# what gen and a read make again
		rm -f "$dir"/{want,want.last,got,got.last,final}
		echo "crash-stress: trial $t (seed $seed, $name ${args[*]}):" \
		    "${why:-failed}; files in $dir" | sed 's/ )/)/' >&2
		return 1
	fi
	rm -rf "$dir"
}

trials=${1:-200}
seed=${2:-$(($(date +%s) % 100000))}
# (awk's srand takes seed * 1000 + T below 2^31)
[[ $trials =~ ^[0-9]{1,6}$ && $seed =~ ^[0-9]{1,6}$ && $# -le 2 ]] || usage
if [ ! -x "$relay" ] || [ ! -x "$ss_decode" ]; then
	echo "crash-stress: no $relay or $ss_decode (LS_BIN)" >&2
	exit 2
fi
[ -r /proc/self/io ] ||
	{ echo "crash-stress: needs /proc/PID/io to aim the kills" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/crash-stress.XXXXXX") || exit 2
mkfifo "$work/nap" && exec {nap}<>"$work/nap" || exit 2
echo "crash-stress: $trials trials, seed $seed, $relay"
failed=0 between=0 ended=0
declare -A cut=([lines]=0 [ss]=0)
for ((t = 1; t <= trials; t++)); do
	trial "$t" || failed=$((failed + 1))
done
echo "crash-stress: killed inside a message ${cut[lines]} times in a line" \
    "file and ${cut[ss]} in a .ss file, between messages $between," \
    "after the end $ended"
if [ "$failed" -gt 0 ]; then
	echo "crash-stress: the files of the failed trials are in $work"
else
	rm -rf "$work"
fi
rm -f "$work/nap"
echo "crash-stress: $trials trials, $failed failed"
[ "$failed" -eq 0 ]
