/*
 * TLS for the listening tcp:// source, through GnuTLS: the server's
 * credentials (a PEM certificate and key), and a session per client on
 * its non-blocking socket. Built only with GnuTLS (LS_HAVE_GNUTLS);
 * without, asking for TLS fails naming the package.
 */
#include <errno.h>
#include <stdlib.h>

#include "ls-internal.h"
#include "net-internal.h"

#ifdef LS_HAVE_GNUTLS
#include "dl-gnutls.h"

LS__DL_DEFINE(ls__gnutls, LS_SONAME_GNUTLS, LS_PKG_GNUTLS, LS__GNUTLS_FNS)

struct ls__tls {
	gnutls_certificate_credentials_t cred;
};

int
ls__tls_server(const char *cert, const char *key, const char *name,
    struct ls__tls **tp, ls_error *err)
{
	struct ls__tls *t;
	int rc;

	*tp = NULL;
	if (cert == NULL || key == NULL)
		return ls__failn(err, LS_ERR_INVAL, 0, name, "TLS needs both "
		    "--tls-cert and --tls-key");
	if (ls__gnutls_load(name, err) != LS_OK)
		return LS_ERR_INVAL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	if ((rc = gnutls_certificate_allocate_credentials(&t->cred)) < 0) {
		free(t);
		return ls__failn(err, LS_ERR_NOMEM, 0, name, "TLS: %s",
		    gnutls_strerror(rc));
	}
	rc = gnutls_certificate_set_x509_key_file(t->cred, cert, key,
	    GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		ls__tls_free(t);
		return ls__failn(err, LS_ERR_INVAL, 0, name, "TLS: %s, %s: %s",
		    cert, key, gnutls_strerror(rc));
	}
	*tp = t;
	return LS_OK;
}

void
ls__tls_free(struct ls__tls *t)
{
	if (t == NULL)
		return;
	gnutls_certificate_free_credentials(t->cred);
	free(t);
}

void *
ls__tls_session(struct ls__tls *t, int fd)
{
	gnutls_session_t s;

	if (gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NONBLOCK) < 0)
		return NULL;
	if (gnutls_set_default_priority(s) < 0 ||
	    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, t->cred) < 0) {
		gnutls_deinit(s);
		return NULL;
	}
	gnutls_certificate_server_set_request(s, GNUTLS_CERT_IGNORE);
	gnutls_transport_set_int(s, fd);
	gnutls_handshake_set_timeout(s, 0);
	return s;
}

ssize_t
ls__tls_read(void *sess, bool *shaken, void *buf, size_t n,
    const char **why)
{
	gnutls_session_t s = sess;
	ssize_t r;

	*why = NULL;
	if (!*shaken) {
		int rc = gnutls_handshake(s);
		if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
			errno = EAGAIN;
			return -1;
		}
		if (rc < 0) {
			*why = gnutls_strerror(rc);
			errno = EPROTO;
			return -1;
		}
		*shaken = true;
	}
	r = gnutls_record_recv(s, buf, n);
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
		errno = EAGAIN;
		return -1;
	}
	if (r == GNUTLS_E_PREMATURE_TERMINATION)
		return 0;	/* closed without close_notify: its end */
	if (r < 0) {
		*why = gnutls_strerror((int)r);
		errno = EPROTO;
		return -1;
	}
	return r;
}

size_t
ls__tls_pending(void *sess)
{
	return gnutls_record_check_pending(sess);
}

void
ls__tls_end(void *sess)
{
	if (sess != NULL)
		gnutls_deinit(sess);
}

#else

int
ls__tls_server(const char *cert, const char *key, const char *name,
    struct ls__tls **tp, ls_error *err)
{
	(void)cert;
	(void)key;
	*tp = NULL;
	return ls__failn(err, LS_ERR_INVAL, 0, name, "TLS (--tls-cert, "
	    "--tls-key) needs libstream built with GnuTLS (Debian: "
	    "libgnutls28-dev)");
}

void
ls__tls_free(struct ls__tls *t)
{
	(void)t;
}

void *
ls__tls_session(struct ls__tls *t, int fd)
{
	(void)t;
	(void)fd;
	return NULL;
}

ssize_t
ls__tls_read(void *sess, bool *shaken, void *buf, size_t n,
    const char **why)
{
	(void)sess;
	(void)shaken;
	(void)buf;
	(void)n;
	*why = "no TLS";
	errno = EPROTO;
	return -1;
}

size_t
ls__tls_pending(void *sess)
{
	(void)sess;
	return 0;
}

void
ls__tls_end(void *sess)
{
	(void)sess;
}

#endif
