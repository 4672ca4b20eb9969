/* emit_nft.c: the nft target. See doc/nft-output.md.
 *
 * One table, replaced atomically by `nft -f`. A new connection costs two
 * map lookups whatever the number of routes. Most routes take the shared
 * path: the listeners verdict map sends a connection to a chain shared by
 * every route with the same slot count and snat class, which picks the
 * server in one map keyed on the listener and `numgen random mod W`. So
 * loading is linear: no anonymous map and no chain per route (an anonymous
 * `numgen ... map { }` per route was measured quadratic).
 *
 * A route needs a chain of its own when it keeps per-route state or matches
 * more than the listener: roundrobin (numgen inc counts per rule), affinity
 * (a set of clients per server), allow lists, interfaces, any-address
 * listeners and port ranges. Its chain picks a slot with an offset into a
 * map shared by all such routes.
 *
 * The text is what `nft list ruleset` prints back, elements included: nft
 * sorts the elements of a hash map by their key bytes read as a
 * little-endian number (src/mergesort.c), so we sort the same way; interval
 * maps list in insertion order. */
#include "emit_nft.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coexist.h"
#include "generation.h"
#include "report.h"

/* ---- map elements ------------------------------------------------------ */

/* A map element: what it stands for, printed when the map is written,
 * and the key nft sorts it by. 400,000 elements of 100,000 routes are not
 * kept as text; nor is the whole key: its 16 most significant bytes (all
 * of an IPv4 key) decide nearly every comparison, and a longer key is
 * made again from the listener when they tie. */
enum elem_kind { EK_LISTENER, EK_SHARED, EK_SLOT };
enum { KF_IFACE = 1, KF_ADDR = 2, KF_SLOT = 4 };   /* put_key's parts */

struct elem {
	uint64_t khi, klo;        /* key bytes [len-16, len) as a number */
	const struct plan_route *pr;
	uint32_t listener;        /* index in pr->r->listeners */
	uint32_t slot;            /* EK_SHARED, EK_SLOT */
	uint32_t server;
	uint8_t keylen;
	uint8_t kind;
	uint8_t kflags;           /* KF_*: how the key was made */
	uint8_t family;
};

static const struct m_listener *elem_listener(const struct elem *el)
{
	return &el->pr->r->listeners[el->listener];
}

struct elems {
	struct elem *v;
	size_t len, cap;
	bool interval;
};

static struct elem *elems_add(struct elems *e, enum elem_kind kind,
			      const struct plan_route *pr, size_t listener,
			      size_t server, uint64_t slot)
{
	if (e->len == e->cap) {
		size_t old = e->cap;
		e->cap = old ? old * 2 : 64;
		e->v = big_realloc(e->v, old * sizeof(*e->v), xmul(e->cap, sizeof(*e->v)));
	}
	struct elem *el = &e->v[e->len++];
	memset(el, 0, sizeof(*el));
	el->kind = (uint8_t)kind;
	el->pr = pr;
	el->listener = (uint32_t)listener;
	el->server = (uint32_t)server;
	el->slot = (uint32_t)slot;
	return el;
}

/* Sized once: growing by doubling would hold half again as much. */
static void elems_reserve(struct elems *e, size_t n)
{
	if (n > e->cap) {
		e->v = big_realloc(e->v, e->cap * sizeof(*e->v), xmul(n, sizeof(*e->v)));
		e->cap = n;
	}
}

static void elems_free(struct elems *e)
{
	big_free(e->v, e->cap * sizeof(*e->v));
	memset(e, 0, sizeof(*e));
}

static void put_elem(struct buf *out, const struct elem *el);

/* mpz_cmp of the key imported host-endian (x86: little-endian): the last
 * byte weighs most. Keys of one map have one length. */
static uint64_t load_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static size_t put_key(uint8_t *key, const struct m_listener *l, int family,
		      bool with_iface, bool with_addr, bool with_slot, uint32_t slot);

/* The whole key of an element, as put_key made it. */
static size_t elem_full_key(const struct elem *el, uint8_t key[40])
{
	if (el->kind == EK_SLOT) {
		for (int i = 0; i < 4; i++)
			key[i] = (uint8_t)(el->slot >> (8 * i));
		return 4;
	}
	return put_key(key, elem_listener(el), el->family, el->kflags & KF_IFACE,
		       el->kflags & KF_ADDR, el->kflags & KF_SLOT, el->slot);
}

/* Keeps the key's 16 most significant bytes, zero-padded. */
static void elem_set_key(struct elem *el, const uint8_t *key, size_t len)
{
	uint8_t top[16] = {0};
	size_t from = len > 16 ? len - 16 : 0;
	memcpy(top, key + from, len - from);
	el->klo = load_le64(top);
	el->khi = load_le64(top + 8);
	el->keylen = (uint8_t)len;
}

/* Makes the key of a listener element (EK_LISTENER, EK_SHARED). */
static void elem_key(struct elem *el, int family, unsigned kflags, uint32_t slot)
{
	uint8_t key[40];
	el->family = (uint8_t)family;
	el->kflags = (uint8_t)kflags;
	size_t n = put_key(key, elem_listener(el), family, kflags & KF_IFACE, kflags & KF_ADDR,
			   kflags & KF_SLOT, slot);
	elem_set_key(el, key, n);
}

/* mpz_cmp of the key imported host-endian (x86: little-endian): the last
 * byte weighs most. Keys of one map have one length. */
static int cmp_elem(const void *pa, const void *pb)
{
	const struct elem *a = pa, *b = pb;
	if (a->khi != b->khi)
		return a->khi < b->khi ? -1 : 1;
	if (a->klo != b->klo)
		return a->klo < b->klo ? -1 : 1;
	if (a->keylen <= 16)
		return 0;
	uint8_t ka[40], kb[40];
	size_t n = elem_full_key(a, ka);
	elem_full_key(b, kb);
	for (size_t i = n; i-- > 0;)
		if (ka[i] != kb[i])
			return ka[i] < kb[i] ? -1 : 1;
	return 0;
}

/* Writes `elements = { e1, e2 }` with nft's line breaks: concatenations one
 * per line, integers five per line (src/expression.c, calculate_delim). */
static void put_elements(struct buf *out, struct elems *e, bool integer_key)
{
	if (!e->interval)
		qsort(e->v, e->len, sizeof(*e->v), cmp_elem);
	buf_puts(out, "\t\telements = { ");
	int count = 0;
	for (size_t i = 0; i < e->len; i++) {
		if (i > 0) {
			if (integer_key && count < 5) {
				buf_puts(out, ", ");
			} else {
				buf_puts(out, ",\n\t\t\t     ");
				count = 0;
			}
		}
		put_elem(out, &e->v[i]);
		count++;
	}
	buf_puts(out, " }\n");
}

/* `counter`: each element counts the lookups that hit it, the new
 * connections of its server (a nat chain sees a connection's first packet
 * only): what --stats reads. */
static void put_map(struct buf *out, const char *name, const char *type,
		    struct elems *e, bool integer_key, bool counter)
{
	if (e->len == 0)
		return;
	buf_printf(out, "\n\tmap %s {\n\t\ttypeof %s\n", name, type);
	if (e->interval)
		buf_puts(out, "\t\tflags interval\n");
	if (counter)
		buf_puts(out, "\t\tcounter\n");
	put_elements(out, e, integer_key);
	buf_puts(out, "\t}\n");
}

/* ---- pieces of text ---------------------------------------------------- */

/* Per address family: the words and the names of its maps. */
struct fam {
	int family;
	const char *ip;        /* "ip" / "ip6" */
	const char *sfx;       /* "" / "6": listeners6, random6_3, slots6 */
	const char *nfproto;   /* "ipv4" / "ipv6" */
};

static const struct fam fams[2] = {
	{4, "ip", "", "ipv4"},
	{6, "ip6", "6", "ipv6"},
};

struct ctx {
	const struct plan *p;
	const struct model *m;
	struct buf *out;
	bool inet;             /* table inet: both families */
	const struct coexist *cx;   /* --coexist, or NULL */
	struct buf pick, tail;      /* emit_own_chain's, reused route to route */
};

static uint8_t proto_num(enum m_proto p)
{
	return p == M_TCP ? 6 : 17;
}

static void put_addr(struct buf *out, const struct m_addr *a)
{
	model_put_addr(out, a);
}

/* As nft lists a counter; a load starts it at zero. */
#define NFT_COUNTER " counter packets 0 bytes 0"

static void put_place(struct buf *out, const char *text)
{
	buf_puts(out, " comment \"");
	buf_puts(out, text);
	buf_putc(out, '"');
}

static void put_range(struct buf *out, uint64_t lo, uint64_t hi)
{
	buf_put_u64(out, lo);
	if (lo != hi) {
		buf_putc(out, '-');
		buf_put_u64(out, hi);
	}
}

/* " : ADDR . PORT", or " : ADDR" to keep the port (then `port` is 0). */
static void put_target(struct buf *out, const struct m_server *sv, unsigned port)
{
	buf_puts(out, " : ");
	put_addr(out, &sv->addr);
	if (port) {
		buf_puts(out, " . ");
		buf_put_u64(out, port);
	}
}

static void put_mark_set(struct buf *out, unsigned cls)
{
	unsigned mark = PLAN_MARK_OURS | cls << 16;
	/* nft folds "and 0xff00ffff or M" into this form when it lists. */
	buf_puts(out, "\t\tct mark set ct mark & 0x");
	buf_put_hex(out, (~PLAN_MARK_MASK | mark) & 0xffffffffu, 8);
	buf_puts(out, " | 0x");
	buf_put_hex(out, mark, 8);
	buf_putc(out, '\n');
}

/* Key bytes as nft exports each part: strings and addresses as they are,
 * ports in network order, the protocol one byte, numgen in host order. */
static size_t put_key(uint8_t *key, const struct m_listener *l, int family,
		      bool with_iface, bool with_addr, bool with_slot, uint32_t slot)
{
	size_t n = 0;
	if (with_iface) {
		memset(key, 0, 16);
		memcpy(key, l->iface, strlen(l->iface));
		n += 16;
	}
	if (with_addr) {
		size_t len = family == 6 ? 16 : 4;
		memcpy(key + n, l->addr.bytes, len);
		n += len;
	}
	key[n++] = proto_num(l->proto);
	key[n++] = (uint8_t)(l->port_lo >> 8);
	key[n++] = (uint8_t)l->port_lo;
	if (with_slot) {
		for (int i = 0; i < 4; i++)
			key[n++] = (uint8_t)(slot >> (8 * i));
	}
	return n;
}

/* ---- routes ------------------------------------------------------------ */

/* The plan of a route of the model. */
static const struct plan_route *plan_of(const struct plan *p, const struct m_route *r)
{
	return &p->routes[r - p->m->routes];
}

/* The shared path takes random routes that only match their listeners. */
static bool route_shared(const struct m_route *r)
{
	return !plan_route_own_chain(r);
}

/* The random chains of the shared path: one per (family, slots, class). */
struct group {
	int family;
	uint64_t slots;
	unsigned cls;
};

static int cmp_group(const void *pa, const void *pb)
{
	const struct group *a = pa, *b = pb;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->slots != b->slots)
		return a->slots < b->slots ? -1 : 1;
	return a->cls < b->cls ? -1 : a->cls > b->cls;
}

/* ---- the table --------------------------------------------------------- */

/* Where a listener's connections go. */
static void put_verdict(struct buf *out, const struct fam *f, const struct plan_route *pr)
{
	const struct m_route *r = pr->r;
	if (route_shared(r)) {
		buf_puts(out, " : goto random");
		buf_puts(out, f->sfx);
		buf_putc(out, '_');
		buf_put_u64(out, pr->slots);
		buf_puts(out, "_c");
		buf_put_u64(out, r->snat_cls);
	} else {
		buf_puts(out, " : goto route_");
		buf_puts(out, r->name);
	}
}

static void put_elem(struct buf *out, const struct elem *el)
{
	const struct plan_route *pr = el->pr;
	const struct m_route *r = pr->r;
	const struct m_listener *l = elem_listener(el);
	const struct m_server *sv = &r->servers[el->server];
	switch ((enum elem_kind)el->kind) {
	case EK_LISTENER:
		if (l->iface)
			buf_printf(out, "\"%s\" . ", l->iface);
		if (!l->any) {
			put_addr(out, &l->addr);
			buf_puts(out, " . ");
		}
		buf_puts(out, model_proto_name(l->proto));
		buf_puts(out, " . ");
		put_range(out, l->port_lo, l->port_hi);
		put_place(out, pr->place);
		put_verdict(out, &fams[r->family == 6], pr);
		break;
	case EK_SHARED:
		put_addr(out, &l->addr);
		buf_puts(out, " . ");
		buf_puts(out, model_proto_name(l->proto));
		buf_puts(out, " . ");
		buf_put_u64(out, l->port_lo);
		buf_puts(out, " . ");
		buf_put_u64(out, el->slot);
		buf_puts(out, NFT_COUNTER);
		put_place(out, pr->place);
		/* Keeping the port of a one-port listener is that port. */
		put_target(out, sv, sv->port ? sv->port : l->port_lo);
		break;
	case EK_SLOT:
		buf_put_u64(out, el->slot);
		buf_puts(out, NFT_COUNTER);
		put_place(out, pr->place);
		put_target(out, sv, sv->port);
		break;
	}
}

/* The listener maps, one per model_lclass, in its order. */
enum lmap { LM_PLAIN = LC_PLAIN, LM_IF = LC_IF, LM_ANY = LC_ANY,
	    LM_ANY_IF = LC_ANY_IF, LM_COUNT = LC_COUNT };

static void emit_listener_maps(struct ctx *c, const struct fam *f)
{
	static const char *const suffix[LM_COUNT] = {"", "_if", "_any", "_any_if"};
	struct elems maps[LM_COUNT] = {{0}};
	for (size_t i = 0; i < c->m->nroutes; i++) {
		const struct m_route *r = c->p->by_name[i]->r;
		if (r->family != f->family)
			continue;
		for (size_t j = 0; j < r->nlisteners; j++) {
			const struct m_listener *l = &r->listeners[j];
			enum lmap which = (enum lmap)model_listener_class(l);
			if (l->port_lo != l->port_hi)
				maps[which].interval = true;
			struct elem *el = elems_add(&maps[which], EK_LISTENER,
						    plan_of(c->p, r), j, 0, 0);
			elem_key(el, f->family, (l->iface ? KF_IFACE : 0) |
					      (!l->any ? KF_ADDR : 0), 0);
		}
	}
	for (int k = 0; k < LM_COUNT; k++) {
		char name[32], type[96];
		snprintf(name, sizeof(name), "listeners%s%s", f->sfx, suffix[k]);
		snprintf(type, sizeof(type), "%s%s%smeta l4proto . th dport : verdict",
			 k == LM_IF || k == LM_ANY_IF ? "iifname . " : "",
			 k == LM_PLAIN || k == LM_IF ? f->ip : "",
			 k == LM_PLAIN || k == LM_IF ? " daddr . " : "");
		/* An empty table still shows where listeners would go. */
		if (k == LM_PLAIN && maps[k].len == 0 && f->family == 4) {
			buf_printf(c->out, "\n\tmap %s {\n\t\ttypeof %s\n\t}\n", name, type);
			continue;
		}
		put_map(c->out, name, type, &maps[k], false, false);
		elems_free(&maps[k]);
	}
}

static int cmp_shared(const void *pa, const void *pb)
{
	const struct plan_route *a = *(const struct plan_route *const *)pa;
	const struct plan_route *b = *(const struct plan_route *const *)pb;
	if (a->r->family != b->r->family)
		return a->r->family < b->r->family ? -1 : 1;
	if (a->slots != b->slots)
		return a->slots < b->slots ? -1 : 1;
	return strcmp(a->r->name, b->r->name);
}

/* One map per slot count W: every slot of every route is an element of
 * its own, keyed on the listener and the slot. A weighted server owns
 * several slots, and so several elements, never a range: a concatenated
 * map with `flags interval` (the pipapo backend) refused elements that
 * overlap nothing ("File exists") once it held a few hundred (see
 * doc/nft-output.md). Routes are bucketed by W once, so this is linear
 * however many distinct W there are. */
static void emit_shared_maps(struct ctx *c, const struct fam *f)
{
	const struct plan *p = c->p;
	const struct plan_route **v = xmalloc(xmul(p->nroutes ? p->nroutes : 1, sizeof(*v)));
	size_t n = 0;
	for (size_t i = 0; i < p->nroutes; i++)
		if (p->routes[i].r->family == f->family && route_shared(p->routes[i].r))
			v[n++] = &p->routes[i];
	qsort(v, n, sizeof(*v), cmp_shared);
	struct elems servers = {0};
	for (size_t first = 0, end; first < n; first = end) {
		uint32_t w = v[first]->slots;
		size_t count = 0;
		for (end = first; end < n && v[end]->slots == w; end++)
			count += (size_t)w * v[end]->r->nlisteners;
		servers.len = 0;
		elems_reserve(&servers, count);
		for (size_t i = first; i < end; i++) {
			const struct plan_route *pr = v[i];
			const struct m_route *r = pr->r;
			for (size_t j = 0; j < r->nlisteners; j++) {
				for (size_t k = 0; k < r->nservers; k++) {
					const struct plan_server *ps = &pr->servers[k];
					for (uint32_t slot = ps->first_slot;
					     slot < ps->first_slot + ps->slots; slot++) {
						struct elem *el = elems_add(&servers, EK_SHARED, pr,
								    j, k, slot);
						elem_key(el, f->family, KF_ADDR | KF_SLOT, slot);
					}
				}
			}
		}
		char name[48], type[160];
		snprintf(name, sizeof(name), "random%s_%lu", f->sfx, (unsigned long)w);
		snprintf(type, sizeof(type), "%s daddr . meta l4proto . th dport . numgen "
			 "random mod %lu : %s daddr . th dport", f->ip, (unsigned long)w, f->ip);
		put_map(c->out, name, type, &servers, false, true);
	}
	elems_free(&servers);
	free(v);
}

/* The own-chain slot maps: by family, and whether the port is kept. */
enum { OWN_MAPS = 4 };
static const char *const own_names[OWN_MAPS] = {"slots", "slots_addr", "slots6", "slots6_addr"};

static int own_map(const struct m_route *r)
{
	return (r->family == 6 ? 2 : 0) + (r->keep_port ? 1 : 0);
}

static void add_slot(struct elems *e, const struct plan_route *pr, size_t server, uint64_t v)
{
	struct elem *el = elems_add(e, EK_SLOT, pr, 0, server, v);
	uint8_t key[4];
	for (int i = 0; i < 4; i++)
		key[i] = (uint8_t)(v >> (8 * i));
	elem_set_key(el, key, 4);
}

static void own_map_name(const struct plan_route *pr, char out[32])
{
	static const char hex[] = "0123456789abcdef";
	const char *name = own_names[own_map(pr->r)];
	size_t n = strlen(name);
	memcpy(out, name, n);
	out[n++] = '_';
	/* %03x: the plan keeps shards below 0x1000 */
	unsigned shard = pr->shard;
	if (shard >= 0x1000) {
		snprintf(out, 32, "%s_%03x", name, shard);
		return;
	}
	out[n++] = hex[shard >> 8 & 15];
	out[n++] = hex[shard >> 4 & 15];
	out[n++] = hex[shard & 15];
	out[n] = '\0';
}

static int cmp_own(const void *pa, const void *pb)
{
	const struct plan_route *a = *(const struct plan_route *const *)pa;
	const struct plan_route *b = *(const struct plan_route *const *)pb;
	int ka = own_map(a->r), kb = own_map(b->r);
	if (ka != kb)
		return ka < kb ? -1 : 1;
	if (a->shard != b->shard)
		return a->shard < b->shard ? -1 : 1;
	return strcmp(a->r->name, b->r->name);
}

/* A route with a chain of its own picks a slot from its base (the plan's:
 * a function of its name, so no other route's edit moves it) in the map
 * of its kind and shard, where every slot is an element: a plain hash map
 * loads in linear time, where an interval map of as many elements was
 * measured quadratic; and the shards keep each map small, as the kernel
 * walks a map whenever a rule of another chain binds it
 * (doc/nft-output.md). */
static void emit_own_maps(struct ctx *c)
{
	const struct plan *p = c->p;
	const struct plan_route **v = xmalloc(xmul(p->nroutes ? p->nroutes : 1, sizeof(*v)));
	size_t n = 0;
	for (size_t i = 0; i < p->nroutes; i++)
		if (!route_shared(p->routes[i].r))
			v[n++] = &p->routes[i];
	qsort(v, n, sizeof(*v), cmp_own);
	struct elems e = {0};
	for (size_t first = 0, end; first < n; first = end) {
		e.len = 0;
		for (end = first; end < n && own_map(v[end]->r) == own_map(v[first]->r) &&
				  v[end]->shard == v[first]->shard; end++) {
			const struct plan_route *pr = v[end];
			const struct m_route *r = pr->r;
			for (uint32_t slot = 0; pr->aff && slot < pr->slots; slot++)
				add_slot(&e, pr, pr->aff[slot], (uint64_t)pr->base + slot);
			for (size_t s = 0; !pr->aff && s < r->nservers; s++) {
				const struct plan_server *ps = &pr->servers[s];
				for (uint32_t k = 0; k < ps->slots; k++)
					add_slot(&e, pr, s, (uint64_t)pr->base + ps->first_slot + k);
			}
		}
		int k = own_map(v[first]->r);
		char name[32], type[96];
		own_map_name(v[first], name);
		/* Only the key's type: each rule draws with its own modulus
		 * and offset. */
		snprintf(type, sizeof(type), "numgen random mod 4294967295 : %s daddr%s",
			 k >= 2 ? "ip6" : "ip", k % 2 ? "" : " . th dport");
		put_map(c->out, name, type, &e, true, true);
	}
	elems_free(&e);
	free(v);
}

static void emit_prerouting(struct ctx *c, const bool present[2])
{
	buf_puts(c->out, "\n\tchain prerouting {\n"
			 "\t\ttype nat hook prerouting priority dstnat; policy accept;\n");
	for (int fi = 0; fi < 2; fi++) {
		const struct fam *f = &fams[fi];
		if (!present[fi])
			continue;
		bool has[LM_COUNT] = {false};
		for (size_t i = 0; i < c->m->nroutes; i++) {
			const struct m_route *r = c->p->by_name[i]->r;
			if (r->family != f->family)
				continue;
			for (size_t j = 0; j < r->nlisteners; j++) {
				const struct m_listener *l = &r->listeners[j];
				has[model_listener_class(l)] = true;
			}
		}
		char local[64] = "fib daddr type local ";
		if (c->inet)
			snprintf(local, sizeof(local), "meta nfproto %s fib daddr type local ",
				 f->nfproto);
		if (has[LM_IF])
			buf_printf(c->out, "\t\tiifname . %s daddr . meta l4proto . th dport "
				   "vmap @listeners%s_if\n", f->ip, f->sfx);
		if (has[LM_PLAIN] || f->family == 4)
			buf_printf(c->out, "\t\t%s daddr . meta l4proto . th dport vmap "
				   "@listeners%s\n", f->ip, f->sfx);
		if (has[LM_ANY_IF])
			buf_printf(c->out, "\t\t%siifname . meta l4proto . th dport vmap "
				   "@listeners%s_any_if\n", local, f->sfx);
		if (has[LM_ANY])
			buf_printf(c->out, "\t\t%smeta l4proto . th dport vmap "
				   "@listeners%s_any\n", local, f->sfx);
	}
	buf_puts(c->out, "\t}\n");
}

/* nft lists the family of a dnat in an inet table, or when it maps to an
 * address . port concatenation; elsewhere the table's family is implied. */
static void put_dnat_protos(struct ctx *c, const struct m_route *r, const char *what,
			    const char *tail, bool concat, bool counter)
{
	const char *fam = !c->inet && !concat ? "" : r->family == 6 ? "ip6 " : "ip ";
	static const enum m_proto protos[] = {M_TCP, M_UDP};
	for (size_t p = 0; p < ARRAY_LEN(protos); p++) {
		if (!(r->protos & protos[p]))
			continue;
		/* A DNAT that names a port needs the protocol matched first. */
		buf_puts(c->out, "\t\tmeta l4proto ");
		buf_puts(c->out, model_proto_name(protos[p]));
		if (counter)
			buf_puts(c->out, NFT_COUNTER);
		buf_puts(c->out, " dnat ");
		buf_puts(c->out, fam);
		buf_puts(c->out, "to ");
		buf_puts(c->out, what);
		buf_puts(c->out, tail);
		buf_putc(c->out, '\n');
	}
}

/* Addresses as 128-bit numbers, for merging allow lists. */
typedef unsigned __int128 u128;

static u128 addr_num(const struct m_addr *a)
{
	u128 v = 0;
	for (int i = 0; i < (a->family == 6 ? 16 : 4); i++)
		v = v << 8 | a->bytes[i];
	return v;
}

static void num_addr(u128 v, int family, struct m_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = family;
	int n = family == 6 ? 16 : 4;
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		a->bytes[i] = (uint8_t)v;
}

struct span {
	u128 lo, hi;
};

static int cmp_span(const void *pa, const void *pb)
{
	const struct span *a = pa, *b = pb;
	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* The addresses lo..hi as nft lists them: "A" alone, "A/N" when they are
 * one aligned block, "A-B" otherwise. */
static void put_span(struct buf *out, u128 lo, u128 hi, int family)
{
	int bits = family == 6 ? 128 : 32;
	struct m_addr a;
	num_addr(lo, family, &a);
	put_addr(out, &a);
	u128 size_m1 = hi - lo;
	int host = 0;
	while (host < bits && ((size_m1 >> host) & 1))
		host++;
	bool prefix = (host == bits || (size_m1 >> host) == 0) &&
		      (host == 128 || (lo & (((u128)1 << host) - 1)) == 0);
	if (prefix && host > 0) {
		buf_printf(out, "/%d", bits - host);
	} else if (!prefix) {
		num_addr(hi, family, &a);
		buf_putc(out, '-');
		put_addr(out, &a);
	}
}

/* An allow list as nft lists an anonymous interval set: overlapping and
 * adjacent networks merged, sorted, each printed as a prefix when it is
 * one and as a range otherwise. */
static void put_allow(struct buf *out, const struct m_route *r)
{
	int bits = r->family == 6 ? 128 : 32;
	struct span *v = xmalloc(xmul(r->nallow, sizeof(*v)));
	for (size_t i = 0; i < r->nallow; i++) {
		int host = bits - r->allow[i].prefix;
		u128 size_m1 = host == 128 ? ~(u128)0 : (((u128)1 << host) - 1);
		v[i].lo = addr_num(&r->allow[i]);
		v[i].hi = v[i].lo + size_m1;
	}
	qsort(v, r->nallow, sizeof(*v), cmp_span);
	size_t n = 0;
	for (size_t i = 0; i < r->nallow; i++) {
		if (n > 0 && (v[i].lo <= v[n - 1].hi || v[i].lo - 1 == v[n - 1].hi)) {
			if (v[i].hi > v[n - 1].hi)
				v[n - 1].hi = v[i].hi;
			continue;
		}
		v[n++] = v[i];
	}
	if (n > 1)
		buf_puts(out, "{ ");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_puts(out, ", ");
		put_span(out, v[i].lo, v[i].hi, r->family);
	}
	if (n > 1)
		buf_puts(out, " }");
	free(v);
}

/* An snat address, or a range as nft lists it; a range picks its ports
 * at random. */
static void put_snat_range(struct buf *out, const struct m_snat *sn)
{
	u128 lo = addr_num(&sn->addr), hi = addr_num(&sn->last);
	put_span(out, lo, hi, sn->addr.family);
	if (lo != hi)
		buf_puts(out, " fully-random");
}

static void emit_own_chain(struct ctx *c, const struct plan_route *pr)
{
	const struct m_route *r = pr->r;
	const char *ip = r->family == 6 ? "ip6" : "ip";
	buf_puts(c->out, "\n\tchain route_");
	buf_puts(c->out, r->name);
	buf_puts(c->out, " {\n");
	/* Others than the allowed clients leave before the mark: nothing
	 * of this table may touch their connections. */
	if (r->allow) {
		buf_printf(c->out, "\t\t%s saddr != ", ip);
		put_allow(c->out, r);
		buf_puts(c->out, " return");
		put_place(c->out, pr->place);
		buf_putc(c->out, '\n');
	}
	put_mark_set(c->out, r->snat_cls);
	struct buf *pick = &c->pick, *tail = &c->tail;
	pick->len = tail->len = 0;
	if (pr->aff)
		/* The client's address picks the slot, the same on every
		 * gateway and for every protocol of the route. */
		buf_printf(pick, "jhash %s saddr mod %lu seed 0x%x", ip,
			   (unsigned long)pr->slots, c->p->aff_seed);
	else {
		buf_puts(pick, r->balance == M_ROUNDROBIN ? "numgen inc mod "
							  : "numgen random mod ");
		buf_put_u64(pick, pr->slots);
	}
	if (pr->base) {
		buf_puts(pick, " offset ");
		buf_put_u64(pick, pr->base);
	}
	char map[32];
	own_map_name(pr, map);
	buf_puts(tail, " map @");
	buf_puts(tail, map);
	put_place(tail, pr->place);
	/* Each rule counts for itself: strict rotation per protocol. */
	put_dnat_protos(c, r, buf_cstr(pick), buf_cstr(tail), !r->keep_port, false);
	buf_puts(c->out, "\t}\n");
}

static void emit_postrouting(struct ctx *c, const bool present[2])
{
	const struct model *m = c->m;
	buf_puts(c->out, "\n\tchain postrouting {\n"
			 "\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
	for (size_t k = SNAT_CLASS_MASQUERADE; k < m->nsnats; k++) {
		const struct m_snat *sn = &m->snats[k];
		if (!sn->kind)
			continue;       /* a class no setting has */
		if (!(present[0] && plan_family_uses_snat(c->p, 4, sn->cls)) &&
		    !(present[1] && plan_family_uses_snat(c->p, 6, sn->cls)))
			continue;
		buf_printf(c->out, "\t\tct mark & 0x%08x == 0x%08x ", PLAN_MARK_MASK,
			   PLAN_MARK_OURS | sn->cls << 16);
		if (sn->kind == M_SNAT_MASQUERADE) {
			buf_puts(c->out, "masquerade");
		} else {
			buf_printf(c->out, "snat %sto ",
				   c->inet ? (sn->addr.family == 6 ? "ip6 " : "ip ") : "");
			put_snat_range(c->out, sn);
		}
		put_place(c->out, c->p->snat_place[k]);
		buf_putc(c->out, '\n');
	}
	buf_puts(c->out, "\t}\n");
}

/* ---- --coexist ----------------------------------------------------------- */

/* A guarded server endpoint, sorted as nft lists a hash set. */
struct gelem {
	uint8_t key[19];
	uint8_t keylen;
	size_t order;          /* in the guards: route name, then declared */
	const struct coexist_guard *g;
};

static int cmp_gelem(const void *pa, const void *pb)
{
	const struct gelem *a = pa, *b = pb;
	for (size_t i = a->keylen; i-- > 0;)
		if (a->key[i] != b->key[i])
			return a->key[i] < b->key[i] ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

/* The guards of family f as a set, one element per endpoint (the first
 * route by name names it); returns false when there are none. */
static bool emit_guard_set(struct ctx *c, const struct fam *f)
{
	const struct coexist *cx = c->cx;
	struct gelem *v = xmalloc(xmul(cx->nguards ? cx->nguards : 1, sizeof(*v)));
	size_t n = 0;
	bool interval = false;
	for (size_t i = 0; i < cx->nguards; i++) {
		const struct coexist_guard *g = &cx->guards[i];
		if (g->pr->r->family != f->family)
			continue;
		struct gelem *e = &v[n++];
		size_t len = f->family == 6 ? 16 : 4, k = len;
		memcpy(e->key, g->addr->bytes, len);
		e->key[k++] = proto_num(g->proto);
		e->key[k++] = (uint8_t)(g->port_lo >> 8);
		e->key[k++] = (uint8_t)g->port_lo;
		e->keylen = (uint8_t)k;
		e->order = i;
		e->g = g;
		if (g->port_lo != g->port_hi)
			interval = true;
	}
	if (n == 0) {
		free(v);
		return false;
	}
	/* An interval set lists in insertion order, a hash set by key. */
	if (!interval)
		qsort(v, n, sizeof(*v), cmp_gelem);
	buf_printf(c->out, "\n\tset servers%s {\n\t\ttypeof %s daddr . meta l4proto . "
		   "th dport\n", f->sfx, f->ip);
	if (interval)
		buf_puts(c->out, "\t\tflags interval\n");
	buf_puts(c->out, "\t\telements = { ");
	size_t written = 0;
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = v[j].g->proto == v[i].g->proto &&
			      v[j].g->port_lo == v[i].g->port_lo &&
			      v[j].g->port_hi == v[i].g->port_hi &&
			      memcmp(v[j].key, v[i].key, v[i].keylen) == 0;
		if (dup)
			continue;
		const struct coexist_guard *g = v[i].g;
		if (written++)
			buf_puts(c->out, ",\n\t\t\t     ");
		put_addr(c->out, g->addr);
		buf_printf(c->out, " . %s . ", model_proto_name(g->proto));
		put_range(c->out, g->port_lo, g->port_hi);
		put_place(c->out, g->pr->place);
	}
	buf_puts(c->out, " }\n\t}\n");
	free(v);
	return true;
}

/* --coexist: the forward chain drops nothing but new connections
 * addressed to a declared server itself (DNATed by nobody: a port Docker
 * publishes to it is Docker's business), and has policy accept: in
 * nftables any drop is final for every table, an accept only ends its
 * own base chain. */
static void emit_forward_coexist(struct ctx *c, const bool guarded[2])
{
	if (c->m->forward_accept || !(guarded[0] || guarded[1]))
		return;
	buf_printf(c->out, "\n\tchain forward {\n"
		   "\t\ttype filter hook forward priority filter; policy accept;\n"
		   "\t\tct status dnat ct mark & 0x%08x == 0x%08x accept comment \"%s\"\n",
		   PLAN_MARK_OURS, PLAN_MARK_OURS, c->cx->routed);
	for (int fi = 0; fi < 2; fi++)
		if (guarded[fi])
			buf_printf(c->out, "\t\tct state new ct status ! dnat %s daddr . meta l4proto "
				   ". th dport @servers%s drop comment \"%s\"\n", fams[fi].ip,
				   fams[fi].sfx, c->cx->guard);
	buf_puts(c->out, "\t}\n");
}

static void emit_forward(struct ctx *c)
{
	if (c->m->forward_accept)
		return;
	buf_printf(c->out, "\n\tchain forward {\n"
		   "\t\ttype filter hook forward priority filter; policy drop;\n"
		   "\t\tct state established,related accept comment \"%s\"\n"
		   "\t\tct status dnat ct mark & 0x%08x == 0x%08x accept comment \"%s\"\n"
		   "\t}\n", c->p->policy_place[0], PLAN_MARK_OURS, PLAN_MARK_OURS,
		   c->p->policy_place[1]);
}

static void emit_table(const struct plan *p, const struct coexist *cx, const char *table,
		       struct buf *out)
{
	const struct model *m = p->m;
	struct ctx c = {.p = p, .m = m, .out = out, .cx = cx};
	buf_init(&c.pick);
	buf_init(&c.tail);
	bool present[2] = {model_family_routes(m, 4) > 0 || m->nroutes == 0,
			   model_family_routes(m, 6) > 0};
	c.inet = present[0] && present[1];
	const char *family = c.inet ? "inet" : present[1] ? "ip6" : "ip";

	report_header_coexist(p, 0, cx != NULL, out, "# ");
	if (cx)
		buf_puts(out, "# coexist: no drop policy; drops only new connections addressed "
			 "to a declared server itself (not DNATed)\n");
	/* Delete the table in every family: a file that moves from ip to inet
	 * must not leave the old table behind. */
	static const char *const all[] = {"ip", "ip6", "inet"};
	for (size_t i = 0; i < ARRAY_LEN(all); i++)
		buf_printf(out, "table %s %s\ndelete table %s %s\n", all[i], table,
			   all[i], table);
	struct hash64 gen;
	buf_hash_begin(out, &gen);
	buf_printf(out, "table %s %s {", family, table);

	struct group *groups = xmalloc(xmul(m->nroutes ? m->nroutes : 1, sizeof(*groups)));
	size_t ngroups = 0;
	for (size_t i = 0; i < m->nroutes; i++) {
		const struct m_route *r = &m->routes[i];
		if (route_shared(r))
			groups[ngroups++] = (struct group){r->family, p->routes[i].slots,
							   r->snat_cls};
	}
	qsort(groups, ngroups, sizeof(*groups), cmp_group);
	size_t n = 0;
	for (size_t i = 0; i < ngroups; i++)
		if (n == 0 || cmp_group(&groups[n - 1], &groups[i]) != 0)
			groups[n++] = groups[i];
	ngroups = n;

	for (int fi = 0; fi < 2; fi++)
		if (present[fi])
			emit_listener_maps(&c, &fams[fi]);
	for (int fi = 0; fi < 2; fi++)
		if (present[fi])
			emit_shared_maps(&c, &fams[fi]);
	emit_own_maps(&c);
	bool guarded[2] = {false, false};
	for (int fi = 0; cx && !m->forward_accept && fi < 2; fi++)
		if (present[fi])
			guarded[fi] = emit_guard_set(&c, &fams[fi]);

	emit_prerouting(&c, present);
	for (size_t g = 0; g < ngroups; g++) {
		const struct fam *f = &fams[groups[g].family == 6];
		unsigned long w = (unsigned long)groups[g].slots;
		buf_printf(out, "\n\tchain random%s_%lu_c%u {\n", f->sfx, w, groups[g].cls);
		put_mark_set(out, groups[g].cls);
		buf_printf(out, "\t\tmeta l4proto { tcp, udp } dnat %s to %s daddr . "
			   "meta l4proto . th dport . numgen random mod %lu map @random%s_%lu\n"
			   "\t}\n", f->ip, f->ip, w, f->sfx, w);
	}
	for (size_t i = 0; i < m->nroutes; i++) {
		const struct m_route *r = p->by_name[i]->r;
		if (!route_shared(r))
			emit_own_chain(&c, p->by_name[i]);
	}
	emit_postrouting(&c, present);
	if (cx)
		emit_forward_coexist(&c, guarded);
	else
		emit_forward(&c);
	buf_printf(out, "\n\tchain " GEN_NFT_CHAIN "%016" PRIx64 " {\n\t}\n}\n",
		   buf_hash_end(out));
	buf_free(&c.pick);
	buf_free(&c.tail);

	free(groups);
}

void emit_nft(const struct plan *p, const char *table, struct buf *out)
{
	emit_table(p, NULL, table, out);
}

void emit_nft_coexist(const struct plan *p, const struct coexist *cx, const char *table,
		      struct buf *out)
{
	emit_table(p, cx, table, out);
}
