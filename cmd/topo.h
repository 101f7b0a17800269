/*
 * A topology of stages for pipeline(1) (cmd/lib/topo*.c): read from
 * files or -e lines, one stage a line, its @NAME words connections
 * (FIFOs in a private directory), checked before anything starts;
 * printed as a shell script or Graphviz dot; run and supervised over
 * the event core.
 */
#ifndef TOPO_H
#define TOPO_H

#include <sys/types.h>

#include "cmd.h"

/* A word of a command replaced when it is run: a connection @NAME
 * (by the FIFO's path) or the program (by its path). */
struct topo_repl {
	size_t off, len;	/* in the stage's text */
	char *name;		/* NAME, or the program's path */
	bool conn;
};

/* One command of a stage (a stage is a short pipe of them). */
struct topo_seg {
	char *prog;		/* our command's name */
	size_t off, end;	/* its words in the stage's text */
	struct topo_repl *r;
	size_t nr;
	char *cmd;		/* its shell command, @NAME replaced by the
				   FIFO's path, the program by its path */
	pid_t pid;		/* 0 when not running */
	int status;		/* its wait status */
	/* pipeline --stats: the command's own counters, read from the
	   pipe its LS_STATS_FD writes (cmd/lib/topo-stats.c) */
	int stats_fd;		/* -1 if none */
	char sbuf[512];		/* a line being read */
	size_t slen;
	bool counted;		/* a line was read, in this run or before */
	uint64_t in, out;	/* its last line's, this run */
	uint64_t base_in, base_out;	/* its earlier runs' */
};

enum topo_state { TS_WAIT, TS_RUN, TS_BACKOFF, TS_DONE, TS_FAILED };

struct topo_stage {
	char *name;		/* [name=...] or "prog:LINE" */
	char *where;		/* "FILE:LINE" */
	char *text;		/* the line as written, @NAME kept */
	struct topo_seg *seg;
	size_t nseg;
	unsigned restart_max;	/* [restart=N] */
	unsigned restarts;
	enum topo_state state;
	int status;		/* the wait status that ended it */
	bool source;		/* reads no connection */
	bool stopped;		/* sent SIGTERM by the runner */
	size_t running;		/* commands still running */
	uint64_t timer;
	struct topo *t;
	uint64_t prev_in, prev_out;	/* at the last --stats line */
};

/* A connection: one writer, one reader, a FIFO. */
struct topo_conn {
	char *name;
	char *path;		/* the FIFO */
	int writer, reader;	/* stage indices, -1 if none */
	char *wwhere, *rwhere;
	int rfd, wfd;		/* the runner's own ends, -1 if closed */
	bool writer_done;	/* its writer has ended for good: wfd goes
				   once the reader has the FIFO open */
};

struct topo {
	const char *self_dir;	/* where pipeline's binary is */
	char *dir;		/* the FIFOs' directory, NULL until made */
	struct topo_stage *st;
	size_t nst;
	struct topo_conn *c;
	size_t nc;
};

/* Reads the stages of file path (or "-" for standard input) into t;
 * copy is the number %d stands for in its text, or -1 for none.
 * Returns 0, or -1 after a warning naming FILE:LINE. */
int topo_read_file(struct topo *t, const char *path, int copy);

/* Adds the stage text (a -e argument, named "-e:N"). Returns 0 or -1
 * after a warning. */
int topo_add_line(struct topo *t, const char *text, const char *where);

/* Checks every connection has one writer and one reader, and that no
 * cycle joins the stages; sets each stage's source flag. Returns 0, or
 * -1 after a warning naming FILE:LINE. */
int topo_check(struct topo *t);

/* Gives each connection its FIFO's path under dir (not created yet) and
 * writes the shell commands of every stage. */
void topo_paths(struct topo *t, const char *dir);

/* The topology as a shell script (--dry-run) on f. */
void topo_print_sh(const struct topo *t, FILE *f);

/* The topology as Graphviz dot (--graph) on f. */
void topo_print_dot(const struct topo *t, FILE *f);

/* Frees what t holds. */
void topo_free(struct topo *t);

/* Runs t: makes the FIFOs, starts the stages, supervises them and stops
 * them in order on SIGTERM or SIGINT; stats_us, if not 0, prints a JSON
 * line of the stages' states at that interval (UINT64_MAX: only at the
 * end) and at the end. Returns the exit status
 * (0 if every stage ended well). */
int topo_run(struct topo *t, uint64_t stats_us);

/* --- the runner's guard (cmd/lib/topo-guard.c) --- */

/* Forks the guard of t, whose FIFOs are made: a process that, if the
 * runner goes before topo_guard_done (killed with SIGKILL), sends
 * SIGTERM to the sources' first commands still running and removes the
 * FIFOs and their directory. */
void topo_guard_start(const struct topo *t);

/* Source stage `stage`'s first command has started as pid, or ended
 * (pid 0). */
void topo_guard_source(size_t stage, pid_t pid);

/* The runner is done: the guard ends without doing anything. */
void topo_guard_done(void);

/* --- the stages' counters for --stats (cmd/lib/topo-stats.c) --- */

/* Before command sg starts: fills vars (3 entries) with LS_STATS_FD
 * and LS_STATS_INTERVAL naming the write end of a new pipe, which it
 * returns (the caller closes it once started); -1 and vars[0] NULL if
 * stats_ms is 0. */
int topo_stats_pipe(ls_loop *l, struct topo_seg *sg, uint64_t stats_ms,
    char *vars[3]);

/* Command sg has ended: its last lines are read, its pipe closed. */
void topo_stats_ended(ls_loop *l, struct topo_seg *sg);

/* One --stats line of every stage on standard error: JSON, or on a
 * terminal (or with LS_STATS_TABLE=1) a table redrawn in place. */
void topo_stats_print(struct topo *t, uint64_t elapsed_ms,
    uint64_t interval_ms);

#endif
