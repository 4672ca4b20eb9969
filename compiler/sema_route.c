/* sema_route.c: builds each route of the model from its statement:
 * listeners, servers (sets expanded), allow lists, settings and defaults. */
#include <stdlib.h>
#include <string.h>

#include "sema_int.h"

/* ---- routes ----------------------------------------------------------- */

struct route_build {
	const struct ast_item *balance, *snat, *comment, *affinity, *allow_item;
	/* The first address that fixed the route's family, for mix errors. */
	int family;
	struct loc family_loc;
	const struct ast_item *port_server, *bare_server; /* with / without port */
};

/* Every address in a route is of one family. */
static bool check_family(struct sema *s, struct route_build *rb, int family,
			 struct loc loc)
{
	if (!rb->family) {
		rb->family = family;
		rb->family_loc = loc;
		return true;
	}
	if (rb->family == family)
		return true;
	diag_error(s->d, loc, "IPv%d address in a route of IPv%d addresses: a "
		   "route may not mix families", family, rb->family);
	diag_note(s->d, rb->family_loc, "the route's first address, IPv%d, is here",
		  rb->family);
	return false;
}

static bool valid_iface(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > LIM_IFNAME)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!(c == '_' || c == '-' || c == '.' ||
		      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

void sema_check_single(struct sema *s, const struct ast_item **slot,
			 const struct ast_item *it, const char *what)
{
	if (*slot) {
		diag_error(s->d, it->loc, "'%s' is given twice", what);
		diag_note(s->d, (*slot)->loc, "the first '%s' is here", what);
		return;
	}
	*slot = it;
}

/* Grows a scratch array to hold one more element. */
#define SCRATCH_PUSH(s, arr, n, cap)                                        \
	((s)->n == (s)->cap                                                 \
	 ? ((s)->cap = (s)->cap ? (s)->cap * 2 : 16,                        \
	    (s)->arr = xrealloc((s)->arr, xmul((s)->cap, sizeof(*(s)->arr)))) \
	 : (void)0,                                                         \
	 memset(&(s)->arr[(s)->n], 0, sizeof(*(s)->arr)),                   \
	 &(s)->arr[(s)->n++])

static void build_listen(struct sema *s, struct route_build *rb,
			 const struct ast_item *it)
{
	struct m_listener tmp = {0}, *l = &tmp;
	l->proto = it->proto == PROTO_UDP ? M_UDP : M_TCP;
	/* The endpoint, for the caret of an overlap. */
	l->loc = it->host->loc;
	if (it->port->loc.first_line == l->loc.first_line)
		l->loc.last_column = it->port->loc.last_column;
	bool ok = true;
	const struct ast_val *host = sema_deref(s, it->host);
	if (!host)
		ok = false;
	else if (host->kind == AV_ANY) {
		l->any = true;
	} else if (host->kind == AV_SET) {
		diag_error(s->d, it->host->loc, "a listen address must be one "
			   "address, not a set");
		ok = false;
	} else if (!sema_eval_host(s, it->host, "a listen address", &l->addr)) {
		ok = false;
	} else if (!check_family(s, rb, l->addr.family, it->host->loc)) {
		ok = false;
	}
	if (!sema_eval_port(s, it->port, true, &l->port_lo, &l->port_hi))
		ok = false;
	if (it->iface) {
		if (!valid_iface(it->iface)) {
			diag_error(s->d, it->iface_loc, "'%s' is not an interface name "
				   "(at most 15 letters, digits, '_', '-' and '.')", it->iface);
			ok = false;
		}
		l->iface = arena_strdup(s->a, it->iface);
	}
	if (ok)
		*SCRATCH_PUSH(s, lbuf, nl, lcap) = tmp;
}

static void add_server(struct sema *s, const struct ast_item *it,
		       const struct m_addr *addr, uint16_t port, unsigned weight)
{
	struct m_server *sv = SCRATCH_PUSH(s, sbuf, ns, scap);
	sv->addr = *addr;
	sv->port = port;
	sv->weight = weight;
	sv->drain = it->drain;
	sv->loc = it->loc;
}

static void build_server(struct sema *s, struct route_build *rb,
			 const struct ast_item *it)
{
	bool ok = true;
	uint16_t port = 0, hi;
	/* Without a port the connection keeps its original one. */
	if (it->port && !sema_eval_port(s, it->port, false, &port, &hi))
		ok = false;
	if (it->port && !rb->port_server)
		rb->port_server = it;
	if (!it->port && !rb->bare_server)
		rb->bare_server = it;
	unsigned long weight = 1;
	if (it->twice) {
		diag_error(s->d, it->twice_loc, "'%s' is given twice", it->twice);
		diag_note(s->d, it->first_loc, "the first '%s' is here", it->twice);
		ok = false;
	}
	if (it->weight && !sema_eval_number(s, it->weight, 1, LIM_WEIGHT, "weight", &weight))
		ok = false;
	const struct ast_val *host = sema_deref(s, it->host);
	if (!host || !ok)
		return;
	if (host->kind == AV_SET) {
		if (!host->elems) {
			diag_error(s->d, it->host->loc, "'$%s' is an empty set: no server",
				   it->host->text);
			return;
		}
		/* A set expands to one server per member, in set order. */
		for (const struct ast_val *e = host->elems; e; e = e->next) {
			struct m_addr a;
			if (sema_eval_host(s, e, "a server", &a) &&
			    check_family(s, rb, a.family, e->kind == AV_VAR ? e->loc : it->host->loc))
				add_server(s, it, &a, port, (unsigned)weight);
		}
		return;
	}
	struct m_addr a;
	if (sema_eval_host(s, it->host, "a server", &a) &&
	    check_family(s, rb, a.family, it->host->loc))
		add_server(s, it, &a, port, (unsigned)weight);
}

static bool addr_eq(const struct m_addr *a, const struct m_addr *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       memcmp(a->bytes, b->bytes, 16) == 0;
}

/* The snat class of a resolved setting, adding it to the model if new. */
static unsigned snat_class(struct sema *s, const struct own *o)
{
	struct model *m = s->m;
	if (!o->snat_set || o->snat == M_SNAT_MASQUERADE) {
		m->snats[SNAT_CLASS_MASQUERADE].used = true;
		if (o->snat_set && !m->snats[SNAT_CLASS_MASQUERADE].loc.file)
			m->snats[SNAT_CLASS_MASQUERADE].loc = o->snat_loc;
		return SNAT_CLASS_MASQUERADE;
	}
	if (o->snat == M_SNAT_NONE) {
		m->snats[SNAT_CLASS_NONE].used = true;
		return SNAT_CLASS_NONE;
	}
	for (size_t i = 2; i < m->nsnats; i++)
		if (addr_eq(&m->snats[i].addr, &o->snat_addr) &&
		    addr_eq(&m->snats[i].last, &o->snat_last))
			return (unsigned)i;
	if (m->nsnats == SNAT_MAX_CLASSES) {
		diag_error(s->d, o->snat_addr_loc, "more than %u distinct snat addresses",
			   SNAT_MAX_CLASSES - 2);
		return SNAT_CLASS_NONE;
	}
	struct m_snat *c = &m->snats[m->nsnats];
	c->kind = M_SNAT_ADDR;
	c->addr = o->snat_addr;
	c->last = o->snat_last;
	c->loc = o->snat_loc;
	c->cls = (unsigned)m->nsnats;
	c->used = true;
	return (unsigned)m->nsnats++;
}

static void check_comment(struct sema *s, const struct ast_item *it)
{
	for (const char *p = it->text; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\\' || c < 0x20 || c >= 0x7f) {
			struct loc at = sema_sub_loc(it->text_loc, (size_t)(p - it->text) + 1, 1);
			if (c == '\\')
				diag_error(s->d, at, "a comment may not contain a backslash");
			else
				diag_error(s->d, at, "a comment may only contain printable "
					   "ASCII characters");
			return;
		}
	}
}

static int cmp_server_ptr(const void *pa, const void *pb)
{
	const struct m_server *a = *(struct m_server *const *)pa;
	const struct m_server *b = *(struct m_server *const *)pb;
	int c = memcmp(a->addr.bytes, b->addr.bytes, 16);
	if (c)
		return c;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	/* Source order, so that the first is reported as the first. */
	if (a->loc.file != b->loc.file)
		return a->loc.file->id < b->loc.file->id ? -1 : 1;
	if (a->loc.first_line != b->loc.first_line)
		return a->loc.first_line < b->loc.first_line ? -1 : 1;
	return a < b ? -1 : a > b;
}

static void check_duplicate_servers(struct sema *s, struct m_route *r)
{
	if (r->nservers < 2 || !diag_warning_enabled(s->d, W_DUPLICATE_SERVER))
		return;
	size_t n = r->nservers;
	/* Most routes have a few servers: no allocation for them. */
	struct m_server *few[16];
	struct m_server **v = n <= ARRAY_LEN(few) ? few : xmalloc(xmul(n, sizeof(*v)));
	for (size_t i = 0; i < n; i++)
		v[i] = &r->servers[i];
	qsort(v, n, sizeof(*v), cmp_server_ptr);
	for (size_t i = 1; i < n; i++) {
		if (v[i]->addr.family == v[i - 1]->addr.family &&
		    memcmp(v[i]->addr.bytes, v[i - 1]->addr.bytes, 16) == 0 &&
		    v[i]->port == v[i - 1]->port) {
			char txt[64];
			model_addr_str(&v[i]->addr, txt);
			diag_warning(s->d, W_DUPLICATE_SERVER, v[i]->loc,
				     "server %s:%u is listed twice in this route", txt,
				     v[i]->port);
			diag_note(s->d, v[i - 1]->loc, "it is first listed here");
		}
	}
	if (v != few)
		free(v);
}

/* allow from: an address, a network, or a set of them. */
static void allow_one(struct sema *s, struct route_build *rb, const struct ast_val *use)
{
	const struct ast_val *v = sema_deref(s, use);
	if (!v)
		return;
	if (v->kind == AV_SET) {
		if (!v->elems)
			diag_error(s->d, use->loc, "an empty set allows no client");
		for (const struct ast_val *e = v->elems; e; e = e->next)
			allow_one(s, rb, e);
		return;
	}
	if (v->kind != AV_ADDR) {
		sema_wrong_kind(s, use, v, "an address, a network or a set of them");
		return;
	}
	struct m_addr a;
	if (!sema_parse_addr(s, v, &a) || !check_family(s, rb, a.family, use->loc))
		return;
	*SCRATCH_PUSH(s, abuf, na, acap) = a;
}

static void build_allow(struct sema *s, struct route_build *rb, const struct ast_item *it)
{
	allow_one(s, rb, it->addr);
}


void sema_resolve_settings(struct sema *s, const struct ast_item *balance,
			     const struct ast_item *snat, const struct ast_item *affinity,
			     struct own *o)
{
	if (balance) {
		o->balance_set = true;
		o->balance = balance->balance == BALANCE_ROUNDROBIN ? M_ROUNDROBIN : M_RANDOM;
		o->balance_loc = balance->loc;
	}
	if (snat) {
		o->snat_set = true;
		o->snat = snat->snat == SNAT_ADDR ? M_SNAT_ADDR :
			  snat->snat == SNAT_NONE ? M_SNAT_NONE : M_SNAT_MASQUERADE;
		o->snat_loc = snat->loc;
		o->snat_ok = true;
		if (o->snat == M_SNAT_ADDR) {
			o->snat_addr_loc = snat->addr->loc;
			o->snat_ok = sema_eval_host(s, snat->addr, "snat", &o->snat_addr);
			o->snat_last = o->snat_addr;
			if (snat->addr_hi && o->snat_ok) {
				o->snat_ok = sema_eval_host(s, snat->addr_hi, "snat", &o->snat_last);
				if (o->snat_ok && o->snat_last.family != o->snat_addr.family) {
					diag_error(s->d, snat->addr_hi->loc, "snat range from an IPv%d "
						   "to an IPv%d address", o->snat_addr.family,
						   o->snat_last.family);
					o->snat_ok = false;
				} else if (o->snat_ok && memcmp(o->snat_last.bytes, o->snat_addr.bytes,
								sizeof(o->snat_addr.bytes)) < 0) {
					diag_error(s->d, snat->addr_hi->loc, "snat range ends before "
						   "it starts; write the lower address first");
					o->snat_ok = false;
				}
			}
		}
	}
	if (affinity) {
		o->affinity_set = true;
		o->affinity_loc = affinity->loc;
		o->affinity = AFFINITY_DEFAULT_SECONDS;
		if (affinity->timeout && !sema_eval_duration(s, affinity->timeout, &o->affinity))
			o->affinity = AFFINITY_DEFAULT_SECONDS;
	}
}

void sema_build_route(struct sema *s, const struct ast_stmt *st, struct m_route *r,
			struct own *o)
{
	struct route_build rb = {0};
	s->nl = s->ns = s->na = 0;
	if (!r->name)   /* sema_route gave it its name already */
		r->name = arena_strdup(s->a, st->name);
	r->loc = st->loc;
	r->last_line = st->end.last_line;
	for (const struct ast_item *it = st->items; it; it = it->next) {
		switch (it->kind) {
		case AI_LISTEN:
			build_listen(s, &rb, it);
			break;
		case AI_SERVER:
			build_server(s, &rb, it);
			break;
		case AI_BALANCE:
			sema_check_single(s, &rb.balance, it, "balance");
			break;
		case AI_SNAT:
			sema_check_single(s, &rb.snat, it, "snat");
			break;
		case AI_COMMENT:
			sema_check_single(s, &rb.comment, it, "comment");
			check_comment(s, it);
			break;
		case AI_ALLOW:
			sema_check_single(s, &rb.allow_item, it, "allow from");
			build_allow(s, &rb, it);
			break;
		case AI_AFFINITY:
			sema_check_single(s, &rb.affinity, it, "affinity");
			break;
		}
	}
	size_t errors_before = diag_errors(s->d);
	bool has_listen = false, has_server = false;
	for (const struct ast_item *it = st->items; it; it = it->next) {
		has_listen |= it->kind == AI_LISTEN;
		has_server |= it->kind == AI_SERVER;
	}
	if (!has_listen)
		diag_error(s->d, st->name_loc, "route '%s' has no 'listen' line", st->name);
	if (!has_server)
		diag_error(s->d, st->name_loc, "route '%s' has no 'server' line", st->name);
	if (s->ns > LIM_SERVERS)
		diag_error(s->d, st->name_loc, "route '%s' has %zu servers; at most %u",
			   st->name, s->ns, LIM_SERVERS);

	sema_resolve_settings(s, rb.balance, rb.snat, rb.affinity, o);
	if (o->snat_set && o->snat == M_SNAT_ADDR && o->snat_ok && rb.family &&
	    o->snat_addr.family != rb.family)
		diag_error(s->d, o->snat_addr_loc, "snat address is IPv%d but route '%s' "
			   "is IPv%d", o->snat_addr.family, st->name, rb.family);
	r->family = rb.family ? rb.family : 4;
	if (rb.port_server && rb.bare_server) {
		diag_error(s->d, rb.bare_server->host->loc, "this server has no port "
			   "but others of route '%s' have one: give all a port, or none "
			   "to keep the connection's port", st->name);
		diag_note(s->d, rb.port_server->loc, "a server with a port is here");
	}
	r->keep_port = s->ns > 0 && !rb.port_server;
	for (size_t i = 0; i < s->nl; i++)
		if (s->lbuf[i].port_lo != s->lbuf[i].port_hi)
			r->any_range = true;
	if (r->any_range && rb.port_server) {
		diag_error(s->d, rb.port_server->port->loc, "a route that listens on a "
			   "port range keeps the connection's port: give its servers no port");
	}
	r->nallow = s->na;
	if (rb.allow_item) {
		r->allow = ARENA_ARRAY(s->a, struct m_addr, r->nallow ? r->nallow : 1);
		if (r->nallow)
			memcpy(r->allow, s->abuf, r->nallow * sizeof(*r->allow));
	}
	r->comment = rb.comment ? arena_strdup(s->a, rb.comment->text) : NULL;
	if (rb.comment)
		r->comment_loc = rb.comment->text_loc;

	r->nlisteners = s->nl;
	r->listeners = ARENA_ARRAY(s->a, struct m_listener, r->nlisteners);
	/* memcpy from a NULL scratch (nothing was pushed) is undefined even
	 * for 0 bytes: the fuzzer found it. */
	if (r->nlisteners)
		memcpy(r->listeners, s->lbuf, r->nlisteners * sizeof(*r->listeners));
	for (size_t i = 0; i < r->nlisteners; i++)
		r->protos |= r->listeners[i].proto;
	r->nservers = s->ns;
	r->servers = ARENA_ARRAY(s->a, struct m_server, r->nservers);
	if (r->nservers)
		memcpy(r->servers, s->sbuf, r->nservers * sizeof(*r->servers));
	check_duplicate_servers(s, r);

	bool any_active = false;
	for (size_t i = 0; i < r->nservers; i++)
		any_active |= !r->servers[i].drain;
	if (has_server && s->ns > 0 && !any_active &&
	    diag_errors(s->d) == errors_before)
		diag_error(s->d, st->name_loc, "every server of route '%s' is drained: "
			   "it would refuse every connection", st->name);

	o->built = true;
}

void sema_finish_route(struct sema *s, struct m_route *r, const struct own *o,
			 const struct own *dflt)
{
	struct own eff = *o;
	if (!eff.balance_set && dflt->balance_set) {
		eff.balance_set = true;
		eff.balance = dflt->balance;
		eff.balance_loc = dflt->balance_loc;
	}
	bool snat_from_default = false;
	if (!eff.snat_set && dflt->snat_set) {
		eff.snat_set = true;
		eff.snat = dflt->snat;
		eff.snat_addr = dflt->snat_addr;
		eff.snat_last = dflt->snat_last;
		eff.snat_ok = dflt->snat_ok;
		eff.snat_loc = dflt->snat_loc;
		eff.snat_addr_loc = dflt->snat_addr_loc;
		snat_from_default = true;
	}
	if (!eff.affinity_set && dflt->affinity_set) {
		eff.affinity_set = true;
		eff.affinity = dflt->affinity;
		eff.affinity_loc = dflt->affinity_loc;
	}
	r->balance = eff.balance_set ? eff.balance : M_RANDOM;
	if (eff.balance_set)
		r->balance_loc = eff.balance_loc;
	if (eff.snat_set)
		r->snat_loc = eff.snat_loc;
	if (eff.affinity_set) {
		r->affinity_loc = eff.affinity_loc;
		r->affinity = eff.affinity;
	}
	if (eff.snat_set && eff.snat == M_SNAT_ADDR && !eff.snat_ok)
		r->snat_cls = SNAT_CLASS_NONE;
	else
		r->snat_cls = snat_class(s, &eff);
	/* A default snat address of the other family than the route's (the
	 * route's own was checked when it was built). */
	if (snat_from_default && r->snat_cls >= 2 &&
	    s->m->snats[r->snat_cls].addr.family != r->family) {
		diag_error(s->d, r->loc, "snat address is IPv%d but route '%s' is IPv%d",
			   s->m->snats[r->snat_cls].addr.family, r->name, r->family);
		diag_note(s->d, eff.snat_loc, "the snat comes from this default");
	}
}

