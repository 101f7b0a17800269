# Prints rows of tab-separated cells as aligned columns two spaces apart,
# for the benchmark scripts: the first column and the last `tail` (2 if
# not given) left-aligned, the figures between right-aligned.
#   awk -F '\t' -v tail=N -f scripts/table.awk ROWS
{
	for (i = 1; i <= NF; i++) {
		c[NR, i] = $i
		if (length($i) > w[i])
			w[i] = length($i)
	}
	if (NF > nf)
		nf = NF
}
END {
	if (tail == "")
		tail = 2
	for (r = 1; r <= NR; r++) {
		line = ""
		for (i = 1; i <= nf; i++) {
			fmt = (i == 1 || i > nf - tail) ? "%-" w[i] "s  " : \
			    "%" w[i] "s  "
			line = line sprintf(fmt, c[r, i])
		}
		sub(/ +$/, "", line)
		print line
	}
}
