/* verify.c: see verify.h. The diff is Myers' O((N+M)D) algorithm on the
 * lines between the common prefix and suffix; a committed ruleset that is
 * stale usually differs in a few lines, so D is small. Past VERIFY_MAX_D
 * edits the middle is shown as removed and added whole: still a correct
 * diff, and bounded memory whatever the input. */
#include "verify.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define VERIFY_CONTEXT 3
#define VERIFY_MAX_D 2000

struct line {
	const char *p;
	size_t len;          /* with the newline, if there is one */
};

enum op_kind { OP_EQ, OP_DEL, OP_INS };

struct op {
	enum op_kind kind;
	long a, b;           /* lines of a and b before this op */
};

static long split(const char *s, size_t n, struct line **out)
{
	long count = 0;
	for (size_t i = 0; i < n; i++)
		count += s[i] == '\n';
	if (n && s[n - 1] != '\n')
		count++;
	struct line *v = xmalloc(xmul((size_t)count + 1, sizeof(*v)));
	size_t start = 0;
	for (long k = 0; k < count; k++) {
		const char *nl = memchr(s + start, '\n', n - start);
		size_t end = nl ? (size_t)(nl - s) + 1 : n;
		v[k] = (struct line){s + start, end - start};
		start = end;
	}
	*out = v;
	return count;
}

static bool line_eq(const struct line *x, const struct line *y)
{
	return x->len == y->len && memcmp(x->p, y->p, x->len) == 0;
}

/* Myers from (0,0) to (n,m) over a[0..n) and b[0..m); appends the edit
 * script to ops. Returns false if it needs more than VERIFY_MAX_D edits. */
static bool myers(const struct line *a, long n, const struct line *b, long m,
		  struct op *ops, size_t *nops, long a0, long b0)
{
	/* V of step d, for k = -d, -d+2, ..., d, at trace[d(d+1)/2 + (k+d)/2]. */
	long maxd = n + m < VERIFY_MAX_D ? n + m : VERIFY_MAX_D, found = -1;
	long *trace = xmalloc(xmul((size_t)(maxd + 1) * (size_t)(maxd + 2) / 2, sizeof(long)));
#define V(d, k) trace[(d) * ((d) + 1) / 2 + ((k) + (d)) / 2]
	for (long d = 0; d <= maxd && found < 0; d++) {
		for (long k = -d; k <= d; k += 2) {
			long x;
			if (d == 0)
				x = 0;
			else if (k == -d || (k != d && V(d - 1, k - 1) < V(d - 1, k + 1)))
				x = V(d - 1, k + 1);
			else
				x = V(d - 1, k - 1) + 1;
			long y = x - k;
			while (x < n && y < m && line_eq(&a[x], &b[y]))
				x++, y++;
			V(d, k) = x;
			if (x >= n && y >= m) {
				found = d;
				break;
			}
		}
	}
	if (found < 0) {
		free(trace);
		return false;
	}
	/* Walk back from (n,m), writing the script from its end. */
	size_t len = 0;
	long x = n, y = m;
	for (long d = found; d >= 0; d--) {
		long k = x - y, px = 0, py = 0;
		bool ins = false;
		if (d > 0) {
			ins = k == -d || (k != d && V(d - 1, k - 1) < V(d - 1, k + 1));
			long pk = ins ? k + 1 : k - 1;
			px = V(d - 1, pk);
			py = px - pk;
		}
		long mx = d > 0 ? (ins ? px : px + 1) : 0;
		for (; x > mx; x--, y--)
			ops[*nops + len++] = (struct op){OP_EQ, a0 + x - 1, b0 + y - 1};
		if (d > 0)
			ops[*nops + len++] = ins ? (struct op){OP_INS, a0 + px, b0 + py}
						 : (struct op){OP_DEL, a0 + px, b0 + py};
		x = px;
		y = py;
	}
#undef V
	free(trace);
	for (size_t i = 0; i < len / 2; i++) {
		struct op t = ops[*nops + i];
		ops[*nops + i] = ops[*nops + len - 1 - i];
		ops[*nops + len - 1 - i] = t;
	}
	*nops += len;
	return true;
}

static void put_line(struct buf *out, char mark, const struct line *l)
{
	buf_putc(out, mark);
	buf_add(out, l->p, l->len);
	if (!l->len || l->p[l->len - 1] != '\n')
		buf_puts(out, "\n\\ No newline at end of file\n");
}

static void put_range(struct buf *out, char sign, long start, long count)
{
	/* diff(1): an empty range names the line before it. */
	if (count == 1)
		buf_printf(out, " %c%ld", sign, start + 1);
	else
		buf_printf(out, " %c%ld,%ld", sign, count ? start + 1 : start, count);
}

bool verify_diff(const char *a, size_t alen, const char *b, size_t blen,
		 const char *label_a, const char *label_b, struct buf *out)
{
	if (alen == blen && memcmp(a, b, alen) == 0)
		return false;
	struct line *la, *lb;
	long n = split(a, alen, &la), m = split(b, blen, &lb);
	long pre = 0, suf = 0;
	while (pre < n && pre < m && line_eq(&la[pre], &lb[pre]))
		pre++;
	while (suf < n - pre && suf < m - pre && line_eq(&la[n - 1 - suf], &lb[m - 1 - suf]))
		suf++;
	struct op *ops = xmalloc(xmul((size_t)(n + m) + 1, sizeof(*ops)));
	size_t nops = 0;
	for (long i = 0; i < pre; i++)
		ops[nops++] = (struct op){OP_EQ, i, i};
	if (!myers(la + pre, n - pre - suf, lb + pre, m - pre - suf, ops, &nops, pre, pre)) {
		for (long i = pre; i < n - suf; i++)
			ops[nops++] = (struct op){OP_DEL, i, pre};
		for (long j = pre; j < m - suf; j++)
			ops[nops++] = (struct op){OP_INS, n - suf, j};
	}
	for (long i = 0; i < suf; i++)
		ops[nops++] = (struct op){OP_EQ, n - suf + i, m - suf + i};

	buf_printf(out, "--- %s\n+++ %s\n", label_a, label_b);
	for (size_t i = 0; i < nops;) {
		if (ops[i].kind == OP_EQ) {
			i++;
			continue;
		}
		/* A hunk: context before, changes joined by at most 2 * CONTEXT
		 * equal lines, context after. */
		size_t start = i > VERIFY_CONTEXT ? i - VERIFY_CONTEXT : 0, end = i;
		for (;;) {
			while (end < nops && ops[end].kind != OP_EQ)
				end++;
			size_t eq = end;
			while (eq < nops && ops[eq].kind == OP_EQ && eq - end <= 2 * VERIFY_CONTEXT)
				eq++;
			if (eq < nops && ops[eq].kind != OP_EQ && eq - end <= 2 * VERIFY_CONTEXT) {
				end = eq;
				continue;
			}
			end = end + VERIFY_CONTEXT < nops ? end + VERIFY_CONTEXT : nops;
			break;
		}
		long ca = 0, cb = 0;
		for (size_t k = start; k < end; k++) {
			ca += ops[k].kind != OP_INS;
			cb += ops[k].kind != OP_DEL;
		}
		buf_puts(out, "@@");
		put_range(out, '-', ops[start].a, ca);
		put_range(out, '+', ops[start].b, cb);
		buf_puts(out, " @@\n");
		/* Within a run of changes, removed lines first, as diff(1). */
		for (size_t k = start; k < end;) {
			if (ops[k].kind == OP_EQ) {
				put_line(out, ' ', &la[ops[k].a]);
				k++;
				continue;
			}
			size_t run = k;
			while (run < end && ops[run].kind != OP_EQ)
				run++;
			for (size_t r = k; r < run; r++)
				if (ops[r].kind == OP_DEL)
					put_line(out, '-', &la[ops[r].a]);
			for (size_t r = k; r < run; r++)
				if (ops[r].kind == OP_INS)
					put_line(out, '+', &lb[ops[r].b]);
			k = run;
		}
		i = end;
	}
	free(ops);
	free(la);
	free(lb);
	return true;
}

int verify_file(const char *committed, const char *source,
		const struct buf *compiled, FILE *to)
{
	FILE *f = strcmp(committed, "-") == 0 ? stdin : fopen(committed, "rb");
	if (!f) {
		fprintf(stderr, "tcproutec: cannot read %s: %s\n", committed, strerror(errno));
		return VERIFY_IO_ERROR;
	}
	struct buf have;
	buf_init(&have);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&have, chunk, n);
	int err = ferror(f) ? errno : 0;
	if (f != stdin)
		fclose(f);
	if (err) {
		fprintf(stderr, "tcproutec: cannot read %s: %s\n", committed, strerror(err));
		buf_free(&have);
		return VERIFY_IO_ERROR;
	}
	struct buf diff;
	buf_init(&diff);
	char *label_b = xmalloc(strlen(committed) + strlen(source) + 32);
	sprintf(label_b, "%s (compiled from %s)", committed, source);
	int status = VERIFY_SAME;
	if (verify_diff(have.data ? have.data : "", have.len,
			compiled->data ? compiled->data : "", compiled->len,
			committed, label_b, &diff)) {
		fprintf(stderr, "tcproutec: %s is stale: it differs from what %s "
			"compiles to\n", committed, source);
		status = VERIFY_STALE;
		if (fwrite(diff.data, 1, diff.len, to) != diff.len || fflush(to) != 0) {
			fprintf(stderr, "tcproutec: cannot write the diff: %s\n",
				strerror(errno));
			status = VERIFY_IO_ERROR;
		}
	}
	free(label_b);
	buf_free(&diff);
	buf_free(&have);
	return status;
}
