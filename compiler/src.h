/* src.h: source files kept in memory, source places, include lookup.
 *
 * Every file of a compilation stays loaded until the end, with a table of
 * line starts, so that any pass can quote the line a diagnostic points at. */
#ifndef TRC_SRC_H
#define TRC_SRC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util.h"

#define SRC_MAX_FILE_SIZE (64u << 20)   /* bytes */
#define SRC_MAX_LINE_LEN 65536          /* bytes, without the newline */
#define SRC_MAX_INCLUDE_DEPTH 32
/* U+FEFF in UTF-8: skipped at the start of a source file. */
#define SRC_UTF8_BOM "\xef\xbb\xbf"
/* What a base name keeps in output; any other byte becomes '_'. */
#define SRC_BASE_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+,=@%-"

struct src_file;

/* The base name of path as outputs show it (SRC_BASE_CHARS kept, any
 * other byte '_'); xmalloc'd. */
char *src_base_name(const char *path);

/* A place in a source: 1-based lines and columns (bytes), first and last
 * character inclusive. file is NULL for places outside any file. */
struct loc {
	const struct src_file *file;
	int first_line, first_column, last_line, last_column;
};

struct src_file {
	int id;                   /* load order; diagnostics sort by it */
	const char *path;         /* as diagnostics show it */
	const char *base;         /* sanitized base name: all output shows */
	const char *text;         /* the bytes, then two NULs (for flex) */
	size_t len;
	uint32_t *line_start;     /* byte offset of each line, 0-based index
				   * (a file has at most SRC_MAX_FILE_SIZE bytes) */
	size_t nlines;            /* line_start is big_realloc'd for nlines */
	size_t text_mapped;       /* text is big_realloc'd this size; 0: malloc */
	struct loc included_from; /* .file == NULL for the main file */
	dev_t dev;
	ino_t ino;
	bool in_progress;         /* on the include stack: a cycle if seen again */
	bool from_stdlib;
	bool on_disk;             /* false for stdin and -D text */
};

struct src_set {
	struct vec files;         /* struct src_file *, by id */
	struct vec dirs;          /* -I, then TCPROUTEC_PATH, then the stdlib */
	const char *stdlib_dir;
};

enum src_status {
	SRC_OK,
	SRC_NOT_FOUND,
	SRC_NOT_REGULAR,
	SRC_TOO_BIG,
	SRC_IO_ERROR,
};

void src_set_init(struct src_set *set);
void src_set_free(struct src_set *set);
void src_add_dir(struct src_set *set, const char *dir);
/* Adds each non-empty directory of a colon-separated list. */
void src_add_path_list(struct src_set *set, const char *list);

/* Loads a file; "-" is standard input. On failure *errnum holds errno where
 * one applies. A file already loaded (same device and inode) is returned
 * again with *again set. */
enum src_status src_load(struct src_set *set, const char *path,
			 const char *display, struct src_file **out,
			 bool *again, int *errnum);
/* Makes a file from memory, e.g. "<command line>" for -D. */
struct src_file *src_from_string(struct src_set *set, const char *name,
				 const char *text);

/* Finds FILE for an include in `from`: next to it, then in set->dirs.
 * Returns a malloc'd path, or NULL. */
char *src_find_include(const struct src_set *set, const struct src_file *from,
		       const char *name, bool *in_stdlib);

/* The text of line `line` (1-based), without its newline. */
const char *src_line(const struct src_file *f, int line, size_t *len);

/* Decodes one UTF-8 sequence; returns its length, or 0 if invalid. */
size_t src_utf8_len(const unsigned char *s, size_t avail);

const char *src_status_str(enum src_status st, int errnum);

#endif
