/*
 * faultshim.so: I/O faults for the tests, loaded with LD_PRELOAD.
 *
 *   LD_PRELOAD=build/tools/faultshim.so FAULT_WRITE_FAIL=3:ENOSPC relay ...
 *
 * It wraps write, writev, pwrite, read, readv, pread, fsync and fdatasync
 * (the calls of the program and of its shared libraries, zlib's included;
 * not glibc's stdio, whose internal writes bypass it) and, as the
 * environment says, makes them fail or come short. Faults apply to the
 * "targets": every descriptor but 2, so that diagnostics get out, or
 * with FAULT_PATH only those whose /proc/self/fd link contains it (read
 * at each call: descriptor numbers are reused). Every variable unset
 * (or empty) means that call passes through as it is.
 *
 *   FAULT_WRITE_FAIL=N[+][:ERRNO]  the Nth write, writev or pwrite to a
 *       target fails with ERRNO (EIO, ENOSPC, EPIPE, EDQUOT, EBADF or a
 *       number; default EIO) and writes nothing; with "+" every later
 *       one fails too, as on a full disk.
 *   FAULT_FSYNC_FAIL=N[+]  the Nth fsync or fdatasync of a target fails
 *       with EIO (with "+", every later one too).
 *   FAULT_WRITE_SHORT=K  a write to a target writes at most K bytes (a
 *       writev at most K of its first buffer that is not empty); K >= 1.
 *   FAULT_READ_EINTR=N  every Nth read, readv or pread of a target fails
 *       with EINTR, reading nothing; N >= 2.
 *   FAULT_READ_SHORT=K  a read of a target reads at most K bytes; K >= 1.
 *   FAULT_PATH=SUBSTRING  targets are only descriptors whose path
 *       contains SUBSTRING (descriptor 2 is never one).
 *   FAULT_LOG=FILE  at exit (not at _exit or a crash), appends to FILE a
 *       line of the calls to targets and of the faults made: "writes=W
 *       syncs=S reads=R wfail=A sfail=B wshort=C eintr=D rshort=E", so
 *       that a test can count the points at which to fail, and check
 *       that its faults happened (a short one counts only when a call
 *       asked for more than K bytes). Writes and syncs that failed count.
 *
 * The counts are per process (a child of fork starts from its parent's).
 * A malformed variable is reported on standard error and the process
 * exits 125, so that a test never runs without the faults it asked for.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

struct rule {
	long n;		/* the Nth call (or every Nth), 0: none */
	int err;	/* errno to fail with */
	int sticky;	/* from the Nth call on */
};

static struct {
	int ready;
	struct rule wfail, sfail;
	long eintr, wshort, rshort;
	const char *path;
	long nwrite, nsync, nread;	/* calls to targets so far */
	long made[5];			/* faults made, as in FAULT_LOG */
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*pwrite)(int, const void *, size_t, off_t);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*pread)(int, void *, size_t, off_t);
	int (*fsync)(int);
	int (*fdatasync)(int);
} F;

static void
bad(const char *var, const char *val)
{
	static const char pre[] = "faultshim: malformed ";
	ssize_t (*w)(int, const void *, size_t) = dlsym(RTLD_NEXT, "write");

	w(2, pre, sizeof(pre) - 1);
	w(2, var, strlen(var));
	w(2, "=", 1);
	w(2, val, strlen(val));
	w(2, "\n", 1);
	_exit(125);
}

static long
num(const char *var, const char *s, char **end)
{
	long v;

	errno = 0;
	v = strtol(s, end, 10);
	if (errno != 0 || *end == s || v < 1)
		bad(var, s);
	return v;
}

/* The errno named or numbered by s, or 0. */
static int
errno_of(const char *s)
{
	static const struct { const char *name; int e; } names[] = {
		{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EPIPE", EPIPE },
		{ "EDQUOT", EDQUOT }, { "EBADF", EBADF },
	};
	char *end;
	size_t i;
	long v;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].e;
	v = strtol(s, &end, 10);
	return end == s || *end != '\0' || v < 1 || v > 4095 ? 0 : (int)v;
}

/* N[+][:ERRNO] into *r; colon says whether ":ERRNO" may follow. */
static void
rule(const char *var, struct rule *r, int colon)
{
	const char *s = getenv(var);
	char *end;

	r->err = EIO;
	if (s == NULL || *s == '\0')
		return;
	r->n = num(var, s, &end);
	if (*end == '+') {
		r->sticky = 1;
		end++;
	}
	if (colon && *end == ':') {
		if ((r->err = errno_of(end + 1)) == 0)
			bad(var, s);
	} else if (*end != '\0')
		bad(var, s);
}

static long
limit(const char *var)
{
	const char *s = getenv(var);
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return 0;
	v = num(var, s, &end);
	if (*end != '\0')
		bad(var, s);
	return v;
}

static void
init(void)
{
	if (__atomic_load_n(&F.ready, __ATOMIC_ACQUIRE))
		return;
	F.write = dlsym(RTLD_NEXT, "write");
	F.writev = dlsym(RTLD_NEXT, "writev");
	F.pwrite = dlsym(RTLD_NEXT, "pwrite");
	F.read = dlsym(RTLD_NEXT, "read");
	F.readv = dlsym(RTLD_NEXT, "readv");
	F.pread = dlsym(RTLD_NEXT, "pread");
	F.fsync = dlsym(RTLD_NEXT, "fsync");
	F.fdatasync = dlsym(RTLD_NEXT, "fdatasync");
	rule("FAULT_WRITE_FAIL", &F.wfail, 1);
	rule("FAULT_FSYNC_FAIL", &F.sfail, 0);
	F.eintr = limit("FAULT_READ_EINTR");
	if (F.eintr == 1)	/* no read would ever succeed */
		bad("FAULT_READ_EINTR", "1");
	F.wshort = limit("FAULT_WRITE_SHORT");
	F.rshort = limit("FAULT_READ_SHORT");
	F.path = getenv("FAULT_PATH");
	if (F.path != NULL && *F.path == '\0')
		F.path = NULL;
	__atomic_store_n(&F.ready, 1, __ATOMIC_RELEASE);
}

enum { WFAIL, SFAIL, WSHORT, EINTRS, RSHORT };

__attribute__((constructor)) static void
faultshim_init(void)
{
	init();
}

__attribute__((destructor)) static void
faultshim_log(void)
{
	const char *log = getenv("FAULT_LOG");
	char line[160];
	FILE *f;

	if (log == NULL || *log == '\0' || (f = fopen(log, "a")) == NULL)
		return;
	snprintf(line, sizeof(line), "writes=%ld syncs=%ld reads=%ld "
	    "wfail=%ld sfail=%ld wshort=%ld eintr=%ld rshort=%ld\n",
	    F.nwrite, F.nsync, F.nread, F.made[WFAIL], F.made[SFAIL],
	    F.made[WSHORT], F.made[EINTRS], F.made[RSHORT]);
	fputs(line, f);
	fclose(f);
}

static void
made(int kind)
{
	__atomic_add_fetch(&F.made[kind], 1, __ATOMIC_RELAXED);
}

static int
target(int fd)
{
	char link[32], path[PATH_MAX];
	ssize_t n;

	init();
	if (fd == 2 || fd < 0)
		return 0;
	if (F.path == NULL)
		return 1;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof(path) - 1)) < 0)
		return 0;
	path[n] = '\0';
	return strstr(path, F.path) != NULL;
}

/* Counts a call against *count; true if rule r makes it fail. */
static int
hit(const struct rule *r, long *count)
{
	long c = __atomic_add_fetch(count, 1, __ATOMIC_RELAXED);

	return r->n != 0 && (c == r->n || (r->sticky && c > r->n));
}

/* Whether a write to fd fails now (errno set); *t: whether fd is a target. */
static int
write_fails(int fd, int *t)
{
	if (!(*t = target(fd)) || !hit(&F.wfail, &F.nwrite))
		return 0;
	errno = F.wfail.err;
	made(WFAIL);
	return 1;
}

static int
read_fails(int fd, int *t)
{
	long c;

	if (!(*t = target(fd)))
		return 0;
	c = __atomic_add_fetch(&F.nread, 1, __ATOMIC_RELAXED);
	if (F.eintr == 0 || c % F.eintr != 0)
		return 0;
	errno = EINTR;
	made(EINTRS);
	return 1;
}

/* n, or k if fd is a target (t), k > 0 and n > k: then it counts one
 * fault of kind. */
static size_t
cap(int t, size_t n, long k, int kind)
{
	if (!t || k <= 0 || n <= (size_t)k)
		return n;
	made(kind);
	return (size_t)k;
}

/* The first buffer of iov that is not empty, or NULL. */
static const struct iovec *
first(const struct iovec *iov, int cnt)
{
	int i;

	for (i = 0; i < cnt; i++)
		if (iov[i].iov_len > 0)
			return &iov[i];
	return NULL;
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	int t;

	if (write_fails(fd, &t))
		return -1;
	return F.write(fd, buf, cap(t, n, F.wshort, WSHORT));
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	int t;

	if (write_fails(fd, &t))
		return -1;
	return F.pwrite(fd, buf, cap(t, n, F.wshort, WSHORT), off);
}

ssize_t pwrite64(int, const void *, size_t, off_t)
    __attribute__((alias("pwrite")));

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	const struct iovec *v;
	int t;

	if (write_fails(fd, &t))
		return -1;
	if (t && F.wshort > 0 && (v = first(iov, cnt)) != NULL)
		return F.write(fd, v->iov_base, cap(t, v->iov_len, F.wshort,
		    WSHORT));
	return F.writev(fd, iov, cnt);
}

ssize_t
read(int fd, void *buf, size_t n)
{
	int t;

	if (read_fails(fd, &t))
		return -1;
	return F.read(fd, buf, cap(t, n, F.rshort, RSHORT));
}

ssize_t __read_chk(int, void *, size_t, size_t);

ssize_t
__read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen)
		abort();
	return read(fd, buf, n);
}

ssize_t
pread(int fd, void *buf, size_t n, off_t off)
{
	int t;

	if (read_fails(fd, &t))
		return -1;
	return F.pread(fd, buf, cap(t, n, F.rshort, RSHORT), off);
}

ssize_t pread64(int, void *, size_t, off_t) __attribute__((alias("pread")));

ssize_t
readv(int fd, const struct iovec *iov, int cnt)
{
	const struct iovec *v;
	int t;

	if (read_fails(fd, &t))
		return -1;
	if (t && F.rshort > 0 && (v = first(iov, cnt)) != NULL)
		return F.read(fd, v->iov_base, cap(t, v->iov_len, F.rshort,
		    RSHORT));
	return F.readv(fd, iov, cnt);
}

static int
sync_fails(int fd)
{
	if (!target(fd) || !hit(&F.sfail, &F.nsync))
		return 0;
	errno = EIO;
	made(SFAIL);
	return 1;
}

int
fsync(int fd)
{
	return sync_fails(fd) ? -1 : F.fsync(fd);
}

int
fdatasync(int fd)
{
	return sync_fails(fd) ? -1 : F.fdatasync(fd);
}
