/*
 * --rate N/s (or N/m) with --burst: a token bucket on the input, kept as
 * the time the next message is due (GCRA), exact over long runs (the
 * fraction of a nanosecond kept), waited for with clock_nanosleep; and
 * --progress: bytes, messages, rate and ETA of a file input, as pv shows.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "cmd.h"

/* --- rate ------------------------------------------------------------ */

#define CATCH_UP_NS 50000000u	/* 50 ms */

static struct {
	bool started;
	uint64_t tat_ns, tat_rem;	/* due time of the next message,
					   and its fraction (of 1/n ns) */
} bucket;

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
rate_parse(struct stage *st, const char *arg)
{
	const char *slash = strchr(arg, '/');
	char num[32];

	if (slash == NULL || (strcmp(slash, "/s") != 0 &&
	    strcmp(slash, "/m") != 0) || (size_t)(slash - arg) >= sizeof(num))
		cmd_usage("--rate: '%s' is not N/s or N/m", arg);
	snprintf(num, sizeof(num), "%.*s", (int)(slash - arg), arg);
	st->rate_n = (uint64_t)cmd_number(num, 1, 1000000000, "--rate");
	st->rate_per_ns = slash[1] == 's' ? 1000000000u : 60000000000u;
}

bool
stage_pace_option(struct stage *st, int ch, const char *arg)
{
	switch (ch) {
	case STAGE_OPT_RATE:
		rate_parse(st, arg);
		return true;
	case STAGE_OPT_BURST:
		st->burst = (uint64_t)cmd_number(arg, 1, 1000000000,
		    "--burst");
		return true;
	case STAGE_OPT_PROGRESS:
		st->progress = true;
		return true;
	}
	return false;
}

static void
sleep_until(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u),
	    (long)(ns % 1000000000u) };

	while (!cmd_stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
	    &ts, NULL) == EINTR)
		;
}

void
stage_pace(const struct stage *st)
{
	uint64_t n = st->rate_n, now, tol, burst = st->burst ? st->burst : 1;

	if (n == 0)
		return;
	now = mono_ns();
	/* burst - 1 messages may come early */
	tol = (burst - 1) * (st->rate_per_ns / n);
	/* late by less than CATCH_UP_NS (a wake-up's latency, a busy
	 * machine): the messages go at once until the schedule is met
	 * again, so the rate stays exact over a long run; later (the input
	 * was quiet), the schedule starts again now */
	if (!bucket.started || bucket.tat_ns + CATCH_UP_NS + tol < now) {
		bucket.started = true;
		bucket.tat_ns = now;
		bucket.tat_rem = 0;
	}
	if (bucket.tat_ns > now + tol) {
		if (st->so.on_wait != NULL)
			st->so.on_wait(st->so.wait_ctx);
		sleep_until(bucket.tat_ns - tol);
	}
	bucket.tat_rem += st->rate_per_ns % n;
	bucket.tat_ns += st->rate_per_ns / n + bucket.tat_rem / n;
	bucket.tat_rem %= n;
}

/* --- progress -------------------------------------------------------- */

static struct {
	bool on, tty;
	int fd;
	off_t size;
	uint64_t msgs, start_ms, drawn_ms;
	unsigned len;		/* of the line last drawn */
} prog = { .fd = -1 };

/* The descriptor of ours open on the file st (same device and inode). */
static int
find_fd(const struct stat *st)
{
	struct stat fs;

	for (int fd = 3; fd < 1024; fd++)
		if (fstat(fd, &fs) == 0 && fs.st_dev == st->st_dev &&
		    fs.st_ino == st->st_ino && (fcntl(fd, F_GETFL) &
		    O_ACCMODE) != O_WRONLY)
			return fd;
	return -1;
}

void
progress_open(const char *path)
{
	const char *force = getenv("LS_PROGRESS");
	struct stat st;

	bool in = strcmp(path, "-") == 0;

	/* standard input too, if it is a file */
	if (prog.on || (in ? fstat(STDIN_FILENO, &st) : stat(path, &st)) != 0 ||
	    !S_ISREG(st.st_mode))
		return;
	prog.tty = isatty(STDERR_FILENO);
	if (!prog.tty && (force == NULL || strcmp(force, "1") != 0))
		return;
	if ((prog.fd = in ? STDIN_FILENO : find_fd(&st)) < 0)
		return;
	prog.on = true;
	prog.size = st.st_size;
	prog.start_ms = ls_mono_ms();
}

static void
human(char *buf, size_t n, double v)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

static void
draw(uint64_t now, bool last)
{
	off_t pos = lseek(prog.fd, 0, SEEK_CUR);
	double secs = (double)(now - prog.start_ms) / 1000, rate, eta;
	char done[32], size[32], line[256];
	int k;

	if (pos < 0 || pos > prog.size)
		pos = prog.size;
	human(done, sizeof(done), (double)pos);
	human(size, sizeof(size), (double)prog.size);
	rate = secs > 0 ? (double)prog.msgs / secs : 0;
	eta = pos > 0 && secs > 0 ? secs * (double)(prog.size - pos) /
	    (double)pos : 0;
	k = snprintf(line, sizeof(line), "%s of %s (%d%%), %llu messages, "
	    "%.0f msg/s, ETA %d:%02d", done, size, prog.size ?
	    (int)(100 * pos / prog.size) : 100,
	    (unsigned long long)prog.msgs, rate, (int)eta / 60, (int)eta % 60);
	if (k < 0)
		return;
	/* \r, the line, blanks over what is left of a longer one */
	dprintf(STDERR_FILENO, "\r%s%*s%s", line, prog.len > (unsigned)k ?
	    (int)(prog.len - (unsigned)k) : 0, "", last ? "\n" : "");
	prog.len = (unsigned)k;
	prog.drawn_ms = now;
}

void
progress_count(uint64_t n)
{
	uint64_t now;

	if (!prog.on)
		return;
	prog.msgs += n;
	if ((prog.msgs & 255) != 0 && prog.msgs > 1)
		return;
	if ((now = ls_mono_ms()) >= prog.drawn_ms + 200)
		draw(now, false);
}

void
progress_end(void)
{
	if (!prog.on)
		return;
	draw(ls_mono_ms(), true);
	prog.on = false;
}
