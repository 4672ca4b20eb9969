/* verify.h: is a committed output still what its source compiles to?
 *
 * `tcproutec --verify rules.v4 routes.tr` compiles as usual, then compares
 * the result with the committed file byte for byte instead of writing it.
 * A stale file gets a unified diff (committed -> compiled), made in process
 * so that CI needs nothing but the compiler. */
#ifndef TRC_VERIFY_H
#define TRC_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util.h"

/* Exit status of --verify: the same, stale (a diff was printed), or the
 * committed file could not be read. */
#define VERIFY_SAME 0
#define VERIFY_STALE 1
#define VERIFY_IO_ERROR 2

/* Appends to out a unified diff from a to b with 3 lines of context, under
 * the headers "--- label_a" and "+++ label_b" (no dates); a missing final
 * newline is marked as diff(1) marks it. Returns false, appending nothing,
 * when a and b are equal. */
bool verify_diff(const char *a, size_t alen, const char *b, size_t blen,
		 const char *label_a, const char *label_b, struct buf *out);

/* Compares the file `committed` with `compiled`, the output of compiling
 * `source` (a name for messages). Prints the diff to `to` when they
 * differ; messages go to standard error. Returns a VERIFY_ status. */
int verify_file(const char *committed, const char *source,
		const struct buf *compiled, FILE *to);

#endif
