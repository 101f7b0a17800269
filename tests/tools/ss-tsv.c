/*
 * ss-tsv: a test tool that decodes a .ss file with libstream's reader and
 * prints one line per message in the TSV form of the .messages.tsv files
 * of format/vectors ("key TAB shard TAB seq TAB ts_ms TAB hex"). With
 * -s POS it first positions the reader (start, end, beacon:N, seq:S,
 * time:T, each optionally followed by @KEY/SHARD). Ends with
 * "end OFFSET", "partial OFFSET" or "corrupt OFFSET reason" and exits 0,
 * 0, 1.
 */
#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libstream.h"

static int
parse_pos(char *s, ls_ss_pos *pos)
{
	char *at = strchr(s, '@');

	memset(pos, 0, sizeof(*pos));
	if (at != NULL) {
		char *slash = strchr(at, '/');
		*at++ = '\0';
		if (slash == NULL)
			return -1;
		*slash++ = '\0';
		pos->key = at;
		pos->key_len = strlen(at);
		pos->shard = strtoull(slash, NULL, 10);
	}
	if (strcmp(s, "start") == 0)
		pos->from = LS_FROM_START;
	else if (strcmp(s, "end") == 0)
		pos->from = LS_FROM_END;
	else if (strncmp(s, "beacon:", 7) == 0) {
		pos->from = LS_FROM_BEACON;
		pos->value = strtoull(s + 7, NULL, 10);
	} else if (strncmp(s, "seq:", 4) == 0) {
		pos->from = LS_FROM_SEQ;
		pos->value = strtoull(s + 4, NULL, 10);
	} else if (strncmp(s, "time:", 5) == 0) {
		pos->from = LS_FROM_TIME;
		pos->value = strtoull(s + 5, NULL, 10);
	} else
		return -1;
	return 0;
}

int
main(int argc, char *argv[])
{
	ls_ss_reader *r;
	ls_ss_pos pos;
	ls_error e;
	ls_msg m;
	unsigned flags = 0;
	int ch, fd, rc, seek = 0;

	while ((ch = getopt(argc, argv, "s:v")) != -1) {
		switch (ch) {
		case 's':
			if (parse_pos(optarg, &pos) != 0)
				errx(2, "bad position %s", optarg);
			seek = 1;
			break;
		case 'v':
			flags |= LS_SS_VERIFY;
			break;
		default:
			fprintf(stderr, "usage: ss-tsv [-v] [-s pos] file\n");
			return 2;
		}
	}
	if (optind + 1 != argc)
		errx(2, "usage: ss-tsv [-v] [-s pos] file");
	if ((fd = open(argv[optind], O_RDONLY)) < 0)
		err(1, "%s", argv[optind]);
	if ((r = ls_ss_reader_open(fd, flags, &e)) == NULL) {
		printf("corrupt %llu %s\n", (unsigned long long)e.offset, e.msg);
		return 1;
	}
	if (seek && (rc = ls_ss_seek(r, &pos, &e)) != LS_OK && rc != LS_END) {
		printf("error %llu %s\n", (unsigned long long)e.offset, e.msg);
		ls_ss_reader_free(r);
		close(fd);
		return 1;
	}
	while ((rc = ls_ss_next(r, &m, &e)) == LS_OK) {
		printf("%s\t%llu\t%llu\t%llu\t", m.key,
		    (unsigned long long)m.shard, (unsigned long long)m.seq,
		    (unsigned long long)m.ts_ms);
		for (size_t i = 0; i < m.len; i++)
			printf("%02x", m.payload[i]);
		putchar('\n');
	}
	if (rc == LS_END)
		printf("end %llu\n", (unsigned long long)ls_ss_reader_offset(r));
	else if (rc == LS_PARTIAL)
		printf("partial %llu\n", (unsigned long long)e.offset);
	else
		printf("corrupt %llu %s\n", (unsigned long long)e.offset, e.msg);
	ls_ss_reader_free(r);
	close(fd);
	return rc < 0 ? 1 : 0;
}
