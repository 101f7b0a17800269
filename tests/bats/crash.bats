#!/usr/bin/env bats
# relay killed with SIGKILL while it writes a line file or a .ss file, then
# continued with --append: a sample of scripts/crash-stress.sh (whose full
# run is `make crash-stress`), with a fixed seed. Where each kill lands
# depends on timing; the inputs and the kill points aimed at do not.

load helper

@test "kill -9 mid-write leaves a readable prefix, and --append completes it exactly once" {
	local n=30
	[ "${LS_SAN:-0}" = 1 ] && n=12
	run env LS_BIN="$LS_BIN" TMPDIR="$T" \
	    bash "$REPO/scripts/crash-stress.sh" "$n" 2026
	assert_success
	assert_line "crash-stress: $n trials, 0 failed"
}
