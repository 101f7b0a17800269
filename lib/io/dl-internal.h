/*
 * The client libraries of the network backends (hiredis, librdkafka,
 * libmicrohttpd, libcurl, GnuTLS) are loaded when a URI first needs
 * them, not when a command starts: a command that reads and writes files
 * maps none of their forty-odd shared objects: relay of a one-line file
 * peaks at 1.8 MiB instead of 8.8 and takes 1.8 ms instead of 9.8.
 *
 * Each library has a header (dl-hiredis.h, ...) that includes the
 * library's own, lists the functions a backend calls (LIST(X)), declares
 * a table of pointers to them and defines each name as a call through
 * the table, so that the backend's code reads as if linked. The backend
 * defines the table (LS__DL_DEFINE) and calls VAR_load() before it uses
 * any: dlopen of the soname the build found (LS_SONAME_*), then dlsym of
 * every function; a library that is missing is an error naming the URI,
 * the soname and the Debian package that holds it.
 */
#ifndef DL_INTERNAL_H
#define DL_INTERNAL_H

#include <pthread.h>

#include "libstream.h"

/* A library loaded on demand. */
struct ls__dl {
	const char *soname;	/* what dlopen looks for */
	const char *package;	/* the Debian package that holds it, or "" */
	const char *const *names;	/* the functions it must have */
	size_t n;
	void *fns;		/* n pointers, filled in the order of names */
	pthread_mutex_t lock;
	int state;		/* 0 not tried, 1 loaded, -1 failed */
	char why[256];		/* why it failed */
};

/* Loads l once (later calls return what the first did); name (a URI)
 * goes into the error. Returns LS_OK or LS_ERR_INVAL. */
int ls__dl_load(struct ls__dl *l, const char *name, ls_error *err);

/* A function of a library, cast to its own type to be called. */
typedef void (*ls__dl_fn)(void);

/* The function fn of the library soname if the process has that library
 * loaded already (as a dependency of one loaded here), or NULL: for
 * setting such a library up before the one that loaded it does. */
ls__dl_fn ls__dl_loaded_fn(const char *soname, const char *fn);

#define LS__DL_FIELD(f) __typeof__(f) *f;
#define LS__DL_NAME(f) #f,
#define LS__DL_COUNT(f) +1

/* The table VAR of the functions LIST names, and VAR_load(), which
 * loads the library once (name, the URI, goes into the error). */
#define LS__DL_DECLARE(var, LIST)					\
	struct var { LIST(LS__DL_FIELD) };				\
	extern struct var var;						\
	int var##_load(const char *name, ls_error *err);

/* The table VAR (struct VAR, declared in the library's header) and
 * int VAR_load(const char *name, ls_error *err). */
#define LS__DL_DEFINE(var, soname, package, LIST)			\
	struct var var;							\
	static const char *const var##_names[] = { LIST(LS__DL_NAME) };	\
	_Static_assert(sizeof(struct var) ==				\
	    (0 LIST(LS__DL_COUNT)) * sizeof(void *), #var " is padded");	\
	static struct ls__dl var##_dl = { soname, package, var##_names,	\
	    0 LIST(LS__DL_COUNT), &var, PTHREAD_MUTEX_INITIALIZER, 0, "" };	\
	int								\
	var##_load(const char *name, ls_error *err)			\
	{								\
		return ls__dl_load(&var##_dl, name, err);		\
	}

#endif
