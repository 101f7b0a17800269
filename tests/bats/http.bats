#!/usr/bin/env bats
# The HTTP collector, relay -i http://127.0.0.1:PORT/in, on a free port,
# with curl (and ab, and a raw socket) as its clients: bodies of lines or
# ndjson, plain or chunked, land in order; a request is answered 200
# only once its messages are out, and refused whole (400, 413, 401, 503)
# otherwise; a slow client is cut; SIGTERM loses no acknowledged message.

load helper

setup() {
	ls_setup
	RELAY=$LS_BIN/relay
	PORT=$(free_port)
	BASE=http://127.0.0.1:$PORT
	URL=$BASE/in
	CURL=(curl -m 20 -s)
	RPID=
}

teardown() {
	if [ -n "$RPID" ]; then
		kill -TERM "$RPID" 2>/dev/null || true
		wait "$RPID" 2>/dev/null || true
	fi
}

healthy() {
	[ "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$BASE/healthz")" = 200 ]
}

# serve ARGS...: relay -i $URL ARGS in the background (standard error in
# $T/err), once its health path answers.
serve() {
	"$RELAY" -i "$URL" "$@" 2>"$T/err" &
	RPID=$!
	wait_until 20 healthy || fail "relay did not answer: $(cat "$T/err")"
}

# serve_with CMD ARGS...: as serve, with another stage reading -i $URL.
serve_with() {
	"$LS_BIN/$1" -i "$URL" "${@:2}" 2>"$T/err" &
	RPID=$!
	wait_until 20 healthy || fail "$1 did not answer: $(cat "$T/err")"
}

# stop: SIGTERM, then $status is relay's exit status.
stop() {
	kill -TERM "$RPID"
	wait "$RPID" && status=0 || status=$?
	RPID=
}

# post TYPE DATA [CURL ARGS...]: POSTs DATA as TYPE to $URL; prints the
# answer's body, a space and its status.
post() {
	local type=$1 data=$2
	shift 2
	"${CURL[@]}" -w ' %{http_code}' -H "Content-Type: $type" \
	    --data-binary "$data" "$@" "$URL"
}

# The line output without its time stamps.
untimed() {
	sed 's/^\[[^|]*| /[/' "$1"
}

@test "http: lines, ndjson and chunked bodies land in order, each answered with its count" {
	serve -o "$T/out"
	run post text/plain $'a\nb\n\nc'
	assert_output '{"accepted":4}
 200'
	run post application/x-ndjson $'{"x":1}\n\n[1, 2]\r\n"s"\n'
	assert_output '{"accepted":3}
 200'
	run post 'text/plain; charset=utf-8' $'[2026-01-01T00:00:00.000 | k | 7 | 2] kept\nd\n' \
	    -H 'Transfer-Encoding: chunked'
	assert_output '{"accepted":2}
 200'
	run post application/json '' 
	assert_output '{"accepted":0}
 200'
	stop
	assert_equal "$status" 0
	run untimed "$T/out"
	assert_output "[broadcast | 0 | 0] a
[broadcast | 1 | 0] b
[broadcast | 2 | 0] 
[broadcast | 3 | 0] c
[broadcast | 4 | 0] {\"x\":1}
[broadcast | 5 | 0] [1, 2]
[broadcast | 6 | 0] \"s\"
[k | 7 | 2] kept
[broadcast | 7 | 0] d"
	run grep -c '^\[2026-01-01T00:00:00.000 | k | 7 | 2\] kept$' "$T/out"
	assert_output 1
}

@test "http: 200 only once the output took the messages; a full queue answers 503 with Retry-After" {
	mkfifo "$T/fifo"
	serve -o "$T/fifo" --max-queue 100
	"${CURL[@]}" -o "$T/first" -w ' %{http_code}' -H 'Content-Type: text/plain' \
	    --data-binary $'one\ntwo\n' "$URL" >"$T/first.code" &
	local c1=$!
	held() {
		"${CURL[@]}" "$BASE/healthz" | grep -q '"waiting":1,"held":8}'
	}
	wait_until 20 held || fail "not held: $("${CURL[@]}" "$BASE/healthz")"
	# the first request's 8 bytes are held: 95 more do not fit in 100
	"${CURL[@]}" -D "$T/h" -o "$T/b" -H 'Content-Type: text/plain' \
	    --data-binary "$(printf '%095d' 0)" "$URL"
	run grep -c '^HTTP/1.1 503' "$T/h"
	assert_output 1
	run grep -ci '^Retry-After: 1' "$T/h"
	assert_output 1
	run cat "$T/b"
	assert_output 'the output is behind: send again later'
	# nobody reads the output yet: the first has no answer
	run cat "$T/first.code"
	assert_output ''
	cat "$T/fifo" >"$T/out" &
	wait "$c1"
	run cat "$T/first" "$T/first.code"
	assert_output '{"accepted":2}
 200'
	run post text/plain three
	assert_output '{"accepted":1}
 200'
	stop
	assert_equal "$status" 0
	run sed 's/^\[[^]]*\] //' "$T/out"
	assert_output 'one
two
three'
}

@test "http: a body over --max-body is 413, with or without a length, and nothing of it is taken" {
	serve -o "$T/out" --max-body 10
	run post text/plain 0123456789x
	assert_output 'the body is over 10 bytes
 413'
	run post text/plain 0123456789x -H 'Transfer-Encoding: chunked'
	assert_output 'the body is over 10 bytes
 413'
	run post text/plain 0123456789
	assert_output '{"accepted":1}
 200'
	stop
	run sed 's/^\[[^]]*\] //' "$T/out"
	assert_output '0123456789'
}

@test "http: a bad line is 400 naming it, and none of its request is taken" {
	serve -o "$T/out"
	run post application/x-ndjson $'{"a":1}\n[2]\n{"b":\n'
	assert_output 'line 3: not a JSON value
 400'
	run post text/plain $'fine\n[2026-01-01T00:00:00.000 | no key! | 1 | 0] x\n'
	assert_line --index 0 --regexp '^line 2: '
	assert_line --index 1 ' 400'
	run post text/plain $'ok1\nok2'
	assert_output '{"accepted":2}
 200'
	stop
	run untimed "$T/out"
	assert_output '[broadcast | 0 | 0] ok1
[broadcast | 1 | 0] ok2'
}

@test "http: a bearer token from --token-file or LS_HTTP_TOKEN; 401 with WWW-Authenticate otherwise" {
	printf 's3cret\n' >"$T/token"
	serve -o "$T/out" --token-file "$T/token"
	run post text/plain a -D "$T/h"
	assert_output 'a valid bearer token is needed
 401'
	run grep -ci '^WWW-Authenticate: Bearer' "$T/h"
	assert_output 1
	run post text/plain b -H 'Authorization: Bearer s3cre'
	assert_output --partial ' 401'
	run post text/plain c -H 'Authorization: Bearer s3cret'
	assert_output '{"accepted":1}
 200'
	stop
	LS_HTTP_TOKEN=envtok serve -o "$T/out2"
	run post text/plain d -H 'Authorization: Bearer s3cret'
	assert_output --partial ' 401'
	run post text/plain e -H 'Authorization: bearer envtok'
	assert_output '{"accepted":1}
 200'
	stop
	run cat "$T/out" "$T/out2"
	assert_output --regexp '^\[[^]]*\] c
\[[^]]*\] e$'
}

@test "http: other paths 404, other methods 405, other types 415, GET /healthz 200" {
	serve -o "$T/out"
	run "${CURL[@]}" -w ' %{http_code}' "$BASE/elsewhere"
	assert_output 'no such path
 404'
	run "${CURL[@]}" -D "$T/h" -w ' %{http_code}' "$URL"
	assert_output 'POST here
 405'
	run grep -c '^Allow: POST' "$T/h"
	assert_output 1
	run post application/x-www-form-urlencoded a=b
	assert_output --partial ' 415'
	run "${CURL[@]}" -w ' %{http_code}' "$BASE/healthz"
	assert_output '{"ok":true,"waiting":0,"held":0}
 200'
	run "${CURL[@]}" -w ' %{http_code}' -d x "$BASE/healthz"
	assert_output 'GET or HEAD here
 405'
	stop
	assert_equal "$status" 0
	run cat "$T/out"
	assert_output ''
}

@test "http: TLS with --tls-cert and --tls-key, checked by curl --cacert" {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" \
	    -out "$T/cert.pem" -days 2 -subj /CN=localhost \
	    -addext subjectAltName=IP:127.0.0.1 2>/dev/null
	BASE=https://127.0.0.1:$PORT
	URL=$BASE/in
	CURL+=(--cacert "$T/cert.pem")
	serve -o "$T/out" --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
	run post text/plain secret-line
	assert_output '{"accepted":1}
 200'
	run curl -m 5 -s -o /dev/null -w '%{http_code}' -d x "http://127.0.0.1:$PORT/in"
	assert_output 000
	stop
	assert_equal "$status" 0
	run sed 's/^\[[^]]*\] //' "$T/out"
	assert_output secret-line
}

@test "http: a client that sends half a header is cut by --idle-timeout while others are served" {
	serve -o "$T/out" --idle-timeout 1s --max-clients 4
	timeout 20 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$PORT"'
	    printf "POST /in HTTP/1.1\r\nHost: x\r\nContent-" >&3
	    cat <&3 >"$0"; echo cut >"$0.done"' "$T/loris" &
	run post text/plain served
	assert_output '{"accepted":1}
 200'
	wait_until 15 test -e "$T/loris.done" || fail "the slow client was not cut"
	run cat "$T/loris"
	assert_output ''
	stop
	assert_equal "$status" 0
}

@test "http: SIGTERM stops taking requests, and every message answered 200 is in the output" {
	serve -o "$T/out"
	client() {
		local c=$1 i=0 code body
		while :; do
			i=$((i + 1))
			body=$(seq -f "c$c-r$i-%g" 1 20)
			code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' \
			    -H 'Content-Type: text/plain' --data-binary "$body" \
			    "$URL") || true
			echo "$code" >>"$T/codes"
			[ "$code" = 200 ] || break
			printf '%s\n' "$body" >>"$T/acked.$c"
		done
	}
	local c pids=()
	for c in 1 2 3; do
		client "$c" &
		pids+=($!)
	done
	wait_until 20 lines_at_least 30 "$T/codes" || fail "no answers"
	stop
	assert_equal "$status" 0
	wait "${pids[@]}"
	# each client ends at its first request that was not a 200
	run grep -vc '^200$' "$T/codes"
	assert_output 3
	run grep -v '^\(200\|503\|000\)$' "$T/codes"
	assert_output ''
	cat "$T"/acked.* | sort >"$T/acked"
	sed 's/^\[[^]]*\] //' "$T/out" | sort >"$T/got"
	run comm -23 "$T/acked" "$T/got"
	assert_output ''
	[ "$(wc -l <"$T/acked")" -ge 540 ] || fail "too few acknowledged"
}

@test "http: ab -k with one-message requests: every one answered 200 and written once" {
	serve -o "$T/out"
	echo '{"m":1}' >"$T/body"
	run ab -q -k -n 2000 -c 4 -p "$T/body" -T application/x-ndjson "$URL"
	assert_success
	assert_output --regexp 'Complete requests: +2000'
	assert_output --regexp 'Failed requests: +0'
	refute_output --partial 'Non-2xx'
	stop
	run grep -c '{"m":1}$' "$T/out"
	assert_output 2000
	run untimed "$T/out"
	assert_line --index 1999 '[broadcast | 1999 | 0] {"m":1}'
}

@test "http: refused set-ups exit 1 or 2 saying why" {
	run "$RELAY" -o "$URL" </dev/null
	assert_failure 1
	assert_output "relay: $URL: an HTTP collector is an input only"
	python3 -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
time.sleep(30)' "$PORT" &
	local busy=$!
	wait_until 10 eval "ss -tln | grep -q ':$PORT '"
	run "$RELAY" -i "$URL"
	kill "$busy"
	assert_failure 1
	assert_output "relay: $URL: cannot listen on 127.0.0.1 port $PORT: Address already in use"
	run env LS_HTTP_TOKEN= "$RELAY" -i "$URL"
	assert_failure 1
	assert_output "relay: $URL: the token of \$LS_HTTP_TOKEN is empty"
	run "$RELAY" -i "https://127.0.0.1:$PORT/in"
	assert_failure 1
	assert_output "relay: https://127.0.0.1:$PORT/in: TLS needs both --tls-cert and --tls-key"
	run "$RELAY" -i "$URL" --token-file "$T/none"
	assert_failure 1
	assert_output "relay: token file $T/none: No such file or directory"
	run "$RELAY" -i "$URL" --max-body 0
	assert_failure 2
	assert_line --index 0 "relay: --max-body '0' is too small (1 to 1099511627776)"
}

@test "http: partition, fanout and batch answer 200 once their outputs hold the messages" {
	serve_with partition -n 2 "$T/p%d.txt"
	run post text/plain $'a\nb\nc\n'
	assert_output '{"accepted":3}
 200'
	[ "$(cat "$T/p0.txt" "$T/p1.txt" | wc -l)" -eq 3 ]
	stop
	assert_equal "$status" 0
	serve_with fanout --mode roundrobin "$T/f0.txt" "$T/f1.txt"
	run post text/plain $'a\nb\nc\n'
	assert_output '{"accepted":3}
 200'
	[ "$(cat "$T/f0.txt" "$T/f1.txt" | wc -l)" -eq 3 ]
	stop
	assert_equal "$status" 0
	# a batch of 2 and, after -t, one of 1: the answer waits for both
	serve_with batch -n 2 -t 200ms -o "$T/b.txt"
	run post text/plain $'a\nb\nc\n'
	assert_output '{"accepted":3}
 200'
	run "$LS_BIN/batch" --split -i "$T/b.txt"
	assert_equal "$(printf '%s\n' "$output" | sed 's/^\[[^]]*\] //' |
	    grep -v EOS)" $'a\nb\nc'
	stop
	assert_equal "$status" 0
}
