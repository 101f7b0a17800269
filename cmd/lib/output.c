/* Opening, counting and closing outputs, and how their failures end
 * the program. */
#include "cmd.h"

bool
cmd_to_stdout(const ls_sink *k)
{
	return !ls_sink_is_ss(k) && strcmp(ls_sink_name(k), "stdout") == 0;
}

_Noreturn void
cmd_output_failed(bool to_stdout, const ls_error *e)
{
	if (to_stdout && e->code == LS_ERR_IO && errno == EPIPE)
		cmd_die_of_sigpipe();
	errx(1, "%s", e->msg);
}

int
cmd_sink_close(ls_sink *k, const ls_msg *eos)
{
	bool to_stdout = cmd_to_stdout(k);
	ls_error e;

	if (ls_sink_close(k, eos, &e) == LS_OK)
		return 0;
	if (to_stdout && e.code == LS_ERR_IO && errno == EPIPE)
		cmd_die_of_sigpipe();
	warnx("%s", e.msg);
	return 1;
}

/* Reports the incomplete tail (a last line or message its writer was
 * stopped inside) that an append dropped from output name. */
static void
cmd_dropped(const char *name, uint64_t n, uint64_t at)
{
	if (n > 0)
		warnx("%s: byte %llu: dropped an incomplete tail of %llu "
		    "byte%s before appending", name, (unsigned long long)at,
		    (unsigned long long)n, n == 1 ? "" : "s");
}

ls_sink *
cmd_sink_open(const char *uri, const ls_sink_opts *opts)
{
	ls_sink_opts ko = *opts;
	ls_error e;
	ls_sink *k;
	uint64_t n, at;

	ko.stop = &cmd_stop;	/* a stop bounds a broker's waits */
	if ((k = ls_sink_open(uri, &ko, &e)) == NULL)
		errx(1, "%s", e.msg);
	n = ls_sink_dropped(k, &at);
	cmd_dropped(ls_sink_name(k), n, at);
	return k;
}

void
cmd_outs_opened(const ls_outs *os)
{
	uint64_t n, at;

	for (size_t i = 0; i < ls_outs_count(os); i++) {
		n = ls_outs_dropped(os, i, &at);
		cmd_dropped(ls_outs_name(os, i), n, at);
	}
}

/* The warning of a message that a line output could not take. */
static __attribute__((noinline)) void
cmd_not_line(const ls_msg *m, const ls_source *src, const char *to,
    const ls_error *e)
{
	char where[LS_WHERE_MAX];

	warnx("%s: %s: stream %s seq %llu: %s; not written%s%s",
	    ls_source_name(src), ls_source_where_text(src, where,
	    sizeof(where)), m->key, (unsigned long long)m->seq, e->msg,
	    to ? " to " : "", to ? to : "");
}

/* The warning apart, so that a message written saves no registers
 * (callgrind of relay -o .ss: 26 instructions a message). */
bool
cmd_written(int rc, const ls_msg *m, const ls_source *src, const char *to,
    const ls_error *e)
{
	if (rc == LS_OK) {
		cmd_count(&cmd_stats.out, 1);
		cmd_count(&cmd_stats.bytes, m->len);
	} else if (rc == LS_END)
		cmd_count(&cmd_stats.filtered, 1);
	else if (rc == LS_ERR_NOTLINE) {
		cmd_not_line(m, src, to, e);
		cmd_count(&cmd_stats.skipped, 1);
	} else
		return false;
	return true;
}
