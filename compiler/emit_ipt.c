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

static int cmp_chain(const void *pa, const void *pb)
{
	const struct m_route *a = *(struct m_route *const *)pa;
	const struct m_route *b = *(struct m_route *const *)pb;
	return strcmp(a->chain, b->chain);
}

static void emit_dnat(struct buf *out, const struct m_route *r,
		      enum ast_proto proto, const struct m_server *sv,
		      const char *match)
{
	char addr[64];
	model_addr_str(&sv->addr, addr);
	buf_printf(out, "-A %s -p %s", r->chain, proto_name(proto));
	comment(out, "%s:%d: route %s", sv->loc.file->base, sv->loc.first_line, r->name);
	buf_printf(out, "%s -j DNAT --to-destination %s:%u\n", match, addr, sv->port);
}

static void emit_route_chain(struct buf *out, const struct m_route *r)
{
	unsigned mark = mark_of(r->snat_cls);
	buf_printf(out, "-A %s", r->chain);
	comment(out, "%s:%d: route %s", r->loc.file->base, r->loc.first_line, r->name);
	buf_printf(out, " -j CONNMARK --set-xmark 0x%x/0x%x\n", mark, EMIT_IPT_MARK_MASK);

	size_t last = 0;
	for (size_t i = 0; i < r->nservers; i++)
		if (!r->servers[i].drain)
			last = i;
	static const enum ast_proto protos[] = {PROTO_TCP, PROTO_UDP};
	for (size_t p = 0; p < ARRAY_LEN(protos); p++) {
		if (!(r->protos & protos[p]))
			continue;
		if (r->balance == BALANCE_RANDOM) {
			uint64_t rest = model_active_weight(r);
			for (size_t i = 0; i < r->nservers; i++) {
				const struct m_server *sv = &r->servers[i];
				if (sv->drain)
					continue;
				char match[96] = "";
				if (i != last) {
					char prob[16];
					balance_q31_str(balance_q31(sv->weight, rest), prob);
					snprintf(match, sizeof(match), " -m statistic --mode "
						 "random --probability %s", prob);
				}
				emit_dnat(out, r, protos[p], sv, match);
				rest -= sv->weight;
			}
		} else {
			uint64_t g = 0;
			for (size_t i = 0; i < r->nservers; i++)
				if (!r->servers[i].drain)
					g = balance_gcd(r->servers[i].weight, g);
			uint64_t slots = model_active_weight(r) / g;
			for (size_t i = 0; i < r->nservers; i++) {
				const struct m_server *sv = &r->servers[i];
				if (sv->drain)
					continue;
				for (uint64_t k = sv->weight / g; k > 0; k--, slots--) {
					char match[96] = "";
					if (slots > 1)
						snprintf(match, sizeof(match), " -m statistic --mode "
							 "nth --every %lu --packet 0",
							 (unsigned long)slots);
					emit_dnat(out, r, protos[p], sv, match);
				}
			}
		}
	}
}

static void emit_nat(const struct model *m, struct buf *out)
{
	buf_puts(out, "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n"
		      ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n");
	/* User chains in the order iptables-save lists them: by strcmp. */
	const struct m_route **sorted = xmalloc(xmul(m->nroutes ? m->nroutes : 1,
						     sizeof(*sorted)));
	for (size_t i = 0; i < m->nroutes; i++)
		sorted[i] = &m->routes[i];
	qsort(sorted, m->nroutes, sizeof(*sorted), cmp_chain);
	for (size_t i = 0; i < m->nroutes; i++)
		buf_printf(out, ":%s - [0:0]\n", sorted[i]->chain);

	for (size_t i = 0; i < m->nroutes; i++) {
		const struct m_route *r = &m->routes[i];
		for (size_t j = 0; j < r->nlisteners; j++) {
			const struct m_listener *l = &r->listeners[j];
			char addr[64];
			model_addr_str(&l->addr, addr);
			const char *pn = proto_name(l->proto);
			buf_printf(out, "-A PREROUTING -d %s/32 -p %s -m %s --dport %u",
				   addr, pn, pn, l->port_lo);
			if (r->comment)
				comment(out, "%s:%d: route %s: %s", l->loc.file->base,
					l->loc.first_line, r->name, r->comment);
			else
				comment(out, "%s:%d: route %s", l->loc.file->base,
					l->loc.first_line, r->name);
			buf_printf(out, " -j %s\n", r->chain);
		}
	}
	for (size_t c = SNAT_CLASS_MASQUERADE; c < m->nsnats; c++) {
		const struct m_snat *sn = &m->snats[c];
		if (!sn->used)
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
	for (size_t i = 0; i < m->nroutes; i++)
		emit_route_chain(out, sorted[i]);
	free(sorted);
	buf_puts(out, "COMMIT\n");
}

void emit_ipt(const struct model *m, struct buf *out)
{
	report_header(m, out, "# ");
	emit_filter(m, out);
	emit_nat(m, out);
}
