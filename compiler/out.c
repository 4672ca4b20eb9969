/* out.c: see out.h. */
#define _XOPEN_SOURCE 700  /* realpath */
#include "out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Through a symbolic link, the file it points to is replaced, not the
 * link; a dangling link names the file to create. Returns a malloc'd path
 * or NULL when path is not a link. */
static char *link_target(const char *path)
{
	struct stat lst;
	if (lstat(path, &lst) != 0 || !S_ISLNK(lst.st_mode))
		return NULL;
	char *real = realpath(path, NULL);
	if (real)
		return real;
	char target[4096];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return NULL;
	target[n] = '\0';
	const char *slash = strrchr(path, '/');
	size_t dl = target[0] == '/' || !slash ? 0 : (size_t)(slash - path) + 1;
	real = xmalloc(dl + (size_t)n + 1);
	memcpy(real, path, dl);
	memcpy(real + dl, target, (size_t)n + 1);
	return real;
}

bool out_begin(struct out_file *o, const char *path, struct buf *b, char *err,
	       size_t errlen)
{
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->path = path;
	if (strcmp(path, "-") == 0) {
		o->fd = STDOUT_FILENO;
		b->sink = o->fd;
		return true;
	}
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "cannot write %s: it is a directory", path);
			return false;
		}
		/* A device or a FIFO (/dev/null, a pipe) is written in place:
		 * renaming over it would replace the device node itself. */
		o->fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
		if (o->fd < 0) {
			snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
			return false;
		}
		b->sink = o->fd;
		return true;
	}
	o->final = link_target(path);
	if (!o->final)
		o->final = xstrdup(path);
	/* The temporary file must be in the target's directory for rename(2)
	 * to be atomic. */
	const char *slash = strrchr(o->final, '/');
	size_t dirlen = slash ? (size_t)(slash - o->final) + 1 : 0;
	const char *base = slash ? slash + 1 : o->final;
	size_t n = dirlen + strlen(base) + 32;
	o->tmp = xmalloc(n);
	snprintf(o->tmp, n, "%.*s.%s.tmpXXXXXX", (int)dirlen, o->final, base);
	o->fd = mkstemp(o->tmp);
	if (o->fd < 0) {
		snprintf(err, errlen, "cannot create a temporary file for %s: %s",
			 path, strerror(errno));
		free(o->tmp);
		free(o->final);
		o->tmp = o->final = NULL;
		return false;
	}
	mode_t mask = umask(0);
	umask(mask);
	if (fchmod(o->fd, 0666 & ~mask) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		out_abort(o);
		return false;
	}
	b->sink = o->fd;
	return true;
}

void out_abort(struct out_file *o)
{
	if (o->tmp) {
		close(o->fd);
		unlink(o->tmp);
	} else if (o->fd > STDOUT_FILENO) {
		close(o->fd);
	}
	free(o->tmp);
	free(o->final);
	memset(o, 0, sizeof(*o));
	o->fd = -1;
}

bool out_commit(struct out_file *o, struct buf *b, char *err, size_t errlen)
{
	bool ok = buf_flush(b);
	int saved = b->sink_errno;
	b->sink = -1;
	if (ok && o->tmp && fsync(o->fd) != 0) {
		ok = false;
		saved = errno;
	}
	if (o->fd > STDOUT_FILENO) {
		if (close(o->fd) != 0 && ok) {
			ok = false;
			saved = errno;
		}
	}
	if (ok && o->tmp && rename(o->tmp, o->final) != 0) {
		ok = false;
		saved = errno;
	}
	if (!ok) {
		if (o->fd == STDOUT_FILENO)
			snprintf(err, errlen, "cannot write to standard output: %s",
				 strerror(saved));
		else
			snprintf(err, errlen, "cannot write %s: %s", o->path, strerror(saved));
		if (o->tmp)
			unlink(o->tmp);
	}
	free(o->tmp);
	free(o->final);
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	return ok;
}

bool out_write(const char *path, struct buf *b, char *err, size_t errlen)
{
	struct out_file o;
	if (!out_begin(&o, path, b, err, errlen))
		return false;
	return out_commit(&o, b, err, errlen);
}
