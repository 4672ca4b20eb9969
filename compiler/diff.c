/* diff.c: see diff.h. */
#include "diff.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

long diff_split(const char *s, size_t n, struct line **out)
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
 * script to ops. Returns false if it needs more than DIFF_MAX_D edits. */
static bool myers(const struct line *a, long n, const struct line *b, long m,
		  struct op *ops, size_t *nops, long a0, long b0)
{
	/* V of step d, for k = -d, -d+2, ..., d, at trace[d(d+1)/2 + (k+d)/2]. */
	long maxd = n + m < DIFF_MAX_D ? n + m : DIFF_MAX_D, found = -1;
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

size_t diff_lines(const struct line *a, long n, const struct line *b, long m,
		  struct op **out)
{
	long pre = 0, suf = 0;
	while (pre < n && pre < m && line_eq(&a[pre], &b[pre]))
		pre++;
	while (suf < n - pre && suf < m - pre && line_eq(&a[n - 1 - suf], &b[m - 1 - suf]))
		suf++;
	struct op *ops = xmalloc(xmul((size_t)(n + m) + 1, sizeof(*ops)));
	size_t nops = 0;
	for (long i = 0; i < pre; i++)
		ops[nops++] = (struct op){OP_EQ, i, i};
	if (!myers(a + pre, n - pre - suf, b + pre, m - pre - suf, ops, &nops, pre, pre)) {
		for (long i = pre; i < n - suf; i++)
			ops[nops++] = (struct op){OP_DEL, i, pre};
		for (long j = pre; j < m - suf; j++)
			ops[nops++] = (struct op){OP_INS, n - suf, j};
	}
	for (long i = 0; i < suf; i++)
		ops[nops++] = (struct op){OP_EQ, n - suf + i, m - suf + i};
	*out = ops;
	return nops;
}
