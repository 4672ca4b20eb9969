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

static bool write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* A device or a FIFO (/dev/null, /dev/stdout, a pipe) is written in
 * place: renaming over it would replace the device node itself. */
static bool write_special(const char *path, const struct buf *b, char *err,
			  size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return false;
	}
	bool ok = write_all(fd, b->data ? b->data : "", b->len);
	int saved = errno;
	if (close(fd) != 0 && ok) {
		ok = false;
		saved = errno;
	}
	if (!ok)
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(saved));
	return ok;
}

bool out_write(const char *path, const struct buf *b, char *err, size_t errlen)
{
	if (strcmp(path, "-") == 0) {
		if (!write_all(STDOUT_FILENO, b->data ? b->data : "", b->len)) {
			snprintf(err, errlen, "cannot write to standard output: %s",
				 strerror(errno));
			return false;
		}
		return true;
	}
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "cannot write %s: it is a directory", path);
			return false;
		}
		return write_special(path, b, err, errlen);
	}
	/* Through a symbolic link, replace the file it points to, not the
	 * link. */
	char *real = NULL;
	struct stat lst;
	if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
		real = realpath(path, NULL);
		if (!real) {
			/* A dangling link: create the file it names. */
			char target[4096];
			ssize_t n = readlink(path, target, sizeof(target) - 1);
			if (n > 0) {
				target[n] = '\0';
				const char *slash = strrchr(path, '/');
				size_t dl = target[0] == '/' || !slash ? 0 : (size_t)(slash - path) + 1;
				real = xmalloc(dl + (size_t)n + 1);
				memcpy(real, path, dl);
				memcpy(real + dl, target, (size_t)n + 1);
			}
		}
		if (real)
			path = real;
	}
	/* The temporary file must be in the target's directory for rename(2)
	 * to be atomic. */
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
	const char *base = slash ? slash + 1 : path;
	char *tmp = xmalloc(dirlen + strlen(base) + 32);
	snprintf(tmp, dirlen + strlen(base) + 32, "%.*s.%s.tmpXXXXXX", (int)dirlen,
		 path, base);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a temporary file for %s: %s",
			 path, strerror(errno));
		free(tmp);
		free(real);
		return false;
	}
	mode_t mask = umask(0);
	umask(mask);
	bool ok = fchmod(fd, 0666 & ~mask) == 0 &&
		  write_all(fd, b->data ? b->data : "", b->len) &&
		  fsync(fd) == 0;
	int saved = errno;
	if (close(fd) != 0 && ok) {
		ok = false;
		saved = errno;
	}
	if (ok && rename(tmp, path) != 0) {
		ok = false;
		saved = errno;
	}
	if (!ok) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(saved));
		unlink(tmp);
	}
	free(tmp);
	free(real);
	return ok;
}
