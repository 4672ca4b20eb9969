/* compile.h: one compilation, from a source file to its model and plan.
 *
 * The one entry point the command, the fuzz harness and the unit tests
 * share: source files and includes, -D overrides, the parser with the
 * semantic pass attached, then the plan of the chosen target. The printers
 * (emit_ipt, emit_nft, report, explain, graph) take the plan from here. */
#ifndef TRC_COMPILE_H
#define TRC_COMPILE_H

#include "coexist.h"
#include "diag.h"
#include "model.h"
#include "plan.h"
#include "src.h"

struct compile_opts {
	enum plan_target target;
	const char *input;        /* a path, or "-" for standard input */
	const char *display;      /* its name in diagnostics; NULL: input */
	const char *text;         /* non-NULL: compile this text, named input */
	const char *const *include_dirs;   /* -I, in order */
	size_t ninclude_dirs;
	const char *path_list;    /* $TCPROUTEC_PATH, or NULL */
	const char *stdlib_dir;   /* NULL: none */
	const char *const *defines;        /* -D NAME=VALUE */
	size_t ndefines;
	struct plan_options plan;
	/* The words of the options, other than -t and -D, that change the
	 * output, in the order the header records them (model.options). */
	const char *const *options;
	size_t noptions;
	bool coexist;             /* --coexist: also build c->coexist */
	/* Non-NULL: the main file's base name as the output shows it, in
	 * place of its own (--since compiles OLD under NEW's name, as the
	 * host's rules name it). */
	const char *output_base;
};

enum compile_status {
	COMPILE_OK = 0,           /* c->model and c->plan are set */
	COMPILE_ERRORS = 1,       /* the diagnostics say why */
	COMPILE_UNREADABLE = 2,   /* c->error says why */
};

struct compile {
	struct diag_ctx *diag;    /* the caller's */
	struct src_set srcs;
	struct arena *ast_arena, *model_arena;
	struct sema *sema;
	const struct model *model;
	const struct plan *plan;
	const struct coexist *coexist;   /* with o->coexist */
	char error[512];          /* COMPILE_UNREADABLE */
};

enum compile_status compile_run(struct compile *c, const struct compile_opts *o,
				struct diag_ctx *d);
void compile_free(struct compile *c);

#endif
