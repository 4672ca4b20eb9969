/* parse.h: from source files to one AST, includes spliced in place. */
#ifndef TRC_PARSE_H
#define TRC_PARSE_H

#include "ast.h"
#include "diag.h"
#include "src.h"

struct sema;

struct parse_ctx {
	struct arena *arena;
	struct diag_ctx *diag;
	struct src_set *srcs;
	struct ast_file *out;   /* statements are appended here */
	int depth;              /* include nesting */
	/* With a semantic pass, each statement goes to it as it is read, and
	 * a route's AST is freed once built (see sema_route). */
	struct sema *sema;
	unsigned syntax_errors;
};

/* Parses f (and what it includes) into ctx->out. Errors go to ctx->diag. */
void parse_file(struct parse_ctx *ctx, struct src_file *f);

/* Checks the bytes of f before lexing: NUL bytes, invalid UTF-8 and lines
 * longer than SRC_MAX_LINE_LEN. Returns false (with diagnostics) if bad. */
bool parse_check_bytes(struct parse_ctx *ctx, const struct src_file *f);

/* Called by the grammar for `include "NAME"`. */
void parse_include(struct parse_ctx *ctx, struct loc loc, const char *name,
		   struct loc name_loc);

/* Appends a statement to ctx->out, and hands it to ctx->sema. */
void parse_append(struct parse_ctx *ctx, struct ast_stmt *s);

/* A route statement, read since `mark` (taken before its name) with
 * `errors` syntax errors before it: built and freed, or kept. */
void parse_route(struct parse_ctx *ctx, struct ast_stmt *s, struct arena_mark mark,
		 unsigned errors, bool lookahead);

/* A syntax error: counted apart from the semantic ones. */
void parse_error(struct parse_ctx *ctx, struct loc loc, const char *fmt, ...)
	TRC_PRINTF(3, 4);

#endif
