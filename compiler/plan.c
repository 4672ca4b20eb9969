/* plan.c: see plan.h. The only place where weights become slots,
 * probabilities and shares. */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "chain.h"

const char *plan_target_name(enum plan_target t)
{
	return t == PLAN_NFT ? "nft" : t == PLAN_IP6TABLES ? "ip6tables" : "iptables";
}

void plan_q31_str(uint32_t q, char out[16])
{
	balance_q31_str(q, out);
}

bool plan_family_uses_snat(const struct plan *p, int family, unsigned cls)
{
	for (size_t i = 0; i < p->nroutes; i++)
		if (p->routes[i].r->family == family && p->routes[i].r->snat_cls == cls)
			return true;
	return false;
}

/* ---- balancing --------------------------------------------------------- */

/* Slots, probabilities and shares of one route. random on iptables: server
 * i's rule takes w_i / (w_i + ... + w_n) of what reaches it, as a 31-bit
 * value; its share is what is left times that. Elsewhere (nft, and
 * roundrobin on both) server i owns slots/W of the connections exactly. */
static void balance_route(struct plan_route *pr, enum plan_target t, struct arena *a)
{
	const struct m_route *r = pr->r;
	pr->servers = ARENA_ARRAY(a, struct plan_server, r->nservers ? r->nservers : 1);
	uint64_t g = 0, total = 0;
	for (size_t i = 0; i < r->nservers; i++) {
		const struct m_server *sv = &r->servers[i];
		if (sv->drain)
			continue;
		g = balance_gcd(sv->weight, g);
		total += sv->weight;
		pr->last = i;
		pr->nactive++;
	}
	if (!g)
		g = 1;
	pr->active_weight = total;
	pr->slots = (uint32_t)(total / g);
	pr->by_q31 = t != PLAN_NFT && r->balance == M_RANDOM;
	uint64_t rest = total, slot = 0;
	double left = 1.0;
	for (size_t i = 0; i < r->nservers; i++) {
		const struct m_server *sv = &r->servers[i];
		struct plan_server *ps = &pr->servers[i];
		if (sv->drain)
			continue;
		ps->slots = (uint32_t)(sv->weight / g);
		ps->first_slot = (uint32_t)slot;
		slot += ps->slots;
		if (!pr->by_q31) {
			ps->share = (double)ps->slots / (double)pr->slots;
		} else if (i == pr->last) {
			ps->share = left;
		} else {
			ps->has_q31 = true;
			ps->q31 = balance_q31(sv->weight, rest);
			rest -= sv->weight;
			ps->share = left * (ps->q31 / 2147483648.0);
			left -= ps->share;
		}
	}
}

/* ---- exact shares ------------------------------------------------------ */

/* A fixed-point number in [0, 2^32): l[0] is the integer part, l[1..] the
 * fraction, most significant limb first. Each random rule multiplies what
 * is left by (2^31 - q) / 2^31 and truncates below 2^-256: after the
 * 100,000 rules a route may have, the error is under 10^-70, far below the
 * 12 digits printed. */
#define FX_LIMBS 9

struct fx {
	uint32_t l[FX_LIMBS];
};

/* x *= m; the caller keeps the integer part within 32 bits. */
static void fx_mul(struct fx *x, uint32_t m)
{
	uint64_t carry = 0;
	for (int i = FX_LIMBS - 1; i >= 0; i--) {
		uint64_t v = (uint64_t)x->l[i] * m + carry;
		x->l[i] = (uint32_t)v;
		carry = v >> 32;
	}
}

/* x /= 2^31, truncating. */
static void fx_shr31(struct fx *x)
{
	for (int i = FX_LIMBS - 1; i > 0; i--)
		x->l[i] = (x->l[i] >> 31) | (x->l[i - 1] << 1);
	x->l[0] >>= 31;
}

/* "I.DDDDDDDDDDDD" from an integer part, 12 digits and whether what
 * follows them is at least half a unit of the last digit. */
static void put_decimal(unsigned ip, char digits[12], bool up, char out[20])
{
	for (int d = 11; up && d >= 0; d--) {
		up = digits[d] == '9';
		digits[d] = up ? '0' : (char)(digits[d] + 1);
	}
	snprintf(out, 20, "%u.%.12s", ip + (up ? 1u : 0u), digits);
}

static void fx_decimal(struct fx x, char out[20])
{
	unsigned ip = x.l[0];
	char digits[12];
	for (int d = 0; d < 12; d++) {
		x.l[0] = 0;
		fx_mul(&x, 10);
		digits[d] = (char)('0' + x.l[0]);
	}
	put_decimal(ip, digits, (x.l[1] & 0x80000000u) != 0, out);
}

static void ratio_decimal(uint64_t num, uint64_t den, char out[20])
{
	char digits[12];
	uint64_t r = num % den;
	for (int d = 0; d < 12; d++) {
		r *= 10;
		digits[d] = (char)('0' + r / den);
		r %= den;
	}
	put_decimal((unsigned)(num / den), digits, 2 * r >= den, out);
}

void plan_share_decimal(const struct plan_route *pr, size_t i, char out[20])
{
	const struct plan_server *ps = &pr->servers[i];
	if (!ps->slots) {
		ratio_decimal(0, 1, out);
		return;
	}
	if (!pr->by_q31) {
		ratio_decimal(ps->slots, pr->slots, out);
		return;
	}
	/* What reaches rule i, times its probability (the last: all of it). */
	struct fx left = {.l = {1}};
	for (size_t k = 0; k <= i; k++) {
		const struct plan_server *pk = &pr->servers[k];
		if (!pk->has_q31)
			continue;
		fx_mul(&left, k == i ? pk->q31 : BALANCE_Q31_ONE - pk->q31);
		fx_shr31(&left);
	}
	fx_decimal(left, out);
}

/* ---- comments ---------------------------------------------------------- */

/* The text of a comment, checked against the target's limit. */
static const char *place(struct plan *p, struct arena *a, struct diag_ctx *d,
			 struct loc at, const char *what, const char *text)
{
	size_t limit = p->target == PLAN_NFT ? LIM_NFT_COMMENT : LIM_IPT_COMMENT;
	size_t n = strlen(text);
	if (n > limit)
		diag_error(d, at, "the %s comment \"%s\" would be %zu bytes; %s takes "
			   "at most %zu: shorten the %s", plan_target_name(p->target),
			   text, n, p->target == PLAN_NFT ? "nft" : "the kernel", limit, what);
	return arena_strdup(a, text);
}

static int cmp_chain(const void *pa, const void *pb)
{
	const struct plan_route *a = *(const struct plan_route *const *)pa;
	const struct plan_route *b = *(const struct plan_route *const *)pb;
	int c = strcmp(a->chain, b->chain);
	return c ? c : strcmp(a->r->name, b->r->name);
}

/* Route names are unique, but two long ones could still hash to one chain
 * name, and a short name can be spelt like a hashed one. */
static void check_chains(const struct plan *p, struct diag_ctx *d)
{
	size_t n = p->nroutes;
	if (n < 2)
		return;
	const struct plan_route **v = xmalloc(xmul(n, sizeof(*v)));
	for (size_t i = 0; i < n; i++)
		v[i] = &p->routes[i];
	qsort(v, n, sizeof(*v), cmp_chain);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(v[i]->chain, v[i - 1]->chain) != 0)
			continue;
		diag_error(d, v[i]->r->loc, "routes '%s' and '%s' get the same "
			   "chain name '%s'; rename one", v[i - 1]->r->name,
			   v[i]->r->name, v[i]->chain);
		diag_note(d, v[i - 1]->r->loc, "the other route is here");
	}
	free(v);
}

static int cmp_by_name(const void *pa, const void *pb)
{
	const struct plan_route *a = *(const struct plan_route *const *)pa;
	const struct plan_route *b = *(const struct plan_route *const *)pb;
	return strcmp(a->r->name, b->r->name);
}

void plan_server_chain(const struct plan_route *pr, size_t i, char out[CHAIN_MAX_LEN + 1])
{
	/* A '.' never occurs in route names, so these never meet a route's
	 * chain. */
	char name[96];
	snprintf(name, sizeof(name), "%s.s%zu", pr->r->name, i);
	chain_name(name, out);
}

struct plan *plan_build(const struct model *m, enum plan_target t,
			struct arena *a, struct diag_ctx *d)
{
	unsigned errors = diag_errors(d);
	struct plan *p = ARENA_NEW(a, struct plan);
	p->m = m;
	p->target = t;
	p->nroutes = m->nroutes;
	p->routes = ARENA_ARRAY(a, struct plan_route, m->nroutes ? m->nroutes : 1);
	p->by_name = ARENA_ARRAY(a, const struct plan_route *, m->nroutes ? m->nroutes : 1);
	struct buf text;
	buf_init(&text);
	for (size_t i = 0; i < m->nroutes; i++) {
		const struct m_route *r = &m->routes[i];
		struct plan_route *pr = &p->routes[i];
		pr->r = r;
		p->by_name[i] = pr;
		balance_route(pr, t, a);
		pr->mark = PLAN_MARK_OURS | r->snat_cls << 16;
		if (r->balance == M_ROUNDROBIN && pr->slots > LIM_RR_SLOTS)
			diag_error(d, r->balance_loc.file ? r->balance_loc : r->loc,
				   "roundrobin over %lu slots needs too many rules (at "
				   "most %lu); use smaller weights or 'balance random'",
				   (unsigned long)pr->slots, LIM_RR_SLOTS);
		text.len = 0;
		buf_printf(&text, "%s: route %s", r->loc.file->base, r->name);
		pr->place = place(p, a, d, r->name_loc, "file or route name", buf_cstr(&text));
		pr->dispatch_place = pr->place;
		if (r->comment) {
			buf_printf(&text, ": %s", r->comment);
			/* nft keeps the route's comment out of its elements. */
			if (t != PLAN_NFT)
				pr->dispatch_place = place(p, a, d, r->comment_loc,
							   "route's comment", buf_cstr(&text));
		}
		if (t != PLAN_NFT) {
			char chain[CHAIN_MAX_LEN + 1];
			chain_name(r->name, chain);
			pr->chain = arena_strdup(a, chain);
		}
	}
	qsort(p->by_name, p->nroutes, sizeof(*p->by_name), cmp_by_name);
	if (t != PLAN_NFT)
		check_chains(p, d);

	/* What the rules shared by all routes say: the main file, never a
	 * line. */
	struct loc main_at = {m->file, 1, 1, 1, 1};
	p->snat_place = ARENA_ARRAY(a, const char *, m->nsnats);
	for (size_t k = SNAT_CLASS_MASQUERADE; k < m->nsnats; k++) {
		const struct m_snat *sn = &m->snats[k];
		text.len = 0;
		if (sn->kind == M_SNAT_MASQUERADE) {
			buf_printf(&text, "%s: snat masquerade", m->source);
		} else {
			char addr[64];
			model_addr_str(&sn->addr, addr);
			buf_printf(&text, "%s: snat %s", m->source, addr);
		}
		p->snat_place[k] = place(p, a, d, sn->loc.file ? sn->loc : main_at,
					 "file name", buf_cstr(&text));
	}
	for (int k = 0; k < 2; k++) {
		text.len = 0;
		if (m->policy_explicit)
			buf_printf(&text, "%s: policy forward drop", m->policy_loc.file->base);
		else
			buf_printf(&text, "%s: policy forward drop (default)", m->source);
		buf_puts(&text, k ? ": routed connections" : ": replies and related");
		p->policy_place[k] = place(p, a, d, m->policy_explicit ? m->policy_loc : main_at,
					   "file name", buf_cstr(&text));
	}
	buf_free(&text);
	return diag_errors(d) > errors ? NULL : p;
}
