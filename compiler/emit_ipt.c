/* emit_ipt.c: see emit_ipt.h and doc/iptables-output.md.
 *
 * Every line is printed as iptables-save would print it after a load:
 * option order, "/32", "-m tcp", the kernel's value of a probability. A
 * change here must keep tests/kernel/roundtrip.sh byte-identical. */
#include "emit_ipt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "coexist.h"
#include "generation.h"
#include "report.h"

void emit_ipt_quote(struct buf *out, const char *text)
{
	/* As xtables_save_string(): bare when only these characters. */
	static const char plain[] = "_-0123456789abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	static bool is_plain[256];
	if (!is_plain['a'])
		for (const char *c = plain; *c; c++)
			is_plain[(unsigned char)*c] = true;
	size_t n = 0, len;
	while (is_plain[(unsigned char)text[n]])
		n++;
	buf_putc(out, ' ');
	if (n > 0 && text[n] == '\0') {
		buf_add(out, text, n);
		return;
	}
	buf_putc(out, '"');
	/* the run without anything to escape at once, then the rest */
	const char *p = text;
	while (*p) {
		len = strcspn(p, "\"\\'");
		buf_add(out, p, len);
		p += len;
		if (*p) {
			buf_putc(out, '\\');
			buf_putc(out, *p++);
		}
	}
	buf_putc(out, '"');
}

/* ` -m comment --comment TEXT`. */
static void put_comment(struct buf *out, const char *text)
{
	buf_puts(out, " -m comment --comment");
	emit_ipt_quote(out, text);
}

static void put_addr(struct buf *out, const struct m_addr *a);

/* Each table section ends with the generation marker (generation.h): its
 * chain is declared after every other (it sorts last), its one rule is
 * the last of the section and carries the hash of the text above it. */
static void section_begin(struct buf *out, struct hash64 *gen, const char *table)
{
	buf_hash_begin(out, gen);
	buf_printf(out, "*%s\n", table);
}

static void section_end(struct buf *out)
{
	uint64_t h = buf_hash_end(out);
	buf_printf(out, "-A " GEN_IPT_CHAIN " -m comment --comment \"" GEN_IPT_COMMENT
		   "%016" PRIx64 "\"\nCOMMIT\n", h);
}

#define GEN_DECLARE ":" GEN_IPT_CHAIN " - [0:0]\n"

/* --coexist: tcproutec's own forward chain, jumped to first from FORWARD
 * (--hooks). Our connections and their replies are accepted there, so
 * that a foreign policy DROP (Docker's) does not drop them; with `policy
 * forward drop`, new connections addressed to a declared server itself
 * (not DNATed) are dropped; everything else returns to the host's rules. */
static void emit_filter_coexist(const struct coexist *cx, int family, struct buf *out)
{
	struct hash64 gen;
	section_begin(out, &gen, "filter");
	buf_puts(out, ":" COEXIST_CHAIN_FWD " - [0:0]\n" GEN_DECLARE);
	buf_printf(out, "-A " COEXIST_CHAIN_FWD " -m conntrack --ctstate RELATED,ESTABLISHED "
		   "-m connmark --mark 0x%x/0x%x", PLAN_MARK_OURS, PLAN_MARK_OURS);
	put_comment(out, cx->replies);
	buf_puts(out, " -j ACCEPT\n");
	buf_printf(out, "-A " COEXIST_CHAIN_FWD " -m conntrack --ctstate DNAT -m connmark "
		   "--mark 0x%x/0x%x", PLAN_MARK_OURS, PLAN_MARK_OURS);
	put_comment(out, cx->routed);
	buf_puts(out, " -j ACCEPT\n");
	for (size_t i = 0; i < cx->nguards; i++) {
		const struct coexist_guard *g = &cx->guards[i];
		if (g->pr->r->family != family)
			continue;
		const char *pn = model_proto_name(g->proto);
		buf_puts(out, "-A " COEXIST_CHAIN_FWD " -d ");
		put_addr(out, g->addr);
		buf_printf(out, "%s -p %s -m %s --dport %u", family == 6 ? "/128" : "/32",
			   pn, pn, g->port_lo);
		if (g->port_hi != g->port_lo)
			buf_printf(out, ":%u", g->port_hi);
		/* Not DNATed by anyone: a port another tool (Docker) publishes
		 * to the same server is that tool's business. */
		buf_puts(out, " -m conntrack --ctstate NEW -m conntrack ! --ctstate DNAT");
		put_comment(out, g->pr->place);
		buf_puts(out, " -j DROP\n");
	}
	section_end(out);
}

static void emit_filter(const struct plan *p, struct buf *out)
{
	const struct model *m = p->m;
	struct hash64 gen;
	section_begin(out, &gen, "filter");
	buf_puts(out, ":INPUT ACCEPT [0:0]\n");
	buf_printf(out, ":FORWARD %s [0:0]\n", m->forward_accept ? "ACCEPT" : "DROP");
	buf_puts(out, ":OUTPUT ACCEPT [0:0]\n" GEN_DECLARE);
	if (!m->forward_accept) {
		buf_puts(out, "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED");
		put_comment(out, p->policy_place[0]);
		buf_puts(out, " -j ACCEPT\n");
		buf_printf(out, "-A FORWARD -m conntrack --ctstate DNAT -m connmark "
			   "--mark 0x%x/0x%x", PLAN_MARK_OURS, PLAN_MARK_OURS);
		put_comment(out, p->policy_place[1]);
		buf_puts(out, " -j ACCEPT\n");
	}
	section_end(out);
}

/* A user chain of the nat table: a route's, or (affinity) a server's. */
struct chain {
	char name[CHAIN_MAX_LEN + 1];
	const struct plan_route *route;
	size_t server;        /* index into route->servers for a server chain */
	bool is_server;
	int frame;            /* --coexist: 1 TRC-PREROUTING, 2 TRC-POSTROUTING */
};

static int cmp_chain(const void *pa, const void *pb)
{
	const struct chain *a = pa, *b = pb;
	return strcmp(a->name, b->name);
}

static void put_addr(struct buf *out, const struct m_addr *a)
{
	model_put_addr(out, a);
}

/* --to-destination: "A:P", "[A6]:P", or the address alone to keep the port. */
static void put_destination(struct buf *out, const struct m_server *sv)
{
	if (sv->port == 0) {
		put_addr(out, &sv->addr);
	} else if (sv->addr.family == 6) {
		buf_putc(out, '[');
		put_addr(out, &sv->addr);
		buf_puts(out, "]:");
		buf_put_u64(out, sv->port);
	} else {
		put_addr(out, &sv->addr);
		buf_putc(out, ':');
		buf_put_u64(out, sv->port);
	}
}

static void emit_dnat(struct buf *out, const char *chain, const struct plan_route *pr,
		      enum m_proto proto, const struct m_server *sv, const char *match)
{
	buf_puts(out, "-A ");
	buf_puts(out, chain);
	buf_puts(out, " -p ");
	buf_puts(out, model_proto_name(proto));
	put_comment(out, pr->place);
	buf_puts(out, match);
	buf_puts(out, " -j DNAT --to-destination ");
	put_destination(out, sv);
	buf_putc(out, '\n');
}

/* The rule that picks server i: a DNAT for protocol `proto`, or, with
 * affinity, a jump to the server's chain, which DNATs every protocol. */
static void emit_pick(struct buf *out, const struct plan_route *pr, size_t i,
		      enum m_proto proto, const char *match)
{
	const struct m_route *r = pr->r;
	if (!r->affinity) {
		emit_dnat(out, pr->chain, pr, proto, &r->servers[i], match);
		return;
	}
	char sc[CHAIN_MAX_LEN + 1];
	plan_server_chain(pr, i, sc);
	buf_printf(out, "-A %s", pr->chain);
	put_comment(out, pr->place);
	buf_printf(out, "%s -j %s\n", match, sc);
}

static const enum m_proto protos[] = {M_TCP, M_UDP};

/* Affinity: HMARK writes slot = hash(client address) into the packet mark
 * (the whole mark: the only one of our rules that touches it, on the first
 * packet of a connection), then each run of one server in the plan's table
 * is matched as aligned blocks of slots (value/mask) and jumps to that
 * server's chain, which DNATs every protocol of the route. */
static void emit_affinity(struct buf *out, const struct plan_route *pr, uint32_t seed)
{
	const struct m_route *r = pr->r;
	buf_printf(out, "-A %s", pr->chain);
	put_comment(out, pr->place);
	buf_printf(out, " -j HMARK --hmark-src-prefix %d --hmark-dst-prefix 0 "
		   "--hmark-sport-mask 0x0000 --hmark-dport-mask 0x0000 "
		   "--hmark-proto-mask 0x00 --hmark-rnd 0x%08x --hmark-mod %lu "
		   "--hmark-offset 0\n", r->family == 6 ? 128 : 32, seed,
		   (unsigned long)pr->slots);
	for (uint32_t lo = 0, hi; lo < pr->slots; lo = hi + 1) {
		for (hi = lo; hi + 1 < pr->slots && pr->aff[hi + 1] == pr->aff[lo];)
			hi++;
		/* [lo, hi] as the largest aligned blocks. */
		for (uint32_t at = lo; at <= hi;) {
			uint32_t size = 1;
			while (at % (size * 2) == 0 && at + size * 2 - 1 <= hi)
				size *= 2;
			char match[64];
			snprintf(match, sizeof(match), " -m mark --mark 0x%x/0x%x", at,
				 (PLAN_AFF_SLOTS - 1) & ~(size - 1));
			emit_pick(out, pr, pr->aff[lo], M_TCP, match);
			at += size;
		}
	}
}

static void emit_route_chain(struct buf *out, const struct plan *p,
			     const struct plan_route *pr)
{
	const struct m_route *r = pr->r;
	buf_puts(out, "-A ");
	buf_puts(out, pr->chain);
	put_comment(out, pr->place);
	buf_puts(out, " -j CONNMARK --set-xmark 0x");
	buf_put_hex(out, pr->mark, 0);
	buf_puts(out, "/0x");
	buf_put_hex(out, PLAN_MARK_MASK, 0);
	buf_putc(out, '\n');

	if (pr->aff) {
		emit_affinity(out, pr, p->aff_seed);
		return;
	}
	/* The picks, once per protocol: each rule counts for its own. */
	for (size_t p = 0; p < ARRAY_LEN(protos); p++) {
		if (!(r->protos & protos[p]))
			continue;
		uint32_t left = pr->slots;
		for (size_t i = 0; i < r->nservers; i++) {
			const struct plan_server *ps = &pr->servers[i];
			if (!ps->slots)
				continue;
			char match[96] = "";
			if (r->balance == M_RANDOM) {
				if (ps->has_q31) {
					static const char pre[] = " -m statistic --mode "
								  "random --probability ";
					memcpy(match, pre, sizeof(pre) - 1);
					plan_q31_str(ps->q31, match + sizeof(pre) - 1);
				}
				emit_pick(out, pr, i, protos[p], match);
				continue;
			}
			/* roundrobin: slot j of S matches every (S-j+1)-th. */
			for (uint32_t k = ps->slots; k > 0; k--, left--) {
				match[0] = '\0';
				if (left > 1)
					snprintf(match, sizeof(match), " -m statistic --mode "
						 "nth --every %lu --packet 0", (unsigned long)left);
				emit_pick(out, pr, i, protos[p], match);
			}
		}
	}
}

/* A server's chain under affinity: DNAT every protocol of the route. */
static void emit_server_chain(struct buf *out, const struct chain *c)
{
	const struct m_route *r = c->route->r;
	const struct m_server *sv = &r->servers[c->server];
	for (size_t p = 0; p < ARRAY_LEN(protos); p++) {
		if (!(r->protos & protos[p]))
			continue;
		emit_dnat(out, c->name, c->route, protos[p], sv, "");
	}
}

static void emit_dispatch(struct buf *out, const char *pre, const struct plan_route *pr,
			  const struct m_listener *l, const struct m_addr *from)
{
	const struct m_route *r = pr->r;
	const char *pn = model_proto_name(l->proto);
	const char *host = r->family == 6 ? "/128" : "/32";
	buf_puts(out, "-A ");
	buf_puts(out, pre);
	/* iptables-save omits a /0 source: so do we. */
	if (from && from->prefix > 0) {
		buf_puts(out, " -s ");
		put_addr(out, from);
		buf_putc(out, '/');
		buf_put_u64(out, (uint64_t)from->prefix);
	}
	if (!l->any) {
		buf_puts(out, " -d ");
		put_addr(out, &l->addr);
		buf_puts(out, host);
	}
	if (l->iface) {
		buf_puts(out, " -i ");
		buf_puts(out, l->iface);
	}
	buf_puts(out, " -p ");
	buf_puts(out, pn);
	if (l->any)
		buf_puts(out, " -m addrtype --dst-type LOCAL");
	buf_puts(out, " -m ");
	buf_puts(out, pn);
	buf_puts(out, " --dport ");
	buf_put_u64(out, l->port_lo);
	if (l->port_hi != l->port_lo) {
		buf_putc(out, ':');
		buf_put_u64(out, l->port_hi);
	}
	put_comment(out, pr->dispatch_place);
	buf_puts(out, " -j ");
	buf_puts(out, pr->chain);
	buf_putc(out, '\n');
}

/* The listeners' jumps to the routes' chains, in chain `pre`. */
static void emit_dispatches(const struct plan *p, int family, const char *pre,
			    struct buf *out)
{
	for (size_t i = 0; i < p->nroutes; i++) {
		const struct plan_route *pr = p->by_name[i];
		const struct m_route *r = pr->r;
		if (r->family != family)
			continue;
		for (size_t j = 0; j < r->nlisteners; j++) {
			if (!r->allow)
				emit_dispatch(out, pre, pr, &r->listeners[j], NULL);
			for (size_t a = 0; r->allow && a < r->nallow; a++)
				emit_dispatch(out, pre, pr, &r->listeners[j], &r->allow[a]);
		}
	}
}

/* One source rewrite per snat class in use, in chain `post`. */
static void emit_snats(const struct plan *p, int family, const char *post,
		       struct buf *out)
{
	const struct model *m = p->m;
	for (size_t c = SNAT_CLASS_MASQUERADE; c < m->nsnats; c++) {
		const struct m_snat *sn = &m->snats[c];
		if (!sn->kind || !plan_family_uses_snat(p, family, sn->cls))
			continue;
		buf_printf(out, "-A %s -m connmark --mark 0x%x/0x%x", post,
			   PLAN_MARK_OURS | sn->cls << 16, PLAN_MARK_MASK);
		put_comment(out, p->snat_place[c]);
		if (sn->kind == M_SNAT_MASQUERADE) {
			buf_puts(out, " -j MASQUERADE\n");
		} else {
			char addr[160];
			model_snat_str(sn, addr);
			/* A range: ports picked at random, so that the addresses
			 * are used evenly and collisions are rare. */
			buf_printf(out, " -j SNAT --to-source %s%s\n", addr,
				   strchr(addr, '-') ? " --random-fully" : "");
		}
	}
}

/* The nat table: with coexist, no builtin chain; the dispatch and the
 * snat rules go to TRC-PREROUTING and TRC-POSTROUTING, user chains listed
 * among the routes' in save order. */
static void emit_nat(const struct plan *p, int family, bool coexist, struct buf *out)
{
	struct hash64 gen;
	section_begin(out, &gen, "nat");
	if (!coexist)
		buf_puts(out, ":PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n"
			      ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n");
	/* User chains in the order iptables-save lists them: by strcmp. */
	size_t n = coexist ? 2 : 0;
	for (size_t i = 0; i < p->nroutes; i++) {
		const struct plan_route *pr = &p->routes[i];
		if (pr->r->family == family)
			n += 1 + (pr->r->affinity ? pr->nactive : 0);
	}
	struct chain *chains = xmalloc(xmul(n ? n : 1, sizeof(*chains)));
	size_t k = 0;
	if (coexist) {
		chains[k++] = (struct chain){.name = COEXIST_CHAIN_PRE, .frame = 1};
		chains[k++] = (struct chain){.name = COEXIST_CHAIN_POST, .frame = 2};
	}
	for (size_t i = 0; i < p->nroutes; i++) {
		const struct plan_route *pr = &p->routes[i];
		if (pr->r->family != family)
			continue;
		chains[k] = (struct chain){.route = pr};
		size_t len = strlen(pr->chain);
		if (len >= sizeof(chains->name))
			len = sizeof(chains->name) - 1;   /* the plan checked it */
		memcpy(chains[k].name, pr->chain, len);
		chains[k++].name[len] = '\0';
		for (size_t j = 0; pr->r->affinity && j < pr->r->nservers; j++) {
			if (!pr->servers[j].slots)
				continue;
			chains[k] = (struct chain){.route = pr, .server = j, .is_server = true};
			plan_server_chain(pr, j, chains[k++].name);
		}
	}
	qsort(chains, n, sizeof(*chains), cmp_chain);
	for (size_t i = 0; i < n; i++) {
		buf_putc(out, ':');
		buf_puts(out, chains[i].name);
		buf_puts(out, " - [0:0]\n");
	}
	buf_puts(out, GEN_DECLARE);

	if (!coexist) {
		emit_dispatches(p, family, "PREROUTING", out);
		emit_snats(p, family, "POSTROUTING", out);
	}
	for (size_t i = 0; i < n; i++) {
		if (chains[i].frame == 1)
			emit_dispatches(p, family, COEXIST_CHAIN_PRE, out);
		else if (chains[i].frame == 2)
			emit_snats(p, family, COEXIST_CHAIN_POST, out);
		else if (chains[i].is_server)
			emit_server_chain(out, &chains[i]);
		else
			emit_route_chain(out, p, chains[i].route);
	}
	free(chains);
	section_end(out);
}

void emit_ipt(const struct plan *p, int family, struct buf *out)
{
	report_header(p, family, out, "# ");
	emit_filter(p, out);
	emit_nat(p, family, false, out);
}

void emit_ipt_coexist(const struct plan *p, const struct coexist *cx, int family,
		      struct buf *out)
{
	report_header_coexist(p, family, true, out, "# ");
	buf_printf(out, "# coexist: only chains %s*, for %s-restore --noflush; the jumps "
		   "to them: tcproutec -t %s --coexist --hooks\n", CHAIN_PREFIX,
		   family == 6 ? "ip6tables" : "iptables", family == 6 ? "ip6tables" : "iptables");
	emit_filter_coexist(cx, family, out);
	emit_nat(p, family, true, out);
}

void emit_ipt_hooks(const struct plan *p, int family, struct buf *out)
{
	const char *tool = family == 6 ? "ip6tables" : "iptables";
	const char *var = family == 6 ? "IP6TABLES" : "IPTABLES";
	buf_puts(out, "#!/bin/sh\n");
	report_header_coexist(p, family, true, out, "# ");
	buf_printf(out,
		"#\n"
		"# The jumps from the builtin chains into tcproutec's own chains, which\n"
		"# the file of 'tcproutec -t %s --coexist' fills (%s-restore\n"
		"# --noflush). Run it any number of times, before or after that file:\n"
		"# each builtin chain ends with exactly one jump, as its first rule, so\n"
		"# that FORWARD accepts routed connections before Docker's rules and its\n"
		"# policy DROP. Run it again after Docker (re)starts: Docker moves its\n"
		"# own jumps to the top, and this moves ours back (a jump that is not\n"
		"# first is deleted, then inserted first: for a few milliseconds there\n"
		"# is none). %s names the tool (default %s; e.g.\n"
		"# %s=%s-legacy).\n"
		"set -eu\n"
		"ipt=${%s:-%s}\n"
		"# chain TABLE CHAIN: tcproutec's chain, made empty when it is missing.\n"
		"chain() {\n"
		"\t\"$ipt\" -w -t \"$1\" -N \"$2\" 2>/dev/null ||\n"
		"\t\t\"$ipt\" -w -t \"$1\" -n -L \"$2\" >/dev/null\n"
		"}\n"
		"# first TABLE CHAIN TARGET: one jump from CHAIN to TARGET, its first rule.\n"
		"first() {\n"
		"\tif [ \"$(\"$ipt\" -w -t \"$1\" -S \"$2\" 1 2>/dev/null)\" = \\\n"
		"\t\t\"-A $2 -m comment --comment " COEXIST_HOOK_COMMENT " -j $3\" ]; then\n"
		"\t\treturn 0\n"
		"\tfi\n"
		"\twhile \"$ipt\" -w -t \"$1\" -D \"$2\" -m comment --comment " COEXIST_HOOK_COMMENT " \\\n"
		"\t\t-j \"$3\" 2>/dev/null; do :; done\n"
		"\t\"$ipt\" -w -t \"$1\" -I \"$2\" 1 -m comment --comment " COEXIST_HOOK_COMMENT " -j \"$3\"\n"
		"}\n"
		"chain nat " COEXIST_CHAIN_PRE "\n"
		"chain nat " COEXIST_CHAIN_POST "\n"
		"chain filter " COEXIST_CHAIN_FWD "\n"
		"first nat PREROUTING " COEXIST_CHAIN_PRE "\n"
		"first nat POSTROUTING " COEXIST_CHAIN_POST "\n"
		"first filter FORWARD " COEXIST_CHAIN_FWD "\n",
		tool, tool, var, tool, var, tool, var, tool);
}
