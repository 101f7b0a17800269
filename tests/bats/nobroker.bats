#!/usr/bin/env bats
# A build without the broker client libraries (make NO_REDIS=1 NO_KAFKA=1
# NO_HTTP=1 NO_ETCD=1, as on a machine without libhiredis-dev,
# librdkafka-dev, libmicrohttpd-dev and libcurl4-gnutls-dev): everything
# else builds and works, and a redis://, kafka://, http:// or etcd:// URI
# is an error that says which package to install. The build is made here,
# unoptimised, in
# this file's temporary directory.

load helper

setup_file() {
	local D=$BATS_FILE_TMPDIR
	make -s -C "$REPO" NO_REDIS=1 NO_KAFKA=1 NO_HTTP=1 NO_ETCD=1 CFLAGS=-O0 OUT="$D/nb" \
	    BIN="$D/nb/bin" all >"$D/build.log" 2>&1 ||
		fail "the build without brokers failed: $(tail -n 20 "$D/build.log")"
}

setup() {
	ls_setup
	NB=$BATS_FILE_TMPDIR/nb
}

@test "without hiredis and librdkafka: the commands build, link neither and relay lines and .ss files" {
	for c in clock relay partition fanout batch ss-decode; do
		[ -x "$NB/bin/$c" ] || fail "$c was not built"
	done
	run ldd "$NB/bin/relay"
	assert_success
	refute_output --partial hiredis
	refute_output --partial rdkafka
	refute_output --partial microhttpd
	refute_output --partial libstream
	run grep -c 'hiredis\|rdkafka' "$NB/libstream.pc"
	assert_output 0
	printf 'one\ntwo\n' | "$NB/bin/relay" -o "$T/x.ss"
	run "$NB/bin/relay" -i "$T/x.ss"
	assert_success
	assert_equal "$(printf '%s\n' "$output" | grep -v "$EOS_KEY" |
	    sed 's/.*] //' | tr '\n' ' ')" "one two "
}

@test "without hiredis: a redis:// URI names the package to install, for input and output" {
	run "$NB/bin/relay" -o redis://127.0.0.1:6379/s </dev/null
	assert_failure 1
	assert_output "relay: redis://127.0.0.1:6379/s: this libstream was built without hiredis: install libhiredis-dev and rebuild"
	run "$NB/bin/relay" -i redis://127.0.0.1:6379/s
	assert_failure 1
	assert_output --partial "install libhiredis-dev and rebuild"
	run "$NB/bin/partition" -n 2 -i redis://127.0.0.1:6379/s "$T/p%d"
	assert_failure
	assert_output --partial "built without hiredis: install libhiredis-dev"
}

@test "without librdkafka: a kafka:// URI names the package to install, for input and output" {
	run "$NB/bin/relay" -i kafka://127.0.0.1:9092/t --exit-at-end
	assert_failure 1
	assert_output "relay: kafka://127.0.0.1:9092/t: this libstream was built without librdkafka: install librdkafka-dev and rebuild"
	run "$NB/bin/relay" -o kafka://127.0.0.1:9092/t </dev/null
	assert_failure 1
	assert_output --partial "install librdkafka-dev and rebuild"
	run "$NB/bin/fanout" "kafka://127.0.0.1:9092/t" </dev/null
	assert_failure
	assert_output --partial "built without librdkafka: install librdkafka-dev"
}

@test "without libmicrohttpd (NO_HTTP=1): an http:// URI names the package to install" {
	run "$NB/bin/relay" -i http://127.0.0.1:8080/in
	assert_failure 1
	assert_output "relay: http://127.0.0.1:8080/in: this libstream was built without libmicrohttpd: install libmicrohttpd-dev and rebuild"
}

@test "without libcurl: an etcd:// URI names the package to install, for input and output" {
	run "$NB/bin/relay" -i etcd://127.0.0.1:2379/p --exit-at-end
	assert_failure 1
	assert_output "relay: etcd://127.0.0.1:2379/p: this libstream was built without libcurl: install libcurl4-gnutls-dev and rebuild"
	run "$NB/bin/relay" -o etcd://127.0.0.1:2379/p </dev/null
	assert_failure 1
	assert_output --partial "install libcurl4-gnutls-dev and rebuild"
	run "$NB/bin/member" etcd://127.0.0.1:2379/p a out
	assert_failure 1
	assert_output --partial "install libcurl4-gnutls-dev and rebuild"
	run ldd "$NB/bin/relay"
	refute_output --partial libcurl
}
