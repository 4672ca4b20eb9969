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

/* The same, statement by statement as the parser reads them, so that a
 * route's AST can be thrown away once it is built: a gateway of 100,000
 * routes then never holds them all. A route that names a define not seen
 * yet is kept and built by sema_finish. */
struct sema;
struct sema *sema_new(struct arena *a, struct diag_ctx *d,
		      const struct ast_file *overrides, const char *main_base);
void sema_define(struct sema *s, const struct ast_stmt *st);
void sema_defaults(struct sema *s, const struct ast_stmt *st);
void sema_policy(struct sema *s, const struct ast_stmt *st);
/* Returns true when the statement must be kept until sema_finish. */
bool sema_route(struct sema *s, const struct ast_stmt *st);
struct model *sema_finish(struct sema *s, bool syntax_errors);
/* Frees the pass, and with it the model's routes: call it after the model
 * has been used. */
void sema_free(struct sema *s);

/* "tcp 192.0.2.1:80", "udp [2001:db8::1]:53-54 on eth0", "tcp *:80". */
void sema_listener_str(const struct m_listener *l, int family, char *out, size_t n);

#endif
