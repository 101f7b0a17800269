# Prints rows of tab-separated cells, a header first, as a Markdown table
# for the benchmark scripts, aligned as scripts/table.awk aligns them: the
# first column and the last `tail` (2 if not given) to the left, the
# figures between to the right.
#   awk -F '\t' [-v tail=N] -f scripts/mdtable.awk HEADER-AND-ROWS
{
	line = "|"
	for (i = 1; i <= NF; i++)
		line = line " " $i " |"
	print line
	if (NR > 1)
		next
	if (tail == "")
		tail = 2
	line = "|"
	for (i = 1; i <= NF; i++)
		line = line ((i == 1 || i > NF - tail) ? "---|" : "--:|")
	print line
}
