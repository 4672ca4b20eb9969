/* sema.h: the semantic pass, from the AST to the resolved model. */
#ifndef TRC_SEMA_H
#define TRC_SEMA_H

#include "ast.h"
#include "diag.h"
#include "model.h"

/* Resolves defines (those in `overrides`, from -D, win over the file's),
 * expands sets, applies defaults and checks everything. Returns NULL when
 * there were errors; they are in d. */
struct model *sema_run(struct arena *a, struct diag_ctx *d,
		       const struct ast_file *file,
		       const struct ast_file *overrides,
		       const char *main_base);

/* "tcp 192.0.2.1:80", "udp [2001:db8::1]:53-54 on eth0", "tcp *:80". */
void sema_listener_str(const struct m_listener *l, int family, char *out, size_t n);

#endif
