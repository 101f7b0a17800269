/*
 * ss-build: a test tool that writes a .ss file from messages on stdin,
 * one per line, either as TSV "key TAB shard TAB seq TAB ts_ms TAB hex"
 * (the format of the .messages.tsv files of format/vectors) or, with -l, in line
 * framing. Header fields can be fixed to reproduce a vector byte for
 * byte. -a appends to an existing file instead.
 */
#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libstream.h"

static void
usage(void)
{
	fprintf(stderr, "usage: ss-build [-al] [-c created_ms] [-i interval] "
	    "[-n name] file\n");
	exit(2);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
main(int argc, char *argv[])
{
	ls_ss_header h;
	ls_ss_writer *w;
	ls_error e;
	ls_msg m;
	char *line = NULL, *name = NULL;
	unsigned char *pay = NULL;
	size_t cap = 0;
	ssize_t n;
	long long created = -1;
	unsigned long interval = LS_SS_DEFAULT_INTERVAL, lineno = 0;
	int ch, fd, append = 0, lines = 0;
	uint64_t seq = 0;

	while ((ch = getopt(argc, argv, "ac:i:ln:")) != -1) {
		switch (ch) {
		case 'a': append = 1; break;
		case 'c': created = strtoll(optarg, NULL, 10); break;
		case 'i': interval = strtoul(optarg, NULL, 10); break;
		case 'l': lines = 1; break;
		case 'n': name = optarg; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		usage();
	/* large reads, as the commands make */
	setvbuf(stdin, NULL, _IOFBF, 1 << 20);
	if (ls_ss_header_init(&h, argv[0], (uint32_t)interval, &e) != LS_OK)
		errx(2, "%s", e.msg);
	if (name != NULL)
		snprintf(h.file_name, sizeof(h.file_name), "%s", name);
	if (created >= 0)
		h.created_at = (uint64_t)created;
	fd = open(argv[0], O_RDWR | O_CREAT | (append ? 0 : O_TRUNC), 0644);
	if (fd < 0)
		err(1, "%s", argv[0]);
	w = append ? ls_ss_writer_append(fd, &h, &e) :
	    ls_ss_writer_new(fd, &h, &e);
	if (w == NULL)
		errx(1, "%s: byte %llu: %s", argv[0],
		    (unsigned long long)e.offset, e.msg);
	while ((n = getline(&line, &cap, stdin)) > 0) {
		lineno++;
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		memset(&m, 0, sizeof(m));
		if (lines) {
			unsigned have;
			if (ls_line_parse(line, (size_t)n, &m, &have, &e) != LS_OK)
				errx(1, "stdin:%lu: %s", lineno, e.msg);
			if (!(have & LS_HAVE_KEY))
				ls_msg_set_key(&m, LS_DEFAULT_KEY, 9, NULL);
			if (!(have & LS_HAVE_TS))
				m.ts_ms = ls_now_ms();
			if (!(have & LS_HAVE_SEQ))
				m.seq = seq++;
		} else {
			char *f[5], *p = line;
			for (int i = 0; i < 5; i++) {
				f[i] = strsep(&p, "\t");
				if (f[i] == NULL)
					errx(1, "stdin:%lu: expected 5 fields",
					    lineno);
			}
			if (ls_msg_set_key(&m, f[0], strlen(f[0]), &e) != LS_OK)
				errx(1, "stdin:%lu: %s", lineno, e.msg);
			m.shard = strtoull(f[1], NULL, 10);
			m.seq = strtoull(f[2], NULL, 10);
			m.ts_ms = strtoull(f[3], NULL, 10);
			size_t hl = strlen(f[4]);
			if (hl % 2 != 0)
				errx(1, "stdin:%lu: odd hex payload", lineno);
			free(pay);
			if ((pay = malloc(hl / 2 + 1)) == NULL)
				err(1, NULL);
			for (size_t i = 0; i < hl / 2; i++) {
				int a = hexval(f[4][2 * i]), b = hexval(f[4][2 * i + 1]);
				if (a < 0 || b < 0)
					errx(1, "stdin:%lu: bad hex", lineno);
				pay[i] = (unsigned char)(a * 16 + b);
			}
			m.payload = pay;
			m.len = hl / 2;
		}
		if (ls_ss_write(w, &m, &e) != LS_OK)
			errx(1, "%s: %s", argv[0], e.msg);
	}
	if (ls_ss_flush(w, &e) != LS_OK)
		errx(1, "%s: %s", argv[0], e.msg);
	ls_ss_writer_free(w);
	free(pay);
	free(line);
	if (close(fd) != 0)
		err(1, "%s", argv[0]);
	return 0;
}
