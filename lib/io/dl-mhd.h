/*
 * libmicrohttpd, loaded when http:// first needs it (dl-internal.h): the
 * functions the backend calls, each name a call through ls__mhd.
 */
#ifndef DL_MHD_H
#define DL_MHD_H

#include <microhttpd.h>

#include "dl-internal.h"

/* the soname and Debian package the build found (Makefile) */
#ifndef LS_SONAME_MHD
#define LS_SONAME_MHD "libmicrohttpd.so"
#endif
#ifndef LS_PKG_MHD
#define LS_PKG_MHD ""
#endif

#define LS__MHD_FNS(X) \
	X(MHD_add_response_header) \
	X(MHD_create_response_from_buffer) \
	X(MHD_destroy_response) \
	X(MHD_get_connection_info) \
	X(MHD_is_feature_supported) \
	X(MHD_lookup_connection_value) \
	X(MHD_queue_response) \
	X(MHD_quiesce_daemon) \
	X(MHD_resume_connection) \
	X(MHD_start_daemon) \
	X(MHD_stop_daemon) \
	X(MHD_suspend_connection)

LS__DL_DECLARE(ls__mhd, LS__MHD_FNS)

#define MHD_add_response_header(...) (*ls__mhd.MHD_add_response_header)(__VA_ARGS__)
#define MHD_create_response_from_buffer(...) (*ls__mhd.MHD_create_response_from_buffer)(__VA_ARGS__)
#define MHD_destroy_response(...) (*ls__mhd.MHD_destroy_response)(__VA_ARGS__)
#define MHD_get_connection_info(...) (*ls__mhd.MHD_get_connection_info)(__VA_ARGS__)
#define MHD_is_feature_supported(...) (*ls__mhd.MHD_is_feature_supported)(__VA_ARGS__)
#define MHD_lookup_connection_value(...) (*ls__mhd.MHD_lookup_connection_value)(__VA_ARGS__)
#define MHD_queue_response(...) (*ls__mhd.MHD_queue_response)(__VA_ARGS__)
#define MHD_quiesce_daemon(...) (*ls__mhd.MHD_quiesce_daemon)(__VA_ARGS__)
#define MHD_resume_connection(...) (*ls__mhd.MHD_resume_connection)(__VA_ARGS__)
#define MHD_start_daemon(...) (*ls__mhd.MHD_start_daemon)(__VA_ARGS__)
#define MHD_stop_daemon(...) (*ls__mhd.MHD_stop_daemon)(__VA_ARGS__)
#define MHD_suspend_connection(...) (*ls__mhd.MHD_suspend_connection)(__VA_ARGS__)

#endif
