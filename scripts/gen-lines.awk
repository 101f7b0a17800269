# The benchmark's messages: n line-framed messages (awk -v n=N -f
# scripts/gen-lines.awk), keys k0..k7 in turn, each key's sequence counting
# from 0, one millisecond apart from 2024-01-01T00:00:00.000, shard 0, a
# 100-byte payload cut at a rotating offset out of the printable ASCII
# characters (including " and \).
BEGIN {
	for (c = 33; c < 127; c++)
		base = base sprintf("%c", c)
	base = base base base
	for (i = 0; i < n; i++) {
		s = int(i / 1000)
		printf "[2024-01-01T%02d:%02d:%02d.%03d | k%d | %d | 0] %s\n",
		    int(s / 3600), int(s / 60) % 60, s % 60, i % 1000,
		    i % 8, int(i / 8), substr(base, i % 94 + 1, 100)
	}
}
