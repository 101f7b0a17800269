/*
 * pipeline's topology: lines of shell syntax split into words (quotes,
 * backslashes, $(...) and `...` kept whole), pipes and redirections;
 * each @NAME word a connection, read or written as the word before it
 * (or the command) says; checked before anything starts.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "topo.h"

enum { T_WORD, T_PIPE, T_IN, T_OUT, T_DUP };

struct tok {
	int kind;
	size_t off, len;	/* in the line */
	char *val;		/* the word without its quotes */
	bool plain;		/* no quote, escape or expansion in it */
};

struct line {
	const char *s, *where;
	struct tok *tok;
	size_t ntok;
	const char *comment;	/* after an unquoted '#', or NULL */
};

static const char *const ours[] = {
	"batch", "clock", "fanout", "partition", "relay", "ss-decode", NULL
};

static void *
xreallocarray(void *p, size_t n, size_t size)
{
	if ((p = reallocarray(p, n, size)) == NULL)
		err(1, NULL);
	return p;
}

static char *
xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);

	if (d == NULL)
		err(1, NULL);
	return d;
}

static char *
xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		err(1, NULL);
	return s;
}

/* Scans a quoted part or expansion at s[*i] into v; false if it does
 * not end on the line. */
static bool
scan_quoted(const char *s, size_t *i, char *v, size_t *n)
{
	char q = s[*i];
	int depth = 0;

	if (q == '$') {		/* $( ... ) kept as written */
		v[(*n)++] = s[(*i)++];
		do {
			depth += s[*i] == '(';
			depth -= s[*i] == ')';
			v[(*n)++] = s[(*i)++];
		} while (s[*i] != '\0' && depth > 0);
		return depth == 0;
	}
	for ((*i)++; s[*i] != '\0' && s[*i] != q; (*i)++) {
		if (q == '"' && s[*i] == '\\' && s[*i + 1] != '\0')
			(*i)++;
		v[(*n)++] = s[*i];
	}
	if (s[*i] != q)
		return false;
	(*i)++;
	return true;
}

/* Scans the word at s[*i] into t. Returns NULL or what is wrong. */
static const char *
scan_word(const char *s, size_t *i, struct tok *t)
{
	size_t n = 0;

	t->kind = T_WORD;
	t->off = *i;
	t->plain = true;
	if ((t->val = malloc(strlen(s + *i) + 1)) == NULL)
		err(1, NULL);
	while (s[*i] != '\0' && !isspace((unsigned char)s[*i]) &&
	    strchr("|<>;&()", s[*i]) == NULL) {
		char c = s[*i];
		if (c == '\\' && s[*i + 1] != '\0') {
			t->plain = false;
			t->val[n++] = s[*i + 1];
			*i += 2;
		} else if (c == '\'' || c == '"' || c == '`' ||
		    (c == '$' && s[*i + 1] == '(')) {
			t->plain = false;
			if (!scan_quoted(s, i, t->val, &n))
				return "a quote or $( that does not end";
		} else {
			t->plain = t->plain && c != '$';
			t->val[n++] = c;
			(*i)++;
		}
	}
	t->val[n] = '\0';
	t->len = *i - t->off;
	return NULL;
}

/* Scans an operator at s[*i] into t. Returns NULL or what is wrong. */
static const char *
scan_op(const char *s, size_t *i, struct tok *t)
{
	t->off = *i;
	t->val = NULL;
	if (s[*i] == '|' && s[*i + 1] != '|') {
		t->kind = T_PIPE;
		(*i)++;
	} else if (s[*i] == '<') {
		t->kind = T_IN;
		(*i)++;
	} else if (s[*i] == '>') {
		t->kind = T_OUT;
		(*i)++;
		if (s[*i] == '>' || s[*i] == '|')
			(*i)++;
		else if (s[*i] == '&') {
			t->kind = T_DUP;
			(*i)++;
		}
	} else
		return "only '|' and redirections join commands in a stage";
	t->len = *i - t->off;
	return NULL;
}

/* Splits l->s into tokens. Returns 0 or -1 after a warning. */
static int
lex(struct line *l)
{
	const char *s = l->s, *why;
	size_t i = 0;

	for (;;) {
		while (isspace((unsigned char)s[i]))
			i++;
		if (s[i] == '\0')
			return 0;
		if (s[i] == '#') {
			l->comment = s + i + 1;
			return 0;
		}
		l->tok = xreallocarray(l->tok, l->ntok + 1, sizeof(*l->tok));
		struct tok *t = &l->tok[l->ntok++];
		why = strchr("|<>;&()", s[i]) != NULL ? scan_op(s, &i, t) :
		    scan_word(s, &i, t);
		if (why != NULL) {
			warnx("%s: %s", l->where, why);
			return -1;
		}
	}
}

static void
line_free(struct line *l)
{
	for (size_t i = 0; i < l->ntok; i++)
		free(l->tok[i].val);
	free(l->tok);
}

/* --- the stages and their connections -------------------------------- */

static bool
is_ours(const char *prog)
{
	for (size_t i = 0; ours[i] != NULL; i++)
		if (strcmp(prog, ours[i]) == 0)
			return true;
	return false;
}

/* The path of our command prog: next to pipeline, else on PATH; NULL if
 * neither has it. */
static char *
resolve(const struct topo *t, const char *prog)
{
	const char *path = getenv("PATH"), *end;
	char *p;

	p = xasprintf("%s/%s", t->self_dir, prog);
	if (access(p, X_OK) == 0)
		return p;
	free(p);
	for (; path != NULL && *path != '\0'; path = *end ? end + 1 : end) {
		end = path + strcspn(path, ":");
		p = xasprintf("%.*s/%s", (int)(end - path), path, prog);
		if (end > path && access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

/* A connection's name: letters, digits, '_', '-', '.' and one %d. */
static bool
conn_name_ok(const char *s)
{
	const char *pct = strchr(s, '%');

	if (*s == '\0' || strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.%") != strlen(s))
		return false;
	return pct == NULL || (pct[1] == 'd' && strchr(pct + 1, '%') == NULL);
}

static int
conn_find(struct topo *t, const char *name)
{
	for (size_t i = 0; i < t->nc; i++)
		if (strcmp(t->c[i].name, name) == 0)
			return (int)i;
	t->c = xreallocarray(t->c, t->nc + 1, sizeof(*t->c));
	memset(&t->c[t->nc], 0, sizeof(*t->c));
	t->c[t->nc].name = xstrndup(name, strlen(name));
	t->c[t->nc].writer = t->c[t->nc].reader = -1;
	t->c[t->nc].rfd = t->c[t->nc].wfd = -1;
	return (int)t->nc++;
}

/* Stage si writes (writer) or reads connection name. */
static int
conn_use(struct topo *t, const char *name, int si, bool writer,
    const char *where)
{
	int ci = conn_find(t, name);
	struct topo_conn *c = &t->c[ci];
	int *who = writer ? &c->writer : &c->reader;
	char **at = writer ? &c->wwhere : &c->rwhere;

	if (*who >= 0) {
		warnx("%s: @%s has two %s (the other at %s)", where, name,
		    writer ? "writers" : "readers", *at);
		return -1;
	}
	*who = si;
	*at = xstrndup(where, strlen(where));
	return 0;
}

/* The count of partition's -n in the tokens of a command, or -1. */
static long
partition_count(const struct tok *tk, size_t n)
{
	const char *v = NULL, *errstr;

	for (size_t i = 0; i < n; i++) {
		if (tk[i].kind != T_WORD)
			continue;
		if (strcmp(tk[i].val, "-n") == 0 && i + 1 < n)
			v = tk[i + 1].val;
		else if (strncmp(tk[i].val, "-n", 2) == 0 &&
		    tk[i].val[2] != '\0')
			v = tk[i].val + 2;
	}
	if (v == NULL)
		return -1;
	return (long)strtonum(v, 1, 4096, &errstr);
}

struct seg_build {
	struct topo *t;
	struct line *l;
	int si;
	const char *prog;
	const struct tok *tk;
	size_t ntk;
	/* replacements of the command's text: @NAME and the program */
	struct topo_repl *r;
	size_t nr;
};

static const char *const reader_opts[] = { "-i", "--input", NULL };
static const char *const writer_opts[] = {
	"-o", "--output", "--dead-letter", "--missing", NULL
};

/* Which of opts w names, as "-i @x" (whole) or "-i@x", "--input=@x":
 * sets *at to where '@' is in w; 0 if none. */
static int
opt_before(const char *w, const char *const *opts, size_t *at)
{
	for (size_t k = 0; opts[k] != NULL; k++) {
		size_t n = strlen(opts[k]);
		if (strcmp(w, opts[k]) == 0)
			return 1;
		if (strncmp(w, opts[k], n) == 0 && (w[n] == '=' ||
		    (opts[k][1] != '-' && w[n] == '@')) &&
		    w[n + (w[n] == '=')] == '@') {
			*at = n + (w[n] == '=');
			return 2;
		}
	}
	return 0;
}

/* Records connection word name (without '@') used as writer or not. */
static int
seg_conn(struct seg_build *b, const struct tok *tk, size_t at, bool writer)
{
	const char *name = tk->val + at + 1, *where = b->l->where;
	char buf[256];
	long n = 1;

	if (!conn_name_ok(name)) {
		warnx("%s: '@%s' is not a connection name (letters, digits, "
		    "'_', '-', '.')", where, name);
		return -1;
	}
	if (strchr(name, '%') != NULL &&
	    (strcmp(b->prog, "partition") != 0 || !writer ||
	    (n = partition_count(b->tk, b->ntk)) < 1)) {
		warnx("%s: '@%s': %%d goes only in the template of a "
		    "partition with -n", where, name);
		return -1;
	}
	for (long k = 0; k < n; k++) {
		const char *pct = strchr(name, '%');
		if (pct == NULL)
			snprintf(buf, sizeof(buf), "%s", name);
		else
			snprintf(buf, sizeof(buf), "%.*s%ld%s",
			    (int)(pct - name), name, k, pct + 2);
		if (conn_use(b->t, buf, b->si, writer, where) != 0)
			return -1;
	}
	b->r = xreallocarray(b->r, b->nr + 1, sizeof(*b->r));
	b->r[b->nr++] = (struct topo_repl){ tk->off + at, strlen(name) + 1,
	    xstrndup(name, strlen(name)), true };
	return 0;
}

/* Classifies the word tk, which follows prev (or NULL). */
static int
seg_word(struct seg_build *b, const struct tok *prev, const struct tok *tk)
{
	size_t at = 0;
	int k;

	if (!tk->plain)
		return 0;
	if ((k = opt_before(tk->val, reader_opts, &at)) == 2)
		return seg_conn(b, tk, at, false);
	if ((k = opt_before(tk->val, writer_opts, &at)) == 2)
		return seg_conn(b, tk, at, true);
	if (tk->val[0] != '@')
		return 0;
	if (prev != NULL && (prev->kind == T_IN || (prev->kind == T_WORD &&
	    opt_before(prev->val, reader_opts, &at) == 1)))
		return seg_conn(b, tk, 0, false);
	if (prev != NULL && (prev->kind == T_OUT || (prev->kind == T_WORD &&
	    opt_before(prev->val, writer_opts, &at) == 1)))
		return seg_conn(b, tk, 0, true);
	if (strcmp(b->prog, "partition") == 0 || strcmp(b->prog, "fanout") == 0)
		return seg_conn(b, tk, 0, true);
	if (strcmp(b->prog, "ss-decode") == 0)
		return seg_conn(b, tk, 0, false);
	warnx("%s: %s: cannot tell whether %s is read or written (put it "
	    "after -i, -o, < or >)", b->l->where, b->prog, tk->val);
	return -1;
}

/* The command's text with the replacements made: connections as
 * dir/NAME, quoted, the program as its path. */
static char *
seg_text(const char *s, size_t off, size_t end, const struct topo_repl *r,
    size_t nr, const char *dir)
{
	char *out = xasprintf("%s", ""), *o;
	size_t at = off;

	for (size_t i = 0; i <= nr; i++) {
		size_t to = i < nr ? r[i].off : end;
		o = out;
		if (i == nr)
			out = xasprintf("%s%.*s", o, (int)(to - at), s + at);
		else if (r[i].conn && dir[0] == '$')
			out = xasprintf("%s%.*s\"%s\"/%s", o, (int)(to - at),
			    s + at, dir, r[i].name);
		else
			out = xasprintf("%s%.*s'%s%s%s'", o, (int)(to - at),
			    s + at, r[i].conn ? dir : "", r[i].conn ? "/" : "",
			    r[i].name);
		free(o);
		if (i < nr)
			at = r[i].off + r[i].len;
	}
	return out;
}

/* Reads the policy of a stage from its comment: [restart=N],
 * [name=NAME]. */
static int
policy(struct topo_stage *st, const char *c, const char *where)
{
	const char *p, *errstr;
	char buf[64];
	size_t n;

	if (c == NULL)
		return 0;
	if ((p = strstr(c, "[restart=")) != NULL) {
		n = strcspn(p + 9, "]");
		snprintf(buf, sizeof(buf), "%.*s", (int)n, p + 9);
		st->restart_max = (unsigned)strtonum(buf, 0, 1000000, &errstr);
		if (errstr != NULL || p[9 + n] != ']') {
			warnx("%s: [restart=%s]: the count is %s (0 to "
			    "1000000)", where, buf, errstr ? errstr : "not "
			    "closed by ]");
			return -1;
		}
	}
	if ((p = strstr(c, "[name=")) != NULL) {
		n = strcspn(p + 6, "]");
		free(st->name);
		st->name = xstrndup(p + 6, n);
		if (p[6 + n] != ']' || !conn_name_ok(st->name) ||
		    strchr(st->name, '%') != NULL) {
			warnx("%s: [name=...]: letters, digits, '_', '-', "
			    "'.' and a closing ]", where);
			return -1;
		}
	}
	return 0;
}

/* Adds the command of l->tok[from..to) to stage si. */
static int
add_seg(struct topo *t, struct line *l, int si, size_t from, size_t to)
{
	struct topo_stage *st = &t->st[si];
	struct seg_build b = { t, l, si, NULL, l->tok + from, to - from,
	    NULL, 0 };
	const struct tok *cmd = &l->tok[from];
	struct topo_seg *sg;
	char *path;

	if (from == to || cmd->kind != T_WORD) {
		warnx("%s: a command is missing before or after '|'",
		    l->where);
		return -1;
	}
	if (!cmd->plain || !is_ours(cmd->val)) {
		warnx("%s: %s: not one of our commands (batch, clock, fanout, "
		    "partition, relay, ss-decode)", l->where, cmd->val);
		return -1;
	}
	if ((path = resolve(t, cmd->val)) == NULL) {
		warnx("%s: %s: not found next to pipeline nor on PATH",
		    l->where, cmd->val);
		return -1;
	}
	b.prog = cmd->val;
	b.r = xreallocarray(NULL, 1, sizeof(*b.r));
	b.r[b.nr++] = (struct topo_repl){ cmd->off, cmd->len, path, false };
	for (size_t i = from + 1; i < to; i++)
		if (l->tok[i].kind == T_WORD &&
		    seg_word(&b, &l->tok[i - 1], &l->tok[i]) != 0) {
			for (size_t k = 0; k < b.nr; k++)
				free(b.r[k].name);
			free(b.r);
			return -1;
		}
	st->seg = xreallocarray(st->seg, st->nseg + 1, sizeof(*st->seg));
	sg = &st->seg[st->nseg++];
	memset(sg, 0, sizeof(*sg));
	sg->prog = xstrndup(cmd->val, strlen(cmd->val));
	sg->off = cmd->off;
	sg->end = l->tok[to - 1].off + l->tok[to - 1].len;
	sg->r = b.r;
	sg->nr = b.nr;
	return 0;
}

static int
add_stage(struct topo *t, struct line *l)
{
	struct topo_stage *st;
	size_t from = 0;
	int si = (int)t->nst;

	t->st = xreallocarray(t->st, t->nst + 1, sizeof(*t->st));
	st = &t->st[t->nst++];
	memset(st, 0, sizeof(*st));
	st->t = t;
	st->where = xstrndup(l->where, strlen(l->where));
	st->text = xstrndup(l->s, l->tok[l->ntok - 1].off +
	    l->tok[l->ntok - 1].len);
	for (size_t i = 0; i <= l->ntok; i++)
		if (i == l->ntok || l->tok[i].kind == T_PIPE) {
			if (add_seg(t, l, si, from, i) != 0)
				return -1;
			from = i + 1;
		}
	st->name = xasprintf("%s:%s", st->seg[0].prog,
	    strrchr(l->where, ':') + 1);
	return policy(st, l->comment, l->where);
}

int
topo_add_line(struct topo *t, const char *text, const char *where)
{
	struct line l = { text, where, NULL, 0, NULL };
	int rc;

	if ((rc = lex(&l)) == 0 && l.ntok > 0)
		rc = add_stage(t, &l);
	line_free(&l);
	return rc;
}

/* text with %d replaced by copy and %% by %. */
static char *
subst_copy(const char *text, int copy)
{
	char *out = xasprintf("%s", ""), *o;

	for (const char *p = text; *p != '\0'; p++) {
		o = out;
		if (p[0] == '%' && (p[1] == 'd' || p[1] == '%')) {
			out = p[1] == 'd' ? xasprintf("%s%d", o, copy) :
			    xasprintf("%s%%", o);
			p++;
		} else
			out = xasprintf("%s%c", o, *p);
		free(o);
	}
	return out;
}

/* Adds the logical line text (read from line first of path). */
static int
file_line(struct topo *t, const char *path, size_t first, char *text,
    int copy)
{
	char where[PATH_MAX + 32], *s = copy >= 0 ? subst_copy(text, copy) :
	    text;
	int rc;

	snprintf(where, sizeof(where), "%s:%zu", path, first);
	rc = topo_add_line(t, s, where);
	if (s != text)
		free(s);
	return rc;
}

int
topo_read_file(struct topo *t, const char *path, int copy)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char *buf = NULL, *acc = NULL, *o;
	size_t cap = 0, lineno = 0, first = 0;
	ssize_t n;
	int rc = 0;

	if (f == NULL) {
		warn("%s", path);
		return -1;
	}
	while (rc == 0 && (n = getline(&buf, &cap, f)) != -1) {
		lineno++;
		if (n > 0 && buf[n - 1] == '\n')
			buf[--n] = '\0';
		if (acc == NULL)
			first = lineno;
		o = acc;
		acc = xasprintf("%s%s", o ? o : "", buf);
		free(o);
		if (n > 0 && buf[n - 1] == '\\') {
			acc[strlen(acc) - 1] = ' ';
			continue;
		}
		rc = file_line(t, path, first, acc, copy);
		free(acc);
		acc = NULL;
	}
	if (rc == 0 && acc != NULL)
		rc = file_line(t, path, first, acc, copy);
	if (rc == 0 && ferror(f)) {
		warn("%s", path);
		rc = -1;
	}
	free(acc);
	free(buf);
	if (f != stdin)
		fclose(f);
	return rc;
}

/* --- checks ---------------------------------------------------------- */

/* Depth-first from stage si: 1 gray, 2 black; returns the stage of a
 * cycle, or -1. */
static int
cycle_from(const struct topo *t, int si, char *mark)
{
	int r;

	mark[si] = 1;
	for (size_t i = 0; i < t->nc; i++) {
		const struct topo_conn *c = &t->c[i];
		if (c->writer != si)
			continue;
		if (mark[c->reader] == 1)
			return c->reader;
		if (mark[c->reader] == 0 &&
		    (r = cycle_from(t, c->reader, mark)) >= 0)
			return r;
	}
	mark[si] = 2;
	return -1;
}

int
topo_check(struct topo *t)
{
	char *mark;
	int r = -1;

	if (t->nst == 0) {
		warnx("no stage to run");
		return -1;
	}
	for (size_t i = 0; i < t->nc; i++) {
		struct topo_conn *c = &t->c[i];
		if (c->reader < 0 || c->writer < 0) {
			warnx("%s: @%s has no %s", c->reader < 0 ? c->wwhere :
			    c->rwhere, c->name, c->reader < 0 ? "reader" :
			    "writer");
			return -1;
		}
	}
	if ((mark = calloc(t->nst, 1)) == NULL)
		err(1, NULL);
	for (size_t i = 0; i < t->nst && r < 0; i++)
		if (mark[i] == 0)
			r = cycle_from(t, (int)i, mark);
	free(mark);
	if (r >= 0) {
		warnx("%s: %s is on a cycle of connections", t->st[r].where,
		    t->st[r].name);
		return -1;
	}
	for (size_t i = 0; i < t->nst; i++)
		t->st[i].source = true;
	for (size_t i = 0; i < t->nc; i++)
		t->st[t->c[i].reader].source = false;
	return 0;
}

void
topo_paths(struct topo *t, const char *dir)
{
	for (size_t i = 0; i < t->nc; i++) {
		free(t->c[i].path);
		t->c[i].path = xasprintf("%s/%s", dir, t->c[i].name);
	}
	for (size_t i = 0; i < t->nst; i++)
		for (size_t j = 0; j < t->st[i].nseg; j++) {
			struct topo_seg *sg = &t->st[i].seg[j];
			free(sg->cmd);
			sg->cmd = seg_text(t->st[i].text, sg->off, sg->end,
			    sg->r, sg->nr, dir);
		}
}

void
topo_free(struct topo *t)
{
	for (size_t i = 0; i < t->nst; i++) {
		struct topo_stage *st = &t->st[i];
		for (size_t j = 0; j < st->nseg; j++) {
			for (size_t k = 0; k < st->seg[j].nr; k++)
				free(st->seg[j].r[k].name);
			free(st->seg[j].r);
			free(st->seg[j].prog);
			free(st->seg[j].cmd);
		}
		free(st->seg);
		free(st->name);
		free(st->where);
		free(st->text);
	}
	for (size_t i = 0; i < t->nc; i++) {
		free(t->c[i].name);
		free(t->c[i].path);
		free(t->c[i].wwhere);
		free(t->c[i].rwhere);
	}
	free(t->st);
	free(t->c);
	free(t->dir);
	memset(t, 0, sizeof(*t));
}
