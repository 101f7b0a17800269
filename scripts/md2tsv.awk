# The tables of build/bench.md after the first (Redis, network, Kafka,
# HTTP, etcd, pipeline: each written by its own script), as rows of
# build/bench.tsv for scripts/bench-compare.sh: task (the section's
# title, then the row's task), messages, seconds, messages/s, peak KiB,
# result; "-" where the table has no such column. Tables without a
# seconds column (timing, scaling) are left out: they are elsewhere.
#   awk -f scripts/md2tsv.awk build/bench.md >>build/bench.tsv
function trim(s) {
	sub(/^ +/, "", s)
	sub(/ +$/, "", s)
	return s
}
function cell(name,   v) {
	if (!(name in col))
		return "-"
	v = trim(f[col[name]])
	gsub(/,/, "", v)
	return v == "" ? "-" : v
}
function kib(   v) {
	if ("peak MiB" in col && (v = cell("peak MiB")) != "-")
		return sprintf("%.0f", v * 1024)
	if ("pipeline MiB" in col && (v = cell("pipeline MiB")) != "-")
		return sprintf("%.0f", v * 1024)
	return cell("peak KiB")
}
/^\|/ {
	n = split($0, f, "|")
	if (!intable) {
		intable = 1
		tables++
		split("", col)
		for (i = 2; i < n; i++)
			col[trim(f[i])] = i
		next
	}
	if ($0 ~ /^\|[-:|]+$/ || tables < 2 || !("seconds" in col))
		next
	printf "%s: %s\t%s\t%s\t%s\t%s\t%s\n", title, trim(f[col["task"]]),
	    cell("messages"), cell("seconds"), cell("messages/s"), kib(),
	    cell("result")
	next
}
{ intable = 0 }
/[^ ]/ && !/^\|/ && /:$/ {
	title = $0
	sub(/ *[(,].*$/, "", title)
	sub(/:$/, "", title)
}
