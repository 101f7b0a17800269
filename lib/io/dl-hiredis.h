/*
 * hiredis, loaded when redis:// first needs it (dl-internal.h): the
 * functions the backend calls, each name a call through ls__hiredis.
 */
#ifndef DL_HIREDIS_H
#define DL_HIREDIS_H

#include <hiredis/hiredis.h>

#include "dl-internal.h"

/* the soname and Debian package the build found (Makefile) */
#ifndef LS_SONAME_HIREDIS
#define LS_SONAME_HIREDIS "libhiredis.so"
#endif
#ifndef LS_PKG_HIREDIS
#define LS_PKG_HIREDIS ""
#endif

#define LS__HIREDIS_FNS(X) \
	X(freeReplyObject) \
	X(redisAppendCommandArgv) \
	X(redisAppendFormattedCommand) \
	X(redisBufferWrite) \
	X(redisCommand) \
	X(redisCommandArgv) \
	X(redisConnectWithTimeout) \
	X(redisEnableKeepAlive) \
	X(redisFree) \
	X(redisGetReply) \
	X(redisSetTimeout)

LS__DL_DECLARE(ls__hiredis, LS__HIREDIS_FNS)

#define freeReplyObject(...) (*ls__hiredis.freeReplyObject)(__VA_ARGS__)
#define redisAppendCommandArgv(...) (*ls__hiredis.redisAppendCommandArgv)(__VA_ARGS__)
#define redisAppendFormattedCommand(...) (*ls__hiredis.redisAppendFormattedCommand)(__VA_ARGS__)
#define redisBufferWrite(...) (*ls__hiredis.redisBufferWrite)(__VA_ARGS__)
#define redisCommand(...) (*ls__hiredis.redisCommand)(__VA_ARGS__)
#define redisCommandArgv(...) (*ls__hiredis.redisCommandArgv)(__VA_ARGS__)
#define redisConnectWithTimeout(...) (*ls__hiredis.redisConnectWithTimeout)(__VA_ARGS__)
#define redisEnableKeepAlive(...) (*ls__hiredis.redisEnableKeepAlive)(__VA_ARGS__)
#define redisFree(...) (*ls__hiredis.redisFree)(__VA_ARGS__)
#define redisGetReply(...) (*ls__hiredis.redisGetReply)(__VA_ARGS__)
#define redisSetTimeout(...) (*ls__hiredis.redisSetTimeout)(__VA_ARGS__)

#endif
