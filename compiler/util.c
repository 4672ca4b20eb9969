/* util.c: see util.h. */
#define _GNU_SOURCE   /* mremap, MADV_HUGEPAGE, MAP_ANONYMOUS */
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

/* Huge pages (2 MiB) for large blocks: a 100,000-route compilation fills
 * about 100 MiB, and one page fault per 4 KiB was a fifth of its time.
 * Advice only: where the kernel gives none, nothing changes. */
#define HUGE_PAGE ((size_t)2 << 20)

/* Mappings are whole huge pages: the first touch of one clears 2 MiB at
 * once, where 512 faults of 4 KiB each cost far more (a virtual machine
 * pays each fault twice). Untouched, a mapping costs nothing. */
static size_t huge_round(size_t n)
{
	if (n > SIZE_MAX - HUGE_PAGE)
		oom();
	return (n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}

static void advise_mapping(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
	(void)madvise(p, n, MADV_HUGEPAGE);
#else
	(void)p;
	(void)n;
#endif
}

void *big_realloc(void *p, size_t old, size_t n)
{
	old = p ? huge_round(old) : 0;
	n = huge_round(n ? n : 1);
	if (n == old)
		return p;
	void *q = p ? mremap(p, old, n, MREMAP_MAYMOVE)
		    : mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q == MAP_FAILED)
		oom();
	/* The whole mapping, or it would be split in parts that mremap
	 * cannot move as one. */
	advise_mapping(q, n);
	return q;
}

void big_free(void *p, size_t n)
{
	if (p)
		munmap(p, huge_round(n ? n : 1));
}

/* Chunks are chained, whole huge pages mapped (zero already); a request
 * larger than a chunk gets a chunk of its own. Bytes from `dirty` on are
 * known to be zero, so that an allocation clears only memory used before
 * (after arena_rewind). Should the mapping fail, a malloc'd chunk just
 * the size of the request. */
struct chunk {
	struct chunk *next;
	size_t used, size;
	size_t dirty;
	size_t mapped;        /* length of the mapping; 0: malloc'd */
	max_align_t data[];
};

struct arena {
	struct chunk *head;
};

#define CHUNK_SIZE (HUGE_PAGE - sizeof(struct chunk))

struct arena *arena_new(void)
{
	return xcalloc(1, sizeof(struct arena));
}

static void chunk_free(struct chunk *c)
{
	if (c->mapped)
		munmap(c, c->mapped);
	else
		free(c);
}

void arena_free(struct arena *a)
{
	if (!a)
		return;
	for (struct chunk *c = a->head, *next; c; c = next) {
		next = c->next;
		chunk_free(c);
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
		chunk_free(a->head);
		a->head = next;
	}
	if (a->head)
		a->head->used = m.used;
}

static struct chunk *chunk_new(struct arena *a, size_t n)
{
	struct chunk *c = NULL;
	size_t total = huge_round(sizeof(*c) + (n > CHUNK_SIZE ? n : CHUNK_SIZE));
	void *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (m != MAP_FAILED) {
		advise_mapping(m, total);
		c = m;
		c->mapped = total;
		c->size = total - sizeof(*c);
		c->dirty = 0;
	} else {
		size_t size = n > 65536 ? n : 65536;
		c = xmalloc(sizeof(*c) + size);
		c->mapped = 0;
		c->size = size;
		c->dirty = size;
	}
	c->used = 0;
	c->next = a->head;
	a->head = c;
	return c;
}

void *arena_alloc(struct arena *a, size_t n)
{
	const size_t align = sizeof(max_align_t);
	n = (n + align - 1) / align * align;
	if (n == 0)
		n = align;
	struct chunk *c = a->head;
	if (!c || c->size - c->used < n)
		c = chunk_new(a, n);
	size_t at = c->used;
	char *p = (char *)c->data + at;
	c->used += n;
	if (at < c->dirty) {
		memset(p, 0, (c->dirty < c->used ? c->dirty : c->used) - at);
	}
	if (c->used > c->dirty)
		c->dirty = c->used;
	return p;
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

void buf_grow(struct buf *b, size_t extra)
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
	memcpy(buf_room(b, n), s, n);
	b->len += n;
}

void buf_put_u64(struct buf *b, uint64_t v)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[sizeof(tmp) - ++n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	buf_add(b, tmp + sizeof(tmp) - n, n);
}

void buf_put_hex(struct buf *b, uint64_t v, int width)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[16];
	size_t n = 0;
	do {
		tmp[sizeof(tmp) - ++n] = digits[v & 15];
		v >>= 4;
	} while (v);
	while (n < sizeof(tmp) && (int)n < width)
		tmp[sizeof(tmp) - ++n] = '0';
	buf_add(b, tmp + sizeof(tmp) - n, n);
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
	buf_grow(b, (size_t)n + 1);
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
	buf_room(b, 1);
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
