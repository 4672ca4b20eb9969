/* diag.h: diagnostics in the GNU form, collected, then printed sorted.
 *
 *   FILE:LINE:COL: error: MESSAGE
 *      LINE | source line
 *           |     ^~~~~
 *
 * A compile goes on after an error where it can, so one run reports many
 * problems; printing stops after DIAG_MAX_ERRORS errors. */
#ifndef TRC_DIAG_H
#define TRC_DIAG_H

#include <stdbool.h>
#include <stdio.h>

#include "src.h"
#include "util.h"

#define DIAG_MAX_ERRORS 20

enum diag_severity { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE };

/* The warnings, each with a name for -W no-NAME. */
enum diag_warning {
	W_UNUSED_DEFINE,
	W_DUPLICATE_SERVER,
	W_LEGACY_TABLE_SIZE,
	W_COUNT
};

struct diag_ctx;

struct diag_ctx *diag_new(void);
void diag_free(struct diag_ctx *d);

/* Returns false if NAME is not a warning's name. */
bool diag_set_warning(struct diag_ctx *d, const char *name, bool on);
void diag_set_werror(struct diag_ctx *d, bool on);
bool diag_warning_enabled(const struct diag_ctx *d, enum diag_warning w);
bool diag_werror(const struct diag_ctx *d);

void diag_error(struct diag_ctx *d, struct loc loc, const char *fmt, ...)
	TRC_PRINTF(3, 4);
void diag_warning(struct diag_ctx *d, enum diag_warning w, struct loc loc,
		  const char *fmt, ...) TRC_PRINTF(4, 5);
/* Attaches to the last error or warning (dropped with it if that one was
 * not kept). */
void diag_note(struct diag_ctx *d, struct loc loc, const char *fmt, ...)
	TRC_PRINTF(3, 4);

/* Errors so far, counting warnings made errors by -W error. */
unsigned diag_errors(const struct diag_ctx *d);
unsigned diag_warnings(const struct diag_ctx *d);

void diag_print(struct diag_ctx *d, FILE *out, bool color);

#endif
