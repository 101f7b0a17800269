/*
 * GnuTLS, loaded when tcp:// with --tls-cert first needs it (dl-internal.h): the
 * functions the backend calls, each name a call through ls__gnutls.
 */
#ifndef DL_GNUTLS_H
#define DL_GNUTLS_H

#include <gnutls/gnutls.h>

#include "dl-internal.h"

/* the soname and Debian package the build found (Makefile) */
#ifndef LS_SONAME_GNUTLS
#define LS_SONAME_GNUTLS "libgnutls.so"
#endif
#ifndef LS_PKG_GNUTLS
#define LS_PKG_GNUTLS ""
#endif

#define LS__GNUTLS_FNS(X) \
	X(gnutls_certificate_allocate_credentials) \
	X(gnutls_certificate_free_credentials) \
	X(gnutls_certificate_server_set_request) \
	X(gnutls_certificate_set_x509_key_file) \
	X(gnutls_credentials_set) \
	X(gnutls_deinit) \
	X(gnutls_handshake) \
	X(gnutls_handshake_set_timeout) \
	X(gnutls_init) \
	X(gnutls_record_check_pending) \
	X(gnutls_record_recv) \
	X(gnutls_set_default_priority) \
	X(gnutls_strerror) \
	X(gnutls_transport_set_int2)

LS__DL_DECLARE(ls__gnutls, LS__GNUTLS_FNS)

#define gnutls_certificate_allocate_credentials(...) (*ls__gnutls.gnutls_certificate_allocate_credentials)(__VA_ARGS__)
#define gnutls_certificate_free_credentials(...) (*ls__gnutls.gnutls_certificate_free_credentials)(__VA_ARGS__)
#define gnutls_certificate_server_set_request(...) (*ls__gnutls.gnutls_certificate_server_set_request)(__VA_ARGS__)
#define gnutls_certificate_set_x509_key_file(...) (*ls__gnutls.gnutls_certificate_set_x509_key_file)(__VA_ARGS__)
#define gnutls_credentials_set(...) (*ls__gnutls.gnutls_credentials_set)(__VA_ARGS__)
#define gnutls_deinit(...) (*ls__gnutls.gnutls_deinit)(__VA_ARGS__)
#define gnutls_handshake(...) (*ls__gnutls.gnutls_handshake)(__VA_ARGS__)
#define gnutls_handshake_set_timeout(...) (*ls__gnutls.gnutls_handshake_set_timeout)(__VA_ARGS__)
#define gnutls_init(...) (*ls__gnutls.gnutls_init)(__VA_ARGS__)
#define gnutls_record_check_pending(...) (*ls__gnutls.gnutls_record_check_pending)(__VA_ARGS__)
#define gnutls_record_recv(...) (*ls__gnutls.gnutls_record_recv)(__VA_ARGS__)
#define gnutls_set_default_priority(...) (*ls__gnutls.gnutls_set_default_priority)(__VA_ARGS__)
#define gnutls_strerror(...) (*ls__gnutls.gnutls_strerror)(__VA_ARGS__)
#define gnutls_transport_set_int2(...) (*ls__gnutls.gnutls_transport_set_int2)(__VA_ARGS__)

#endif
