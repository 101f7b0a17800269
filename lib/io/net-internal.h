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

/* TLS for listening (net-tls.c, GnuTLS): the server's credentials
 * from PEM files, and a session per client on its non-blocking fd. */
struct ls__tls;
int ls__tls_server(const char *cert, const char *key, const char *name,
    struct ls__tls **tp, ls_error *err);
void ls__tls_free(struct ls__tls *t);
/* A session for client fd, or NULL. */
void *ls__tls_session(struct ls__tls *t, int fd);
/* Reads as read(2) (-1 with errno EAGAIN: nothing yet), first through
 * the handshake (*shaken once done); a TLS failure is -1 with *why. */
ssize_t ls__tls_read(void *sess, bool *shaken, void *buf, size_t n,
    const char **why);
/* Bytes decrypted and not read yet. */
size_t ls__tls_pending(void *sess);
void ls__tls_end(void *sess);

#endif
