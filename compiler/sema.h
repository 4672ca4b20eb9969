/* sema.h: the semantic pass, from the AST to the resolved model.
 *
 * It reads the statements as the parser makes them, so that a route's AST
 * can be thrown away once it is built: a gateway of 100,000 routes then
 * never holds them all. Defines (those of -D win over the file's) are
 * resolved, sets expanded, defaults applied, and everything checked. Only
 * compile.c and the parser use it. */
#ifndef TRC_SEMA_H
#define TRC_SEMA_H

#include "ast.h"
#include "diag.h"
#include "model.h"

struct sema;
struct sema *sema_new(struct arena *a, struct diag_ctx *d,
		      const struct ast_file *overrides, const struct src_file *main_file);
void sema_define(struct sema *s, const struct ast_stmt *st);
void sema_defaults(struct sema *s, const struct ast_stmt *st);
void sema_policy(struct sema *s, const struct ast_stmt *st);
/* Returns true when the statement must be kept until sema_finish: it names
 * a define not seen yet. */
bool sema_route(struct sema *s, const struct ast_stmt *st);
/* The model, or NULL when there were errors (they are in d). */
struct model *sema_finish(struct sema *s, bool syntax_errors);
/* Frees the pass, and with it the model's routes: call it after the model
 * has been used. */
void sema_free(struct sema *s);

#endif
