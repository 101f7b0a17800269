/*
 * What the network backends share (net.c): the address a tcp://,
 * unix:// or udp:// URI names, and the text of a peer's address.
 */
#ifndef NET_INTERNAL_H
#define NET_INTERNAL_H

#include <sys/socket.h>

#include "io-internal.h"

struct ls__net {
	int kind;		/* 't' tcp, 'u' unix, 'd' udp */
	struct sockaddr_storage sa;
	socklen_t salen;
	const char *path;	/* unix: the socket's path, in sa */
	unsigned mode;		/* unix: the listening socket's mode */
};

/* The address of u (a URI of u->net): HOST:PORT resolved (passive: to
 * listen on), or the path of unix:///PATH[?mode=OCTAL] (mode 0666 by
 * default). Errors name the URI (name). */
int ls__net_parse(const struct ls__uri *u, bool passive, const char *name,
    struct ls__net *n, ls_error *err);

/* A socket of n's kind, close-on-exec, or -1 with errno set. */
int ls__net_socket(const struct ls__net *n, bool nonblock);

/* "HOST:PORT" ("[V6]:PORT") of sa, into buf of len bytes. */
void ls__net_addr_text(const struct sockaddr *sa, socklen_t salen,
    char *buf, size_t len);

#endif
