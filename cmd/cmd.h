/*
 * The commands' shared code, compiled once into libcmd.a (cmd/lib/):
 * diagnostics, signals, numbers from the command line, outputs, the
 * --stats counters and the input side of a stage. One prototype each.
 */
#ifndef CMD_H
#define CMD_H

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libstream.h"

#ifndef LS_VERSION
#define LS_VERSION "0.1.0"
#endif

/* --- diagnostics ----------------------------------------------------- */

/* warn(3), warnx, err, errx and errc, each message written with one
 * write(2) (the C library's write the program name, the message and the
 * newline separately, and the --stats thread's line could land in
 * between), control bytes escaped as \xNN. */
void cmd_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cmd_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void cmd_errx(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
_Noreturn void cmd_err(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
_Noreturn void cmd_errc(int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define warnx cmd_warnx
#define warn cmd_warn
#define errx cmd_errx
#define err cmd_err
#define errc cmd_errc

/* --- signals and descriptors ----------------------------------------- */

/* Set by the first SIGINT or SIGTERM; a second one exits at once (one
 * that comes with the first does not: see CMD_STOP_REPEAT_MS). */
extern volatile int cmd_stop;
/*
 * A second SIGINT or SIGTERM ends a command at once (status 1), but not
 * one that comes within CMD_STOP_WITH_MS of the first, nor one that the
 * process that sent the first sends within CMD_STOP_REPEAT_MS of it:
 * timeout(1), signalled, sends the signal to its command and to its
 * process group, so that one stop can arrive twice. The time is taken
 * when the handler runs, which on a loaded machine can be more than 50
 * ms after the signal was sent (it was, in a check); the sender's own
 * repeat gets the longer window. A terminal's ^C (sent by the kernel)
 * and another process's signal get only the shorter one.
 */
#define CMD_STOP_WITH_MS 50
#define CMD_STOP_REPEAT_MS 500

/* Whether a stop sent by `from' at now_ms (milliseconds) is the first
 * one, sent by first_from at first_ms, again. from is the sender's
 * process id for a signal a process sent (si_code <= 0), else 0. */
bool cmd_stop_repeats(pid_t first_from, uint64_t first_ms, pid_t from,
    uint64_t now_ms);

/* The sender of a signal as cmd_stop_repeats takes it. */
#define CMD_SIG_SENDER(code, pid) ((code) <= 0 ? (pid_t)(pid) : (pid_t)0)

/* Installs the stop handler without SA_RESTART, so a blocked read is
 * interrupted and sees the flag, ignores SIGPIPE, and then unblocks
 * SIGINT and SIGTERM, which a parent may have left blocked (a stop it
 * sent would wait there for ever). */
void cmd_signals(void);

/* Installs only the stop handler (cmd_stop, CMD_STOP_REPEAT_MS), for a
 * command that keeps SIGPIPE's default. */
void cmd_catch_stop(void);

/*
 * Opens /dev/null on whichever of descriptors 0 to 2 is closed, so that
 * no file the program opens becomes its standard error (where
 * diagnostics would be written into it) or output. Call first in main.
 */
void cmd_std_fds(void);

/* The start of every stage's main: descriptors 0 to 2 open, and the
 * stop handler in place before anything is opened or parsed, so that a
 * SIGTERM in the first instant is a stop, not a death. */
void cmd_init(void);

/* Set by SIGHUP once cmd_catch_hup has installed its handler (without
 * SA_RESTART, so that a wait sees it); the stage clears it. */
extern volatile sig_atomic_t cmd_hup;
void cmd_catch_hup(void);

/* Ends the process as SIGPIPE would have: quietly. */
void cmd_die_of_sigpipe(void);

/* --- the command line ------------------------------------------------ */

/* The command's synopsis, "usage: ..." and a newline; set it first. */
extern const char *cmd_usage_text;

/* --help and --version, in every command's long options. */
#define CMD_OPT_VERSION 0x100
#define CMD_LONGOPTS \
	{ "help", no_argument, NULL, 'h' }, \
	{ "version", no_argument, NULL, CMD_OPT_VERSION }

/* A usage error: the reason (fmt; NULL if getopt has given it) on one
 * line, then the synopsis, on standard error; exits 2. */
_Noreturn void cmd_usage(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Takes -h and --help (the synopsis on standard output, exit 0),
 * --version ("program version", exit 0) and getopt's errors ('?',
 * ':': a usage error); returns if ch is none of these. */
void cmd_option(int ch);

/* The number s from min to max (strtonum), or a usage error naming what. */
long long cmd_number(const char *s, long long min, long long max,
    const char *what);

/* The duration s in microseconds (ls_duration_parse), or a usage error
 * naming what. */
uint64_t cmd_duration(const char *s, const char *what);

/* The output options every stage with an --output shares: --append
 * ('A'), --beacon-interval ('B') and --force ('F'). Returns true if ch
 * was one of them. */
bool cmd_sink_option(int ch, const char *arg, ls_sink_opts *ko);

/* --- counters -------------------------------------------------------- */

/* Counters a stage reports; written by the main thread only. */
struct cmd_stats {
	const char *program;
	_Atomic uint64_t in, out, filtered, skipped, raw, corrupt, bytes;
	_Atomic uint64_t retried, dead;	/* batch: runs retried, messages
					   dead-lettered */
	_Atomic uint64_t changes, targets;	/* partition --members:
						   membership changes, and
						   targets now */
	bool members;		/* print changes and targets */
	uint64_t start_ms;
	uint64_t interval_us;	/* 0: only on SIGUSR1 and at exit */
	int fd;			/* where they go: standard error, or
				   LS_STATS_FD (set by pipeline(1)) */
	bool to_fd;		/* LS_STATS_FD: printed --stats or not, and
				   at exit */
};

extern struct cmd_stats cmd_stats;

/* Adds n to counter c (a relaxed store: only the main thread writes). */
static inline void
cmd_count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c,
	    memory_order_relaxed) + n, memory_order_relaxed);
}

/* Prints the counters as one JSON line on standard error (or on
 * LS_STATS_FD). */
void cmd_stats_print(void);

/* Counts the listening input src (ls_listen_stats) in the counters
 * printed from now on; cmd_stats_unlisten before it is closed keeps
 * what it counted. */
void cmd_stats_listen(const ls_source *src);
void cmd_stats_unlisten(const ls_source *src);

/* Starts the counters and a thread that prints them on SIGUSR1 and,
 * if interval_us is not 0, at that interval. Call before other threads. */
void cmd_stats_start(const char *program, uint64_t interval_us);

/* --- outputs --------------------------------------------------------- */

/* Is k the line output on standard output, which a closed pipe may end
 * as SIGPIPE would? */
bool cmd_to_stdout(const ls_sink *k);

/* An output failed with e: the program ends, quietly if it was standard
 * output that a reader closed (to_stdout, from cmd_to_stdout before the
 * sink was closed), else with e's reason and status 1. */
_Noreturn void cmd_output_failed(bool to_stdout, const ls_error *e);

/* Closes k, writing eos as ls_sink_close does. Returns 0, or 1 after a
 * warning with the reason; a reader that closed standard output ends
 * the program quietly, as SIGPIPE would. */
int cmd_sink_close(ls_sink *k, const ls_msg *eos);

/* Opens output uri, or exits naming why, with the stop flag in its
 * options; reports what an append dropped. */
ls_sink *cmd_sink_open(const char *uri, const ls_sink_opts *opts);

/* Reports what appends dropped from every output of a stage. */
void cmd_outs_opened(const ls_outs *os);

/*
 * Counts the outcome rc of writing m, read from src, to the output named
 * to (or NULL): written, dropped by the output's key filter, or
 * (LS_ERR_NOTLINE) not written, with a warning naming the input, where
 * the message is in it, and e's reason. Returns true for these, false for
 * any other error, which the caller handles.
 */
bool cmd_written(int rc, const ls_msg *m, const ls_source *src,
    const char *to, const ls_error *e);

/* --- the input side of a stage --------------------------------------- */

/* The long options every stage takes; add them to a command's table. */
#define STAGE_LONGOPTS \
	{ "input", required_argument, NULL, 'i' }, \
	{ "on-bad-line", required_argument, NULL, 'L' }, \
	{ "quiet", no_argument, NULL, 'q' }, \
	{ "skip-corrupt", no_argument, NULL, 'C' }, \
	{ "stats", no_argument, NULL, 'S' }, \
	{ "stats-interval", required_argument, NULL, 'I' }, \
	{ "tls-cert", required_argument, NULL, STAGE_OPT_TLS_CERT }, \
	{ "tls-key", required_argument, NULL, STAGE_OPT_TLS_KEY }, \
	{ "max-clients", required_argument, NULL, STAGE_OPT_MAX_CLIENTS }, \
	{ "idle-timeout", required_argument, NULL, STAGE_OPT_IDLE_TIMEOUT }, \
	{ "max-line", required_argument, NULL, STAGE_OPT_MAX_LINE }, \
	{ "max-body", required_argument, NULL, STAGE_OPT_MAX_BODY }, \
	{ "max-queue", required_argument, NULL, STAGE_OPT_MAX_QUEUE }, \
	{ "token-file", required_argument, NULL, STAGE_OPT_TOKEN_FILE }, \
	{ "rate", required_argument, NULL, STAGE_OPT_RATE }, \
	{ "burst", required_argument, NULL, STAGE_OPT_BURST }, \
	{ "progress", no_argument, NULL, STAGE_OPT_PROGRESS }, \
	{ "checkpoint", required_argument, NULL, STAGE_OPT_CHECKPOINT }, \
	{ "checkpoint-reset", no_argument, NULL, STAGE_OPT_CHECKPOINT_RESET }

/* Codes of long options without a letter. Each feature takes its own
 * block of 32: listening sources 0x200, HTTP 0x220, etcd 0x240,
 * membership and checkpoints 0x260, pipeline, rate and progress 0x280. */
enum {
	STAGE_OPT_TLS_CERT = 0x200,
	STAGE_OPT_TLS_KEY,
	STAGE_OPT_MAX_CLIENTS,
	STAGE_OPT_IDLE_TIMEOUT,
	STAGE_OPT_MAX_LINE,
	/* the HTTP collector (http://) */
	STAGE_OPT_MAX_BODY = 0x220,
	STAGE_OPT_MAX_QUEUE,
	STAGE_OPT_TOKEN_FILE,
	/* checkpoints of file inputs: 0x260 to 0x26f */
	STAGE_OPT_CHECKPOINT = 0x260,
	STAGE_OPT_CHECKPOINT_RESET,
	BATCH_OPT_JOB_CHECKPOINTS,	/* batch --job-checkpoints */
	/* membership (partition --members): 0x270 on, the upper half of
	 * the block it shares with checkpoints */
	CMD_OPT_MEMBERS = 0x270,
	/* pipeline, rate and progress */
	STAGE_OPT_RATE = 0x280,
	STAGE_OPT_BURST,
	STAGE_OPT_PROGRESS,
};

/* A file input's checkpoint (--checkpoint, cmd/lib/checkpoint.c). */
struct checkpoint {
	const char *file;	/* NULL: none */
	bool reset;		/* --checkpoint-reset: a stale one starts over */
	bool have;		/* pos is what file holds */
	ls_src_pos pos;
	const char *stale;	/* why the file does not fit the input, or
				   NULL */
	bool shorter;		/* the input was found truncated under it */
};

/* Reads cp->file, the checkpoint of input, into cp->pos; false if there
 * is none yet. Exits 1 naming what is wrong with a file it cannot
 * read. */
bool checkpoint_load(struct checkpoint *cp, const char *input);

/* Writes pos of input to cp->file (a temporary beside it, synced, then
 * renamed) unless it holds that position already; exits 1 if it cannot. */
void checkpoint_save(struct checkpoint *cp, const char *input,
    const ls_src_pos *pos);

/* Exits 1 unless dir is a directory (--job-checkpoints). */
void job_checkpoint_dir(const char *dir);

/* The checkpoint file in dir of a batch job, named by the batch: its
 * first message's key, shard and sequence, and a hash of its messages
 * msgs[0..len), in buf (n bytes); exits 1 if it does not fit. */
void job_checkpoint_path(char *buf, size_t n, const char *dir,
    const ls_msg *first, const void *msgs, size_t len);

/* Removes a job's checkpoint file (done with: run, or dead-lettered). */
void job_checkpoint_remove(const char *path);

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
	void (*after_read)(void);	/* called after every read of the
					   input (may exit: an output that
					   failed while the input waited) */
	uint64_t rate_n, rate_per_ns, burst;	/* --rate N/s, --burst */
	bool progress;		/* --progress */
	struct checkpoint cp;	/* --checkpoint */
	bool checkpoints;	/* the command calls stage_checkpoint */
};

/* Starts a stage's main (cmd_init) and sets st to its defaults. */
void stage_init(struct stage *st, const char *program);

/* Takes one of the options of STAGE_LONGOPTS (and -i, -q); returns true
 * if ch was one of them. */
bool stage_option(struct stage *st, int ch, const char *arg);

/* Starts the counters (once per program). */
void stage_start(const struct stage *st);

/* Opens st's input, or exits naming why. */
void stage_open_input(struct stage *st);

/* Starts the counters and opens the input. */
void stage_open(struct stage *st);

/* Reports msg about the input, calls st->abort and exits with 1. */
_Noreturn void stage_fail(struct stage *st, const char *msg);

/*
 * Reads the next message into m. Returns LS_OK; LS_END at the end of
 * the input or its End-of-Stream (eos_ts then set); LS_AGAIN if the
 * wait hook gave up. Bad lines, damage and a followed file truncated or
 * replaced are reported and, as the options say, skipped; other input
 * errors end the program.
 */
int stage_next(struct stage *st, ls_msg *m);

/* Records where st's input is in its checkpoint file, if it has one;
 * call once every message read so far is out (the outputs flushed). */
void stage_checkpoint(struct stage *st);

/* Acknowledges to st's input (a broker group, an HTTP client) every
 * message read so far: call once they are all out; a failure is a
 * warning. */
void stage_commit(struct stage *st);

/* Both, once the outputs flushed: stage_commit, then stage_checkpoint. */
void stage_flushed(struct stage *st);

/* The same in two halves, for a stage that holds messages (batch):
 * stage_mark takes the position after the last message read (false,
 * pos untouched, without a checkpoint); stage_checkpoint_at records one
 * taken earlier, once every message before it is out. */
bool stage_mark(const struct stage *st, ls_src_pos *pos);
void stage_checkpoint_at(struct stage *st, ls_src_pos *pos);

/* Closes st's input, reporting the lines it took raw. */
void stage_close_input(struct stage *st);

/* Prints the last counters; returns the exit status they call for (1
 * if lines were skipped, unless quiet, or damage was met). */
int stage_end(const struct stage *st);

/* Closes the input and ends the counters (stage_close_input, then
 * stage_end); returns stage_end's status. */
int stage_close(struct stage *st);

/* The End-of-Stream the outputs get: the input's, else (for .ss files,
 * which always end with one) one stamped now. */
const ls_msg *stage_eos(const struct stage *st, ls_msg *eos);

/* --- pace: --rate and --progress (cmd/lib/pace.c) -------------------- */

/* Takes --rate, --burst and --progress; true if ch was one of them. */
bool stage_pace_option(struct stage *st, int ch, const char *arg);

/* Waits, without spinning, until the --rate token bucket of the program
 * lets one more message through (nothing if st has no --rate); calls
 * st's on_wait first, so that what was read goes out while it waits. */
void stage_pace(const struct stage *st);

/* --progress: watch the input path if it is a regular file (the one
 * this process has open), and draw a progress line on standard error
 * (redrawn in place) if that is a terminal or LS_PROGRESS=1 is set. */
void progress_open(const char *path);
/* Counts n messages more; redraws at most every 200 ms. */
void progress_count(uint64_t n);
/* The last line, and a newline. */
void progress_end(void);

#endif
