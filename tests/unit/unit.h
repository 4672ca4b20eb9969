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

#include "compile.h"
#include "diag.h"
#include "emit_ipt.h"
#include "parse.h"

/* One compilation from a string (or a file when text is NULL), through
 * compile_run as the command does it. */
struct unit_compile {
	struct compile comp;
	struct diag_ctx *diag;
	const struct model *model;
	const struct plan *plan;
	char *diagnostics;       /* what diag_print wrote, without colour */
	char *output;            /* the iptables text, or NULL on errors */
};

static inline void unit_compile_target(struct unit_compile *c, const char *path,
				       const char *text, const char *const *dirs,
				       enum plan_target t)
{
	memset(c, 0, sizeof(*c));
	c->diag = diag_new();
	size_t ndirs = 0;
	while (dirs && dirs[ndirs])
		ndirs++;
	struct compile_opts o = {.target = t, .input = path, .text = text,
				 .include_dirs = dirs, .ninclude_dirs = ndirs};
	enum compile_status st = compile_run(&c->comp, &o, c->diag);
	assert_int_not_equal(st, COMPILE_UNREADABLE);
	c->model = c->comp.model;
	c->plan = c->comp.plan;
	size_t len;
	FILE *mem = open_memstream(&c->diagnostics, &len);
	diag_print(c->diag, mem, false);
	fclose(mem);
	if (c->plan && t != PLAN_NFT) {
		struct buf out;
		buf_init(&out);
		emit_ipt(c->plan, 4, &out);
		c->output = xstrdup(buf_cstr(&out));
		buf_free(&out);
	}
}

static inline void unit_compile_file(struct unit_compile *c, const char *path,
				     const char *text, const char *const *dirs)
{
	unit_compile_target(c, path, text, dirs, PLAN_IPTABLES);
}

static inline void unit_compile(struct unit_compile *c, const char *text)
{
	unit_compile_file(c, "t.tr", text, NULL);
}

static inline void unit_compile_free(struct unit_compile *c)
{
	free(c->diagnostics);
	free(c->output);
	compile_free(&c->comp);
	diag_free(c->diag);
}

#endif
