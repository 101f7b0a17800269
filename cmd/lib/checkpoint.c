/* Checkpoint files of file inputs (--checkpoint): where a stage's input
 * was when its outputs last flushed, written whole to a temporary file
 * beside it, synced, then renamed over it. */
#include <ctype.h>
#include <fcntl.h>
#include <stddef.h>
#include <libgen.h>
#include <sys/stat.h>

#include "cmd.h"

#define CP_MAGIC "libstream-checkpoint 1"
#define CP_MAX 8192

/* The names of a checkpoint's lines, each once, in the order written;
 * the numbers are ls_src_pos fields at off. */
static const struct {
	const char *name;
	size_t off;
} fields[] = {
	{ "input", 0 },
	{ "device", offsetof(ls_src_pos, dev) },
	{ "inode", offsetof(ls_src_pos, ino) },
	{ "size", offsetof(ls_src_pos, size) },
	{ "offset", offsetof(ls_src_pos, offset) },
	{ "line", offsetof(ls_src_pos, line) },
	{ "seq", offsetof(ls_src_pos, seq) },
	{ "window", 0 },
	{ "hash", 0 },
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

/* Takes the value v of field i into cp (input into input); false if it
 * is bad. */
static bool
cp_field(struct checkpoint *cp, size_t i, const char *v, char *input,
    size_t ninput)
{
	const char *name = fields[i].name;
	uint64_t x;

	if (strcmp(name, "input") == 0)
		return (size_t)snprintf(input, ninput, "%s", v) < ninput;
	if (strcmp(name, "hash") == 0) {
		char *end;
		errno = 0;
		cp->pos.hash = strtoull(v, &end, 16);
		return errno == 0 && isxdigit((unsigned char)*v) &&
		    *end == '\0';
	}
	if (ls_u64_parse(v, strlen(v), &x) != LS_OK)
		return false;
	if (strcmp(name, "window") == 0) {
		cp->pos.window = (uint32_t)x;
		return x <= LS_POS_WINDOW;
	}
	memcpy((char *)&cp->pos + fields[i].off, &x, sizeof(x));
	return true;
}

/* Parses the text of a checkpoint (NUL-terminated, changed) into cp and
 * input; exits naming the bad line. */
static void
cp_parse(struct checkpoint *cp, char *text, char *input, size_t ninput)
{
	char *line, *next, *sp;
	unsigned n = 0, seen = 0;
	size_t i;

	for (line = text; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (++n == 1) {
			if (strcmp(line, CP_MAGIC) != 0)
				errx(1, "checkpoint %s: not a checkpoint file "
				    "(line 1 is not '%s')", cp->file, CP_MAGIC);
			continue;
		}
		if ((sp = strchr(line, ' ')) == NULL)
			errx(1, "checkpoint %s: line %u: not 'name value'",
			    cp->file, n);
		*sp = '\0';
		for (i = 0; i < NFIELDS && strcmp(line, fields[i].name); i++)
			;
		if (i == NFIELDS || (seen & 1u << i))
			errx(1, "checkpoint %s: line %u: %s '%s'", cp->file, n,
			    i == NFIELDS ? "unknown name" : "another", line);
		if (!cp_field(cp, i, sp + 1, input, ninput))
			errx(1, "checkpoint %s: line %u: bad %s '%s'",
			    cp->file, n, line, sp + 1);
		seen |= 1u << i;
	}
	if (n == 0)
		errx(1, "checkpoint %s: empty", cp->file);
	for (i = 0; i < NFIELDS; i++)
		if (!(seen & 1u << i))
			errx(1, "checkpoint %s: no '%s' line", cp->file,
			    fields[i].name);
}

/* Reads up to n bytes of fd; returns how many, or -1. */
static ssize_t
read_full(int fd, char *buf, size_t n)
{
	size_t got = 0;
	ssize_t k;

	while (got < n) {
		k = read(fd, buf + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

bool
checkpoint_load(struct checkpoint *cp, const char *input)
{
	char text[CP_MAX + 1], was[CP_MAX];
	ssize_t n;
	int fd;

	memset(&cp->pos, 0, sizeof(cp->pos));
	cp->stale = NULL;
	if ((fd = open(cp->file, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return cp->have = false;
		err(1, "checkpoint %s", cp->file);
	}
	n = read_full(fd, text, CP_MAX + 1);
	close(fd);
	if (n < 0)
		err(1, "checkpoint %s", cp->file);
	if (n > CP_MAX)
		errx(1, "checkpoint %s: longer than %d bytes", cp->file,
		    CP_MAX);
	text[n] = '\0';
	was[0] = '\0';
	cp_parse(cp, text, was, sizeof(was));
	if (strcmp(was, input) != 0)
		cp->stale = "the checkpoint is of another input";
	return cp->have = true;
}

/* Syncs the directory of path, so that a rename in it lasts. */
static void
sync_dir(const char *path)
{
	char *copy, *dir;
	int fd;

	if ((copy = strdup(path)) == NULL)
		err(1, NULL);
	dir = dirname(copy);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

void
checkpoint_save(struct checkpoint *cp, const char *input,
    const ls_src_pos *pos)
{
	char tmp[PATH_MAX], text[CP_MAX];
	int fd, n;

	if (cp->have && pos->offset == cp->pos.offset && pos->dev ==
	    cp->pos.dev && pos->ino == cp->pos.ino && pos->hash == cp->pos.hash)
		return;
	n = snprintf(text, sizeof(text), CP_MAGIC "\ninput %s\ndevice %llu\n"
	    "inode %llu\nsize %llu\noffset %llu\nline %llu\nseq %llu\n"
	    "window %u\nhash %016llx\n", input, (unsigned long long)pos->dev,
	    (unsigned long long)pos->ino, (unsigned long long)pos->size,
	    (unsigned long long)pos->offset, (unsigned long long)pos->line,
	    (unsigned long long)pos->seq, pos->window, (unsigned long long)pos->hash);
	if (n < 0 || (size_t)n >= sizeof(text))
		errx(1, "checkpoint %s: input name too long", cp->file);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", cp->file) >=
	    sizeof(tmp))
		errx(1, "checkpoint %s: name too long", cp->file);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0666)) < 0)
		err(1, "checkpoint %s", tmp);
	if (ls_write_all(fd, text, (size_t)n) < 0 || fsync(fd) != 0)
		err(1, "checkpoint %s", tmp);
	if (close(fd) != 0)
		err(1, "checkpoint %s", tmp);
	if (rename(tmp, cp->file) != 0)
		err(1, "checkpoint %s", cp->file);
	sync_dir(cp->file);
	cp->pos = *pos;
	cp->have = true;
}

/* --- batch --exec --job-checkpoints -------------------------------- */

void
job_checkpoint_dir(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) != 0)
		err(1, "--job-checkpoints: %s", dir);
	if (!S_ISDIR(st.st_mode))
		errx(1, "--job-checkpoints: %s: not a directory", dir);
}

void
job_checkpoint_path(char *buf, size_t n, const char *dir, const ls_msg *first,
    const void *msgs, size_t len)
{
	if ((size_t)snprintf(buf, n, "%s/%s.%llu.%llu.%016llx", dir, first->key,
	    (unsigned long long)first->shard, (unsigned long long)first->seq,
	    (unsigned long long)ls_hash64(msgs, len)) >= n)
		errx(1, "--job-checkpoints: %s: name too long", dir);
}

void
job_checkpoint_remove(const char *path)
{
	if (unlink(path) != 0 && errno != ENOENT)
		warn("job checkpoint %s", path);
}
