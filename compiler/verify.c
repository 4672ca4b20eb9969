/* verify.c: see verify.h. The edit script is diff.c's; a committed
 * ruleset that is stale usually differs in a few lines. */
#include "verify.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"

#define VERIFY_CONTEXT 3

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
	long n = diff_split(a, alen, &la), m = diff_split(b, blen, &lb);
	struct op *ops;
	size_t nops = diff_lines(la, n, lb, m, &ops);

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
