/* src.c: see src.h. */
#include "src.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void src_set_init(struct src_set *set)
{
	memset(set, 0, sizeof(*set));
}

void src_set_free(struct src_set *set)
{
	for (size_t i = 0; i < set->files.len; i++) {
		struct src_file *f = set->files.items[i];
		free((char *)f->path);
		free((char *)f->base);
		if (f->text_mapped)
			big_free((char *)f->text, f->text_mapped);
		else
			free((char *)f->text);
		big_free(f->line_start, xmul(f->nlines, sizeof(*f->line_start)));
		free(f);
	}
	vec_free(&set->files);
	for (size_t i = 0; i < set->dirs.len; i++)
		free(set->dirs.items[i]);
	vec_free(&set->dirs);
}

void src_add_dir(struct src_set *set, const char *dir)
{
	vec_push(&set->dirs, xstrdup(dir));
}

void src_add_path_list(struct src_set *set, const char *list)
{
	while (list && *list) {
		const char *colon = strchr(list, ':');
		size_t n = colon ? (size_t)(colon - list) : strlen(list);
		if (n > 0) {
			char *dir = xmalloc(n + 1);
			memcpy(dir, list, n);
			dir[n] = '\0';
			vec_push(&set->dirs, dir);
		}
		list = colon ? colon + 1 : NULL;
	}
}

static void index_lines(struct src_file *f)
{
	size_t n = 1;
	const char *end = f->text + f->len;
	for (const char *p = f->text; (p = memchr(p, '\n', (size_t)(end - p))); p++)
		n++;
	f->line_start = big_realloc(NULL, 0, xmul(n, sizeof(*f->line_start)));
	f->nlines = 0;
	f->line_start[f->nlines++] = 0;
	for (const char *p = f->text; f->nlines < n &&
	     (p = memchr(p, '\n', (size_t)(end - p))); p++)
		f->line_start[f->nlines++] = (uint32_t)(p - f->text) + 1;
}

char *src_base_name(const char *path)
{
	/* The base name goes into generated rule comments: only characters
	 * that are plain in every target's quoting survive. */
	const char *slash = strrchr(path, '/');
	char *base = xstrdup(slash && slash[1] ? slash + 1 : path);
	for (char *p = base; *p; p++)
		if (!strchr(SRC_BASE_CHARS, *p))
			*p = '_';
	return base;
}

static struct src_file *add_file(struct src_set *set, const char *display,
				 char *text, size_t len)
{
	struct src_file *f = xcalloc(1, sizeof(*f));
	f->id = (int)set->files.len + 1;
	f->path = xstrdup(display);
	f->base = src_base_name(f->path);
	/* Some editors start a UTF-8 file with a byte order mark. Like gcc,
	 * skip it there, before anything counts lines or columns: column 1
	 * is the character after it. Anywhere else it stays an error. */
	if (len >= 3 && memcmp(text, SRC_UTF8_BOM, 3) == 0) {
		memmove(text, text + 3, len - 3 + 2);   /* with the two NULs */
		len -= 3;
	}
	f->text = text;
	f->len = len;
	index_lines(f);
	vec_push(&set->files, f);
	return f;
}

struct src_file *src_from_string(struct src_set *set, const char *name,
				 const char *text)
{
	size_t n = strlen(text);
	char *copy = xmalloc(n + 2);
	memcpy(copy, text, n);
	copy[n] = copy[n + 1] = '\0';
	return add_file(set, name, copy, n);
}

/* Reads all of fd, refusing more than SRC_MAX_FILE_SIZE bytes. `hint` is
 * the size fstat gave (0 for a pipe), so a file is read into one buffer of
 * its size. Two NUL bytes end the text: the scanner reads it in place. */
static enum src_status read_all(int fd, size_t hint, char **out, size_t *outlen,
				size_t *mapped, int *errnum)
{
	size_t cap = hint && hint <= SRC_MAX_FILE_SIZE ? hint + 1 : 4096, len = 0;
	/* Mapped (big_realloc): a large file is read into huge pages. */
	char *p = big_realloc(NULL, 0, cap + 2);
	for (;;) {
		if (len == cap) {
			if (cap >= SRC_MAX_FILE_SIZE + (size_t)1) {
				big_free(p, cap + 2);
				return SRC_TOO_BIG;
			}
			p = big_realloc(p, cap + 2, cap * 2 + 2);
			cap *= 2;
		}
		ssize_t n = read(fd, p + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*errnum = errno;
			big_free(p, cap + 2);
			return SRC_IO_ERROR;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > SRC_MAX_FILE_SIZE) {
			big_free(p, cap + 2);
			return SRC_TOO_BIG;
		}
	}
	p[len] = p[len + 1] = '\0';
	*out = p;
	*outlen = len;
	*mapped = cap + 2;
	return SRC_OK;
}

enum src_status src_load(struct src_set *set, const char *path,
			 const char *display, struct src_file **out,
			 bool *again, int *errnum)
{
	*errnum = 0;
	*again = false;
	int fd;
	bool is_stdin = strcmp(path, "-") == 0;
	if (is_stdin) {
		fd = STDIN_FILENO;
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd < 0) {
			*errnum = errno;
			return errno == ENOENT ? SRC_NOT_FOUND : SRC_IO_ERROR;
		}
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		*errnum = errno;
		if (!is_stdin)
			close(fd);
		return SRC_IO_ERROR;
	}
	/* A FIFO, device or directory as an include could hang or be huge;
	 * standard input is whatever the caller gave us. */
	if (!is_stdin && !S_ISREG(st.st_mode)) {
		close(fd);
		return SRC_NOT_REGULAR;
	}
	if (!is_stdin) {
		for (size_t i = 0; i < set->files.len; i++) {
			struct src_file *f = set->files.items[i];
			if (f->on_disk && f->dev == st.st_dev &&
			    f->ino == st.st_ino) {
				*again = true;
				*out = f;
				close(fd);
				return SRC_OK;
			}
		}
		/* Clear O_NONBLOCK now that we know it is a regular file. */
		fcntl(fd, F_SETFL, 0);
	}
	char *text;
	size_t len, mapped;
	enum src_status st2 = read_all(fd, S_ISREG(st.st_mode) ? (size_t)st.st_size : 0,
				       &text, &len, &mapped, errnum);
	if (!is_stdin)
		close(fd);
	if (st2 != SRC_OK)
		return st2;
	struct src_file *f = add_file(set, display, text, len);
	f->text_mapped = mapped;
	if (is_stdin) {
		free((char *)f->base);
		f->base = xstrdup("stdin");
	} else {
		f->dev = st.st_dev;
		f->ino = st.st_ino;
		f->on_disk = true;
	}
	*out = f;
	return SRC_OK;
}

static char *join(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	char *p = xmalloc(dl + nl + 2);
	memcpy(p, dir, dl);
	size_t at = dl;
	if (dl > 0 && dir[dl - 1] != '/')
		p[at++] = '/';
	memcpy(p + at, name, nl + 1);
	return p;
}

/* The stdlib may be named by another path too (-I stdlib): compare the
 * directories themselves. */
static bool same_dir(const char *a, const char *b)
{
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

char *src_find_include(const struct src_set *set, const struct src_file *from,
		       const char *name, bool *in_stdlib)
{
	*in_stdlib = false;
	if (name[0] == '/')
		return exists(name) ? xstrdup(name) : NULL;
	/* Next to the including file; "-" and "<command line>" have no
	 * directory of their own and use the working directory. */
	if (from && from->on_disk) {
		const char *slash = strrchr(from->path, '/');
		char *cand;
		if (slash) {
			size_t dl = (size_t)(slash - from->path) + 1;
			char *dir = xmalloc(dl + 1);
			memcpy(dir, from->path, dl);
			dir[dl] = '\0';
			cand = join(dir, name);
			free(dir);
		} else {
			cand = xstrdup(name);
		}
		if (exists(cand))
			return cand;
		free(cand);
	} else if (exists(name)) {
		return xstrdup(name);
	}
	for (size_t i = 0; i < set->dirs.len; i++) {
		char *cand = join(set->dirs.items[i], name);
		if (exists(cand)) {
			*in_stdlib = set->stdlib_dir &&
				same_dir(set->dirs.items[i], set->stdlib_dir);
			return cand;
		}
		free(cand);
	}
	return NULL;
}

const char *src_line(const struct src_file *f, int line, size_t *len)
{
	if (line < 1 || (size_t)line > f->nlines) {
		*len = 0;
		return "";
	}
	size_t start = f->line_start[line - 1];
	size_t end = start;
	while (end < f->len && f->text[end] != '\n')
		end++;
	*len = end - start;
	return f->text + start;
}

size_t src_utf8_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t n;
	unsigned cp;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

const char *src_status_str(enum src_status st, int errnum)
{
	switch (st) {
	case SRC_OK:
		return "no error";
	case SRC_NOT_FOUND:
		return "no such file";
	case SRC_NOT_REGULAR:
		return "not a regular file";
	case SRC_TOO_BIG:
		return "file is larger than 64 MiB";
	case SRC_IO_ERROR:
		return strerror(errnum);
	}
	return "unknown error";
}
