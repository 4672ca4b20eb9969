/* unit.h: what every cmocka test here includes, and a compile helper.
 * cmocka 1.1 needs these four headers before its own. */
#ifndef TRC_TEST_UNIT_H
#define TRC_TEST_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "emit_ipt.h"
#include "parse.h"
#include "sema.h"

/* One compilation from a string, as the command does it. */
struct unit_compile {
	struct src_set srcs;
	struct arena *arena;
	struct diag_ctx *diag;
	struct model *model;
	char *diagnostics;       /* what diag_print wrote, without colour */
	char *output;            /* the iptables text, or NULL on errors */
};

static inline void unit_compile_file(struct unit_compile *c, const char *path,
				     const char *text, const char *const *dirs)
{
	memset(c, 0, sizeof(*c));
	src_set_init(&c->srcs);
	for (; dirs && *dirs; dirs++)
		src_add_dir(&c->srcs, *dirs);
	c->arena = arena_new();
	c->diag = diag_new();
	struct ast_file file = {0};
	struct parse_ctx pc = {.arena = c->arena, .diag = c->diag,
			       .srcs = &c->srcs, .out = &file};
	struct src_file *f;
	if (text) {
		f = src_from_string(&c->srcs, path, text);
	} else {
		bool again;
		int err;
		assert_int_equal(src_load(&c->srcs, path, path, &f, &again, &err), SRC_OK);
	}
	parse_file(&pc, f);
	if (diag_errors(c->diag) == 0)
		c->model = sema_run(c->arena, c->diag, &file, NULL, f->base);
	size_t len;
	FILE *mem = open_memstream(&c->diagnostics, &len);
	diag_print(c->diag, mem, false);
	fclose(mem);
	if (c->model) {
		struct buf out;
		buf_init(&out);
		emit_ipt(c->model, 4, &out);
		c->output = xstrdup(buf_cstr(&out));
		buf_free(&out);
	}
}

static inline void unit_compile(struct unit_compile *c, const char *text)
{
	unit_compile_file(c, "t.tr", text, NULL);
}

static inline void unit_compile_free(struct unit_compile *c)
{
	free(c->diagnostics);
	free(c->output);
	arena_free(c->arena);
	diag_free(c->diag);
	src_set_free(&c->srcs);
}

#endif
