/*
 * The addresses of tcp://HOST:PORT, udp://HOST:PORT and
 * unix:///PATH[?mode=OCTAL], for the listening sources (net-src.c) and
 * the connecting sinks (net-sink.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/un.h>
#include <unistd.h>

#include "ls-internal.h"
#include "net-internal.h"

/* unix:///PATH[?mode=OCTAL] */
static int
unix_parse(const struct ls__uri *u, const char *name, struct ls__net *n,
    ls_error *err)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&n->sa;
	const char *p = u->text + 7, *q = strchr(p, '?');
	size_t len = q ? (size_t)(q - p) : strlen(p);
	uint64_t mode = 0666;

	if (len == 0 || *p != '/')
		return ls__failn(err, LS_ERR_INVAL, 0, name, "not unix:///PATH "
		    "(an absolute path)");
	if (len >= sizeof(sun->sun_path))
		return ls__failn(err, LS_ERR_INVAL, 0, name, "path longer than "
		    "%zu bytes", sizeof(sun->sun_path) - 1);
	if (q != NULL && (strncmp(q, "?mode=", 6) != 0 ||
	    ls_u64_parse(q + 6, strlen(q + 6), &mode) != LS_OK ||
	    strspn(q + 6, "01234567") != strlen(q + 6) || mode > 777))
		return ls__failn(err, LS_ERR_INVAL, 0, name, "'%s' is not "
		    "?mode=OCTAL (at most 0777)", q);
	if (q != NULL)
		mode = strtoul(q + 6, NULL, 8);
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, p, len);
	sun->sun_path[len] = '\0';
	n->salen = (socklen_t)sizeof(*sun);
	n->path = sun->sun_path;
	n->mode = (unsigned)mode;
	return LS_OK;
}

int
ls__net_parse(const struct ls__uri *u, bool passive, const char *name,
    struct ls__net *n, ls_error *err)
{
	struct addrinfo hints = { 0 }, *ai;
	struct ls__host h;
	const char *why;
	char port[12];
	int rc;

	memset(n, 0, sizeof(*n));
	n->kind = u->net;
	if (u->net == 'u')
		return unix_parse(u, name, n, err);
	if (u->hosts == NULL || (u->upath != NULL && strcmp(u->upath, "/")))
		return ls__failn(err, LS_ERR_INVAL, 0, name, "not %s://HOST:PORT",
		    u->net == 't' ? "tcp" : "udp");
	if ((why = ls__host_parse(u->hosts, u->hosts_len, &h)) != NULL)
		return ls__failn(err, LS_ERR_INVAL, 0, name, "%s", why);
	if (h.port == 0)
		return ls__failn(err, LS_ERR_INVAL, 0, name, "no port");
	snprintf(port, sizeof(port), "%u", h.port);
	hints.ai_socktype = u->net == 't' ? SOCK_STREAM : SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	if ((rc = getaddrinfo(h.host, port, &hints, &ai)) != 0)
		return ls__failn(err, LS_ERR_INVAL, 0, name, "%s: %s", h.host,
		    gai_strerror(rc));
	memcpy(&n->sa, ai->ai_addr, ai->ai_addrlen);
	n->salen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return LS_OK;
}

int
ls__net_socket(const struct ls__net *n, bool nonblock)
{
	int type = n->kind == 'd' ? SOCK_DGRAM : SOCK_STREAM;

	return socket(n->sa.ss_family, type | SOCK_CLOEXEC |
	    (nonblock ? SOCK_NONBLOCK : 0), 0);
}

void
ls__net_addr_text(const struct sockaddr *sa, socklen_t salen, char *buf,
    size_t len)
{
	char host[INET6_ADDRSTRLEN];

	(void)salen;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else
		snprintf(buf, len, "?");
}
