/* compile.c: see compile.h. */
#include "compile.h"

#include <stdio.h>
#include <string.h>

#include "parse.h"
#include "sema.h"

#include <stdlib.h>

/* -D values are parsed by the grammar itself, as a define line. */
static void parse_overrides(struct compile *c, struct parse_ctx *pc,
			    const struct compile_opts *o, struct ast_file *overrides)
{
	pc->out = overrides;
	for (size_t i = 0; i < o->ndefines; i++) {
		const char *def = o->defines[i];
		const char *eq = strchr(def, '=');
		if (!eq)
			continue;
		char *text = arena_printf(c->ast_arena, "define %.*s = %s\n",
					  (int)(eq - def), def, eq + 1);
		struct src_file *f = src_from_string(&c->srcs, "<command line>", text);
		struct ast_stmt *before = overrides->last;
		parse_file(pc, f);
		struct ast_stmt *added = before ? before->next : overrides->first;
		if (diag_errors(c->diag) == 0 && (!added || added->next))
			diag_error(c->diag, (struct loc){f, 1, 1, 1, 1},
				   "-D %s is not one define", def);
	}
}

enum compile_status compile_run(struct compile *c, const struct compile_opts *o,
				struct diag_ctx *d)
{
	memset(c, 0, sizeof(*c));
	c->diag = d;
	src_set_init(&c->srcs);
	for (size_t i = 0; i < o->ninclude_dirs; i++)
		src_add_dir(&c->srcs, o->include_dirs[i]);
	src_add_path_list(&c->srcs, o->path_list);
	if (o->stdlib_dir) {
		src_add_dir(&c->srcs, o->stdlib_dir);
		c->srcs.stdlib_dir = c->srcs.dirs.items[c->srcs.dirs.len - 1];
	}
	c->ast_arena = arena_new();
	/* The model has an arena of its own: the parser's is rewound after
	 * each route. */
	c->model_arena = arena_new();

	struct ast_file file = {0}, overrides = {0};
	struct parse_ctx pc = {.arena = c->ast_arena, .diag = d, .srcs = &c->srcs};
	parse_overrides(c, &pc, o, &overrides);

	struct src_file *main_file;
	const char *display = o->display ? o->display : o->input;
	if (o->text) {
		main_file = src_from_string(&c->srcs, display, o->text);
	} else {
		bool again;
		int errnum;
		enum src_status st = src_load(&c->srcs, o->input, display, &main_file,
					      &again, &errnum);
		if (st != SRC_OK) {
			snprintf(c->error, sizeof(c->error), "cannot read %s: %s", o->input,
				 src_status_str(st, errnum));
			return COMPILE_UNREADABLE;
		}
	}
	if (diag_errors(d))
		return COMPILE_ERRORS;
	if (o->output_base) {
		free((char *)main_file->base);
		main_file->base = xstrdup(o->output_base);
	}
	/* The semantic pass reads each statement as the parser makes it. */
	pc.out = &file;
	c->sema = sema_new(c->model_arena, d, &overrides, main_file);
	pc.sema = c->sema;
	parse_file(&pc, main_file);
	struct model *m = sema_finish(c->sema, pc.syntax_errors > 0);
	if (!m)
		return COMPILE_ERRORS;
	m->options = o->options;
	m->noptions = o->noptions;
	c->model = m;
	c->plan = plan_build(c->model, o->target, &o->plan, c->model_arena, d);
	if (!c->plan) {
		c->model = NULL;
		return COMPILE_ERRORS;
	}
	if (o->coexist) {
		c->coexist = coexist_build(c->plan, c->model_arena, d);
		if (!c->coexist) {
			c->model = NULL;
			c->plan = NULL;
			return COMPILE_ERRORS;
		}
	}
	return COMPILE_OK;
}

void compile_free(struct compile *c)
{
	sema_free(c->sema);
	arena_free(c->ast_arena);
	arena_free(c->model_arena);
	src_set_free(&c->srcs);
	memset(c, 0, sizeof(*c));
}
