/* sema.c: the semantic pass, statement by statement as the parser reads
 * them.
 *
 * Defines may be used before the line that makes them: a route that names
 * one not seen yet is kept and built at the end. The defaults block, which
 * may stand anywhere, is applied once every statement is read; then the
 * checks that span routes run. Each error points at its token. */
#include <stdlib.h>
#include <string.h>

#include "keywords.h"
#include "parser.h"
#include "sema_int.h"

/* ---- statements, as the parser reads them ------------------------------ */

struct sema *sema_new(struct arena *a, struct diag_ctx *d,
		      const struct ast_file *overrides, const struct src_file *main_file)
{
	struct sema *s = xcalloc(1, sizeof(*s));
	s->a = a;
	s->d = d;
	s->overrides = overrides;
	struct model *m = ARENA_NEW(a, struct model);
	s->m = m;
	m->source = main_file->base;
	m->file = main_file;
	m->snats = ARENA_ARRAY(a, struct m_snat, SNAT_MAX_CLASSES);
	m->snats[SNAT_CLASS_NONE].kind = M_SNAT_NONE;
	m->snats[SNAT_CLASS_NONE].cls = SNAT_CLASS_NONE;
	m->snats[SNAT_CLASS_MASQUERADE].kind = M_SNAT_MASQUERADE;
	m->snats[SNAT_CLASS_MASQUERADE].cls = SNAT_CLASS_MASQUERADE;
	m->nsnats = 2;
	for (const struct ast_stmt *st = overrides ? overrides->first : NULL; st;
	     st = st->next) {
		if (sema_def_find(s, st->name)) {
			diag_error(d, st->name_loc, "-D %s is given twice", st->name);
			continue;
		}
		sema_def_add(s, st)->from_cmdline = true;
	}
	return s;
}

void sema_free(struct sema *s)
{
	if (!s)
		return;
	big_free(s->routes, xmul(s->routes_cap, sizeof(*s->routes)));
	big_free(s->own, xmul(s->routes_cap, sizeof(*s->own)));
	free(s->names);
	free(s->lbuf);
	free(s->sbuf);
	free(s->abuf);
	free(s);
}

void sema_define(struct sema *s, const struct ast_stmt *st)
{
	if (st->value->kind == AV_SET)
		for (const struct ast_val *e = st->value->elems; e; e = e->next)
			if (e->kind == AV_NUMBER)
				diag_error(s->d, e->loc, "a set holds addresses and "
					   "networks, not numbers or ports");
	struct def *prev = sema_def_find(s, st->name);
	if (prev && prev->from_cmdline && !prev->matched) {
		prev->matched = true;
		prev->shadowed = st;
	} else if (prev) {
		const struct ast_stmt *first = prev->from_cmdline ? prev->shadowed : prev->stmt;
		diag_error(s->d, st->name_loc, "'%s' is already defined", st->name);
		diag_note(s->d, first->name_loc, "'%s' is first defined here", st->name);
	} else {
		sema_def_add(s, st);
	}
}

void sema_defaults(struct sema *s, const struct ast_stmt *st)
{
	if (s->defaults) {
		diag_error(s->d, st->loc, "a second 'defaults' block");
		diag_note(s->d, s->defaults->loc, "the first one is here");
	} else {
		s->defaults = st;
	}
	/* An item by the keyword that starts it (keywords.def). */
	static const int item_keyword[] = {
		[AI_LISTEN] = K_LISTEN, [AI_SERVER] = K_SERVER,
		[AI_BALANCE] = K_BALANCE, [AI_SNAT] = K_SNAT,
		[AI_ALLOW] = K_ALLOW, [AI_AFFINITY] = K_AFFINITY,
		[AI_COMMENT] = K_COMMENT,
	};
	const struct ast_item *b = NULL, *n = NULL, *a = NULL;
	for (const struct ast_item *it = st->items; it; it = it->next) {
		const char *name = keyword_name(item_keyword[it->kind]);
		if (it->kind == AI_BALANCE)
			sema_check_single(s, &b, it, name);
		else if (it->kind == AI_SNAT)
			sema_check_single(s, &n, it, name);
		else if (it->kind == AI_AFFINITY)
			sema_check_single(s, &a, it, name);
		else
			diag_error(s->d, it->loc, "'%s' cannot be used in 'defaults' "
				   "(only balance, snat and affinity)", name);
	}
}

void sema_policy(struct sema *s, const struct ast_stmt *st)
{
	if (s->policy) {
		diag_error(s->d, st->loc, "a second 'policy forward'");
		diag_note(s->d, s->policy->loc, "the first one is here");
	} else {
		s->policy = st;
	}
}

/* Whether every $name in v stands for a value already: then the route can
 * be built now and its AST thrown away. Errors are for the build to say. */
static bool resolvable(const struct sema *s, const struct ast_val *v, int depth)
{
	if (!v)
		return true;
	if (depth > LIM_VAR_DEPTH)
		return true;
	switch (v->kind) {
	case AV_VAR: {
		const struct def *d = sema_def_find(s, v->text);
		return d && resolvable(s, d->stmt->value, depth + 1);
	}
	case AV_RANGE:
		return resolvable(s, v->lo, depth) && resolvable(s, v->hi, depth);
	case AV_SET:
		for (const struct ast_val *e = v->elems; e; e = e->next)
			if (!resolvable(s, e, depth))
				return false;
		return true;
	default:
		return true;
	}
}

static bool route_resolvable(const struct sema *s, const struct ast_stmt *st)
{
	for (const struct ast_item *it = st->items; it; it = it->next)
		if (!resolvable(s, it->host, 0) || !resolvable(s, it->port, 0) ||
		    !resolvable(s, it->weight, 0) || !resolvable(s, it->addr, 0) ||
		    !resolvable(s, it->timeout, 0))
			return false;
	return true;
}

/* Route names: an open-addressed table; the stored hash spares most
 * string compares, and the cache misses of reaching the route. */
static struct name_ent *name_slot(struct sema *s, const char *name)
{
	if ((s->nroutes + 1) * 2 > s->names_cap) {
		size_t old = s->names_cap;
		struct name_ent *prev = s->names;
		s->names_cap = old ? old * 2 : 256;
		s->names = xcalloc(s->names_cap, sizeof(*s->names));
		for (size_t i = 0; i < old; i++) {
			if (!prev[i].idx)
				continue;
			size_t j = prev[i].hash & (s->names_cap - 1);
			while (s->names[j].idx)
				j = (j + 1) & (s->names_cap - 1);
			s->names[j] = prev[i];
		}
		free(prev);
	}
	uint32_t h = fnv1a32(name);
	size_t j = h & (s->names_cap - 1);
	while (s->names[j].idx && (s->names[j].hash != h ||
				   strcmp(s->routes[s->names[j].idx - 1].name, name) != 0))
		j = (j + 1) & (s->names_cap - 1);
	s->names[j].hash = h;
	return &s->names[j];
}

/* A route's own settings, kept: in the arena when it has any (or is
 * deferred), else the one shared empty record (184 bytes a route, 18 MB
 * at 100,000 routes, written once and read once). */
static struct own *own_keep(struct sema *s, const struct own *o)
{
	if (!o->deferred && !o->balance_set && !o->snat_set && !o->affinity_set)
		return &s->own_none;
	struct own *kept = ARENA_NEW(s->a, struct own);
	*kept = *o;
	return kept;
}

bool sema_route(struct sema *s, const struct ast_stmt *st)
{
	struct name_ent *slot = name_slot(s, st->name);
	if (slot->idx) {
		const struct m_route *first = &s->routes[slot->idx - 1];
		diag_error(s->d, st->name_loc, "route '%s' is already defined", st->name);
		diag_note(s->d, first->name_loc, "the first route '%s' is here", st->name);
		return false;
	}
	if (s->nroutes == s->routes_cap) {
		size_t old = s->routes_cap;
		s->routes_cap = old ? old * 2 : 64;
		s->routes = big_realloc(s->routes, old * sizeof(*s->routes),
					xmul(s->routes_cap, sizeof(*s->routes)));
		s->own = big_realloc(s->own, old * sizeof(*s->own),
				     xmul(s->routes_cap, sizeof(*s->own)));
	}
	size_t i = s->nroutes++;
	struct m_route *r = &s->routes[i];
	struct own o = {0};
	memset(r, 0, sizeof(*r));
	slot->idx = (uint32_t)(i + 1);
	r->name = arena_strdup(s->a, st->name);
	r->loc = st->loc;
	r->name_loc = st->name_loc;
	if (!route_resolvable(s, st)) {
		o.deferred = st;
		s->own[i] = own_keep(s, &o);
		return true;
	}
	sema_build_route(s, st, r, &o);
	s->own[i] = own_keep(s, &o);
	return false;
}

/* Where a snat setting's class search starts: a hash of the setting
 * (FNV-1a of its family and addresses), so that its class, and so its
 * mark, depends on it alone. */
static unsigned snat_home(const struct m_snat *sn)
{
	uint32_t h = 2166136261u;
	unsigned char fam = (unsigned char)sn->addr.family;
	h = (h ^ fam) * 16777619u;
	for (size_t i = 0; i < sizeof(sn->addr.bytes); i++)
		h = (h ^ sn->addr.bytes[i]) * 16777619u;
	for (size_t i = 0; i < sizeof(sn->last.bytes); i++)
		h = (h ^ sn->last.bytes[i]) * 16777619u;
	return 2 + h % (SNAT_MAX_CLASSES - 2);
}

static int cmp_snat_home(const void *pa, const void *pb)
{
	const struct m_snat *a = pa, *b = pb;
	unsigned ha = snat_home(a), hb = snat_home(b);
	if (ha != hb)
		return ha < hb ? -1 : 1;
	/* Two settings that meet: in address order. */
	if (a->addr.family != b->addr.family)
		return a->addr.family < b->addr.family ? -1 : 1;
	int c = memcmp(a->addr.bytes, b->addr.bytes, sizeof(a->addr.bytes));
	return c ? c : memcmp(a->last.bytes, b->last.bytes, sizeof(a->last.bytes));
}

/* Snat addresses get their classes (and so their marks) from a hash of
 * the address, the next free class when two meet (in the order of their
 * hashes, then addresses): neither the order of the routes nor another
 * route's new snat address changes a mark, unless their hashes meet.
 * model.snats stays indexed by class; a class no setting has is left
 * empty (kind 0). */
static void assign_snat_classes(struct sema *s)
{
	struct model *m = s->m;
	size_t n = m->nsnats - 2;
	if (n == 0)
		return;
	struct m_snat *v = xmalloc(xmul(n, sizeof(*v)));
	memcpy(v, &m->snats[2], n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_snat_home);
	unsigned to[SNAT_MAX_CLASSES];
	bool taken[SNAT_MAX_CLASSES] = {true, true};
	memset(&m->snats[2], 0, (SNAT_MAX_CLASSES - 2) * sizeof(*m->snats));
	for (unsigned c = 2; c < SNAT_MAX_CLASSES; c++)
		m->snats[c].cls = c;    /* kind 0 until a setting takes it */
	size_t top = 2;
	for (size_t i = 0; i < n; i++) {
		unsigned c = snat_home(&v[i]);
		while (taken[c])
			c = c + 1 == SNAT_MAX_CLASSES ? 2 : c + 1;
		taken[c] = true;
		to[v[i].cls] = c;
		v[i].cls = c;
		m->snats[c] = v[i];
		if (c + 1 > top)
			top = c + 1;
	}
	m->nsnats = top;
	free(v);
	for (size_t i = 0; i < s->nroutes; i++)
		if (s->routes[i].snat_cls >= 2)
			s->routes[i].snat_cls = to[s->routes[i].snat_cls];
}

/* A define's value written back from its syntax, in one form whatever
 * the spacing or the lines it was written on. */
static void val_text(struct buf *b, const struct ast_val *v)
{
	switch (v->kind) {
	case AV_ADDR:
		buf_puts(b, v->text);
		if (v->prefix)
			buf_printf(b, "/%s", v->prefix);
		break;
	case AV_NUMBER:
	case AV_DURATION:
		buf_puts(b, v->text);
		break;
	case AV_VAR:
		buf_printf(b, "$%s", v->text);
		break;
	case AV_ANY:
		buf_putc(b, '*');
		break;
	case AV_RANGE:
		val_text(b, v->lo);
		buf_putc(b, '-');
		val_text(b, v->hi);
		break;
	case AV_SET:
		buf_putc(b, '{');
		for (const struct ast_val *e = v->elems; e; e = e->next) {
			buf_puts(b, e == v->elems ? " " : ", ");
			val_text(b, e);
		}
		buf_puts(b, v->elems ? " }" : "}");
		break;
	}
}

static const char *val_str(struct sema *s, struct buf *b, const struct ast_val *v)
{
	b->len = 0;
	val_text(b, v);
	return arena_strdup(s->a, buf_cstr(b));
}

static int cmp_override(const void *pa, const void *pb)
{
	const struct m_override *a = pa, *b = pb;
	return strcmp(a->name, b->name);
}

/* The -D overrides, by name, each with the define it replaced: the header
 * and --explain show them. */
static void record_overrides(struct sema *s)
{
	struct model *m = s->m;
	size_t n = 0;
	for (const struct ast_stmt *st = s->overrides ? s->overrides->first : NULL; st;
	     st = st->next)
		n++;
	m->overrides = ARENA_ARRAY(s->a, struct m_override, n ? n : 1);
	struct buf b;
	buf_init(&b);
	for (const struct ast_stmt *st = s->overrides ? s->overrides->first : NULL; st;
	     st = st->next) {
		const struct def *d = sema_def_find(s, st->name);
		if (!d || d->stmt != st || !d->shadowed)
			continue;
		struct m_override *o = &m->overrides[m->noverrides++];
		o->name = arena_strdup(s->a, st->name);
		o->value = val_str(s, &b, st->value);
		o->arg = arena_printf(s->a, "%s=%s", o->name, o->value);
		o->replaced = val_str(s, &b, d->shadowed->value);
		o->replaced_loc = d->shadowed->loc;
	}
	buf_free(&b);
	qsort(m->overrides, m->noverrides, sizeof(*m->overrides), cmp_override);
}

static int cmp_addr(const struct m_addr *a, const struct m_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	int c = memcmp(a->bytes, b->bytes, sizeof(a->bytes));
	if (c)
		return c;
	return a->prefix < b->prefix ? -1 : a->prefix > b->prefix;
}

static int cmp_listener(const void *pa, const void *pb)
{
	const struct m_listener *a = pa, *b = pb;
	if (a->any != b->any)
		return a->any ? 1 : -1;
	int c = a->any ? 0 : cmp_addr(&a->addr, &b->addr);
	if (c)
		return c;
	if (a->port_lo != b->port_lo)
		return a->port_lo < b->port_lo ? -1 : 1;
	if (a->port_hi != b->port_hi)
		return a->port_hi < b->port_hi ? -1 : 1;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (!a->iface || !b->iface)
		return !b->iface - !a->iface;
	return strcmp(a->iface, b->iface);
}

static int cmp_allow(const void *pa, const void *pb)
{
	return cmp_addr(pa, pb);
}

/* A route's listeners and client networks are sets: the order they are
 * written in means nothing, so every printer gets them in one order, and
 * moving a listen line or a member of an allow set changes no output.
 * Servers keep theirs: it decides the probabilities. */
static void canonical_order(struct model *m)
{
	for (size_t i = 0; i < m->nroutes; i++) {
		struct m_route *r = &m->routes[i];
		if (r->nlisteners > 1)
			qsort(r->listeners, r->nlisteners, sizeof(*r->listeners), cmp_listener);
		if (r->nallow > 1)
			qsort(r->allow, r->nallow, sizeof(*r->allow), cmp_allow);
	}
}

static void warn_unused(struct sema *s)
{
	if (!diag_warning_enabled(s->d, W_UNUSED_DEFINE))
		return;
	for (size_t i = 0; i < s->defs_cap; i++) {
		struct def *d = s->defs[i];
		if (!d || d->used || d->from_cmdline)
			continue;
		const struct src_file *f = d->stmt->loc.file;
		/* The stdlib defines many names; a file uses a few. */
		if (f && f->from_stdlib)
			continue;
		diag_warning(s->d, W_UNUSED_DEFINE, d->stmt->name_loc,
			     "'%s' is defined but never used", d->stmt->name);
	}
}

struct model *sema_finish(struct sema *s, bool syntax_errors)
{
	struct model *m = s->m;
	/* After a syntax error the routes are not all there: what follows
	 * would report their absence. */
	if (syntax_errors)
		return NULL;
	for (size_t i = 0; i < s->nroutes; i++)
		if (s->own[i]->deferred)
			sema_build_route(s, s->own[i]->deferred, &s->routes[i], s->own[i]);
	struct own dflt = {0};
	if (s->defaults) {
		const struct ast_item *b = NULL, *n = NULL, *a = NULL;
		for (const struct ast_item *it = s->defaults->items; it; it = it->next) {
			if (it->kind == AI_BALANCE && !b)
				b = it;
			if (it->kind == AI_SNAT && !n)
				n = it;
			if (it->kind == AI_AFFINITY && !a)
				a = it;
		}
		sema_resolve_settings(s, b, n, a, &dflt);
	}
	for (size_t i = 0; i < s->nroutes; i++)
		sema_finish_route(s, &s->routes[i], s->own[i], &dflt);
	assign_snat_classes(s);
	if (s->policy) {
		m->forward_accept = s->policy->accept;
		m->policy_explicit = true;
		m->policy_loc = s->policy->loc;
	}
	/* The model uses the routes where they are: sema_free frees them. */
	m->nroutes = s->nroutes;
	m->routes = s->routes;
	free(s->names);
	s->names = NULL;
	big_free(s->own, xmul(s->routes_cap, sizeof(*s->own)));
	s->own = NULL;

	for (const struct ast_stmt *st = s->overrides ? s->overrides->first : NULL; st;
	     st = st->next) {
		struct def *d = sema_def_find(s, st->name);
		if (d && d->stmt == st && !d->matched)
			diag_error(s->d, st->name_loc, "-D %s: the source has no define "
				   "named '%s'", st->name, st->name);
	}
	sema_check_listeners(s);
	sema_check_cycles(s);
	warn_unused(s);
	if (diag_errors(s->d))
		return NULL;
	record_overrides(s);
	canonical_order(m);
	return m;
}
