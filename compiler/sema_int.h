/* sema_int.h: what the parts of the semantic pass share.
 *
 * sema.c drives the pass statement by statement; sema_value.c resolves
 * defines and checks values; sema_route.c builds each route of the model;
 * sema_check.c checks what spans routes. Nothing outside the pass
 * includes this header. */
#ifndef TRC_SEMA_INT_H
#define TRC_SEMA_INT_H

#include "ast.h"
#include "diag.h"
#include "model.h"
#include "sema.h"

struct def {
	const struct ast_stmt *stmt;
	bool used;
	bool resolving;          /* on the resolution stack: a cycle */
	bool from_cmdline;       /* -D */
	bool matched;            /* -D: the source defines it too */
	bool cycle_reported;     /* "refers to itself" said once */
	unsigned char color;     /* sema_check_cycles: 0 new, 1 open, 2 done */
	const struct ast_stmt *shadowed;  /* the source define a -D replaced */
};

/* What a route says for itself about balance, snat and affinity. The
 * defaults block, which may stand after the route, fills in the rest when
 * the pass finishes. Resolved here, since a route's AST does not live that
 * long. */
struct own {
	bool balance_set, snat_set, affinity_set;
	enum m_balance balance;
	enum m_snat_kind snat;
	struct m_addr snat_addr, snat_last;
	bool snat_ok;
	unsigned affinity;
	struct loc balance_loc, snat_loc, snat_addr_loc, affinity_loc;
	bool built;
	const struct ast_stmt *deferred;  /* names a define not seen yet */
};

/* A route name in the table: its hash, then its index + 1 (0: empty). */
struct name_ent {
	uint32_t hash;
	uint32_t idx;
};

struct sema {
	struct arena *a;
	struct diag_ctx *d;
	/* Open-addressed table of defines, by name. */
	struct def **defs;
	size_t defs_cap, ndefs;
	const struct ast_stmt *defaults;
	const struct ast_stmt *policy;
	const struct ast_file *overrides;
	struct model *m;
	/* The routes in source order, and a table of their names (index + 1). */
	struct m_route *routes;
	/* What each route set for itself: most routes set nothing and
	 * share own_none; the others' are in the arena. */
	struct own **own;
	struct own own_none;
	size_t nroutes, routes_cap;
	struct name_ent *names;
	size_t names_cap;
	/* Scratch for the route being built, reused from route to route. */
	struct m_listener *lbuf;
	struct m_server *sbuf;
	struct m_addr *abuf;
	size_t nl, ns, na, lcap, scap, acap;
};


/* ---- sema_value.c ------------------------------------------------------ */
struct def *sema_def_find(const struct sema *s, const char *name);
struct def *sema_def_add(struct sema *s, const struct ast_stmt *st);
/* Follows $name references to the value they stand for. Returns NULL after
 * reporting an undefined name or a cycle. */
const struct ast_val *sema_deref(struct sema *s, const struct ast_val *v);
/* Reports that `use` (as written) resolved to the wrong kind of value. */
void sema_wrong_kind(struct sema *s, const struct ast_val *use,
		     const struct ast_val *got, const char *wanted);
bool sema_eval_number(struct sema *s, const struct ast_val *use, unsigned long min,
		      unsigned long max, const char *what, unsigned long *out);
/* A port or, where allowed, a range LOW-HIGH. */
bool sema_eval_port(struct sema *s, const struct ast_val *use, bool allow_range,
		    uint16_t *lo, uint16_t *hi);
/* A literal address with its optional /prefix. */
bool sema_parse_addr(struct sema *s, const struct ast_val *v, struct m_addr *out);
/* A single host address (no network, no set). */
bool sema_eval_host(struct sema *s, const struct ast_val *use, const char *role,
		    struct m_addr *out);
/* A duration: digits and s, m or h; 1 s to 30 days. */
bool sema_eval_duration(struct sema *s, const struct ast_val *use, unsigned *out);
/* The place `len` bytes long, `offset` bytes into l. */
struct loc sema_sub_loc(struct loc l, size_t offset, size_t len);
/* Every define that refers to itself, directly or through others, used or
 * not. */
void sema_check_cycles(struct sema *s);

/* ---- sema_route.c ------------------------------------------------------ */
void sema_check_single(struct sema *s, const struct ast_item **slot,
		       const struct ast_item *it, const char *what);
/* balance, snat and affinity items, resolved into o. */
void sema_resolve_settings(struct sema *s, const struct ast_item *balance,
			   const struct ast_item *snat, const struct ast_item *affinity,
			   struct own *o);
/* Builds the model of one route from its statement, all but what the
 * defaults decide (sema_finish_route). */
void sema_build_route(struct sema *s, const struct ast_stmt *st, struct m_route *r,
		      struct own *o);
/* What the defaults decide, once every statement has been read. */
void sema_finish_route(struct sema *s, struct m_route *r, const struct own *o,
		       const struct own *dflt);

/* ---- sema_check.c ------------------------------------------------------ */
/* Two routes' listeners that a connection could match both. */
void sema_check_listeners(struct sema *s);

#endif
