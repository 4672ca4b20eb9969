/* coexist.c: see coexist.h. */
#include "coexist.h"

#include <string.h>

/* A comment of the frame, checked against the target's limit. */
static const char *frame_comment(const struct plan *p, struct arena *a,
				 struct diag_ctx *d, const char *what)
{
	const struct model *m = p->m;
	char *text = arena_printf(a, "%s: coexist: %s", m->source, what);
	size_t limit = p->target == PLAN_NFT ? LIM_NFT_COMMENT : LIM_IPT_COMMENT;
	if (strlen(text) > limit)
		diag_error(d, (struct loc){m->file, 1, 1, 1, 1}, "the %s comment \"%s\" "
			   "would be %zu bytes; at most %zu: shorten the file name",
			   plan_target_name(p->target), text, strlen(text), limit);
	return text;
}

static bool same_guard(const struct coexist_guard *a, const struct coexist_guard *b)
{
	return a->proto == b->proto && a->port_lo == b->port_lo &&
	       a->port_hi == b->port_hi && memcmp(a->addr->bytes, b->addr->bytes, 16) == 0;
}

/* Appends g unless route pr already has it (first: its first guard). */
static void add_guard(struct coexist *cx, size_t first, struct coexist_guard g)
{
	for (size_t i = first; i < cx->nguards; i++)
		if (same_guard(&cx->guards[i], &g))
			return;
	cx->guards[cx->nguards++] = g;
}

struct coexist *coexist_build(const struct plan *p, struct arena *a, struct diag_ctx *d)
{
	const struct model *m = p->m;
	unsigned errors = diag_errors(d);
	struct coexist *cx = ARENA_NEW(a, struct coexist);
	memset(cx, 0, sizeof(*cx));
	cx->replies = frame_comment(p, a, d, "replies of routed connections");
	cx->routed = frame_comment(p, a, d, "routed connections");
	cx->guard = frame_comment(p, a, d, "servers only through routes");

	/* A route named PREROUTING would own the chain TRC-PREROUTING. */
	static const char *const hooks[] = {COEXIST_CHAIN_PRE, COEXIST_CHAIN_POST,
					    COEXIST_CHAIN_FWD};
	for (size_t i = 0; p->target != PLAN_NFT && i < p->nroutes; i++)
		for (size_t k = 0; k < ARRAY_LEN(hooks); k++)
			if (strcmp(p->routes[i].chain, hooks[k]) == 0)
				diag_error(d, p->routes[i].r->name_loc, "route '%s' gets the "
					   "chain name '%s', which --coexist keeps for its "
					   "hook; rename the route", p->routes[i].r->name,
					   hooks[k]);

	if (m->forward_accept)
		return diag_errors(d) > errors ? NULL : cx;
	size_t n = 0;
	for (size_t i = 0; i < p->nroutes; i++) {
		const struct m_route *r = p->routes[i].r;
		n += r->nservers * (r->keep_port ? r->nlisteners : 2);
	}
	cx->guards = ARENA_ARRAY(a, struct coexist_guard, n ? n : 1);
	static const enum m_proto protos[] = {M_TCP, M_UDP};
	for (size_t i = 0; i < p->nroutes; i++) {
		const struct plan_route *pr = p->by_name[i];
		const struct m_route *r = pr->r;
		size_t first = cx->nguards;
		/* Drained servers too: a client must not reach them either. */
		for (size_t s = 0; s < r->nservers; s++) {
			const struct m_server *sv = &r->servers[s];
			for (size_t k = 0; k < ARRAY_LEN(protos); k++) {
				if (!(r->protos & protos[k]))
					continue;
				struct coexist_guard g = {pr, &sv->addr, protos[k], sv->port,
							  sv->port};
				for (size_t j = 0; !sv->port && j < r->nlisteners; j++) {
					const struct m_listener *l = &r->listeners[j];
					if (l->proto != protos[k])
						continue;
					g.port_lo = l->port_lo;
					g.port_hi = l->port_hi;
					add_guard(cx, first, g);
				}
				if (sv->port)
					add_guard(cx, first, g);
			}
		}
	}
	return diag_errors(d) > errors ? NULL : cx;
}
