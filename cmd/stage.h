/*
 * The input side shared by partition, fanout and batch: one input URI
 * (stdin by default), its options, and reading it with bad lines and
 * damage reported as relay does.
 */
#ifndef STAGE_H
#define STAGE_H

#include <getopt.h>

#include "cmd.h"

/* The long options every stage takes; add them to a command's table. */
#define STAGE_LONGOPTS \
	{ "input", required_argument, NULL, 'i' }, \
	{ "on-bad-line", required_argument, NULL, 'L' }, \
	{ "quiet", no_argument, NULL, 'q' }, \
	{ "skip-corrupt", no_argument, NULL, 'C' }, \
	{ "stats", no_argument, NULL, 'S' }, \
	{ "stats-interval", required_argument, NULL, 'I' }

struct stage {
	const char *program;
	const char *uri;
	ls_source_opts so;
	ls_source *src;
	bool quiet, stats;
	uint64_t stats_us;
	uint64_t eos_ts;	/* the input's End-of-Stream, or 0 */
	bool ended;
	void (*abort)(void);	/* called before exiting on a failed input */
};

static inline void
stage_init(struct stage *st, const char *program)
{
	cmd_init();
	memset(st, 0, sizeof(*st));
	st->program = program;
	st->uri = "-";
	st->stats_us = 1000000;
}

/* Takes one of the options of STAGE_LONGOPTS (and -i, -q); returns true
 * if ch was one of them. */
static inline bool
stage_option(struct stage *st, int ch, const char *arg)
{
	switch (ch) {
	case 'C':
		st->so.skip_corrupt = true;
		return true;
	case 'I':
		st->stats_us = cmd_duration(arg, "--stats-interval");
		return true;
	case 'L':
		if (strcmp(arg, "fail") == 0)
			st->so.bad = LS_BAD_FAIL;
		else if (strcmp(arg, "skip") == 0)
			st->so.bad = LS_BAD_SKIP;
		else if (strcmp(arg, "raw") == 0)
			st->so.bad = LS_BAD_RAW;
		else
			errx(2, "--on-bad-line: '%s' is not fail, skip or raw",
			    arg);
		return true;
	case 'S':
		st->stats = true;
		return true;
	case 'i':
		st->uri = arg;
		return true;
	case 'q':
		st->quiet = true;
		return true;
	}
	return false;
}

/* Starts the counters and opens the input. */
static inline void
stage_open(struct stage *st)
{
	ls_error e;

	cmd_stats_start(st->program, st->stats ? st->stats_us : 0);
	st->so.stop = &cmd_stop;
	if ((st->src = ls_source_open(st->uri, &st->so, &e)) == NULL)
		errx(1, "%s", e.msg);
}

static inline void
stage_fail(struct stage *st, const char *msg)
{
	warnx("%s: %s", ls_source_name(st->src), msg);
	if (st->abort != NULL)
		st->abort();
	exit(1);
}

/*
 * Reads the next message into m. Returns LS_OK; LS_END at the end of
 * the input or its End-of-Stream (eos_ts then set); LS_AGAIN if the
 * wait hook gave up. Bad lines and damage are reported and, as the
 * options say, skipped; other input errors end the program.
 */
static inline int
stage_next(struct stage *st, ls_msg *m)
{
	ls_error e;
	int rc;

	if (st->ended)
		return LS_END;
	for (;;) {
		rc = ls_source_next(st->src, m, &e);
		if (rc == LS_AGAIN)
			return rc;
		if (rc == LS_OK) {
			cmd_count(&cmd_stats.in, 1);
			if (!ls_msg_is_eos(m))
				return LS_OK;
			st->eos_ts = m->ts_ms;
			rc = LS_END;
		}
		if (rc == LS_END || rc == LS_PARTIAL) {
			if (rc == LS_PARTIAL)
				warnx("%s", e.msg);
			st->ended = true;
			return LS_END;
		}
		if (rc == LS_ERR_INVAL && ls_source_is_lines(st->src)) {
			cmd_count(&cmd_stats.skipped, 1);
			if (st->so.bad == LS_BAD_FAIL)
				stage_fail(st, e.msg);
			if (!st->quiet)
				warnx("%s: %s (skipped)",
				    ls_source_name(st->src), e.msg);
			continue;
		}
		if (rc == LS_ERR_CORRUPT && st->so.skip_corrupt) {
			warnx("%s: %s", ls_source_name(st->src), e.msg);
			cmd_count(&cmd_stats.corrupt, 1);
			continue;
		}
		stage_fail(st, e.msg);
	}
}

/* Closes the input, prints the last counters; returns the exit status
 * the counters call for (1 if lines were skipped, unless quiet, or
 * damage was met). */
static inline int
stage_close(struct stage *st)
{
	uint64_t raw = ls_source_raw_count(st->src);
	int status = 0;

	if (raw > 0 && !st->quiet)
		warnx("%s: %llu lines taken raw", ls_source_name(st->src),
		    (unsigned long long)raw);
	cmd_count(&cmd_stats.raw, raw);
	ls_source_close(st->src);
	st->src = NULL;
	if (st->stats)
		cmd_stats_print();
	if (atomic_load(&cmd_stats.skipped) > 0) {
		warnx("skipped: %llu",
		    (unsigned long long)atomic_load(&cmd_stats.skipped));
		if (!st->quiet)
			status = 1;
	}
	if (atomic_load(&cmd_stats.corrupt) > 0)
		status = 1;
	return status;
}

/* The End-of-Stream the outputs get: the input's, else (for .ss files,
 * which always end with one) one stamped now. */
static inline const ls_msg *
stage_eos(const struct stage *st, ls_msg *eos)
{
	if (st->eos_ts == 0)
		return NULL;
	ls_msg_eos(eos, st->eos_ts);
	return eos;
}

#endif
