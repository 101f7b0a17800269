/*
 * libcurl, loaded when etcd:// first needs it (dl-internal.h): the
 * functions the backend calls, each name a call through ls__curl.
 */
#ifndef DL_CURL_H
#define DL_CURL_H

/* curl.h's own macros of curl_easy_setopt and curl_easy_getinfo (its
 * type checks) give way to the table's */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include "dl-internal.h"

/* the soname and Debian package the build found (Makefile) */
#ifndef LS_SONAME_CURL
#define LS_SONAME_CURL "libcurl.so"
#endif
#ifndef LS_PKG_CURL
#define LS_PKG_CURL ""
#endif

#define LS__CURL_FNS(X) \
	X(curl_easy_cleanup) \
	X(curl_easy_getinfo) \
	X(curl_easy_init) \
	X(curl_easy_pause) \
	X(curl_easy_perform) \
	X(curl_easy_setopt) \
	X(curl_easy_strerror) \
	X(curl_global_init) \
	X(curl_multi_add_handle) \
	X(curl_multi_cleanup) \
	X(curl_multi_info_read) \
	X(curl_multi_init) \
	X(curl_multi_perform) \
	X(curl_multi_poll) \
	X(curl_multi_remove_handle)

LS__DL_DECLARE(ls__curl, LS__CURL_FNS)

#undef curl_easy_getinfo
#undef curl_easy_setopt
#define curl_easy_cleanup(...) (*ls__curl.curl_easy_cleanup)(__VA_ARGS__)
#define curl_easy_getinfo(...) (*ls__curl.curl_easy_getinfo)(__VA_ARGS__)
#define curl_easy_init(...) (*ls__curl.curl_easy_init)(__VA_ARGS__)
#define curl_easy_pause(...) (*ls__curl.curl_easy_pause)(__VA_ARGS__)
#define curl_easy_perform(...) (*ls__curl.curl_easy_perform)(__VA_ARGS__)
#define curl_easy_setopt(...) (*ls__curl.curl_easy_setopt)(__VA_ARGS__)
#define curl_easy_strerror(...) (*ls__curl.curl_easy_strerror)(__VA_ARGS__)
#define curl_global_init(...) (*ls__curl.curl_global_init)(__VA_ARGS__)
#define curl_multi_add_handle(...) (*ls__curl.curl_multi_add_handle)(__VA_ARGS__)
#define curl_multi_cleanup(...) (*ls__curl.curl_multi_cleanup)(__VA_ARGS__)
#define curl_multi_info_read(...) (*ls__curl.curl_multi_info_read)(__VA_ARGS__)
#define curl_multi_init(...) (*ls__curl.curl_multi_init)(__VA_ARGS__)
#define curl_multi_perform(...) (*ls__curl.curl_multi_perform)(__VA_ARGS__)
#define curl_multi_poll(...) (*ls__curl.curl_multi_poll)(__VA_ARGS__)
#define curl_multi_remove_handle(...) (*ls__curl.curl_multi_remove_handle)(__VA_ARGS__)

#endif
