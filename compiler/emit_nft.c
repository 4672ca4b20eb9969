/* emit_nft.c: the nft target. See doc/nft-output.md.
 *
 * One table, replaced atomically by `nft -f`. The cost of a new connection
 * is two map lookups whatever the number of routes: the listeners verdict
 * map sends it to a chain shared by every route with the same slot count
 * and snat class, which picks the server in one shared map keyed on the
 * listener and `numgen random mod W`. Loading is linear: no anonymous map
 * per route (measured quadratic), no chain per route for random balance.
 * Roundrobin needs a counter per route, so those routes get a chain each.
 *
 * The text is what `nft list ruleset` prints back, elements included: nft
 * sorts the elements of a hash map by their key bytes read as a
 * little-endian number (src/mergesort.c), so we sort the same way; interval
 * maps of concatenations list in insertion order. */
#include "emit_nft.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "emit_ipt.h"
#include "report.h"

/* A map element as printed, with the key bytes nft sorts it by. */
struct elem {
	uint8_t key[16];
	size_t keylen;
	char *text;
};

struct elems {
	struct elem *v;
	size_t len, cap;
	bool interval;
};

static void elems_add(struct elems *e, const uint8_t *key, size_t keylen,
		      struct buf *text)
{
	if (e->len == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 64;
		e->v = xrealloc(e->v, xmul(e->cap, sizeof(*e->v)));
	}
	struct elem *el = &e->v[e->len++];
	memset(el->key, 0, sizeof(el->key));
	memcpy(el->key, key, keylen);
	el->keylen = keylen;
	el->text = xstrdup(buf_cstr(text));
	text->len = 0;
}

static void elems_free(struct elems *e)
{
	for (size_t i = 0; i < e->len; i++)
		free(e->v[i].text);
	free(e->v);
	memset(e, 0, sizeof(*e));
}

/* mpz_cmp of the key imported host-endian (x86: little-endian): the last
 * byte weighs most. Keys of one map have one length. */
static int cmp_elem(const void *pa, const void *pb)
{
	const struct elem *a = pa, *b = pb;
	for (size_t i = a->keylen; i-- > 0;)
		if (a->key[i] != b->key[i])
			return a->key[i] < b->key[i] ? -1 : 1;
	return 0;
}

/* Writes `{ e1, e2 }` with nft's line breaks: concatenations one per line,
 * integers five per line (src/expression.c, calculate_delim). */
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
		buf_puts(out, e->v[i].text);
		count++;
	}
	buf_puts(out, " }\n");
}

static const char *proto_name(enum ast_proto p)
{
	return p == PROTO_TCP ? "tcp" : "udp";
}

static uint8_t proto_num(enum ast_proto p)
{
	return p == PROTO_TCP ? 6 : 17;
}

/* Key bytes as nft exports each part: address and port in network order,
 * the protocol one byte, numgen's value in host order. */
static size_t listener_key(const struct m_listener *l, uint32_t slot, bool with_slot,
			   uint8_t key[16])
{
	memcpy(key, l->addr.bytes, 4);
	key[4] = proto_num(l->proto);
	key[5] = (uint8_t)(l->port_lo >> 8);
	key[6] = (uint8_t)l->port_lo;
	if (!with_slot)
		return 7;
	key[7] = (uint8_t)slot;
	key[8] = (uint8_t)(slot >> 8);
	key[9] = (uint8_t)(slot >> 16);
	key[10] = (uint8_t)(slot >> 24);
	return 11;
}

static void put_place(struct buf *out, const struct loc *loc, const char *route)
{
	buf_printf(out, " comment \"%s:%d: route %s\"", loc->file->base,
		   loc->first_line, route);
}

/* Slots of a route after dividing the weights by their gcd. */
static uint64_t route_gcd(const struct m_route *r)
{
	uint64_t g = 0;
	for (size_t i = 0; i < r->nservers; i++)
		if (!r->servers[i].drain)
			g = balance_gcd(r->servers[i].weight, g);
	return g ? g : 1;
}

static bool route_weighted(const struct m_route *r)
{
	unsigned w = 0;
	for (size_t i = 0; i < r->nservers; i++) {
		if (r->servers[i].drain)
			continue;
		if (w && r->servers[i].weight != w)
			return true;
		w = r->servers[i].weight;
	}
	return false;
}

static uint64_t route_slots(const struct m_route *r)
{
	return model_active_weight(r) / route_gcd(r);
}

/* The random chains: one per (slot count, snat class) in use. */
struct group {
	uint64_t slots;
	unsigned cls;
};

static int cmp_group(const void *pa, const void *pb)
{
	const struct group *a = pa, *b = pb;
	if (a->slots != b->slots)
		return a->slots < b->slots ? -1 : 1;
	return a->cls < b->cls ? -1 : a->cls > b->cls;
}

static void put_slot_range(struct buf *out, uint64_t lo, uint64_t hi)
{
	if (lo == hi)
		buf_printf(out, "%lu", (unsigned long)lo);
	else
		buf_printf(out, "%lu-%lu", (unsigned long)lo, (unsigned long)hi);
}

static void put_server(struct buf *out, const struct m_server *sv)
{
	char addr[64];
	model_addr_str(&sv->addr, addr);
	buf_printf(out, " : %s . %u", addr, sv->port);
}

static void put_mark_set(struct buf *out, unsigned cls)
{
	unsigned mark = EMIT_IPT_MARK_OURS | cls << 16;
	/* nft folds "and 0xff00ffff or M" into this form when it lists. */
	buf_printf(out, "\t\tct mark set ct mark & 0x%08x | 0x%08x\n",
		   (~EMIT_IPT_MARK_MASK | mark) & 0xffffffffu, mark);
}

void emit_nft(const struct model *m, const char *table, struct buf *out)
{
	report_header(m, out, "# ");
	buf_printf(out, "table ip %s\ndelete table ip %s\ntable ip %s {\n", table,
		   table, table);

	/* Group the random routes by slot count and snat class. */
	struct group *groups = xmalloc(xmul(m->nroutes ? m->nroutes : 1, sizeof(*groups)));
	size_t ngroups = 0;
	uint64_t rr_total = 0;
	for (size_t i = 0; i < m->nroutes; i++) {
		const struct m_route *r = &m->routes[i];
		if (r->balance == BALANCE_ROUNDROBIN)
			rr_total += route_slots(r);
		else
			groups[ngroups++] = (struct group){route_slots(r), r->snat_cls};
	}
	qsort(groups, ngroups, sizeof(*groups), cmp_group);
	size_t n = 0;
	for (size_t i = 0; i < ngroups; i++)
		if (n == 0 || cmp_group(&groups[n - 1], &groups[i]) != 0)
			groups[n++] = groups[i];
	ngroups = n;

	struct buf text;
	buf_init(&text);
	uint8_t key[16];

	/* The listeners: where each new connection goes. */
	struct elems listeners = {0};
	for (size_t i = 0; i < m->nroutes; i++) {
		const struct m_route *r = &m->routes[i];
		for (size_t j = 0; j < r->nlisteners; j++) {
			const struct m_listener *l = &r->listeners[j];
			char addr[64];
			model_addr_str(&l->addr, addr);
			buf_printf(&text, "%s . %s . %u", addr, proto_name(l->proto), l->port_lo);
			put_place(&text, &l->loc, r->name);
			if (r->balance == BALANCE_ROUNDROBIN)
				buf_printf(&text, " : goto rr_%s", r->name);
			else
				buf_printf(&text, " : goto random_%lu_c%u",
					   (unsigned long)route_slots(r), r->snat_cls);
			elems_add(&listeners, key, listener_key(l, 0, false, key), &text);
		}
	}
	buf_puts(out, "\tmap listeners {\n"
		      "\t\ttypeof ip daddr . meta l4proto . th dport : verdict\n");
	if (listeners.len)
		put_elements(out, &listeners, false);
	buf_puts(out, "\t}\n");
	elems_free(&listeners);

	/* One map of servers per slot count, shared by the classes. */
	for (size_t g = 0; g < ngroups; g++) {
		if (g > 0 && groups[g].slots == groups[g - 1].slots)
			continue;
		uint64_t w = groups[g].slots;
		struct elems servers = {0};
		for (size_t i = 0; i < m->nroutes; i++) {
			const struct m_route *r = &m->routes[i];
			if (r->balance != BALANCE_RANDOM || route_slots(r) != w)
				continue;
			servers.interval |= route_weighted(r);
		}
		for (size_t i = 0; i < m->nroutes; i++) {
			const struct m_route *r = &m->routes[i];
			if (r->balance != BALANCE_RANDOM || route_slots(r) != w)
				continue;
			uint64_t gcd = route_gcd(r);
			for (size_t j = 0; j < r->nlisteners; j++) {
				const struct m_listener *l = &r->listeners[j];
				char addr[64];
				model_addr_str(&l->addr, addr);
				uint64_t slot = 0;
				for (size_t k = 0; k < r->nservers; k++) {
					const struct m_server *sv = &r->servers[k];
					if (sv->drain)
						continue;
					uint64_t span = sv->weight / gcd;
					buf_printf(&text, "%s . %s . %u . ", addr,
						   proto_name(l->proto), l->port_lo);
					put_slot_range(&text, slot, slot + span - 1);
					put_place(&text, &sv->loc, r->name);
					put_server(&text, sv);
					elems_add(&servers, key,
						  listener_key(l, (uint32_t)slot, true, key), &text);
					slot += span;
				}
			}
		}
		buf_printf(out, "\n\tmap random_%lu {\n\t\ttypeof ip daddr . meta l4proto . "
			   "th dport . numgen random mod %lu : ip daddr . th dport\n",
			   (unsigned long)w, (unsigned long)w);
		if (servers.interval)
			buf_puts(out, "\t\tflags interval\n");
		put_elements(out, &servers, false);
		buf_puts(out, "\t}\n");
		elems_free(&servers);
	}

	/* Roundrobin: one integer-keyed map, each route a run of slots. */
	if (rr_total > 0) {
		struct elems slots = {.interval = true};
		uint64_t base = 0;
		for (size_t i = 0; i < m->nroutes; i++) {
			const struct m_route *r = &m->routes[i];
			if (r->balance != BALANCE_ROUNDROBIN)
				continue;
			uint64_t gcd = route_gcd(r);
			for (size_t k = 0; k < r->nservers; k++) {
				const struct m_server *sv = &r->servers[k];
				if (sv->drain)
					continue;
				uint64_t span = sv->weight / gcd;
				put_slot_range(&text, base, base + span - 1);
				put_place(&text, &sv->loc, r->name);
				put_server(&text, sv);
				elems_add(&slots, key, 0, &text);
				base += span;
			}
		}
		buf_printf(out, "\n\tmap roundrobin {\n\t\ttypeof numgen inc mod %lu : "
			   "ip daddr . th dport\n\t\tflags interval\n",
			   (unsigned long)rr_total);
		put_elements(out, &slots, true);
		buf_puts(out, "\t}\n");
		elems_free(&slots);
	}

	buf_puts(out, "\n\tchain prerouting {\n"
		      "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
		      "\t\tip daddr . meta l4proto . th dport vmap @listeners\n"
		      "\t}\n");

	for (size_t g = 0; g < ngroups; g++) {
		unsigned long w = (unsigned long)groups[g].slots;
		buf_printf(out, "\n\tchain random_%lu_c%u {\n", w, groups[g].cls);
		put_mark_set(out, groups[g].cls);
		buf_printf(out, "\t\tmeta l4proto { tcp, udp } dnat ip to ip daddr . "
			   "meta l4proto . th dport . numgen random mod %lu map @random_%lu\n"
			   "\t}\n", w, w);
	}

	uint64_t base = 0;
	for (size_t i = 0; i < m->nroutes; i++) {
		const struct m_route *r = &m->routes[i];
		if (r->balance != BALANCE_ROUNDROBIN)
			continue;
		uint64_t slots = route_slots(r);
		buf_printf(out, "\n\tchain rr_%s {\n", r->name);
		put_mark_set(out, r->snat_cls);
		static const enum ast_proto protos[] = {PROTO_TCP, PROTO_UDP};
		for (size_t p = 0; p < ARRAY_LEN(protos); p++) {
			if (!(r->protos & protos[p]))
				continue;
			/* Each rule counts for itself: strict rotation per route. */
			buf_printf(out, "\t\tmeta l4proto %s dnat ip to numgen inc mod %lu",
				   proto_name(protos[p]), (unsigned long)slots);
			if (base)
				buf_printf(out, " offset %lu", (unsigned long)base);
			buf_puts(out, " map @roundrobin");
			put_place(out, &r->loc, r->name);
			buf_putc(out, '\n');
		}
		buf_puts(out, "\t}\n");
		base += slots;
	}

	buf_puts(out, "\n\tchain postrouting {\n"
		      "\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
	for (size_t c = SNAT_CLASS_MASQUERADE; c < m->nsnats; c++) {
		const struct m_snat *sn = &m->snats[c];
		if (!sn->used)
			continue;
		buf_printf(out, "\t\tct mark & 0x%08x == 0x%08x ", EMIT_IPT_MARK_MASK,
			   EMIT_IPT_MARK_OURS | sn->cls << 16);
		if (sn->kind == SNAT_MASQUERADE) {
			buf_puts(out, "masquerade");
			if (sn->loc.file)
				buf_printf(out, " comment \"%s:%d: snat masquerade\"",
					   sn->loc.file->base, sn->loc.first_line);
			else
				buf_printf(out, " comment \"%s: snat masquerade (default)\"",
					   m->source);
		} else {
			char addr[64];
			model_addr_str(&sn->addr, addr);
			buf_printf(out, "snat to %s comment \"%s:%d: snat %s\"", addr,
				   sn->loc.file->base, sn->loc.first_line, addr);
		}
		buf_putc(out, '\n');
	}
	buf_puts(out, "\t}\n");

	if (!m->forward_accept) {
		char place[300];
		if (m->policy_explicit)
			snprintf(place, sizeof(place), "%s:%d: policy forward drop",
				 m->policy_loc.file->base, m->policy_loc.first_line);
		else
			snprintf(place, sizeof(place), "%s: policy forward drop (default)",
				 m->source);
		buf_printf(out, "\n\tchain forward {\n"
			   "\t\ttype filter hook forward priority filter; policy drop;\n"
			   "\t\tct state established,related accept comment \"%s: replies and related\"\n"
			   "\t\tct status dnat ct mark & 0x%08x == 0x%08x accept comment \"%s: routed connections\"\n"
			   "\t}\n", place, EMIT_IPT_MARK_OURS, EMIT_IPT_MARK_OURS, place);
	}
	buf_puts(out, "}\n");
	buf_free(&text);
	free(groups);
}
