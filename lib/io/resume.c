/*
 * Positions of file sources to reopen them at (ls_source_tell,
 * ls_source_opts.resume): the file's identity, size and a hash of the
 * bytes before the position, and the check that a file still matches.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ls-internal.h"
#include "io-internal.h"

/* Hashes the n bytes of fd before off into *hash. */
static int
window_hash(int fd, uint64_t off, uint32_t n, uint64_t *hash, ls_error *err)
{
	unsigned char buf[LS_POS_WINDOW];
	size_t got = 0;
	ssize_t k;

	while (got < n) {
		k = pread(fd, buf + got, n - got, (off_t)(off - n + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return ls__fail(err, LS_ERR_IO, off, "read: %s",
			    strerror(errno));
		if (k == 0)
			break;
		got += (size_t)k;
	}
	*hash = ls_hash64(buf, got);
	return got == n ? LS_OK : LS_END;
}

int
ls__pos_seal(int fd, ls_src_pos *pos, ls_error *err)
{
	struct stat st;
	uint64_t off = pos->offset;
	int rc;

	if (fstat(fd, &st) != 0)
		return ls__fail(err, LS_ERR_IO, off, "fstat: %s",
		    strerror(errno));
	if ((uint64_t)st.st_dev != pos->dev || (uint64_t)st.st_ino != pos->ino)
		return ls__fail(err, LS_ERR_STALE, off, "the file was "
		    "replaced since that position");
	pos->size = (uint64_t)st.st_size;
	pos->window = off < LS_POS_WINDOW ? (uint32_t)off : LS_POS_WINDOW;
	rc = window_hash(fd, off, pos->window, &pos->hash, err);
	if (rc == LS_END)
		return ls__fail(err, LS_ERR_RANGE, off, "the file is shorter "
		    "than byte %llu", (unsigned long long)off);
	return rc;
}

int
ls__pos_check(int fd, const char *name, const ls_src_pos *pos,
    ls_error *err)
{
	struct stat st;
	uint64_t hash;
	int rc;

	if (fstat(fd, &st) != 0)
		return ls__failn(err, LS_ERR_IO, 0, name, "fstat: %s",
		    strerror(errno));
	if ((uint64_t)st.st_dev != pos->dev || (uint64_t)st.st_ino != pos->ino)
		return ls__failn(err, LS_ERR_STALE, 0, name, "not the file of "
		    "the checkpoint: replaced (device %llu inode %llu, was "
		    "device %llu inode %llu)", (unsigned long long)st.st_dev,
		    (unsigned long long)st.st_ino, (unsigned long long)pos->dev,
		    (unsigned long long)pos->ino);
	if ((uint64_t)st.st_size < pos->offset || (uint64_t)st.st_size <
	    pos->size)
		return ls__failn(err, LS_ERR_STALE, pos->offset, name,
		    "truncated: %llu bytes, it had %llu at the checkpoint at "
		    "byte %llu", (unsigned long long)st.st_size,
		    (unsigned long long)pos->size,
		    (unsigned long long)pos->offset);
	if (pos->window > LS_POS_WINDOW || pos->window > pos->offset)
		return ls__failn(err, LS_ERR_INVAL, 0, name, "bad position "
		    "window %u", pos->window);
	rc = window_hash(fd, pos->offset, pos->window, &hash, err);
	if (rc == LS_ERR_IO)
		return ls__failn(err, rc, pos->offset, name, "read: %s",
		    strerror(errno));
	if (rc != LS_OK || hash != pos->hash)
		return ls__failn(err, LS_ERR_STALE, pos->offset, name,
		    "rewritten: the %u bytes before byte %llu are not those "
		    "of the checkpoint", pos->window,
		    (unsigned long long)pos->offset);
	return LS_OK;
}
