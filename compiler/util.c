/* util.c: see util.h. */
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void oom(void)
{
	fputs("tcproutec: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(xmalloc(n), s, n);
}

size_t xmul(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		oom();
	return n * size;
}

/* Chunks are chained; a request larger than a chunk gets a chunk of its own. */
struct chunk {
	struct chunk *next;
	size_t used, size;
	max_align_t data[];
};

struct arena {
	struct chunk *head;
};

#define CHUNK_SIZE (64 * 1024)

struct arena *arena_new(void)
{
	return xcalloc(1, sizeof(struct arena));
}

void arena_free(struct arena *a)
{
	if (!a)
		return;
	for (struct chunk *c = a->head, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

struct arena_mark arena_mark(const struct arena *a)
{
	struct arena_mark m = {a->head, a->head ? a->head->used : 0};
	return m;
}

void arena_rewind(struct arena *a, struct arena_mark m)
{
	while (a->head && a->head != m.chunk) {
		struct chunk *next = a->head->next;
		free(a->head);
		a->head = next;
	}
	if (a->head)
		a->head->used = m.used;
}

void *arena_alloc(struct arena *a, size_t n)
{
	const size_t align = sizeof(max_align_t);
	n = (n + align - 1) / align * align;
	if (n == 0)
		n = align;
	struct chunk *c = a->head;
	if (!c || c->size - c->used < n) {
		size_t size = n > CHUNK_SIZE ? n : CHUNK_SIZE;
		c = xmalloc(sizeof(*c) + size);
		c->used = 0;
		c->size = size;
		c->next = a->head;
		a->head = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return memset(p, 0, n);
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	char *p = arena_alloc(a, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->sink = -1;
	b->sink_errno = 0;
	b->hash = NULL;
	b->hashed = 0;
	b->tap = NULL;
	b->tap_ctx = NULL;
}

void buf_tap_end(struct buf *b)
{
	if (b->tap && b->len)
		b->tap(b->tap_ctx, b->data, b->len);
	b->tap = NULL;
}

static void buf_hash_pending(struct buf *b)
{
	if (b->hash && b->len > b->hashed)
		hash64_update(b->hash, b->data + b->hashed, b->len - b->hashed);
	b->hashed = b->len;
}

void buf_hash_begin(struct buf *b, struct hash64 *h)
{
	hash64_init(h);
	b->hash = h;
	b->hashed = b->len;
}

uint64_t buf_hash_end(struct buf *b)
{
	buf_hash_pending(b);
	uint64_t v = hash64_final(b->hash);
	b->hash = NULL;
	return v;
}

bool buf_flush(struct buf *b)
{
	if (b->sink < 0)
		return true;
	buf_hash_pending(b);
	b->hashed = 0;
	if (b->tap && b->len)
		b->tap(b->tap_ctx, b->data, b->len);
	const char *p = b->data;
	size_t n = b->len;
	while (n > 0 && !b->sink_errno) {
		ssize_t w = write(b->sink, p, n);
		if (w < 0) {
			if (errno != EINTR)
				b->sink_errno = errno;
			continue;
		}
		p += w;
		n -= (size_t)w;
	}
	b->len = 0;
	return !b->sink_errno;
}

void buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

static void buf_reserve(struct buf *b, size_t extra)
{
	if (b->sink >= 0 && b->len > 0 && b->len + extra > BUF_FLUSH_AT)
		buf_flush(b);
	if (b->cap - b->len > extra)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len <= extra) {
		if (cap > SIZE_MAX / 2)
			oom();
		cap *= 2;
	}
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

void buf_add(struct buf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
}

/* The length of the UTF-8 sequence at s, 0 if invalid (as src_utf8_len,
 * kept here so that util depends on nothing). */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
		 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
	if (n == 0 || n > avail)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

void buf_add_printable(struct buf *b, const char *s, size_t n, bool keep_tabs)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		size_t len = utf8_len(p + i, n - i);
		bool bad = len == 0 ||
			   (len == 1 && ((p[i] < 0x20 && !(keep_tabs && p[i] == '\t')) ||
					 p[i] == 0x7f)) ||
			   (len == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0);
		if (bad) {
			buf_putc(b, '?');
			i += len ? len : 1;
		} else {
			buf_add(b, s + i, len);
			i += len;
		}
	}
}

void buf_puts(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_putc(struct buf *b, char c)
{
	buf_reserve(b, 1);
	b->data[b->len++] = c;
}

void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	char small[256];
	int n = vsnprintf(small, sizeof(small), fmt, ap2);
	va_end(ap2);
	if (n < 0)
		oom();
	if ((size_t)n < sizeof(small)) {
		buf_add(b, small, (size_t)n);
		return;
	}
	buf_reserve(b, (size_t)n + 1);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

const char *buf_cstr(struct buf *b)
{
	buf_reserve(b, 1);
	b->data[b->len] = '\0';
	return b->data;
}

void vec_push(struct vec *v, void *item)
{
	if (v->len == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 8;
		v->items = xrealloc(v->items, xmul(v->cap, sizeof(void *)));
	}
	v->items[v->len++] = item;
}

void vec_free(struct vec *v)
{
	free(v->items);
	v->items = NULL;
	v->len = v->cap = 0;
}

unsigned levenshtein(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	/* Only short words are compared (names are at most 64 characters). */
	if (la > 64 || lb > 64)
		return 1000;
	unsigned row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0];
		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned up = row[j];
			unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
			unsigned best = diag + cost;
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

uint32_t fnv1a32(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

#define HASH64_K 0x9e3779b97f4a7c15ull

static uint64_t hash64_word(uint64_t h, const unsigned char *p)
{
	uint64_t w;
	memcpy(&w, p, sizeof(w));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w = __builtin_bswap64(w);       /* the words are little-endian on any host */
#endif
	h ^= w;
	h *= HASH64_K;
	return h ^ (h >> 29);
}

void hash64_init(struct hash64 *s)
{
	*s = (struct hash64){.h = HASH64_K};
}

void hash64_update(struct hash64 *s, const void *vp, size_t n)
{
	const unsigned char *p = vp;
	s->len += n;
	if (s->ntail) {
		while (n > 0 && s->ntail < 8) {
			s->tail[s->ntail++] = *p++;
			n--;
		}
		if (s->ntail < 8)
			return;
		s->h = hash64_word(s->h, s->tail);
		s->ntail = 0;
	}
	for (; n >= 8; p += 8, n -= 8)
		s->h = hash64_word(s->h, p);
	memcpy(s->tail, p, n);
	s->ntail = (unsigned)n;
}

uint64_t hash64_final(const struct hash64 *s)
{
	unsigned char last[8] = {0};
	memcpy(last, s->tail, s->ntail);
	uint64_t h = hash64_word(s->h, last) ^ s->len;
	h ^= h >> 33;           /* murmur3's fmix64 */
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb93fe53a87d4ull;
	return h ^ (h >> 33);
}
