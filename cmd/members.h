/*
 * Live membership of a dispatching stage (cmd/lib/members.c): targets
 * known by NAME, each writing to an OUTPUT (any output URI), a key going
 * to the target its name wins by rendezvous hashing (ls_hash_rendezvous).
 * A change flushes every output first, so that the messages of a key
 * that moves reach its new target only after what its old one was given
 * has been written. Changes come from a file (members_file_*) or from
 * any other source that calls members_join and members_leave.
 */
#ifndef MEMBERS_H
#define MEMBERS_H

#include <sys/stat.h>

#include "cmd.h"

/* One target as a source names it: where (e.g. "FILE line 4"). */
struct member_spec {
	char *name, *output, *from;
};

/* A whole membership as read from a source (its name, e.g. the file's,
 * not owned: the list must not outlive it). */
struct member_list {
	struct member_spec *v;
	size_t n, cap;
	const char *source;
};

/* Adds NAME with OUTPUT, named from where, to l (copies the strings).
 * Returns 0, or -1 with why (a NAME or OUTPUT already in l, naming where
 * it was first); exits on a lack of memory. */
int member_list_add(struct member_list *l, const char *name,
    const char *output, const char *from, char *why, size_t len);

/* Frees what l holds and empties it. */
void member_list_free(struct member_list *l);

/*
 * Reads the membership file path into l (emptied first): one target a
 * line, "NAME OUTPUT" separated by blanks; blank lines and lines or
 * trailing fields starting with '#' are comments. Returns 0, or -1 with
 * why naming the file and the line (or the file, if it cannot be read
 * or names no target); l is then empty.
 */
int members_parse(const char *path, struct member_list *l, char *why,
    size_t len);

/* The live set: the targets, their sinks, the counters. */
struct members;

/* An empty set whose outputs open with so (copied; the outputs of later
 * changes open as with so->append, unless so->force is set). */
struct members *members_new(const ls_sink_opts *so);

/*
 * Makes l the membership: targets not in l leave, new ones join, a NAME
 * given a new OUTPUT moves there (its keys stay with it). Every output is
 * flushed first; leaving ones are closed as at the end (End-of-Stream of
 * a .ss file). Each change is reported on standard error, e.g.
 * "members: +b (FILE line 4), 2 targets -> 3". Returns LS_OK (nothing
 * to change is fine); LS_ERR_INVAL if l is refused as a whole (empty,
 * or an output that cannot be opened), the membership unchanged, with
 * why in err; any other error is an output that failed, in err, after
 * which the set can only be aborted (members_abort).
 */
int members_set(struct members *ms, const struct member_list *l,
    ls_error *err);

/* One change, as members_set with the membership plus (join) NAME on
 * OUTPUT, or minus (leave) NAME; from says where the change comes from.
 * Leaving the last target is refused (LS_ERR_INVAL), as is leaving a
 * NAME not there. */
int members_join(struct members *ms, const char *name, const char *output,
    const char *from, ls_error *err);
int members_leave(struct members *ms, const char *name, const char *from,
    ls_error *err);

/* The number of targets, and the changes applied so far. */
size_t members_count(const struct members *ms);
uint64_t members_changes(const struct members *ms);

/* The target of a key of hash key_hash (ls_hash64 of the key); the set
 * must not be empty. */
size_t members_pick(const struct members *ms, uint64_t key_hash);

/* The epoch of the targets: a number no other set of targets, of this
 * or another struct members, has had, so that a pick remembered with it
 * holds while it stays (0 before the first membership). */
uint64_t members_epoch(const struct members *ms);

/* Target i's name and its output's name. */
const char *members_name(const struct members *ms, size_t i);
const char *members_output(const struct members *ms, size_t i);

/* Writes m to target i, as ls_sink_write. */
int members_write(struct members *ms, size_t i, const ls_msg *m,
    ls_error *err);

/* Flushes every output; returns the first error. */
int members_flush(struct members *ms, ls_error *err);

/* Closes every output with eos as ls_sink_close (abort: as
 * ls_sink_abort, without End-of-Stream) and frees ms; returns the first
 * error. */
int members_close(struct members *ms, const ls_msg *eos, ls_error *err);
void members_abort(struct members *ms);

/* A membership file, looked at by stat(2): inode, size and mtime. */
struct members_file {
	const char *path;
	struct stat st;
	bool seen;		/* st is valid */
};

/* Reads f->path into l the first time; returns as members_parse. */
int members_file_open(struct members_file *f, const char *path,
    struct member_list *l, char *why, size_t len);

/*
 * Looks at f->path again (always if force: a SIGHUP): returns 0 if it
 * has not changed, 1 with the new membership in l, -1 with why if it
 * changed but cannot be read or is bad (the next look tries again only
 * once it changes again, or with force).
 */
int members_file_poll(struct members_file *f, bool force,
    struct member_list *l, char *why, size_t len);

/*
 * A membership kept in etcd (cmd/lib/members-etcd.c): the keys under
 * the prefix of an etcd:// URI, read through its source (a list, then a
 * watch), each PREFIX/NAME holding OUTPUT; a deleted key (a lease that
 * ran out, member(1) ending) is a leave.
 */
struct members_etcd {
	ls_source *src;
	const char *uri;
};

/* Lists the membership under uri into l (emptied first). Returns 0, or
 * -1 with why (etcd cannot be read, or no target is registered). */
int members_etcd_open(struct members_etcd *me, const char *uri,
    struct member_list *l, char *why, size_t len);

/* Applies to ms each change the watch has brought, without waiting; a
 * change refused is reported and skipped. Returns LS_OK, or an error
 * (an output that failed, or the watch) in err. */
int members_etcd_poll(struct members_etcd *me, struct members *ms,
    ls_error *err);

void members_etcd_close(struct members_etcd *me);

#endif
