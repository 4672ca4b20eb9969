/* sema.c: resolves and checks the AST into the model.
 *
 * Pass 1 collects the names (defines, routes, the defaults block, the
 * policy) so that defines may be used before the line that makes them.
 * Pass 2 builds each route. Pass 3 checks what spans routes: overlapping
 * listeners, chain names, snat classes. Each error points at the token. */
#include "sema.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"

#define MAX_WEIGHT 1000u
#define MAX_SERVERS 100000u     /* per route, after set expansion */
#define MAX_RR_SLOTS 65536ul    /* roundrobin rules per route and protocol */
#define MAX_VAR_DEPTH 64

struct def {
	const struct ast_stmt *stmt;
	bool used;
	bool resolving;          /* on the resolution stack: a cycle */
	bool from_cmdline;       /* -D */
	bool matched;            /* -D: the source defines it too */
	const struct ast_stmt *shadowed;  /* the source define a -D replaced */
};

/* What a route says for itself about balance, snat and affinity. The
 * defaults block, which may stand after the route, fills in the rest when
 * the pass finishes. Resolved here, since a route's AST does not live that
 * long. */
struct own {
	bool balance_set, snat_set, affinity_set;
	enum ast_balance balance;
	enum ast_snat snat;
	struct m_addr snat_addr;
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
	struct own *own;
	size_t nroutes, routes_cap;
	struct name_ent *names;
	size_t names_cap;
	/* Scratch for the route being built, reused from route to route. */
	struct m_listener *lbuf;
	struct m_server *sbuf;
	struct m_addr *abuf;
	size_t nl, ns, na, lcap, scap, acap;
};

/* ---- names ------------------------------------------------------------ */

static size_t def_slot(const struct sema *s, const char *name)
{
	size_t i = fnv1a32(name) & (s->defs_cap - 1);
	while (s->defs[i] && strcmp(s->defs[i]->stmt->name, name) != 0)
		i = (i + 1) & (s->defs_cap - 1);
	return i;
}

static struct def *def_find(const struct sema *s, const char *name)
{
	return s->defs_cap ? s->defs[def_slot(s, name)] : NULL;
}

static void def_grow(struct sema *s)
{
	size_t old_cap = s->defs_cap;
	struct def **old = s->defs;
	s->defs_cap = old_cap ? old_cap * 2 : 64;
	s->defs = ARENA_ARRAY(s->a, struct def *, s->defs_cap);
	for (size_t i = 0; i < old_cap; i++)
		if (old[i])
			s->defs[def_slot(s, old[i]->stmt->name)] = old[i];
}

static struct def *def_add(struct sema *s, const struct ast_stmt *st)
{
	if ((s->ndefs + 1) * 2 > s->defs_cap)
		def_grow(s);
	struct def *d = ARENA_NEW(s->a, struct def);
	d->stmt = st;
	s->defs[def_slot(s, st->name)] = d;
	s->ndefs++;
	return d;
}

/* The define whose name is nearest to `name`, for "did you mean". */
static const char *nearest_def(const struct sema *s, const char *name)
{
	const char *best = NULL;
	unsigned best_d = 3;
	for (size_t i = 0; i < s->defs_cap; i++) {
		if (!s->defs[i])
			continue;
		const char *cand = s->defs[i]->stmt->name;
		unsigned dist = levenshtein(name, cand);
		if (dist < best_d && dist * 3 <= strlen(cand) &&
		    (!best || dist < best_d || strcmp(cand, best) < 0)) {
			best_d = dist;
			best = cand;
		}
	}
	return best;
}

/* ---- values ----------------------------------------------------------- */

/* Follows $name references to the value they stand for. Returns NULL after
 * reporting an undefined name or a cycle. */
static const struct ast_val *deref(struct sema *s, const struct ast_val *v)
{
	const struct ast_val *use = v;
	struct def *stack[MAX_VAR_DEPTH];
	int depth = 0;
	const struct ast_val *result = NULL;
	while (v && v->kind == AV_VAR) {
		struct def *d = def_find(s, v->text);
		if (!d) {
			const char *near = nearest_def(s, v->text);
			if (near)
				diag_error(s->d, v->loc, "'$%s' is not defined; did you mean '$%s'?",
					   v->text, near);
			else
				diag_error(s->d, v->loc, "'$%s' is not defined", v->text);
			goto out;
		}
		d->used = true;
		if (d->resolving || depth == MAX_VAR_DEPTH) {
			diag_error(s->d, d->stmt->name_loc,
				   "define '%s' refers to itself", d->stmt->name);
			goto out;
		}
		d->resolving = true;
		stack[depth++] = d;
		v = d->stmt->value;
	}
	result = v;
out:
	while (depth > 0)
		stack[--depth]->resolving = false;
	(void)use;
	return result;
}

static const char *kind_name(enum ast_val_kind k)
{
	switch (k) {
	case AV_NUMBER: return "a number";
	case AV_RANGE: return "a port range";
	case AV_ADDR: return "an address";
	case AV_SET: return "a set";
	case AV_VAR: return "a name";
	case AV_ANY: return "'*'";
	case AV_DURATION: return "a duration";
	}
	return "a value";
}

/* Reports that `use` (as written) resolved to the wrong kind of value. */
static void wrong_kind(struct sema *s, const struct ast_val *use,
		       const struct ast_val *got, const char *wanted)
{
	if (use->kind == AV_VAR) {
		diag_error(s->d, use->loc, "'$%s' is %s, expected %s", use->text,
			   kind_name(got->kind), wanted);
		if (def_find(s, use->text))
			diag_note(s->d, got->loc, "'$%s' is defined here", use->text);
	} else {
		diag_error(s->d, use->loc, "expected %s, found %s", wanted,
			   kind_name(got->kind));
	}
}

/* Decimal digits to an integer in [min, max]. */
static bool eval_uint(struct sema *s, const struct ast_val *v, unsigned long min,
		      unsigned long max, const char *what, unsigned long *out)
{
	const char *t = v->text;
	unsigned long n = 0;
	bool overflow = false;
	for (; *t; t++) {
		if (n > (max + 9) / 10 + 1000000)
			overflow = true;
		else
			n = n * 10 + (unsigned long)(*t - '0');
	}
	if (overflow || n < min || n > max) {
		diag_error(s->d, v->loc, "%s %s is out of range (%lu-%lu)", what,
			   v->text, min, max);
		return false;
	}
	*out = n;
	return true;
}

static bool eval_number(struct sema *s, const struct ast_val *use,
			unsigned long min, unsigned long max, const char *what,
			unsigned long *out)
{
	const struct ast_val *v = deref(s, use);
	if (!v)
		return false;
	if (v->kind != AV_NUMBER) {
		char wanted[64];
		snprintf(wanted, sizeof(wanted), "a %s", what);
		wrong_kind(s, use, v, wanted);
		return false;
	}
	return eval_uint(s, v, min, max, what, out);
}

/* A port or, where allowed, a range LOW-HIGH. */
static bool eval_port(struct sema *s, const struct ast_val *use, bool allow_range,
		      uint16_t *lo, uint16_t *hi)
{
	const struct ast_val *v = deref(s, use);
	if (!v)
		return false;
	unsigned long a, b;
	if (v->kind == AV_NUMBER) {
		if (!eval_uint(s, v, 1, 65535, "port", &a))
			return false;
		*lo = *hi = (uint16_t)a;
		return true;
	}
	if (v->kind == AV_RANGE) {
		if (!allow_range) {
			diag_error(s->d, use->loc, "a port range is not allowed here");
			return false;
		}
		if (!eval_number(s, v->lo, 1, 65535, "port", &a) ||
		    !eval_number(s, v->hi, 1, 65535, "port", &b))
			return false;
		if (a > b) {
			diag_error(s->d, v->loc, "port range %lu-%lu is empty (low > high)", a, b);
			return false;
		}
		*lo = (uint16_t)a;
		*hi = (uint16_t)b;
		return true;
	}
	wrong_kind(s, use, v, "a port");
	return false;
}

static struct loc sub_loc(struct loc l, size_t offset, size_t len)
{
	l.first_column += (int)offset;
	l.last_column = l.first_column + (int)(len ? len : 1) - 1;
	return l;
}

/* Parses a literal address (with its optional /prefix). */
static bool parse_addr(struct sema *s, const struct ast_val *v, struct m_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (!v->is6) {
		const char *t = v->text;
		int part = 0;
		while (*t) {
			const char *start = t;
			unsigned long n = 0;
			while (*t >= '0' && *t <= '9') {
				if (n < 1000)
					n = n * 10 + (unsigned long)(*t - '0');
				t++;
			}
			size_t len = (size_t)(t - start);
			struct loc at = sub_loc(v->loc, (size_t)(start - v->text), len);
			if (part == 4) {
				diag_error(s->d, v->loc, "'%s' is not an IPv4 address: "
					   "it has more than four numbers", v->text);
				return false;
			}
			if (n > 255) {
				diag_error(s->d, at, "%.*s is out of range for an IPv4 address "
					   "octet (0-255)", (int)len, start);
				return false;
			}
			if (len > 1 && start[0] == '0') {
				diag_error(s->d, at, "octet '%.*s' has a leading zero "
					   "(ambiguous: octal or decimal?)", (int)len, start);
				return false;
			}
			out->bytes[part++] = (uint8_t)n;
			if (*t == '.')
				t++;
		}
		if (part != 4) {
			diag_error(s->d, v->loc, "'%s' is not an IPv4 address: it needs "
				   "four numbers", v->text);
			return false;
		}
		out->family = 4;
		out->prefix = 32;
	} else {
		if (strlen(v->text) >= INET6_ADDRSTRLEN ||
		    inet_pton(AF_INET6, v->text, out->bytes) != 1) {
			diag_error(s->d, v->loc, "'%s' is not a valid IPv6 address", v->text);
			return false;
		}
		out->family = 6;
		out->prefix = 128;
	}
	if (v->prefix) {
		unsigned long p;
		struct ast_val pv = {.kind = AV_NUMBER, .loc = v->prefix_loc, .text = v->prefix};
		if (!eval_uint(s, &pv, 0, out->family == 4 ? 32 : 128, "prefix length", &p))
			return false;
		out->prefix = (int)p;
		int bytes = out->family == 4 ? 4 : 16;
		for (int bit = (int)p; bit < bytes * 8; bit++) {
			if (out->bytes[bit / 8] & (0x80 >> (bit % 8))) {
				struct m_addr net = *out;
				for (int b = (int)p; b < bytes * 8; b++)
					net.bytes[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
				char txt[64];
				model_addr_str(&net, txt);
				diag_error(s->d, v->loc, "%s/%s has host bits set; the network "
					   "is %s/%lu", v->text, v->prefix, txt, p);
				return false;
			}
		}
	}
	return true;
}

/* A single host address (no network, no set). */
static bool eval_host(struct sema *s, const struct ast_val *use, const char *role,
		      struct m_addr *out)
{
	const struct ast_val *v = deref(s, use);
	if (!v)
		return false;
	if (v->kind != AV_ADDR) {
		char wanted[80];
		snprintf(wanted, sizeof(wanted), "an address for %s", role);
		wrong_kind(s, use, v, wanted);
		return false;
	}
	if (!parse_addr(s, v, out))
		return false;
	if (v->prefix) {
		diag_error(s->d, use->loc, "%s must be a single address, not the "
			   "network %s/%s", role, v->text, v->prefix);
		return false;
	}
	return true;
}

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
	if (n == 0 || n > 15)
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

static void check_single(struct sema *s, const struct ast_item **slot,
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
	l->proto = it->proto;
	/* The endpoint, for the caret of an overlap. */
	l->loc = it->host->loc;
	if (it->port->loc.first_line == l->loc.first_line)
		l->loc.last_column = it->port->loc.last_column;
	bool ok = true;
	const struct ast_val *host = deref(s, it->host);
	if (!host)
		ok = false;
	else if (host->kind == AV_ANY) {
		l->any = true;
	} else if (host->kind == AV_SET) {
		diag_error(s->d, it->host->loc, "a listen address must be one "
			   "address, not a set");
		ok = false;
	} else if (!eval_host(s, it->host, "a listen address", &l->addr)) {
		ok = false;
	} else if (!check_family(s, rb, l->addr.family, it->host->loc)) {
		ok = false;
	}
	if (!eval_port(s, it->port, true, &l->port_lo, &l->port_hi))
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
	if (it->port && !eval_port(s, it->port, false, &port, &hi))
		ok = false;
	if (it->port && !rb->port_server)
		rb->port_server = it;
	if (!it->port && !rb->bare_server)
		rb->bare_server = it;
	unsigned long weight = 1;
	if (it->weight && !eval_number(s, it->weight, 1, MAX_WEIGHT, "weight", &weight))
		ok = false;
	const struct ast_val *host = deref(s, it->host);
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
			if (eval_host(s, e, "a server", &a) &&
			    check_family(s, rb, a.family, e->kind == AV_VAR ? e->loc : it->host->loc))
				add_server(s, it, &a, port, (unsigned)weight);
		}
		return;
	}
	struct m_addr a;
	if (eval_host(s, it->host, "a server", &a) &&
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
	if (!o->snat_set || o->snat == SNAT_MASQUERADE) {
		m->snats[SNAT_CLASS_MASQUERADE].used = true;
		if (o->snat_set && !m->snats[SNAT_CLASS_MASQUERADE].loc.file)
			m->snats[SNAT_CLASS_MASQUERADE].loc = o->snat_loc;
		return SNAT_CLASS_MASQUERADE;
	}
	if (o->snat == SNAT_NONE) {
		m->snats[SNAT_CLASS_NONE].used = true;
		return SNAT_CLASS_NONE;
	}
	for (size_t i = 2; i < m->nsnats; i++)
		if (addr_eq(&m->snats[i].addr, &o->snat_addr))
			return (unsigned)i;
	if (m->nsnats == SNAT_MAX_CLASSES) {
		diag_error(s->d, o->snat_addr_loc, "more than %u distinct snat addresses",
			   SNAT_MAX_CLASSES - 2);
		return SNAT_CLASS_NONE;
	}
	struct m_snat *c = &m->snats[m->nsnats];
	c->kind = SNAT_ADDR;
	c->addr = o->snat_addr;
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
			struct loc at = sub_loc(it->text_loc, (size_t)(p - it->text) + 1, 1);
			if (c == '\\')
				diag_error(s->d, at, "a comment may not contain a backslash");
			else
				diag_error(s->d, at, "a comment may only contain printable "
					   "ASCII characters");
			return;
		}
	}
}

/* The longest rule comment an emitter writes for this route. */
static size_t rule_comment_len(const struct model *m, const struct m_route *r)
{
	char line[32];
	snprintf(line, sizeof(line), "%d", r->loc.first_line + 100000);
	size_t n = strlen(m->source) + 1 + strlen(line) + strlen(": route ") +
		   strlen(r->name);
	if (r->comment)
		n += 2 + strlen(r->comment);
	return n;
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
	struct m_server **v = xmalloc(xmul(n, sizeof(*v)));
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
	free(v);
}

/* allow from: an address, a network, or a set of them. */
static void allow_one(struct sema *s, struct route_build *rb, const struct ast_val *use)
{
	const struct ast_val *v = deref(s, use);
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
		wrong_kind(s, use, v, "an address, a network or a set of them");
		return;
	}
	struct m_addr a;
	if (!parse_addr(s, v, &a) || !check_family(s, rb, a.family, use->loc))
		return;
	*SCRATCH_PUSH(s, abuf, na, acap) = a;
}

static void build_allow(struct sema *s, struct route_build *rb, const struct ast_item *it)
{
	allow_one(s, rb, it->addr);
}

/* A duration: digits and s, m or h; 1 s to 30 days. */
static bool eval_duration(struct sema *s, const struct ast_val *use, unsigned *out)
{
	const struct ast_val *v = deref(s, use);
	if (!v)
		return false;
	if (v->kind != AV_DURATION) {
		wrong_kind(s, use, v, "a duration such as 90s, 30m or 3h");
		return false;
	}
	size_t n = strlen(v->text);
	char unit = v->text[n - 1];
	unsigned long mult = unit == 's' ? 1 : unit == 'm' ? 60 : 3600;
	struct ast_val digits = *v;
	digits.kind = AV_NUMBER;
	digits.text = arena_strndup(s->a, v->text, n - 1);
	unsigned long max = 30ul * 24 * 3600 / mult, val = 0;
	for (const char *p = digits.text; *p && val <= max; p++)
		val = val * 10 + (unsigned long)(*p - '0');
	if (val < 1 || val > max) {
		diag_error(s->d, v->loc, "duration %s is out of range (1s to 720h)", v->text);
		return false;
	}
	*out = (unsigned)(val * mult);
	return true;
}

/* balance, snat and affinity items, resolved into o. */
static void resolve_settings(struct sema *s, const struct ast_item *balance,
			     const struct ast_item *snat, const struct ast_item *affinity,
			     struct own *o)
{
	if (balance) {
		o->balance_set = true;
		o->balance = balance->balance;
		o->balance_loc = balance->loc;
	}
	if (snat) {
		o->snat_set = true;
		o->snat = snat->snat;
		o->snat_loc = snat->loc;
		o->snat_ok = true;
		if (snat->snat == SNAT_ADDR) {
			o->snat_addr_loc = snat->addr->loc;
			o->snat_ok = eval_host(s, snat->addr, "snat", &o->snat_addr);
		}
	}
	if (affinity) {
		o->affinity_set = true;
		o->affinity_loc = affinity->loc;
		o->affinity = AFFINITY_DEFAULT_SECONDS;
		if (affinity->timeout && !eval_duration(s, affinity->timeout, &o->affinity))
			o->affinity = AFFINITY_DEFAULT_SECONDS;
	}
}

/* Builds the model of one route from its statement, all but what the
 * defaults decide (finish_route). */
static void build_route(struct sema *s, const struct ast_stmt *st, struct m_route *r,
			struct own *o)
{
	struct route_build rb = {0};
	s->nl = s->ns = s->na = 0;
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
			check_single(s, &rb.balance, it, "balance");
			break;
		case AI_SNAT:
			check_single(s, &rb.snat, it, "snat");
			break;
		case AI_COMMENT:
			check_single(s, &rb.comment, it, "comment");
			check_comment(s, it);
			break;
		case AI_ALLOW:
			check_single(s, &rb.allow_item, it, "allow from");
			build_allow(s, &rb, it);
			break;
		case AI_AFFINITY:
			check_single(s, &rb.affinity, it, "affinity");
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
	if (s->ns > MAX_SERVERS)
		diag_error(s->d, st->name_loc, "route '%s' has %zu servers; at most %u",
			   st->name, s->ns, MAX_SERVERS);

	resolve_settings(s, rb.balance, rb.snat, rb.affinity, o);
	if (o->snat_set && o->snat == SNAT_ADDR && o->snat_ok && rb.family &&
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

	if (has_server && s->ns > 0 && model_active_weight(r) == 0 &&
	    diag_errors(s->d) == errors_before)
		diag_error(s->d, st->name_loc, "every server of route '%s' is drained: "
			   "it would refuse every connection", st->name);

	char chain[CHAIN_MAX_LEN + 1];
	chain_name(r->name, chain);
	r->chain = arena_strdup(s->a, chain);

	if (r->comment && rule_comment_len(s->m, r) > 255)
		diag_error(s->d, rb.comment->text_loc, "comment too long: with the "
			   "source place and route name the rule comment would pass the "
			   "kernel's limit of 255 bytes");
	/* nft takes at most 128 bytes of comment: the place alone must fit. */
	struct m_route bare = *r;
	bare.comment = NULL;
	if (rule_comment_len(s->m, &bare) > 128)
		diag_error(s->d, st->name_loc, "file and route names too long: the rule "
			   "comment \"FILE:LINE: route NAME\" would pass nft's limit of "
			   "128 bytes");
	o->built = true;
}

/* What the defaults decide, once every statement has been read. */
static void finish_route(struct sema *s, struct m_route *r, const struct own *o,
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
	r->balance = eff.balance_set ? eff.balance : BALANCE_RANDOM;
	if (eff.balance_set)
		r->balance_loc = eff.balance_loc;
	if (eff.snat_set)
		r->snat_loc = eff.snat_loc;
	if (eff.affinity_set) {
		r->affinity_loc = eff.affinity_loc;
		r->affinity = eff.affinity;
	}
	if (eff.snat_set && eff.snat == SNAT_ADDR && !eff.snat_ok)
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
	if (r->balance == BALANCE_ROUNDROBIN) {
		unsigned long slots = 0;
		for (size_t i = 0; i < r->nservers; i++)
			if (!r->servers[i].drain)
				slots += r->servers[i].weight;
		/* Slots shrink by the weights' gcd in the emitter; this bounds
		 * the worst case before that. */
		if (slots > MAX_RR_SLOTS)
			diag_error(s->d, eff.balance_set ? eff.balance_loc : r->loc,
				   "roundrobin over total weight %lu needs too many rules "
				   "(at most %lu); use smaller weights or 'balance random'",
				   slots, MAX_RR_SLOTS);
	}
}

/* ---- checks across routes -------------------------------------------- */

struct lref {
	const struct m_listener *l;
	int family;
	size_t route;
};

static int cmp_listener(const void *pa, const void *pb)
{
	const struct lref *a = pa, *b = pb;
	if (a->l->proto != b->l->proto)
		return a->l->proto < b->l->proto ? -1 : 1;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->l->any != b->l->any)
		return a->l->any ? -1 : 1;
	int c = memcmp(a->l->addr.bytes, b->l->addr.bytes, 16);
	if (c)
		return c;
	if (a->l->port_lo != b->l->port_lo)
		return a->l->port_lo < b->l->port_lo ? -1 : 1;
	if (a->route != b->route)
		return a->route < b->route ? -1 : 1;
	return a->l < b->l ? -1 : a->l > b->l;
}

static bool same_group(const struct lref *a, const struct lref *b)
{
	return a->l->proto == b->l->proto && a->family == b->family;
}

/* Two listeners collide when a connection could match both. */
static bool collide(const struct lref *a, const struct lref *b)
{
	const struct m_listener *x = a->l, *y = b->l;
	if (!same_group(a, b) || x->port_hi < y->port_lo || y->port_hi < x->port_lo)
		return false;
	if (!x->any && !y->any && memcmp(x->addr.bytes, y->addr.bytes, 16) != 0)
		return false;
	return !x->iface || !y->iface || strcmp(x->iface, y->iface) == 0;
}

void sema_listener_str(const struct m_listener *l, int family, char *out, size_t n)
{
	char addr[64] = "*";
	if (!l->any)
		model_addr_str(&l->addr, addr);
	const char *lb = family == 6 && !l->any ? "[" : "";
	const char *rb = family == 6 && !l->any ? "]" : "";
	int k = snprintf(out, n, "%s %s%s%s:%u", l->proto == PROTO_TCP ? "tcp" : "udp",
			 lb, addr, rb, l->port_lo);
	if (l->port_hi != l->port_lo && k > 0 && (size_t)k < n)
		k += snprintf(out + k, n - (size_t)k, "-%u", l->port_hi);
	if (l->iface && k > 0 && (size_t)k < n)
		snprintf(out + k, n - (size_t)k, " on %s", l->iface);
}

static void report_overlap(struct sema *s, const struct lref *p, const struct lref *q)
{
	const struct model *m = s->m;
	/* Report at the later of the two in source order. */
	if (q->route < p->route || (q->route == p->route && q->l < p->l)) {
		const struct lref *t = p;
		p = q;
		q = t;
	}
	char a[128], b[128];
	sema_listener_str(q->l, q->family, a, sizeof(a));
	sema_listener_str(p->l, p->family, b, sizeof(b));
	if (p->route == q->route)
		diag_error(s->d, q->l->loc, "%s overlaps %s of the same route", a, b);
	else
		diag_error(s->d, q->l->loc, "%s overlaps %s of route '%s'", a, b,
			   m->routes[p->route].name);
	diag_note(s->d, p->l->loc, "previous listener for %s is here", b);
}

/* Sorting keeps this O(n log n) for the usual case of one listener per
 * address and port: a gateway holds 100,000 listeners. Listeners on any
 * address ('*') are few; each is compared with its group. */
static void check_listener_overlap(struct sema *s)
{
	struct model *m = s->m;
	size_t n = 0;
	for (size_t i = 0; i < m->nroutes; i++)
		n += m->routes[i].nlisteners;
	if (n < 2)
		return;
	struct lref *v = xmalloc(xmul(n, sizeof(*v)));
	size_t k = 0;
	for (size_t i = 0; i < m->nroutes; i++)
		for (size_t j = 0; j < m->routes[i].nlisteners; j++)
			v[k++] = (struct lref){&m->routes[i].listeners[j],
					       m->routes[i].family, i};
	qsort(v, n, sizeof(*v), cmp_listener);
	/* Any-address listeners sort first in their group. */
	size_t group = 0;
	for (size_t i = 0; i < n; i++) {
		if (!same_group(&v[group], &v[i]))
			group = i;
		if (!v[i].l->any)
			continue;
		for (size_t j = group; j < n && same_group(&v[group], &v[j]); j++)
			if (j != i && (!v[j].l->any || j > i) && collide(&v[i], &v[j]))
				report_overlap(s, &v[i], &v[j]);
	}
	/* Same address: the listeners still open (reaching past this port). */
	size_t *open = xmalloc(xmul(n, sizeof(*open)));
	size_t nopen = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].l->any)
			continue;
		size_t keep = 0;
		for (size_t j = 0; j < nopen; j++) {
			const struct lref *o = &v[open[j]];
			bool same_addr = same_group(o, &v[i]) &&
				memcmp(o->l->addr.bytes, v[i].l->addr.bytes, 16) == 0;
			if (!same_addr || o->l->port_hi < v[i].l->port_lo)
				continue;
			if (collide(o, &v[i]))
				report_overlap(s, o, &v[i]);
			open[keep++] = open[j];
		}
		nopen = keep;
		open[nopen++] = i;
	}
	free(open);
	free(v);
}

static int cmp_chain(const void *pa, const void *pb)
{
	const struct m_route *a = *(struct m_route *const *)pa;
	const struct m_route *b = *(struct m_route *const *)pb;
	int c = strcmp(a->chain, b->chain);
	if (c)
		return c;
	return a < b ? -1 : a > b;
}

/* Route names are unique, but two long ones could still hash to one chain
 * name, and a short name can be spelt like a hashed one. */
static void check_chain_names(struct sema *s)
{
	struct model *m = s->m;
	if (m->nroutes < 2)
		return;
	struct m_route **v = xmalloc(xmul(m->nroutes, sizeof(*v)));
	for (size_t i = 0; i < m->nroutes; i++)
		v[i] = &m->routes[i];
	qsort(v, m->nroutes, sizeof(*v), cmp_chain);
	for (size_t i = 1; i < m->nroutes; i++) {
		if (strcmp(v[i]->chain, v[i - 1]->chain) == 0 &&
		    strcmp(v[i]->name, v[i - 1]->name) != 0) {
			diag_error(s->d, v[i]->loc, "routes '%s' and '%s' get the same "
				   "chain name '%s'; rename one", v[i - 1]->name,
				   v[i]->name, v[i]->chain);
			diag_note(s->d, v[i - 1]->loc, "the other route is here");
		}
	}
	free(v);
}

/* ---- the whole pass --------------------------------------------------- */

/* ---- statements, as the parser reads them ------------------------------ */

struct sema *sema_new(struct arena *a, struct diag_ctx *d,
		      const struct ast_file *overrides, const char *main_base)
{
	struct sema *s = xcalloc(1, sizeof(*s));
	s->a = a;
	s->d = d;
	s->overrides = overrides;
	struct model *m = ARENA_NEW(a, struct model);
	s->m = m;
	m->source = main_base;
	m->snats = ARENA_ARRAY(a, struct m_snat, SNAT_MAX_CLASSES);
	m->snats[SNAT_CLASS_NONE].kind = SNAT_NONE;
	m->snats[SNAT_CLASS_NONE].cls = SNAT_CLASS_NONE;
	m->snats[SNAT_CLASS_MASQUERADE].kind = SNAT_MASQUERADE;
	m->snats[SNAT_CLASS_MASQUERADE].cls = SNAT_CLASS_MASQUERADE;
	m->nsnats = 2;
	for (const struct ast_stmt *st = overrides ? overrides->first : NULL; st;
	     st = st->next) {
		if (def_find(s, st->name)) {
			diag_error(d, st->name_loc, "-D %s is given twice", st->name);
			continue;
		}
		def_add(s, st)->from_cmdline = true;
	}
	return s;
}

void sema_free(struct sema *s)
{
	if (!s)
		return;
	free(s->routes);
	free(s->own);
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
	struct def *prev = def_find(s, st->name);
	if (prev && prev->from_cmdline && !prev->matched) {
		prev->matched = true;
		prev->shadowed = st;
	} else if (prev) {
		const struct ast_stmt *first = prev->from_cmdline ? prev->shadowed : prev->stmt;
		diag_error(s->d, st->name_loc, "'%s' is already defined", st->name);
		diag_note(s->d, first->name_loc, "'%s' is first defined here", st->name);
	} else {
		def_add(s, st);
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
	static const char *const names[] = {
		[AI_LISTEN] = "listen", [AI_SERVER] = "server",
		[AI_ALLOW] = "allow", [AI_COMMENT] = "comment",
	};
	const struct ast_item *b = NULL, *n = NULL, *a = NULL;
	for (const struct ast_item *it = st->items; it; it = it->next) {
		if (it->kind == AI_BALANCE)
			check_single(s, &b, it, "balance");
		else if (it->kind == AI_SNAT)
			check_single(s, &n, it, "snat");
		else if (it->kind == AI_AFFINITY)
			check_single(s, &a, it, "affinity");
		else
			diag_error(s->d, it->loc, "'%s' cannot be used in 'defaults' "
				   "(only balance, snat and affinity)", names[it->kind]);
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
	if (depth > MAX_VAR_DEPTH)
		return true;
	switch (v->kind) {
	case AV_VAR: {
		const struct def *d = def_find(s, v->text);
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
		s->routes_cap = s->routes_cap ? s->routes_cap * 2 : 64;
		s->routes = xrealloc(s->routes, xmul(s->routes_cap, sizeof(*s->routes)));
		s->own = xrealloc(s->own, xmul(s->routes_cap, sizeof(*s->own)));
	}
	size_t i = s->nroutes++;
	struct m_route *r = &s->routes[i];
	struct own *o = &s->own[i];
	memset(r, 0, sizeof(*r));
	memset(o, 0, sizeof(*o));
	slot->idx = (uint32_t)(i + 1);
	r->name = arena_strdup(s->a, st->name);
	r->loc = st->loc;
	r->name_loc = st->name_loc;
	if (!route_resolvable(s, st)) {
		o->deferred = st;
		return true;
	}
	build_route(s, st, r, o);
	return false;
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
		if (s->own[i].deferred)
			build_route(s, s->own[i].deferred, &s->routes[i], &s->own[i]);
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
		resolve_settings(s, b, n, a, &dflt);
	}
	for (size_t i = 0; i < s->nroutes; i++)
		finish_route(s, &s->routes[i], &s->own[i], &dflt);
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
	free(s->own);
	s->own = NULL;

	for (const struct ast_stmt *st = s->overrides ? s->overrides->first : NULL; st;
	     st = st->next) {
		struct def *d = def_find(s, st->name);
		if (d && d->stmt == st && !d->matched)
			diag_error(s->d, st->name_loc, "-D %s: the source has no define "
				   "named '%s'", st->name, st->name);
	}
	check_listener_overlap(s);
	check_chain_names(s);
	warn_unused(s);
	return diag_errors(s->d) ? NULL : m;
}

struct model *sema_run(struct arena *a, struct diag_ctx *d,
		       const struct ast_file *file,
		       const struct ast_file *overrides,
		       const char *main_base)
{
	struct sema *s = sema_new(a, d, overrides, main_base);
	for (const struct ast_stmt *st = file->first; st; st = st->next) {
		switch (st->kind) {
		case AS_INCLUDE:
			break;
		case AS_DEFINE:
			sema_define(s, st);
			break;
		case AS_DEFAULTS:
			sema_defaults(s, st);
			break;
		case AS_POLICY:
			sema_policy(s, st);
			break;
		case AS_ROUTE:
			sema_route(s, st);
			break;
		}
	}
	struct model *m = sema_finish(s, false);
	if (m && m->nroutes) {
		struct m_route *copy = ARENA_ARRAY(a, struct m_route, m->nroutes);
		memcpy(copy, m->routes, m->nroutes * sizeof(*copy));
		m->routes = copy;
	}
	sema_free(s);
	return m;
}
