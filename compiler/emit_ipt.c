/* emit_ipt.c: see emit_ipt.h and doc/iptables-output.md.
 *
 * Every line is printed as iptables-save would print it after a load:
 * option order, "/32", "-m tcp", the kernel's value of a probability. A
 * change here must keep tests/kernel/roundtrip.sh byte-identical. */
#include "emit_ipt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "chain.h"
#include "report.h"

void emit_ipt_quote(struct buf *out, const char *text)
{
	/* As xtables_save_string(): bare when only these characters. */
	static const char plain[] = "_-0123456789abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	size_t n = strspn(text, plain);
	buf_putc(out, ' ');
	if (n > 0 && text[n] == '\0') {
		buf_puts(out, text);
		return;
	}
	buf_putc(out, '"');
	for (const char *p = text; *p; p++) {
		if (*p == '"' || *p == '\\' || *p == '\'')
			buf_putc(out, '\\');
		buf_putc(out, *p);
	}
	buf_putc(out, '"');
}

static void comment(struct buf *out, const char *fmt, ...) TRC_PRINTF(2, 3);

/* ` -m comment --comment "..."`, formatted. */
static void comment(struct buf *out, const char *fmt, ...)
{
	struct buf text;
	buf_init(&text);
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&text, fmt, ap);
	va_end(ap);
	buf_puts(out, " -m comment --comment");
	emit_ipt_quote(out, buf_cstr(&text));
	buf_free(&text);
}

static const char *proto_name(enum ast_proto p)
{
	return p == PROTO_TCP ? "tcp" : "udp";
}

static unsigned mark_of(unsigned cls)
{
	return EMIT_IPT_MARK_OURS | cls << 16;
}

static void emit_filter(const struct model *m, struct buf *out)
{
	buf_puts(out, "*filter\n:INPUT ACCEPT [0:0]\n");
	buf_printf(out, ":FORWARD %s [0:0]\n", m->forward_accept ? "ACCEPT" : "DROP");
	buf_puts(out, ":OUTPUT ACCEPT [0:0]\n");
	if (!m->forward_accept) {
		char place[300];
		if (m->policy_explicit)
			snprintf(place, sizeof(place), "%s:%d: policy forward drop",
				 m->policy_loc.file->base, m->policy_loc.first_line);
		else
			snprintf(place, sizeof(place), "%s: policy forward drop (default)",
				 m->source);
		buf_puts(out, "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED");
		comment(out, "%s: replies and related", place);
		buf_puts(out, " -j ACCEPT\n");
		buf_printf(out, "-A FORWARD -m conntrack --ctstate DNAT -m connmark "
			   "--mark 0x%x/0x%x", EMIT_IPT_MARK_OURS, EMIT_IPT_MARK_OURS);
		comment(out, "%s: routed connections", place);
		buf_puts(out, " -j ACCEPT\n");
	}
	buf_puts(out, "COMMIT\n");
}

/* A user chain of the nat table: a route's, or (affinity) a server's. */
struct chain {
	char name[CHAIN_MAX_LEN + 1];
	const struct m_route *route;
	size_t server;        /* index into route->servers for a server chain */
	bool is_server;
};

static int cmp_chain(const void *pa, const void *pb)
{
	const struct chain *a = pa, *b = pb;
	return strcmp(a->name, b->name);
}

/* Affinity needs a chain per server, to remember the client there. A '.'
 * never occurs in route names, so these never meet a route's chain. */
static void server_chain(const struct m_route *r, size_t i, char *out)
{
	char name[96];
	snprintf(name, sizeof(name), "%s.s%zu", r->name, i);
	chain_name(name, out);
}

static void put_addr(struct buf *out, const struct m_addr *a)
{
	char txt[64];
	model_addr_str(a, txt);
	buf_puts(out, txt);
}

/* --to-destination: "A:P", "[A6]:P", or the address alone to keep the port. */
static void put_destination(struct buf *out, const struct m_server *sv)
{
	if (sv->port == 0) {
		put_addr(out, &sv->addr);
	} else if (sv->addr.family == 6) {
		buf_putc(out, '[');
		put_addr(out, &sv->addr);
		buf_printf(out, "]:%u", sv->port);
	} else {
		put_addr(out, &sv->addr);
		buf_printf(out, ":%u", sv->port);
	}
}

static void emit_dnat(struct buf *out, const char *chain, const struct m_route *r,
		      enum ast_proto proto, const struct m_server *sv,
		      const char *match)
{
	buf_printf(out, "-A %s -p %s", chain, proto_name(proto));
	comment(out, "%s:%d: route %s", sv->loc.file->base, sv->loc.first_line, r->name);
	buf_printf(out, "%s -j DNAT --to-destination ", match);
	put_destination(out, sv);
	buf_putc(out, '\n');
}

static const char *recent_mask(const struct m_route *r)
{
	return r->family == 6 ? "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
			      : "255.255.255.255";
}

/* The rule that picks server i: a DNAT for protocol `proto`, or, with
 * affinity, a jump to the server's chain, which DNATs every protocol. */
static void emit_pick(struct buf *out, const struct m_route *r, size_t i,
		      enum ast_proto proto, const char *match)
{
	const struct m_server *sv = &r->servers[i];
	if (!r->affinity) {
		emit_dnat(out, r->chain, r, proto, sv, match);
		return;
	}
	char sc[CHAIN_MAX_LEN + 1];
	server_chain(r, i, sc);
	buf_printf(out, "-A %s", r->chain);
	comment(out, "%s:%d: route %s", sv->loc.file->base, sv->loc.first_line, r->name);
	buf_printf(out, "%s -j %s\n", match, sc);
}

static void emit_route_chain(struct buf *out, const struct m_route *r)
{
	unsigned mark = mark_of(r->snat_cls);
	buf_printf(out, "-A %s", r->chain);
	comment(out, "%s:%d: route %s", r->loc.file->base, r->loc.first_line, r->name);
	buf_printf(out, " -j CONNMARK --set-xmark 0x%x/0x%x\n", mark, EMIT_IPT_MARK_MASK);

	/* A client seen within the timeout goes back to its server, as
	 * kube-proxy does it. */
	if (r->affinity) {
		for (size_t i = 0; i < r->nservers; i++) {
			const struct m_server *sv = &r->servers[i];
			if (sv->drain)
				continue;
			char sc[CHAIN_MAX_LEN + 1];
			server_chain(r, i, sc);
			buf_printf(out, "-A %s", r->chain);
			comment(out, "%s:%d: route %s", sv->loc.file->base,
				sv->loc.first_line, r->name);
			buf_printf(out, " -m recent --rcheck --seconds %u --reap --name %s "
				   "--mask %s --rsource -j %s\n", r->affinity, sc,
				   recent_mask(r), sc);
		}
	}

	size_t last = 0;
	for (size_t i = 0; i < r->nservers; i++)
		if (!r->servers[i].drain)
			last = i;
	uint64_t g = model_weight_gcd(r);
	/* The picks, once per protocol (each rule counts for its own); with
	 * affinity once, as the server chains DNAT every protocol. */
	static const enum ast_proto protos[] = {PROTO_TCP, PROTO_UDP};
	for (size_t p = 0; p < ARRAY_LEN(protos); p++) {
		if (!(r->protos & protos[p]) || (r->affinity && p > 0 && (r->protos & PROTO_TCP)))
			continue;
		uint64_t rest = model_active_weight(r);
		uint64_t slots = rest / g;
		for (size_t i = 0; i < r->nservers; i++) {
			const struct m_server *sv = &r->servers[i];
			if (sv->drain)
				continue;
			char match[96] = "";
			if (r->balance == BALANCE_RANDOM) {
				if (i != last) {
					char prob[16];
					balance_q31_str(balance_q31(sv->weight, rest), prob);
					snprintf(match, sizeof(match), " -m statistic --mode "
						 "random --probability %s", prob);
				}
				emit_pick(out, r, i, protos[p], match);
				rest -= sv->weight;
				continue;
			}
			/* roundrobin: slot j of S matches every (S-j+1)-th. */
			for (uint64_t k = sv->weight / g; k > 0; k--, slots--) {
				match[0] = '\0';
				if (slots > 1)
					snprintf(match, sizeof(match), " -m statistic --mode "
						 "nth --every %lu --packet 0", (unsigned long)slots);
				emit_pick(out, r, i, protos[p], match);
			}
		}
	}
}

/* A server's chain under affinity: remember the client, then DNAT. */
static void emit_server_chain(struct buf *out, const struct chain *c)
{
	const struct m_route *r = c->route;
	const struct m_server *sv = &r->servers[c->server];
	static const enum ast_proto protos[] = {PROTO_TCP, PROTO_UDP};
	for (size_t p = 0; p < ARRAY_LEN(protos); p++) {
		if (!(r->protos & protos[p]))
			continue;
		char match[160];
		snprintf(match, sizeof(match), " -m recent --set --name %s --mask %s "
			 "--rsource", c->name, recent_mask(r));
		emit_dnat(out, c->name, r, protos[p], sv, match);
	}
}

static void emit_dispatch(struct buf *out, const struct m_route *r,
			  const struct m_listener *l, const struct m_addr *from)
{
	const char *pn = proto_name(l->proto);
	const char *host = r->family == 6 ? "/128" : "/32";
	buf_puts(out, "-A PREROUTING");
	/* iptables-save omits a /0 source: so do we. */
	if (from && from->prefix > 0) {
		buf_puts(out, " -s ");
		put_addr(out, from);
		buf_printf(out, "/%d", from->prefix);
	}
	if (!l->any) {
		buf_puts(out, " -d ");
		put_addr(out, &l->addr);
		buf_puts(out, host);
	}
	if (l->iface)
		buf_printf(out, " -i %s", l->iface);
	buf_printf(out, " -p %s", pn);
	if (l->any)
		buf_puts(out, " -m addrtype --dst-type LOCAL");
	buf_printf(out, " -m %s --dport %u", pn, l->port_lo);
	if (l->port_hi != l->port_lo)
		buf_printf(out, ":%u", l->port_hi);
	if (r->comment)
		comment(out, "%s:%d: route %s: %s", l->loc.file->base,
			l->loc.first_line, r->name, r->comment);
	else
		comment(out, "%s:%d: route %s", l->loc.file->base, l->loc.first_line,
			r->name);
	buf_printf(out, " -j %s\n", r->chain);
}

static void emit_nat(const struct model *m, int family, struct buf *out)
{
	buf_puts(out, "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n"
		      ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n");
	/* User chains in the order iptables-save lists them: by strcmp. */
	struct vec chains = {0};
	for (size_t i = 0; i < m->nroutes; i++) {
		const struct m_route *r = &m->routes[i];
		if (r->family != family)
			continue;
		struct chain *c = xcalloc(1, sizeof(*c));
		snprintf(c->name, sizeof(c->name), "%s", r->chain);
		c->route = r;
		vec_push(&chains, c);
		for (size_t j = 0; r->affinity && j < r->nservers; j++) {
			if (r->servers[j].drain)
				continue;
			c = xcalloc(1, sizeof(*c));
			server_chain(r, j, c->name);
			c->route = r;
			c->server = j;
			c->is_server = true;
			vec_push(&chains, c);
		}
	}
	struct chain *sorted = xmalloc(xmul(chains.len ? chains.len : 1, sizeof(*sorted)));
	for (size_t i = 0; i < chains.len; i++) {
		sorted[i] = *(struct chain *)chains.items[i];
		free(chains.items[i]);
	}
	qsort(sorted, chains.len, sizeof(*sorted), cmp_chain);
	for (size_t i = 0; i < chains.len; i++)
		buf_printf(out, ":%s - [0:0]\n", sorted[i].name);

	for (size_t i = 0; i < m->nroutes; i++) {
		const struct m_route *r = &m->routes[i];
		if (r->family != family)
			continue;
		for (size_t j = 0; j < r->nlisteners; j++) {
			if (!r->allow)
				emit_dispatch(out, r, &r->listeners[j], NULL);
			for (size_t k = 0; r->allow && k < r->nallow; k++)
				emit_dispatch(out, r, &r->listeners[j], &r->allow[k]);
		}
	}
	for (size_t c = SNAT_CLASS_MASQUERADE; c < m->nsnats; c++) {
		const struct m_snat *sn = &m->snats[c];
		if (!model_family_uses_snat(m, family, sn->cls))
			continue;
		buf_printf(out, "-A POSTROUTING -m connmark --mark 0x%x/0x%x",
			   mark_of(sn->cls), EMIT_IPT_MARK_MASK);
		if (sn->kind == SNAT_MASQUERADE) {
			if (sn->loc.file)
				comment(out, "%s:%d: snat masquerade", sn->loc.file->base,
					sn->loc.first_line);
			else
				comment(out, "%s: snat masquerade (default)", m->source);
			buf_puts(out, " -j MASQUERADE\n");
		} else {
			char addr[64];
			model_addr_str(&sn->addr, addr);
			comment(out, "%s:%d: snat %s", sn->loc.file->base,
				sn->loc.first_line, addr);
			buf_printf(out, " -j SNAT --to-source %s\n", addr);
		}
	}
	for (size_t i = 0; i < chains.len; i++) {
		if (sorted[i].is_server)
			emit_server_chain(out, &sorted[i]);
		else
			emit_route_chain(out, sorted[i].route);
	}
	free(sorted);
	vec_free(&chains);
	buf_puts(out, "COMMIT\n");
}

void emit_ipt(const struct model *m, int family, struct buf *out)
{
	report_header(m, family, out, "# ");
	emit_filter(m, out);
	emit_nat(m, family, out);
}
