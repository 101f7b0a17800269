#!/usr/bin/env bats
# The build itself: the Makefile rebuilds what a changed flag or header
# affects and nothing else, installs a .pc for the PREFIX it is given, and
# takes the version from one place. The tree (tracked files and untracked
# ones not ignored) is copied once into a temporary directory and built
# there with `make -j2`, plainly whichever build the suite runs against.

load helper

# mk ARGS...: make in the copy, at -O0 to keep the builds short, with
# none of an outer make's settings.
mk() {
	env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS \
	    make -C "$S" -j2 CFLAGS=-O0 "$@" >"$T/make.log" 2>&1 ||
	    fail "make $* failed: $(tail -n 20 "$T/make.log")"
}

# tree_files: the files of this tree, NUL-separated, relative to $REPO.
tree_files() {
	if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$REPO" ls-files -z -co --exclude-standard |
		    while IFS= read -r -d '' f; do
			[ -e "$REPO/$f" ] && printf '%s\0' "$f"
		    done
	else
		(cd "$REPO" && find . \( -path ./build -o -path ./bin \) -prune \
		    -o -type f -print0)
	fi
}

setup_file() {
	export S=$BATS_FILE_TMPDIR/src
	mkdir -p "$S"
	tree_files | (cd "$REPO" && tar --null -T - -cf -) | tar -C "$S" -xf -
	T=$BATS_FILE_TMPDIR mk all
}

setup() {
	T=$BATS_TEST_TMPDIR/t
	mkdir -p "$T"
}

# mtimes FILE...: "FILE MTIME" a line, in nanoseconds.
mtimes() {
	local f
	for f in "$@"; do
		echo "$f $(stat -c %.9Y "$f")"
	done
}

@test "build: touching an internal header rebuilds only the objects that include it" {
	local h=lib/format/ss-internal.h src objs=() want=()
	mk all
	# which library sources include it, by the compiler, not the Makefile
	for src in $(cd "$S" && find lib -name '*.c' | sort); do
		objs+=("build/obj/${src%.c}.o")
		if (cd "$S" && cc -MM $(find lib -type d -printf "-I%p ") "$src") | tr ' \\' '\n\n' |
		    grep -qx "$h"; then
			want+=("build/obj/${src%.c}.o")
		fi
	done
	[ "${#want[@]}" -gt 0 ] && [ "${#want[@]}" -lt "${#objs[@]}" ] ||
	    fail "$h is included by ${#want[@]} of ${#objs[@]} sources"
	(cd "$S" && mtimes "${objs[@]}") >"$T/before"
	sleep 1
	touch "$S/$h"
	mk all
	(cd "$S" && mtimes "${objs[@]}") >"$T/after"
	diff "$T/before" "$T/after" | sed -n 's/^> \([^ ]*\) .*/\1/p' \
	    >"$T/rebuilt" || true
	printf '%s\n' "${want[@]}" >"$T/want"
	diff -u "$T/want" "$T/rebuilt" || fail "rebuilt other than ${want[*]}"
}

@test "build: make install PREFIX=/opt/x after make installs a .pc for /opt/x, rebuilding nothing" {
	mk all
	(cd "$S" && mtimes build/obj/lib/*.o bin/relay) >"$T/before"
	mk install DESTDIR="$T/d" PREFIX=/opt/x
	(cd "$S" && mtimes build/obj/lib/*.o bin/relay) >"$T/after"
	diff -u "$T/before" "$T/after" || fail "install rebuilt objects"
	local pc=$T/d/opt/x/lib/pkgconfig/libstream.pc
	[ -f "$pc" ] || fail "no $pc"
	run pkg-config --variable=prefix "$pc"
	assert_output /opt/x
	run pkg-config --variable=libdir "$pc"
	assert_output /opt/x/lib
	[ -f "$T/d/opt/x/lib/libstream.a" ] && [ -x "$T/d/opt/x/bin/relay" ]
}

@test "build: the version is LS_VERSION of libstream.h, in the .pc and the shared library" {
	sed -i 's/^#define LS_VERSION ".*"$/#define LS_VERSION "9.8.7"/' \
	    "$S/lib/libstream.h"
	grep -qx '#define LS_VERSION "9.8.7"' "$S/lib/libstream.h"
	mk all
	PKG_CONFIG_PATH=$S/build run pkg-config --modversion libstream
	assert_output 9.8.7
	[ -f "$S/build/lib/libstream.so.9.8.7" ] || fail "no libstream.so.9.8.7"
	run readelf -d "$S/build/lib/libstream.so.9.8.7"
	assert_output --partial '[libstream.so.9]'
}

@test "build: make NO_REDIS=1 NO_KAFKA=1 after make rebuilds without the clients; no build links them" {
	pkg-config --exists hiredis ||
	    skip "hiredis is not installed: no backend to leave out"
	mk all
	# loaded when a URI needs them (lib/io/dl-internal.h), never linked
	run ldd "$S/bin/relay"
	refute_output --partial libhiredis
	refute_output --partial librdkafka
	refute_output --partial libcurl
	refute_output --partial libgnutls
	refute_output --partial libmicrohttpd
	grep -aq 'libhiredis\.so\.' "$S/bin/relay" ||
		fail "relay does not name hiredis's soname"
	mk all NO_REDIS=1 NO_KAFKA=1
	grep -aq 'built without hiredis' "$S/bin/relay" ||
		fail "NO_REDIS=1 did not rebuild relay without hiredis"
	! grep -aq 'libhiredis\.so\.' "$S/bin/relay" ||
		fail "relay built without hiredis names its soname"
	# and back: the plain flags again rebuild with them
	mk all
	grep -aq 'libhiredis\.so\.' "$S/bin/relay" ||
		fail "the plain build is without hiredis"
}

@test "build: scripts/md2tsv.awk turns the section tables of bench.md into TSV rows, the first table and tables without seconds left out" {
	cat >"$T/bench.md" <<'MD'
# libstream benchmark

| task | messages | seconds | messages/s | vs peer | peak MiB | target | result |
|---|--:|--:|--:|--:|--:|---|---|
| log decode | 1,000,000 | 0.1 | 10,000,000 | 0.1 | 1.5 | - | below |

How cost grows (scripts/bench-scaling.sh):

| dimension | stage | rate per case |
|---|---|---|
| size | relay | 10: 1.00 |

Redis Streams (scripts/bench-redis.sh):

| task | messages | seconds | messages/s | vs redis-benchmark | target | result |
|---|--:|--:|--:|--:|---|---|
| relay stdio->Redis | 1000000 | 1.997 | 500676 | 0.84 | >= 1.0x | below |

Network ingest (scripts/bench-net.sh):

| task | seconds | messages/s | vs socat | peak KiB | target | result |
|---|--:|--:|--:|--:|---|---|
| relay -i tcp://, 1 idle client | - | - | - | 8800 | - | - |

pipeline, 1000000 messages, best of 3 (MiB: pipeline's own):

| task | seconds | messages/s | ratio | pipeline MiB | target | result |
|---|--:|--:|--:|--:|---|---|
| pipeline: relay -> batch | 0.5 | 2000000 | 1.1 | 1.5 | <= 1.05x | below |
MD
	run awk -f "$REPO/scripts/md2tsv.awk" "$T/bench.md"
	assert_success
	assert_equal "$output" "$(printf '%s\t%s\t%s\t%s\t%s\t%s\n' \
	    'Redis Streams: relay stdio->Redis' 1000000 1.997 500676 - below \
	    'Network ingest: relay -i tcp://, 1 idle client' - - - 8800 - \
	    'pipeline: pipeline: relay -> batch' - 0.5 2000000 1536 below)"
}

@test "build: scripts/bench-compare.sh puts two runs side by side, marking a task 5% slower and tasks of one run only" {
	local h='task	messages	seconds	messages/s	peak KiB	result'
	printf '# 2026-12-01 commit aaa\n%s\n%s\n%s\n%s\n' "$h" \
	    'decode	10	1	1000	10	meets' 'write	10	1	1000	10	meets' \
	    'gone	10	1	5	10	-' >"$T/old.tsv"
	printf '# 2026-12-02 commit bbb\n%s\n%s\n%s\n%s\n' "$h" \
	    'decode	10	1	940	10	meets' 'write	10	1	1200	10	meets' \
	    'new	10	1	5	10	-' >"$T/new.tsv"
	run sh "$REPO/scripts/bench-compare.sh" "$T/old.tsv" "$T/new.tsv"
	assert_success
	assert_line --index 0 "old: 2026-12-01 commit aaa ($T/old.tsv)"
	assert_line --regexp '^decode +1000 +940 +0\.94  SLOWER$'
	assert_line --regexp '^write +1000 +1200 +1\.20  faster$'
	assert_line 'only in the new run: new'
	assert_line 'only in the old run: gone'
	run sh "$REPO/scripts/bench-compare.sh" "$T/old.tsv"
	assert_failure 2
	assert_output --partial usage
}
