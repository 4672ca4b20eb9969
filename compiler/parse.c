/* parse.c: drives the scanner and the parser over each source file. */
#include "parse.h"

#include <stdlib.h>
#include <string.h>

#include "lexstate.h"
#include "lexer.h"
#include "sema.h"

void parse_append(struct parse_ctx *ctx, struct ast_stmt *s)
{
	if (ctx->out->last)
		ctx->out->last->next = s;
	else
		ctx->out->first = s;
	ctx->out->last = s;
	if (!ctx->sema)
		return;
	switch (s->kind) {
	case AS_DEFINE:
		sema_define(ctx->sema, s);
		break;
	case AS_DEFAULTS:
		sema_defaults(ctx->sema, s);
		break;
	case AS_POLICY:
		sema_policy(ctx->sema, s);
		break;
	case AS_INCLUDE:
	case AS_ROUTE:
		break;
	}
}

void parse_route(struct parse_ctx *ctx, struct ast_stmt *s, struct arena_mark mark,
		 unsigned errors, bool lookahead)
{
	if (!ctx->sema) {
		parse_append(ctx, s);
		return;
	}
	/* A route with a syntax error in it would only add confusing
	 * errors about what is missing. */
	if (ctx->syntax_errors != errors)
		return;
	bool keep = sema_route(ctx->sema, s);
	/* Built: its AST is no longer needed. The lookahead token, if the
	 * parser has read one, may have been allocated after the mark. */
	if (!keep && !lookahead)
		arena_rewind(ctx->arena, mark);
}

void parse_error(struct parse_ctx *ctx, struct loc loc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct buf b;
	buf_init(&b);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	diag_error(ctx->diag, loc, "%s", buf_cstr(&b));
	buf_free(&b);
	ctx->syntax_errors++;
}

static struct loc point(const struct src_file *f, int line, int col)
{
	return (struct loc){f, line, col, line, col};
}

bool parse_check_bytes(struct parse_ctx *ctx, const struct src_file *f)
{
	const unsigned char *p = (const unsigned char *)f->text;
	int line = 1, col = 1;
	size_t line_len = 0;
	bool ok = true;
	for (size_t i = 0; i < f->len;) {
		if (p[i] == '\n') {
			line++;
			col = 1;
			line_len = 0;
			i++;
			continue;
		}
		if (p[i] != '\0' && p[i] < 0x80) {
			/* A run of ASCII bytes, neither NUL nor a newline: nearly
			 * the whole of a file, checked without decoding. */
			size_t j = i + 1;
			while (j < f->len && p[j] != '\0' && p[j] < 0x80 && p[j] != '\n')
				j++;
			if (line_len + (j - i) > SRC_MAX_LINE_LEN) {
				parse_error(ctx, point(f, line, 1),
					   "line is longer than %d bytes", SRC_MAX_LINE_LEN);
				return false;
			}
			line_len += j - i;
			col += (int)(j - i);
			i = j;
			continue;
		}
		if (++line_len == SRC_MAX_LINE_LEN + 1) {
			parse_error(ctx, point(f, line, 1),
				   "line is longer than %d bytes", SRC_MAX_LINE_LEN);
			return false;
		}
		if (p[i] == '\0') {
			parse_error(ctx, point(f, line, col),
				   "NUL byte in source file");
			return false;
		}
		size_t n = src_utf8_len(p + i, f->len - i);
		if (n == 0) {
			parse_error(ctx, point(f, line, col),
				   "invalid UTF-8 byte 0x%02x", p[i]);
			return false;
		}
		i += n;
		col += (int)n;
	}
	return ok;
}

void parse_file(struct parse_ctx *ctx, struct src_file *f)
{
	if (!parse_check_bytes(ctx, f))
		return;
	struct lex_state st = {.ctx = ctx, .file = f, .line = 1, .col = 1};
	yyscan_t scanner;
	if (trc_yylex_init_extra(&st, &scanner) != 0) {
		parse_error(ctx, point(f, 0, 0), "cannot start the scanner");
		return;
	}
	/* Scanned in place, not copied: the text ends in two NULs, and the
	 * bytes were checked to hold none before. */
	YY_BUFFER_STATE b = trc_yy_scan_buffer((char *)f->text, f->len + 2, scanner);
	f->in_progress = true;
	trc_yyparse(scanner);
	f->in_progress = false;
	trc_yy_delete_buffer(b, scanner);
	trc_yylex_destroy(scanner);
}

/* Shows an include cycle as the chain of files that makes it. */
static void note_cycle(struct parse_ctx *ctx, const struct src_file *target,
		       struct loc at)
{
	struct buf b;
	buf_init(&b);
	buf_puts(&b, target->path);
	/* Walk back from the including file to the first inclusion of target. */
	const struct src_file *chain[SRC_MAX_INCLUDE_DEPTH + 2];
	int n = 0;
	for (const struct src_file *f = at.file; f && n < SRC_MAX_INCLUDE_DEPTH + 1;
	     f = f->included_from.file) {
		chain[n++] = f;
		if (f == target)
			break;
	}
	for (int i = n - 2; i >= 0; i--) {
		buf_puts(&b, " -> ");
		buf_puts(&b, chain[i]->path);
	}
	buf_puts(&b, " -> ");
	buf_puts(&b, target->path);
	parse_error(ctx, at, "include cycle: %s", buf_cstr(&b));
	buf_free(&b);
}

void parse_include(struct parse_ctx *ctx, struct loc loc, const char *name,
		   struct loc name_loc)
{
	if (name[0] == '\0') {
		parse_error(ctx, name_loc, "empty file name in include");
		return;
	}
	if (ctx->depth >= SRC_MAX_INCLUDE_DEPTH) {
		parse_error(ctx, loc, "includes nested more than %d deep",
			   SRC_MAX_INCLUDE_DEPTH);
		return;
	}
	bool in_stdlib;
	char *path = src_find_include(ctx->srcs, loc.file, name, &in_stdlib);
	if (!path) {
		struct buf b;
		buf_init(&b);
		if (loc.file && loc.file->on_disk) {
			const char *slash = strrchr(loc.file->path, '/');
			if (slash)
				buf_add(&b, loc.file->path, (size_t)(slash - loc.file->path));
			else
				buf_puts(&b, ".");
		} else {
			buf_puts(&b, ".");
		}
		for (size_t i = 0; i < ctx->srcs->dirs.len; i++) {
			buf_puts(&b, ", ");
			buf_puts(&b, ctx->srcs->dirs.items[i]);
		}
		parse_error(ctx, name_loc,
			   "cannot find include file \"%s\" (searched: %s)", name,
			   buf_cstr(&b));
		buf_free(&b);
		return;
	}
	struct src_file *f;
	bool again;
	int errnum;
	enum src_status st = src_load(ctx->srcs, path, path, &f, &again, &errnum);
	free(path);
	if (st != SRC_OK) {
		parse_error(ctx, name_loc, "cannot include \"%s\": %s", name,
			   src_status_str(st, errnum));
		return;
	}
	if (again) {
		if (f->in_progress)
			note_cycle(ctx, f, loc);
		return;   /* a file included twice is read once */
	}
	f->included_from = loc;
	f->from_stdlib = in_stdlib;
	ctx->depth++;
	parse_file(ctx, f);
	ctx->depth--;
}
