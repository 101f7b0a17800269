/* A membership kept in etcd: partition --members etcd://HOST:PORT/PREFIX
 * (cmd/members.h). The etcd source gives each key under the prefix as a
 * message whose stream key is the key's first segment after the prefix
 * (NAME) and whose payload is its value (OUTPUT); a deletion comes on
 * shard 1. */
#include <poll.h>

#include "members.h"

/* The source's wait: never waits, so that a look at the watch takes
 * only what has come. */
static int
no_wait(void *ctx, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	(void)ctx;
	return fd < 0 || poll(&p, 1, 0) <= 0;
}

/* NAME's OUTPUT from m, NUL-terminated in buf; false if it cannot be an
 * output. */
static bool
output_of(const ls_msg *m, char *buf, size_t len)
{
	if (m->len == 0 || m->len >= len || memchr(m->payload, '\0',
	    m->len) != NULL)
		return false;
	memcpy(buf, m->payload, m->len);
	buf[m->len] = '\0';
	return true;
}

static void
list_drop(struct member_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0) {
			free(l->v[i].name);
			free(l->v[i].output);
			free(l->v[i].from);
			memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) *
			    sizeof(*l->v));
			l->n--;
			return;
		}
}

/* Applies m to the list being made. */
static void
list_apply(struct member_list *l, const ls_msg *m)
{
	char out[4096], from[64], why[LS_ERRMSG_MAX + 128];

	list_drop(l, m->key);
	if (m->shard == 1)
		return;
	snprintf(from, sizeof(from), "revision %llu",
	    (unsigned long long)m->seq);
	if (!output_of(m, out, sizeof(out)))
		warnx("members: %s: '%s' at %s has no usable OUTPUT (skipped)",
		    l->source, m->key, from);
	else if (member_list_add(l, m->key, out, from, why, sizeof(why)) != 0)
		warnx("members: %s: %s (skipped)", l->source, why);
}

int
members_etcd_open(struct members_etcd *me, const char *uri,
    struct member_list *l, char *why, size_t len)
{
	ls_source_opts so = { .wait = no_wait, .stop = &cmd_stop };
	ls_error e;
	ls_msg m;
	int rc;

	member_list_free(l);
	l->source = me->uri = uri;
	if ((me->src = ls_source_open(uri, &so, &e)) == NULL) {
		snprintf(why, len, "%s", e.msg);
		return -1;
	}
	/* the list, until the watch has nothing more */
	while ((rc = ls_source_next(me->src, &m, &e)) == LS_OK)
		list_apply(l, &m);
	if (rc != LS_AGAIN && rc != LS_END)
		snprintf(why, len, "%s: %s", uri, e.msg);
	else if (l->n == 0)
		snprintf(why, len, "%s: no target registered (each key "
		    "PREFIX/NAME holds OUTPUT: see member(1))", uri);
	else
		return 0;
	member_list_free(l);
	members_etcd_close(me);
	return -1;
}

/* Applies one change to ms: a refused one is reported. */
static int
change(struct members_etcd *me, struct members *ms, const ls_msg *m,
    ls_error *err)
{
	char out[4096], from[LS_ERRMSG_MAX];
	int rc;

	snprintf(from, sizeof(from), "%s revision %llu", me->uri,
	    (unsigned long long)m->seq);
	if (m->shard == 1)
		rc = members_leave(ms, m->key, from, err);
	else if (!output_of(m, out, sizeof(out))) {
		warnx("members: %s: '%s' has no usable OUTPUT (skipped)",
		    from, m->key);
		return LS_OK;
	} else
		rc = members_join(ms, m->key, out, from, err);
	if (rc == LS_ERR_INVAL) {
		warnx("members: %s", err->msg);
		rc = LS_OK;
	}
	return rc;
}

int
members_etcd_poll(struct members_etcd *me, struct members *ms,
    ls_error *err)
{
	char why[LS_ERRMSG_MAX];
	ls_msg m;
	int rc;

	while ((rc = ls_source_next(me->src, &m, err)) == LS_OK)
		if ((rc = change(me, ms, &m, err)) != LS_OK)
			return rc;
	if (rc == LS_AGAIN || (rc == LS_END && cmd_stop))
		return LS_OK;
	snprintf(why, sizeof(why), "%s", rc == LS_END ? "the watch ended" :
	    err->msg);
	snprintf(err->msg, sizeof(err->msg), "members: %.96s: %.140s", me->uri,
	    why);
	return rc == LS_END ? LS_ERR_IO : rc;
}

void
members_etcd_close(struct members_etcd *me)
{
	ls_source_close(me->src);
	me->src = NULL;
}
