#!/bin/sh
# Compares two runs of `make bench` (their build/bench.tsv, or files of
# build/bench-runs/): for every task in both, the messages/s of each and
# the change (new / old; above 1 is faster); a task more than 5% slower
# is marked "SLOWER", and tasks found in only one run are listed.
# With no arguments, the two latest runs in build/bench-runs/.
#   scripts/bench-compare.sh [OLD.tsv NEW.tsv]
set -eu
if [ $# -eq 0 ]; then
	# shellcheck disable=SC2046,SC2012 # names of our own making
	set -- $(ls build/bench-runs/*.tsv 2>/dev/null | tail -n 2)
	[ $# -eq 2 ] || {
		echo "bench-compare: fewer than two runs in build/bench-runs" >&2
		exit 2
	}
fi
[ $# -eq 2 ] || {
	echo "usage: scripts/bench-compare.sh [OLD.tsv NEW.tsv]" >&2
	exit 2
}
for f in "$1" "$2"; do
	[ -r "$f" ] || { echo "bench-compare: cannot read $f" >&2; exit 2; }
done
echo "old: $(head -n 1 "$1" | sed 's/^# //') ($1)"
echo "new: $(head -n 1 "$2" | sed 's/^# //') ($2)"
out=$(awk -F '\t' '
	FNR <= 2 { next }
	FILENAME == ARGV[1] { old[$1] = $4; next }
	{
		seen[$1] = 1
		if (!($1 in old)) {
			print "# only in the new run: " $1
			next
		}
		r = old[$1] > 0 ? $4 / old[$1] : 0
		printf "%s\t%s\t%s\t%.2f\t%s\n", $1, old[$1], $4, r,
		    r < 0.95 ? "SLOWER" : (r > 1.05 ? "faster" : "")
	}
	END {
		for (t in old)
			if (!(t in seen))
				print "# only in the old run: " t
	}' "$1" "$2")
{
	printf 'task\told msg/s\tnew msg/s\tnew/old\t\n'
	printf '%s\n' "$out" | grep -v '^#' || true
} | awk -F '\t' -v tail=1 -f "$(dirname "$0")/table.awk"
printf '%s\n' "$out" | sed -n 's/^# //p'
