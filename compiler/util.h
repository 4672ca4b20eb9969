/* util.h: allocation that never returns NULL, a bump arena, growable text.
 *
 * The AST and the resolved model live in one arena per compilation and are
 * freed at once; nothing in them has its own destructor. */
#ifndef TRC_UTIL_H
#define TRC_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A format is never NULL; saying so matters under -fsanitize=undefined:
 * gcc's recoverable nonnull check leaves a path on which the format may
 * be NULL, and -Wformat-truncation then fails vsnprintf(NULL, 0, fmt, ap)
 * in arena_printf. With nonnull the check moves to the callers. */
#define TRC_PRINTF(f, a) __attribute__((format(printf, f, a), nonnull(f)))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* n * size, aborting on overflow. */
size_t xmul(size_t n, size_t size);

struct arena;
/* A position in an arena, to free everything allocated after it. */
struct arena_mark {
	void *chunk;
	size_t used;
};
struct arena *arena_new(void);
struct arena_mark arena_mark(const struct arena *a);
void arena_rewind(struct arena *a, struct arena_mark m);
void arena_free(struct arena *a);
void *arena_alloc(struct arena *a, size_t n);   /* zeroed */
/* Large arrays (a few per compilation, as long as the input: the source
 * text and its line index, the routes, the nft elements), mapped in whole
 * huge pages: growing one moves no byte (mremap), and filling it takes one
 * page fault per 2 MiB instead of one per 4 KiB. `old` is the size the
 * block was given (0 for NULL); a block is freed with big_free and the
 * same size. New bytes are zero. */
void *big_realloc(void *p, size_t old, size_t n);
void big_free(void *p, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) TRC_PRINTF(2, 3);
#define ARENA_NEW(a, type) ((type *)arena_alloc((a), sizeof(type)))
#define ARENA_ARRAY(a, type, n) ((type *)arena_alloc((a), xmul((n), sizeof(type))))

/* A streaming 64-bit hash of bytes: the same value however the bytes are
 * cut into updates. Eight bytes a step, then the murmur3 finaliser; for
 * telling generations of a ruleset apart, not against an adversary. */
struct hash64 {
	uint64_t h, len;
	unsigned char tail[8];
	unsigned ntail;
};
void hash64_init(struct hash64 *s);
void hash64_update(struct hash64 *s, const void *p, size_t n);
uint64_t hash64_final(const struct hash64 *s);

/* A growable byte buffer. With a sink (a file descriptor), it writes out
 * what it holds whenever that passes BUF_FLUSH_AT, so a large ruleset
 * never sits whole in memory; sink_errno keeps the first write error.
 * With a hash attached, every byte added from then on goes through it
 * before it leaves the buffer. */
struct buf {
	char *data;
	size_t len, cap;
	int sink;             /* -1: none */
	int sink_errno;
	struct hash64 *hash;  /* NULL: none */
	size_t hashed;        /* data[0, hashed) went through the hash */
	/* A reader of every byte, as it leaves the buffer (buf_tap_end for
	 * what stays). */
	void (*tap)(void *ctx, const char *p, size_t n);
	void *tap_ctx;
};
#define BUF_FLUSH_AT (1u << 20)
void buf_init(struct buf *b);
/* Writes out what the buffer holds to its sink; false on a write error. */
bool buf_flush(struct buf *b);
void buf_free(struct buf *b);
/* Hands the bytes that have not left b to its tap, and detaches it. */
void buf_tap_end(struct buf *b);
/* Starts hashing what is added to b from now on, into h. */
void buf_hash_begin(struct buf *b, struct hash64 *h);
/* Stops hashing; returns the hash of the bytes added since the begin. */
uint64_t buf_hash_end(struct buf *b);
/* Makes room for `extra` more bytes (and flushes to the sink first when
 * the buffer holds BUF_FLUSH_AT); the inline writers below call it only
 * when the room is not there already. */
void buf_grow(struct buf *b, size_t extra);
static inline char *buf_room(struct buf *b, size_t extra)
{
	if (b->cap - b->len <= extra || (b->sink >= 0 && b->len + extra > BUF_FLUSH_AT))
		buf_grow(b, extra);
	return b->data + b->len;
}
void buf_add(struct buf *b, const char *s, size_t n);
void buf_puts(struct buf *b, const char *s);
static inline void buf_putc(struct buf *b, char c)
{
	buf_room(b, 1)[0] = c;
	b->len++;
}
/* Decimal and hexadecimal numbers written straight into the buffer, the
 * text of printf's %lu and %0*x (lower case, no 0x), without the printf
 * machinery: every address, port and mark of a ruleset goes through
 * these. */
void buf_put_u64(struct buf *b, uint64_t v);
void buf_put_hex(struct buf *b, uint64_t v, int width);
void buf_printf(struct buf *b, const char *fmt, ...) TRC_PRINTF(2, 3);
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Appends text from a source file for a terminal to show: control
 * characters (C0, DEL, C1) and bytes that are not UTF-8 become '?'; tabs
 * are kept when keep_tabs. */
void buf_add_printable(struct buf *b, const char *s, size_t n, bool keep_tabs);
/* NUL-terminates without counting the NUL in len. */
const char *buf_cstr(struct buf *b);

/* A growable array of pointers. */
struct vec {
	void **items;
	size_t len, cap;
};
void vec_push(struct vec *v, void *item);
void vec_free(struct vec *v);

unsigned levenshtein(const char *a, const char *b);
uint32_t fnv1a32(const char *s);

#endif
