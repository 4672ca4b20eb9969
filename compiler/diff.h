/* diff.h: the edit script between two sequences of lines (Myers).
 *
 * Used by --verify and --verify-live (a unified diff for people) and by
 * --since (a delta for the kernel: which rules to delete and insert). */
#ifndef TRC_DIFF_H
#define TRC_DIFF_H

#include <stdbool.h>
#include <stddef.h>

struct line {
	const char *p;
	size_t len;          /* with the newline, if there is one */
};

enum op_kind { OP_EQ, OP_DEL, OP_INS };

struct op {
	enum op_kind kind;
	long a, b;           /* lines of a and b before this op */
};

/* Splits s[0, n) into lines (*out, xmalloc'd); returns their number. */
long diff_split(const char *s, size_t n, struct line **out);

/* The edit script from a[0, n) to b[0, m): equal lines, deletions of a's
 * lines and insertions of b's, in order; *ops is xmalloc'd, the count is
 * returned. Myers' O((N+M)D) on the lines between the common prefix and
 * suffix; past DIFF_MAX_D edits the middle is deleted and inserted whole
 * (still a correct script; bounded memory whatever the input). */
#define DIFF_MAX_D 2000
size_t diff_lines(const struct line *a, long n, const struct line *b, long m,
		  struct op **ops);

#endif
