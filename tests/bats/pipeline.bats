#!/usr/bin/env bats
# pipeline: topologies of our commands joined by FIFOs, checked before
# anything starts, run and stopped in order (every message a source
# emitted written once by the last stage), restarted as their policy
# says, printed as a shell script and as dot.

load helper

BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-60}

setup() {
	ls_setup
	PIPELINE=$LS_BIN/pipeline
	[ -x "$PIPELINE" ] || fail "$PIPELINE is missing: run 'make' (LS_BIN)"
	# the FIFOs' directories go here, to be seen removed
	export TMPDIR=$T/tmp
	mkdir -p "$TMPDIR"
	cd "$T" || fail "no $T"
}

# pipeline, and its stages: each runs in a session (and process group) of
# its own, so a failed test must kill their groups too.
teardown() {
	local k kids
	[ -n "${PP:-}" ] || return 0
	kids=$(pgrep -P "$PP")
	kill -KILL "$PP" 2>/dev/null
	for k in $kids; do
		kill -KILL -- "-$k" 2>/dev/null || kill -KILL "$k" 2>/dev/null
	done
	return 0
}

# seqs FILE: the sequence numbers of the lines of FILE, sorted.
seqs() {
	awk -F' [|] ' '{ print $3 }' "$1" | sort -n
}

# contiguous N FILE: FILE holds sequence numbers 0 to N-1, each once.
contiguous() {
	diff <(seq 0 $(($1 - 1))) <(seqs "$2")
}

# The topology of the issue: clock, partition into four, four workers,
# one relay that merges them into out.txt. $1: the clock's options.
fan_topology() {
	cat >topo <<-EOF2
	# clock -> partition -n 4 -> four relays -> one relay
	clock --interval 1ms $1 > @ticks
	partition -n 4 --key field:tick -i @ticks @w%d
	relay -i @w0 -o @m0
	relay -i @w1 -o @m1
	relay -i @w2 \\
	    -o @m2   # [name=third]
	relay -i @w3 -o @m3
	relay -i @m0 -i @m1 -i @m2 -i @m3 -o out.txt
	EOF2
}

# sigterm_topology WORKER: clock, its ticks copied by fanout to all.txt
# (what it emitted) and to partition, four WORKERs (@IN and @OUT in it
# replaced), one relay that merges them into out.txt.
sigterm_topology() {
	local k w
	{
		echo 'clock --interval 1ms | fanout @ticks @all'
		echo 'relay -i @all -o all.txt'
		echo 'partition -n 4 --key field:tick -i @ticks @w%d'
		for k in 0 1 2 3; do
			w=${1//@IN/@w$k}
			echo "${w//@OUT/@m$k}"
		done
		echo 'relay -i @m0 -i @m1 -i @m2 -i @m3 -o out.txt'
	} >topo
}

@test "SIGTERM stops the sources first: every tick once in the output, exit 0, no FIFO left" {
	sigterm_topology 'relay -i @IN -o @OUT'
	"$PIPELINE" topo 2>err &
	PP=$!
	wait_until 20 lines_at_least 50 out.txt || fail "no output"
	kill -TERM "$PP"
	# and again at once, as timeout(1) sends it: still the one stop
	kill -TERM "$PP" 2>/dev/null || :
	wait "$PP" && st=0 || st=$?
	PP=
	[ "$st" -eq 0 ] || fail "exit status $st"
	run cat err
	assert_output ""
	n=$(wc -l <all.txt)
	[ "$n" -ge 50 ] || fail "only $n lines"
	run contiguous "$n" all.txt
	assert_success
	run contiguous "$n" out.txt
	assert_success
	run ls -A "$TMPDIR"
	assert_output ""
}

@test "a pipeline whose source ends ends by itself: 300 ticks once each" {
	fan_topology "--count 300"
	run "$PIPELINE" topo
	assert_success
	assert_output ""
	run contiguous 300 out.txt
	assert_success
	run ls -A "$TMPDIR"
	assert_output ""
}

@test "a stage that fails twice is restarted under [restart=3] and nothing is lost" {
	# fails (a usage error, before it opens anything) on its first two runs
	cat >flaky.sh <<-'EOF2'
	n=$(($(cat runs 2>/dev/null || echo 0) + 1))
	echo "$n" >runs
	[ "$n" -gt 2 ] || echo --no-such-option
	EOF2
	cat >topo <<-EOF2
	clock --count 200 --interval 1ms > @ticks
	partition -n 2 --key field:tick -i @ticks @w%d
	relay -i @w0 -o @m0
	relay -i @w1 -o @m1 \$(sh $T/flaky.sh)   # [restart=3]
	relay -i @m0 -i @m1 -o out.txt
	EOF2
	run "$PIPELINE" topo
	assert_success
	out=$output
	run grep -c "relay: unrecognized option '--no-such-option'" <<<"$out"
	assert_output 2
	run grep '^pipeline:' <<<"$out"
	assert_output "pipeline: relay:4 (topo:4): exited with status 2; restart 1 of 3 in 100 ms
pipeline: relay:4 (topo:4): exited with status 2; restart 2 of 3 in 200 ms"
	[ "$(cat runs)" = 3 ] || fail "$(cat runs) runs"
	run contiguous 200 out.txt
	assert_success
}

@test "a stage that fails with no restart left fails the pipeline, which stops in order" {
	cat >topo <<-'EOF2'
	clock --interval 1ms > @ticks
	partition -n 2 --key field:tick -i @ticks @w%d
	relay -i @w0 -o a.txt
	relay -i @w1 -o b.txt --no-such-option   # [restart=1]
	EOF2
	run "$PIPELINE" topo
	assert_failure 1
	run grep '^pipeline:' <<<"$output"
	assert_line -n 0 "pipeline: relay:4 (topo:4): exited with status 2; restart 1 of 1 in 100 ms"
	assert_line -n 1 "pipeline: relay:4 (topo:4): exited with status 2"
	# partition may write to the output gone before the stop reaches
	# it: it fails then, and that is said too
	if [ "${#lines[@]}" -gt 2 ]; then
		assert_line -n 2 "pipeline: partition:2 (topo:2): exited with status 1"
		[ "${#lines[@]}" -eq 3 ] || fail "${#lines[@]} lines"
	fi
	run ls -A "$TMPDIR"
	assert_output ""
}

# invalid NAME TEXT MESSAGE: the topology TEXT is refused with MESSAGE,
# exit 2, and nothing started: no FIFO directory, no clock output.
invalid() {
	printf '%s\n' "$2" >"$1"
	run "$PIPELINE" "$1"
	assert_failure 2
	assert_output "pipeline: $3"
	run ls -A "$TMPDIR"
	assert_output ""
	[ ! -e started ] || fail "a stage was started"
}

@test "a connection with no reader starts nothing" {
	invalid noreader "clock -o started
clock > @a" "noreader:2: @a has no reader"
}

@test "a connection with no writer starts nothing" {
	invalid nowriter "clock -o started
# comment

relay -i @a -o x" "nowriter:4: @a has no writer"
}

@test "two writers of a connection start nothing" {
	invalid twowriters "clock -o @a
relay -i @a -o started
clock --count 1 > @a" "twowriters:3: @a has two writers (the other at twowriters:1)"
}

@test "a cycle starts nothing" {
	invalid cycle "clock -o started
relay -i @a -o @b
relay -i @b -o @c
relay -i @c -o @a" "cycle:2: relay:2 is on a cycle of connections"
}

@test "an unknown command starts nothing" {
	invalid unknown "clock -o started
relay -i @a | cat > @b" "unknown:2: cat: not one of our commands (batch, clock, fanout, partition, relay, ss-decode)"
}

@test "a connection that is neither read nor written starts nothing" {
	invalid unclear "clock -o started
batch --exec cat @a" "unclear:2: batch: cannot tell whether @a is read or written (put it after -i, -o, < or >)"
}

@test "a %d connection outside partition's template starts nothing" {
	invalid pct "clock -o @x%d" "pct:1: '@x%d': %d goes only in the template of a partition with -n"
}

@test "-e stages: a pipe of our commands inside a stage" {
	run "$PIPELINE" -e 'clock --count 20 --interval 1ms | relay -o @a' \
	    -e 'relay -i @a -o out.txt'
	assert_success
	run contiguous 20 out.txt
	assert_success
	run "$PIPELINE" -e 'relay -i @a'
	assert_failure 2
	assert_output "pipeline: -e:1: @a has no writer"
	# .ss through a FIFO, ss-decode's file read; the last stage's
	# output is pipeline's
	run "$PIPELINE" -e 'clock --count 3 --interval 1ms > @x' \
	    -e 'relay -i @x -o @s.ss' -e 'ss-decode --format ndjson @s.ss'
	assert_success
	[ "${#lines[@]}" -eq 4 ] || fail "${#lines[@]} lines"
	run jq -r '.payload | if type == "object" then .tick else . end' <<<"$output"
	assert_output "0
1
2
EOS"
}

@test "--dry-run prints a shell script that gives the same result" {
	fan_topology "--count 100"
	run "$PIPELINE" --dry-run topo
	assert_success
	assert_line -n 4 "mkfifo \"\$D\"/ticks \"\$D\"/w0 \"\$D\"/w1 \"\$D\"/w2 \"\$D\"/w3 \"\$D\"/m0 \"\$D\"/m1 \"\$D\"/m2 \"\$D\"/m3 || exit 1"
	assert_line "'$LS_BIN/relay' -i \"\$D\"/w2      -o \"\$D\"/m2 &"
	printf '%s\n' "$output" >run.sh
	run sh run.sh
	assert_success
	run contiguous 100 out.txt
	assert_success
	mv out.txt sh-out.txt
	run "$PIPELINE" topo
	assert_success
	diff <(seqs sh-out.txt) <(seqs out.txt)
}

@test "--graph prints the topology as dot" {
	fan_topology ""
	run "$PIPELINE" --graph topo
	assert_success
	assert_line -n 0 "digraph pipeline {"
	assert_line "	s0 [label=\"clock:2\", tooltip=\"clock --interval 1ms  > @ticks\"];"
	assert_line "	s4 [label=\"third\", tooltip=\"relay -i @w2      -o @m2\"];"
	assert_line "	s0 -> s1 [label=\"@ticks\"];"
	assert_line "	s1 -> s4 [label=\"@w2\"];"
	assert_line "	s4 -> s6 [label=\"@m2\"];"
	assert_line -n $((${#lines[@]} - 1)) "}"
	[ "$(grep -c ' -> ' <<<"$output")" -eq 9 ] || fail "not 9 edges"
	[ "$(grep -c 'label="[a-z]*:[0-9]*"\|label="third"' <<<"$output")" -eq 7 ] ||
	    fail "not 7 stages"
	if command -v dot >/dev/null; then
		printf '%s\n' "$output" | dot -Tsvg >/dev/null
	fi
}

@test "usage errors exit 2 and say why" {
	run "$PIPELINE"
	assert_failure 2
	assert_line -n 0 "pipeline: no topology: give a file or -e"
	run "$PIPELINE" --dry-run --graph -e 'clock'
	assert_failure 2
	assert_line -n 0 "pipeline: --dry-run and --graph do not go together"
	run "$PIPELINE" -n 2 - </dev/null
	assert_failure 2
	assert_line -n 0 "pipeline: '-' (standard input) is read once: it goes alone, without -e or -n"
	run "$PIPELINE" --dry-run -n 2 topo
	assert_failure 2
	assert_line -n 0 "pipeline: --dry-run prints one topology, not 2"
	# standard input alone is a topology file
	run "$PIPELINE" - <<<'relay -i @nobody'
	assert_failure 2
	assert_output "pipeline: -:1: @nobody has no writer"
}

@test "--rate 100/s: 50 messages take at least 0.45 s, each written once" {
	"$LS_BIN/clock" --count 50 --interval 1ms >in.txt
	start=$(date +%s%N)
	run "$LS_BIN/relay" --rate 100/s -i in.txt -o out.txt
	end=$(date +%s%N)
	assert_success
	ms=$(((end - start) / 1000000))
	[ "$ms" -ge 450 ] || fail "50 messages in $ms ms"
	run contiguous 50 out.txt
	assert_success
	# 6000/m is the same rate
	start=$(date +%s%N)
	run "$LS_BIN/partition" -n 2 --rate 6000/m -i in.txt p%d.txt
	end=$(date +%s%N)
	assert_success
	ms=$(((end - start) / 1000000))
	[ "$ms" -ge 450 ] || fail "50 messages in $ms ms"
	cat p0.txt p1.txt >both.txt
	run contiguous 50 both.txt
	assert_success
}

@test "--burst: the first messages of a burst pass at once, the rest at the rate" {
	"$LS_BIN/clock" --count 50 --interval 1ms >in.txt
	# 25 at once, then 25 at 50/s: at least 0.45 s
	start=$(date +%s%N)
	run "$LS_BIN/relay" --rate 50/s --burst 25 -i in.txt -o out.txt
	end=$(date +%s%N)
	assert_success
	ms=$(((end - start) / 1000000))
	[ "$ms" -ge 450 ] || fail "50 messages in $ms ms"
	run contiguous 50 out.txt
	assert_success
}

@test "--rate and --burst usage errors say why" {
	run "$LS_BIN/relay" --rate 5/h </dev/null
	assert_failure 2
	assert_line -n 0 "relay: --rate: '5/h' is not N/s or N/m"
	run "$LS_BIN/relay" --rate 0/s </dev/null
	assert_failure 2
	assert_line -n 0 "relay: --rate '0' is too small (1 to 1000000000)"
	run "$LS_BIN/batch" --burst 3 </dev/null
	assert_failure 2
	assert_line -n 0 "batch: --burst goes with --rate"
}

@test "--progress: a line redrawn in place when forced by LS_PROGRESS=1, nothing otherwise" {
	"$LS_BIN/clock" --count 3000 --interval 1ms >in.txt
	LS_PROGRESS=1 "$LS_BIN/relay" --progress -i in.txt -o out.txt 2>err
	[ "$(tail -c 1 err | od -An -c | tr -d ' ')" = '\n' ] || fail "no newline at the end"
	grep -q $'^\r' err || fail "not drawn with \\r: $(cat -v err)"
	last=$(tr '\r' '\n' <err | tail -n 1)
	[[ "$last" =~ ^[0-9.]+\ KiB\ of\ [0-9.]+\ KiB\ \(100%\),\ 3000\ messages,\ [0-9]+\ msg/s,\ ETA\ 0:00\ *$ ]] ||
	    fail "last line: $last"
	# not a terminal, not forced: nothing
	run "$LS_BIN/relay" --progress -i in.txt -o out2.txt
	assert_success
	assert_output ""
	# ss-decode
	"$LS_BIN/relay" -i in.txt -o in.ss
	LS_PROGRESS=1 "$LS_BIN/ss-decode" --progress in.ss 2>err >/dev/null
	last=$(tr '\r' '\n' <err | tail -n 1)
	[[ "$last" =~ \(100%\),\ 3001\ messages ]] || fail "ss-decode: $last"
	# standard input: a file has a size, a pipe has none (nothing)
	LS_PROGRESS=1 "$LS_BIN/relay" --progress <in.txt >/dev/null 2>err
	last=$(tr '\r' '\n' <err | tail -n 1)
	[[ "$last" =~ \(100%\),\ 3000\ messages ]] || fail "stdin: $last"
	cat in.txt | LS_PROGRESS=1 "$LS_BIN/relay" --progress >/dev/null 2>err
	[ ! -s err ] || fail "a pipe: $(cat -v err)"
}

@test "SIGTERM with four batch --exec workers: every tick once, exit 0" {
	sigterm_topology 'batch -i @IN -n 7 --exec cat > @OUT'
	"$PIPELINE" topo 2>err &
	PP=$!
	wait_until 20 lines_at_least 50 out.txt || fail "no output"
	kill -TERM "$PP"
	wait "$PP" && st=0 || st=$?
	PP=
	[ "$st" -eq 0 ] || fail "exit status $st: $(cat err)"
	n=$(wc -l <all.txt)
	run contiguous "$n" all.txt
	assert_success
	run contiguous "$n" out.txt
	assert_success
}

@test "several files and -n copies run under --max-running, each one's end reported" {
	cat >a.topo <<-'EOF2'
	clock --count 20 --interval 1ms > @t
	relay -i @t -o a%d.txt
	EOF2
	run "$PIPELINE" -n 3 --max-running 2 a.topo
	assert_success
	assert_line "pipeline: a.topo (copy 0): exited with status 0"
	assert_line "pipeline: a.topo (copy 1): exited with status 0"
	assert_line "pipeline: a.topo (copy 2): exited with status 0"
	[ "${#lines[@]}" -eq 3 ] || fail "${#lines[@]} lines"
	for k in 0 1 2; do
		run contiguous 20 "a$k.txt"
		assert_success
	done
	# one that fails: its output exists already
	cat >b.topo <<-'EOF2'
	clock --count 20 --interval 1ms > @t
	relay -i @t -o a0.txt
	EOF2
	cat >c.topo <<-'EOF2'
	clock --count 20 --interval 1ms > @t
	relay -i @t -o c.txt
	EOF2
	run "$PIPELINE" b.topo c.topo
	assert_failure 1
	assert_line "pipeline: b.topo: exited with status 1"
	assert_line "pipeline: c.topo: exited with status 0"
	run contiguous 20 c.txt
	assert_success
	# one invalid: none starts
	rm c.txt
	printf 'relay -i @x -o c.txt\n' >d.topo
	run "$PIPELINE" c.topo d.topo
	assert_failure 2
	assert_output "pipeline: d.topo:1: @x has no writer"
	[ ! -e c.txt ] || fail "c.topo was started"
}

# copies_topology: e.topo, a clock into a relay writing e<copy>.txt,
# until stopped.
copies_topology() {
	cat >e.topo <<-'EOF2'
	clock --interval 1ms > @t
	relay -i @t -o e%d.txt
	EOF2
}

# copies_whole MIN: e0.txt and e1.txt each hold the ticks from 0 on, at
# least MIN of them, none missing or twice.
copies_whole() {
	local k n
	for k in 0 1; do
		n=$(wc -l <"e$k.txt")
		[ "$n" -ge "$1" ] || fail "copy $k: only $n lines"
		run contiguous "$n" "e$k.txt"
		assert_success
	done
}

@test "-n copies under timeout(1): its signal, to pipeline and to the group, stops each copy once, exit 0" {
	copies_topology
	# timeout sends SIGTERM to pipeline and to its process group;
	# pipeline passes it on to each copy's runner
	run timeout --preserve-status -s TERM 2 "$PIPELINE" -n 2 e.topo
	assert_success
	assert_line "pipeline: e.topo (copy 0): exited with status 0"
	assert_line "pipeline: e.topo (copy 1): exited with status 0"
	copies_whole 10
	# one at a time: the copies not started yet are reported, status 1
	rm -f e?.txt
	run timeout --preserve-status -s TERM 2 "$PIPELINE" -n 3 \
	    --max-running 1 e.topo
	assert_failure 1
	assert_line "pipeline: e.topo (copy 0): exited with status 0"
	assert_line "pipeline: e.topo (copy 1): not started: stopped by a signal"
	assert_line "pipeline: e.topo (copy 2): not started: stopped by a signal"
	[ ! -e e1.txt ] || fail "copy 1 was started"
}

@test "-n copies: pipeline killed with SIGKILL, each copy stops as on SIGTERM, its FIFOs removed" {
	copies_topology
	"$PIPELINE" -n 2 e.topo 2>err &
	PP=$!
	wait_until 20 eval '[ -s e0.txt ] && [ -s e1.txt ]' || fail "no output"
	local runners
	runners=$(pgrep -P "$PP" | tr '\n' ' ')
	kill -KILL "$PP"
	wait "$PP" || :
	PP=
	# (if they are not stopped, this stops them, or bats waits for ever)
	wait_until 20 eval '[ -z "$(ls -A "$TMPDIR")" ]' || {
		kill -TERM $runners
		fail "FIFOs left: $(ls -A "$TMPDIR")"
	}
	copies_whole 1
	for r in $runners; do
		wait_until 20 eval '! kill -0 '"$r"' 2>/dev/null' ||
			fail "runner $r still running"
	done
}

# gone PID: no process PID is running (a zombie no one has reaped yet
# counts as gone).
gone() {
	! kill -0 "$1" 2>/dev/null || [[ "$(ps -o stat= -p "$1")" == Z* ]]
}

@test "pipeline killed with SIGKILL: its guard stops the source as on SIGTERM, the rest drain, the FIFOs go" {
	cat >k.topo <<-'EOF2'
	clock --interval 1ms > @t
	relay -i @t -o k.txt
	EOF2
	"$PIPELINE" k.topo 2>err &
	PP=$!
	wait_until 20 test -s k.txt || fail "no output"
	local kids n
	# the guard, clock and relay
	kids=$(pgrep -P "$PP" | tr '\n' ' ')
	kill -KILL "$PP"
	wait "$PP" || :
	PP=
	# (if they are not stopped, this stops them, or bats waits for ever)
	for k in $kids; do
		wait_until 20 gone "$k" || {
			kill -TERM $kids
			fail "$(ps -o comm= -p "$k") still running"
		}
	done
	[ -z "$(ls -A "$TMPDIR")" ] || fail "FIFOs left: $(ls -A "$TMPDIR")"
	# relay wrote every tick clock wrote, each once
	n=$(wc -l <k.txt)
	run contiguous "$n" k.txt
	assert_success
}

@test "--stats: one JSON line of every stage at the end" {
	run "$PIPELINE" --stats --stats-interval 0 \
	    -e 'clock --count 5 --interval 1ms > @a # [name=src]' \
	    -e 'relay -i @a -o out.txt # [restart=2]'
	assert_success
	[ "${#lines[@]}" -eq 1 ] || fail "${#lines[@]} lines"
	run jq -c '[.program, (.stages[] | [.name, .where, .pid, .state, .restarts, .status])]' <<<"$output"
	assert_success
	assert_output '["pipeline",["src","-e:1",0,"done",0,"exited with status 0"],["relay:2","-e:2",0,"done",0,"exited with status 0"]]'
}

@test "--max-running 1 runs the copies one after another: their ticks' times never overlap" {
	cat >m.topo <<-'EOF2'
	clock --count 8 --interval 25ms > @t
	relay -i @t -o m%d.txt
	EOF2
	run "$PIPELINE" -n 3 --max-running 1 m.topo
	assert_success
	# each copy's first and last tick time, in the order they started
	for k in 0 1 2; do
		run contiguous 8 "m$k.txt"
		assert_success
		awk -F' [|] ' 'NR == 1 { a = substr($1, 2) } { z = substr($1, 2) }
		    END { print a, z }' "m$k.txt"
	done | sort >spans
	[ "$(wc -l <spans)" -eq 3 ] || fail "$(cat spans)"
	run awk 'NR > 1 && $1 <= prev { print "overlap: " $0 " after " prev; exit 1 }
	    { prev = $2 }' spans
	assert_success
}
