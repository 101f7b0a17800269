/* Live membership: targets by name, their outputs, and changes to them
 * (cmd/members.h). */
#define _GNU_SOURCE	/* asprintf */
#include <stdarg.h>
#include <stdio.h>

#include "members.h"

struct target {
	char *name, *output, *from;
	uint64_t hash;
	ls_sink *sink;
};

struct members {
	struct target *t;
	uint64_t *h;		/* t[i].hash, for ls_hash_rendezvous */
	size_t n;
	ls_sink_opts so;
	uint64_t changes;
	uint64_t epoch;		/* of t: see members_epoch */
};

/* The epochs handed out so far, to every set of targets in turn. */
static uint64_t epochs;

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		err(1, NULL);
	return d;
}

/* The index of name in l, or SIZE_MAX. */
static size_t
list_find(const struct member_list *l, const char *name, bool output)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(output ? l->v[i].output : l->v[i].name, name) == 0)
			return i;
	return SIZE_MAX;
}

int
member_list_add(struct member_list *l, const char *name, const char *output,
    const char *from, char *why, size_t len)
{
	size_t i;

	if ((i = list_find(l, name, false)) != SIZE_MAX) {
		snprintf(why, len, "%s: NAME '%s' is given twice (first at %s)",
		    from, name, l->v[i].from);
		return -1;
	}
	if ((i = list_find(l, output, true)) != SIZE_MAX) {
		snprintf(why, len, "%s: output '%s' is already '%s''s (at %s)",
		    from, output, l->v[i].name, l->v[i].from);
		return -1;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		void *v = reallocarray(l->v, cap, sizeof(*l->v));
		if (v == NULL)
			err(1, NULL);
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].name = xstrdup(name);
	l->v[l->n].output = xstrdup(output);
	l->v[l->n].from = xstrdup(from);
	l->n++;
	return 0;
}

void
member_list_free(struct member_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].output);
		free(l->v[i].from);
	}
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/* The next blank-separated field of *p, NUL-terminated in place, or
 * NULL at the end of the line or at a comment. */
static char *
field(char **p)
{
	char *s = *p + strspn(*p, " \t\r");

	if (*s == '\0' || *s == '#')
		return NULL;
	*p = s + strcspn(s, " \t\r");
	if (**p != '\0')
		*(*p)++ = '\0';
	return s;
}

/* Takes line lineno of path into l. */
static int
parse_line(const char *path, size_t lineno, char *line, size_t n,
    struct member_list *l, char *why, size_t len)
{
	char from[64], *p = line, *name, *output, *extra;

	if (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	if (memchr(line, '\0', n) != NULL) {
		snprintf(why, len, "%s: line %zu: a NUL byte", path, lineno);
		return -1;
	}
	if ((name = field(&p)) == NULL)
		return 0;
	if ((output = field(&p)) == NULL) {
		snprintf(why, len, "%s: line %zu: NAME '%s' has no OUTPUT",
		    path, lineno, name);
		return -1;
	}
	if ((extra = field(&p)) != NULL) {
		snprintf(why, len, "%s: line %zu: '%s' after NAME and OUTPUT "
		    "(one target a line: NAME OUTPUT)", path, lineno, extra);
		return -1;
	}
	snprintf(from, sizeof(from), "line %zu", lineno);
	if (member_list_add(l, name, output, from, why, len) != 0) {
		/* name the file too */
		char tmp[LS_ERRMSG_MAX];
		snprintf(tmp, sizeof(tmp), "%s", why);
		snprintf(why, len, "%s: %s", path, tmp);
		return -1;
	}
	return 0;
}

int
members_parse(const char *path, struct member_list *l, char *why,
    size_t len)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	int rc = 0;

	member_list_free(l);
	l->source = path;
	if ((fp = fopen(path, "re")) == NULL) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && (n = getline(&line, &cap, fp)) >= 0)
		rc = parse_line(path, ++lineno, line, (size_t)n, l, why, len);
	if (rc == 0 && ferror(fp)) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && l->n == 0) {
		snprintf(why, len, "%s: no target (one a line: NAME OUTPUT)",
		    path);
		rc = -1;
	}
	free(line);
	fclose(fp);
	if (rc != 0)
		member_list_free(l);
	return rc;
}

/* --- the live set -------------------------------------------------------- */

struct members *
members_new(const ls_sink_opts *so)
{
	struct members *ms = calloc(1, sizeof(*ms));

	if (ms == NULL)
		err(1, NULL);
	ms->so = *so;
	return ms;
}

size_t
members_count(const struct members *ms)
{
	return ms->n;
}

uint64_t
members_changes(const struct members *ms)
{
	return ms->changes;
}

uint64_t
members_epoch(const struct members *ms)
{
	return ms->epoch;
}

size_t
members_pick(const struct members *ms, uint64_t key_hash)
{
	return ls_hash_rendezvous(key_hash, ms->h, ms->n);
}

const char *
members_name(const struct members *ms, size_t i)
{
	return ms->t[i].name;
}

const char *
members_output(const struct members *ms, size_t i)
{
	return ls_sink_name(ms->t[i].sink);
}

int
members_write(struct members *ms, size_t i, const ls_msg *m, ls_error *err)
{
	return ls_sink_write(ms->t[i].sink, m, err);
}

int
members_flush(struct members *ms, ls_error *err)
{
	int rc = LS_OK;

	for (size_t i = 0; i < ms->n && rc == LS_OK; i++)
		rc = ls_sink_flush(ms->t[i].sink, err);
	return rc;
}

/* The index of target name, or SIZE_MAX. */
static size_t
find(const struct members *ms, const char *name)
{
	for (size_t i = 0; i < ms->n; i++)
		if (strcmp(ms->t[i].name, name) == 0)
			return i;
	return SIZE_MAX;
}

/* Opens output uri for a change: as the options say the first time;
 * later, an output that exists (one that left and comes back) is
 * continued as with --append, unless --force replaces it. */
static ls_sink *
open_output(const struct members *ms, const char *uri, ls_error *err)
{
	ls_sink_opts o = ms->so;
	ls_sink *k;

	if ((k = ls_sink_open(uri, &o, err)) != NULL || ms->n == 0 ||
	    o.append || o.force)
		return k;
	o.append = true;
	return ls_sink_open(uri, &o, err);
}

static int refuse(ls_error *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* A change refused as a whole: LS_ERR_INVAL, the reason in err. */
static int
refuse(ls_error *err, const char *fmt, ...)
{
	va_list ap;

	err->code = LS_ERR_INVAL;
	err->offset = 0;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return LS_ERR_INVAL;
}

/* A change to make: for each NAME of the new list, its target now (none:
 * a join) and its sink (kept, or opened by the change); for each target
 * now, whether it goes on with its sink (kept: same NAME, same OUTPUT). */
struct plan {
	const struct member_list *l;
	size_t *old;		/* spec j's target now, or SIZE_MAX */
	ls_sink **k;		/* spec j's sink */
	bool *kept;		/* target i keeps its sink */
	size_t changes;
};

static void
plan_free(struct plan *p)
{
	free(p->old);
	free(p->k);
	free(p->kept);
}

/* Pairs the new list with the targets now; counts the changes. */
static void
plan_make(struct members *ms, const struct member_list *l, struct plan *p)
{
	memset(p, 0, sizeof(*p));
	p->l = l;
	if ((p->old = calloc(l->n, sizeof(*p->old))) == NULL ||
	    (p->k = calloc(l->n, sizeof(*p->k))) == NULL ||
	    (p->kept = calloc(ms->n + 1, sizeof(*p->kept))) == NULL)
		err(1, NULL);
	for (size_t j = 0; j < l->n; j++) {
		size_t i = find(ms, l->v[j].name);
		p->old[j] = i;
		if (i != SIZE_MAX && strcmp(ms->t[i].output,
		    l->v[j].output) == 0) {
			p->kept[i] = true;
			p->k[j] = ms->t[i].sink;
		} else
			p->changes++;	/* a join or a move */
	}
	for (size_t i = 0; i < ms->n; i++)
		p->changes += list_find(l, ms->t[i].name, false) == SIZE_MAX;
}

/* Ends the sinks the plan opened (after a failure). */
static void
plan_abort(struct members *ms, struct plan *p)
{
	for (size_t j = 0; j < p->l->n; j++)
		if (p->k[j] != NULL && (p->old[j] == SIZE_MAX ||
		    !p->kept[p->old[j]]))
			ls_sink_abort(p->k[j], NULL);
	(void)ms;
}

/* Is output uri a target's now? */
static bool
held(const struct members *ms, const char *uri)
{
	for (size_t i = 0; i < ms->n; i++)
		if (ms->t[i].sink != NULL && strcmp(ms->t[i].output, uri) == 0)
			return true;
	return false;
}

/* Opens the new outputs; held ones only once their holder is closed
 * (late). A failure is the caller's to handle. */
static int
plan_open(struct members *ms, struct plan *p, bool late, ls_error *err)
{
	for (size_t j = 0; j < p->l->n; j++) {
		const char *uri = p->l->v[j].output;
		if (p->k[j] != NULL || (!late && held(ms, uri)))
			continue;
		if ((p->k[j] = open_output(ms, uri, err)) == NULL)
			return err->code;
	}
	return LS_OK;
}

/* Closes the outputs of the targets that leave or move, as at the end. */
static int
plan_close(struct members *ms, struct plan *p, ls_error *err)
{
	int rc = LS_OK;

	for (size_t i = 0; i < ms->n; i++) {
		if (p->kept[i] || ms->t[i].sink == NULL)
			continue;
		int r = ls_sink_close(ms->t[i].sink, NULL, rc == LS_OK ? err :
		    NULL);
		ms->t[i].sink = NULL;
		if (rc == LS_OK)
			rc = r;
	}
	return rc;
}

/* "(SOURCE FROM)" of spec s of l. */
static const char *
where(const struct member_list *l, const struct member_spec *s, char *buf,
    size_t len)
{
	snprintf(buf, len, "%s%s%s", l->source ? l->source : "",
	    l->source ? " " : "", s->from);
	return buf;
}

/* One warning a change: leaves, moves, then joins. */
static void
plan_report(const struct members *ms, const struct plan *p)
{
	const struct member_list *l = p->l;
	size_t n = ms->n;
	char w[512];

	for (size_t i = 0; i < ms->n; i++)
		if (list_find(l, ms->t[i].name, false) == SIZE_MAX) {
			warnx("members: -%s (gone from %s), %zu target%s -> %zu",
			    ms->t[i].name, l->source ? l->source : "the list",
			    n, n == 1 ? "" : "s", n - 1);
			n--;
		}
	for (size_t j = 0; j < l->n; j++)
		if (p->old[j] != SIZE_MAX && !p->kept[p->old[j]])
			warnx("members: %s moves from %s to %s (%s), keeping "
			    "its keys", l->v[j].name, ms->t[p->old[j]].output,
			    l->v[j].output, where(l, &l->v[j], w, sizeof(w)));
	for (size_t j = 0; j < l->n; j++)
		if (p->old[j] == SIZE_MAX) {
			warnx("members: +%s (%s), %zu target%s -> %zu",
			    l->v[j].name, where(l, &l->v[j], w, sizeof(w)), n,
			    n == 1 ? "" : "s", n + 1);
			n++;
		}
}

/* The targets become the plan's list. */
static void
plan_commit(struct members *ms, struct plan *p)
{
	const struct member_list *l = p->l;
	struct target *t = calloc(l->n, sizeof(*t));
	uint64_t *h = calloc(l->n, sizeof(*h));

	if (t == NULL || h == NULL)
		err(1, NULL);
	for (size_t j = 0; j < l->n; j++) {
		t[j].name = xstrdup(l->v[j].name);
		t[j].output = xstrdup(l->v[j].output);
		t[j].from = xstrdup(l->v[j].from);
		t[j].sink = p->k[j];
		h[j] = t[j].hash = ls_hash64(t[j].name, strlen(t[j].name));
	}
	for (size_t i = 0; i < ms->n; i++) {
		free(ms->t[i].name);
		free(ms->t[i].output);
		free(ms->t[i].from);
	}
	free(ms->t);
	free(ms->h);
	ms->t = t;
	ms->h = h;
	ms->epoch = ++epochs;
	if (ms->n > 0)		/* not the first membership */
		ms->changes += p->changes;
	ms->n = l->n;
}

/* Applies plan p: flush, open, close, open what was held. */
static int
plan_apply(struct members *ms, struct plan *p, ls_error *err)
{
	char why[LS_ERRMSG_MAX];
	int rc;

	if ((rc = members_flush(ms, err)) != LS_OK)
		return rc == LS_ERR_INVAL ? LS_ERR_IO : rc;
	if (plan_open(ms, p, false, err) != LS_OK) {
		plan_abort(ms, p);
		snprintf(why, sizeof(why), "%s", err->msg);
		return refuse(err, "%s (membership unchanged)", why);
	}
	if (ms->n > 0)
		plan_report(ms, p);
	if ((rc = plan_close(ms, p, err)) == LS_OK)
		rc = plan_open(ms, p, true, err);
	if (rc != LS_OK) {
		plan_abort(ms, p);
		return rc == LS_ERR_INVAL ? LS_ERR_IO : rc;
	}
	plan_commit(ms, p);
	return LS_OK;
}

int
members_set(struct members *ms, const struct member_list *l, ls_error *err)
{
	struct plan p;
	int rc = LS_OK;

	if (l->n == 0)
		return refuse(err, "%s: no target (membership unchanged)",
		    l->source ? l->source : "the list");
	plan_make(ms, l, &p);
	if (p.changes > 0)
		rc = plan_apply(ms, &p, err);
	plan_free(&p);
	return rc;
}

/* The membership now as a list. */
static void
current(const struct members *ms, struct member_list *l)
{
	char why[LS_ERRMSG_MAX];

	memset(l, 0, sizeof(*l));
	for (size_t i = 0; i < ms->n; i++)
		if (member_list_add(l, ms->t[i].name, ms->t[i].output,
		    ms->t[i].from, why, sizeof(why)) != 0)
			errx(1, "members: %s", why);	/* cannot happen */
}

int
members_join(struct members *ms, const char *name, const char *output,
    const char *from, ls_error *err)
{
	struct member_list l;
	char why[LS_ERRMSG_MAX];
	size_t i = find(ms, name);
	int rc;

	current(ms, &l);
	if (i != SIZE_MAX) {	/* a move: drop it, then add it anew */
		free(l.v[i].name);
		free(l.v[i].output);
		free(l.v[i].from);
		memmove(&l.v[i], &l.v[i + 1], (l.n - i - 1) * sizeof(*l.v));
		l.n--;
	}
	if (member_list_add(&l, name, output, from, why, sizeof(why)) != 0)
		rc = refuse(err, "%s (membership unchanged)", why);
	else
		rc = members_set(ms, &l, err);
	member_list_free(&l);
	return rc;
}

int
members_leave(struct members *ms, const char *name, const char *from,
    ls_error *err)
{
	struct member_list l;
	size_t i = find(ms, name);
	int rc;

	if (i == SIZE_MAX)
		return refuse(err, "%s: no target '%s' to leave", from, name);
	if (ms->n == 1)
		return refuse(err, "%s: '%s' is the last target: it stays",
		    from, name);
	current(ms, &l);
	free(l.v[i].name);
	free(l.v[i].output);
	free(l.v[i].from);
	memmove(&l.v[i], &l.v[i + 1], (l.n - i - 1) * sizeof(*l.v));
	l.n--;
	l.source = from;
	rc = members_set(ms, &l, err);
	member_list_free(&l);
	return rc;
}

static void
members_free(struct members *ms)
{
	for (size_t i = 0; i < ms->n; i++) {
		free(ms->t[i].name);
		free(ms->t[i].output);
		free(ms->t[i].from);
	}
	free(ms->t);
	free(ms->h);
	free(ms);
}

int
members_close(struct members *ms, const ls_msg *eos, ls_error *err)
{
	int rc = LS_OK;

	for (size_t i = 0; i < ms->n; i++) {
		if (ms->t[i].sink == NULL)
			continue;
		int r = ls_sink_close(ms->t[i].sink, eos, rc == LS_OK ? err :
		    NULL);
		if (rc == LS_OK)
			rc = r;
	}
	members_free(ms);
	return rc;
}

void
members_abort(struct members *ms)
{
	for (size_t i = 0; i < ms->n; i++)
		if (ms->t[i].sink != NULL)
			ls_sink_abort(ms->t[i].sink, NULL);
	members_free(ms);
}

/* --- the membership file ------------------------------------------------- */

/* Has the file changed since f->st (or come or gone)? */
static bool
file_changed(const struct members_file *f, const struct stat *st, bool ok)
{
	if (ok != f->seen)
		return true;
	if (!ok)
		return false;
	return st->st_dev != f->st.st_dev || st->st_ino != f->st.st_ino ||
	    st->st_size != f->st.st_size ||
	    st->st_mtim.tv_sec != f->st.st_mtim.tv_sec ||
	    st->st_mtim.tv_nsec != f->st.st_mtim.tv_nsec ||
	    st->st_ctim.tv_sec != f->st.st_ctim.tv_sec ||
	    st->st_ctim.tv_nsec != f->st.st_ctim.tv_nsec;
}

int
members_file_poll(struct members_file *f, bool force, struct member_list *l,
    char *why, size_t len)
{
	struct stat st;
	bool ok = stat(f->path, &st) == 0;
	int e = errno;

	if (!force && !file_changed(f, &st, ok))
		return 0;
	f->seen = ok;
	if (!ok) {
		snprintf(why, len, "%s: %s", f->path, strerror(e));
		return -1;
	}
	f->st = st;
	return members_parse(f->path, l, why, len) == 0 ? 1 : -1;
}

int
members_file_open(struct members_file *f, const char *path,
    struct member_list *l, char *why, size_t len)
{
	memset(f, 0, sizeof(*f));
	f->path = path;
	return members_file_poll(f, true, l, why, len) == 1 ? 0 : -1;
}
