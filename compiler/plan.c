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

/* ---- affinity ---------------------------------------------------------- */

/* Integer hashing only: the table must be the same bytes on every machine,
 * so no floating point (a libm's log() may differ in its last bit). */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15u;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
	return x ^ (x >> 31);
}

static uint64_t fnv64(const void *data, size_t n, uint64_t h)
{
	const uint8_t *b = data;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3u;
	return h;
}

/* -log2(h / 2^64) in 32.32 fixed point, for h >= 1: exact to the bit by
 * repeated squaring of the mantissa. */
static uint64_t neg_log2(uint64_t h)
{
	if (!h)
		h = 1;
	int shift = __builtin_clzll(h);
	uint64_t ip = (uint64_t)(63 - shift);
	uint64_t x = h << shift;            /* mantissa in [1, 2), 1.63 */
	uint64_t frac = 0;
	for (int bit = 31; bit >= 0; bit--) {
		unsigned __int128 sq = (unsigned __int128)x * x;   /* 2.126 */
		if (sq >> 127) {
			frac |= (uint64_t)1 << bit;
			x = (uint64_t)(sq >> 64);
		} else {
			x = (uint64_t)(sq >> 63);
		}
	}
	return ((uint64_t)64 << 32) - (ip << 32 | frac);
}

/* A server's identity in the table is its address (and which of the
 * route's servers on that address it is), not its place in the list nor
 * its port: a server added in front moves nobody, and routes with the
 * same servers on other ports (mqtt, mqtt-tls) agree on every client. */
static uint64_t server_key(const struct m_route *r, size_t i, uint32_t seed)
{
	const struct m_server *sv = &r->servers[i];
	uint32_t nth = 0;
	for (size_t k = 0; k < i; k++)
		if (memcmp(&r->servers[k].addr, &sv->addr, sizeof(sv->addr)) == 0)
			nth++;
	uint64_t h = fnv64(sv->addr.bytes, sv->addr.family == 6 ? 16 : 4,
			   0xcbf29ce484222325u ^ seed);
	return mix64(fnv64(&nth, sizeof(nth), h));
}

struct aff_pair {
	uint64_t cost;      /* -log2(u), smaller wins */
	uint64_t key;       /* the server's, for ties */
	uint32_t weight;
	uint32_t server;     /* index into the quotas */
	uint16_t slot;
};

/* Weighted rendezvous: u^(1/w) largest, that is cost / w smallest. */
static int cmp_aff_pair(const void *pa, const void *pb)
{
	const struct aff_pair *a = pa, *b = pb;
	unsigned __int128 l = (unsigned __int128)a->cost * b->weight;
	unsigned __int128 r = (unsigned __int128)b->cost * a->weight;
	if (l != r)
		return l < r ? -1 : 1;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return a->slot < b->slot ? -1 : a->slot > b->slot;
}

struct quota {
	uint64_t key, rem;
	uint32_t q;
	size_t server;
};

static int cmp_quota_rem(const void *pa, const void *pb)
{
	const struct quota *a = pa, *b = pb;
	if (a->rem != b->rem)
		return a->rem > b->rem ? -1 : 1;
	return a->key < b->key ? -1 : a->key > b->key;
}

/* Largest-remainder quotas of m slots over the servers of qs by weight
 * (at least one each), ties to the smaller key. */
static void apportion(struct quota *qs, size_t n, uint32_t m, const struct m_route *r)
{
	uint64_t total = 0, sum = 0;
	for (size_t i = 0; i < n; i++)
		total += r->servers[qs[i].server].weight;
	for (size_t i = 0; i < n; i++) {
		uint64_t w = r->servers[qs[i].server].weight;
		qs[i].q = (uint32_t)((uint64_t)m * w / total);
		qs[i].rem = (uint64_t)m * w % total;
		if (!qs[i].q)
			qs[i].q = 1;
		sum += qs[i].q;
	}
	/* The rest, one each, by largest remainder. */
	size_t *order = xmalloc(xmul(n, sizeof(*order)));
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && cmp_quota_rem(&qs[order[k]], &qs[order[k - 1]]) < 0; k--) {
			size_t t = order[k];
			order[k] = order[k - 1];
			order[k - 1] = t;
		}
	for (size_t i = 0; sum < m; i = (i + 1) % n, sum++)
		qs[order[i]].q++;
	free(order);
	/* Minimums of one can overshoot: take back from the biggest. */
	while (sum > m) {
		size_t big = 0;
		for (size_t i = 1; i < n; i++)
			if (qs[i].q > qs[big].q || (qs[i].q == qs[big].q && qs[i].key < qs[big].key))
				big = i;
		qs[big].q--;
		sum--;
	}
}

/* Gives the free slots (owner[slot] == NONE) to the servers of qs, each
 * slot to the server that ranks it highest among those with quota left. */
#define AFF_NONE 0xffffffffu

static void fill(uint32_t *owner, struct quota *qs, size_t n, uint32_t m, uint32_t seed,
		 const struct m_route *r)
{
	size_t np = 0;
	for (uint32_t slot = 0; slot < m; slot++)
		np += owner[slot] == AFF_NONE;
	struct aff_pair *pairs = xmalloc(xmul(xmul(n ? n : 1, np ? np : 1), sizeof(*pairs)));
	np = 0;
	for (size_t i = 0; i < n; i++)
		for (uint32_t slot = 0; slot < m; slot++)
			if (owner[slot] == AFF_NONE)
				pairs[np++] = (struct aff_pair){
					neg_log2(mix64(qs[i].key ^ mix64((uint64_t)seed << 32 | slot))),
					qs[i].key, r->servers[qs[i].server].weight, (uint32_t)i,
					(uint16_t)slot};
	qsort(pairs, np, sizeof(*pairs), cmp_aff_pair);
	for (size_t i = 0; i < np; i++) {
		struct quota *q = &qs[pairs[i].server];
		if (owner[pairs[i].slot] != AFF_NONE || !q->q)
			continue;
		q->q--;
		owner[pairs[i].slot] = (uint32_t)q->server;
	}
	free(pairs);
}

/* Fills pr->aff: weighted rendezvous under exact quotas. First over every
 * server, drained ones too; then the slots of drained servers go to the
 * active ones, by the same ranking, up to their quotas among themselves.
 * So draining a server moves its clients and nobody else's; adding a
 * server takes its slots from the others about evenly. */
static void affinity_table(struct plan_route *pr, uint32_t seed, struct arena *a)
{
	const struct m_route *r = pr->r;
	const uint32_t m = PLAN_AFF_SLOTS;
	size_t n = r->nservers;
	struct quota *qs = xmalloc(xmul(n, sizeof(*qs)));
	uint32_t *owner = ARENA_ARRAY(a, uint32_t, m);
	for (uint32_t slot = 0; slot < m; slot++)
		owner[slot] = AFF_NONE;
	/* server_key() is linear in the route's servers: only for a table's
	 * worth of them (drained ones beyond that have no first pass). */
	if (n <= m) {
		for (size_t i = 0; i < n; i++)
			qs[i] = (struct quota){.key = server_key(r, i, seed), .server = i};
		apportion(qs, n, m, r);
		fill(owner, qs, n, m, seed, r);
	}
	/* The active servers' quotas among themselves, less what they hold. */
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!r->servers[i].drain)
			qs[k++] = (struct quota){.key = server_key(r, i, seed), .server = i};
	apportion(qs, k, m, r);
	for (uint32_t slot = 0; slot < m; slot++) {
		if (owner[slot] == AFF_NONE)
			continue;
		if (r->servers[owner[slot]].drain) {
			owner[slot] = AFF_NONE;
			continue;
		}
		for (size_t i = 0; i < k; i++)
			if (qs[i].server == owner[slot] && qs[i].q)
				qs[i].q--;
	}
	/* Rounding can leave a server above its quota by one; the free
	 * slots then go to the others. */
	fill(owner, qs, k, m, seed, r);
	pr->aff = owner;
	for (size_t i = 0; i < n; i++)
		pr->servers[i].slots = 0;
	for (uint32_t slot = 0; slot < m; slot++)
		pr->servers[owner[slot]].slots++;
	for (size_t i = 0; i < n; i++)
		pr->servers[i].share = (double)pr->servers[i].slots / m;
	pr->slots = m;
	pr->by_q31 = false;
	free(qs);
}

/* ---- nft: where each own-chain route's slots start --------------------- */

bool plan_route_own_chain(const struct m_route *r)
{
	if (r->balance != M_RANDOM || r->affinity || r->allow || r->any_range)
		return true;
	for (size_t j = 0; j < r->nlisteners; j++)
		if (r->listeners[j].any || r->listeners[j].iface)
			return true;
	return false;
}

struct placed {
	struct plan_route *pr;
	uint32_t attempt;
};

static uint32_t base_of(const struct plan_route *pr, uint32_t attempt)
{
	uint64_t h = fnv64(pr->r->name, strlen(pr->r->name), 0xcbf29ce484222325u);
	h = mix64(h ^ attempt);
	/* base + slots stays below 2^32: the kernel adds them in 32 bits. */
	uint64_t room = ((uint64_t)1 << 32) - pr->slots;
	return (uint32_t)(h % room);
}

static int cmp_placed(const void *pa, const void *pb)
{
	const struct placed *a = pa, *b = pb;
	if (a->pr->base != b->pr->base)
		return a->pr->base < b->pr->base ? -1 : 1;
	return strcmp(a->pr->r->name, b->pr->r->name);
}

/* Each route's base is a hash of its name; where two routes' runs would
 * overlap, the one later by name hashes again. Two routes of 128 slots
 * among 10,000 overlap with odds of about 10^-3 per route added. */
static void place_bases(struct plan *p)
{
	struct placed *v = xmalloc(xmul(p->nroutes ? p->nroutes : 1, sizeof(*v)));
	bool *again = xcalloc(p->nroutes ? p->nroutes : 1, sizeof(*again));
	size_t n = 0;
	for (size_t i = 0; i < p->nroutes; i++) {
		if (!plan_route_own_chain(p->routes[i].r))
			continue;
		v[n] = (struct placed){&p->routes[i], 0};
		v[n].pr->base = base_of(v[n].pr, 0);
		v[n].pr->shard = (uint32_t)(fnv64(v[n].pr->r->name, strlen(v[n].pr->r->name),
					    0x84222325cbf29ce4u) % PLAN_SHARDS);
		n++;
	}
	for (bool moved = true; moved;) {
		moved = false;
		qsort(v, n, sizeof(*v), cmp_placed);
		uint64_t end = 0;
		size_t owner = 0;
		for (size_t i = 0; i < n; i++) {
			again[i] = false;
			if (i > 0 && v[i].pr->base < end) {
				size_t later = strcmp(v[i].pr->r->name, v[owner].pr->r->name) > 0 ?
					       i : owner;
				again[later] = true;
			}
			uint64_t e = (uint64_t)v[i].pr->base + v[i].pr->slots;
			if (i == 0 || e > end) {
				end = e;
				owner = i;
			}
		}
		for (size_t i = 0; i < n; i++) {
			if (!again[i])
				continue;
			v[i].pr->base = base_of(v[i].pr, ++v[i].attempt);
			moved = true;
		}
	}
	free(again);
	free(v);
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
			const struct plan_options *o, struct arena *a,
			struct diag_ctx *d)
{
	unsigned errors = diag_errors(d);
	struct plan *p = ARENA_NEW(a, struct plan);
	p->m = m;
	p->target = t;
	p->aff_seed = o && o->aff_seed_set ? o->aff_seed : PLAN_AFF_SEED_DEFAULT;
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
		if (r->affinity) {
			if (pr->nactive > PLAN_AFF_SLOTS)
				diag_error(d, r->affinity_loc.file ? r->affinity_loc : r->loc,
					   "affinity client-ip spreads clients over %u slots: "
					   "at most %u servers that are not drained, not %zu",
					   PLAN_AFF_SLOTS, PLAN_AFF_SLOTS, pr->nactive);
			else
				affinity_table(pr, p->aff_seed, a);
		}
		pr->mark = PLAN_MARK_OURS | r->snat_cls << 16;
		if (r->balance == M_ROUNDROBIN && pr->slots > LIM_RR_SLOTS)
			diag_error(d, r->balance_loc.file ? r->balance_loc : r->loc,
				   "roundrobin over %lu slots needs too many rules (at "
				   "most %lu); use smaller weights or 'balance random'",
				   (unsigned long)pr->slots, LIM_RR_SLOTS);
		text.len = 0;
		buf_puts(&text, r->loc.file->base);
		buf_puts(&text, ": route ");
		buf_puts(&text, r->name);
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
	else
		place_bases(p);

	/* What the rules shared by all routes say: the main file, never a
	 * line. */
	struct loc main_at = {m->file, 1, 1, 1, 1};
	p->snat_place = ARENA_ARRAY(a, const char *, m->nsnats);
	for (size_t k = SNAT_CLASS_MASQUERADE; k < m->nsnats; k++) {
		const struct m_snat *sn = &m->snats[k];
		if (!sn->kind)
			continue;       /* a class no setting has */
		text.len = 0;
		if (sn->kind == M_SNAT_MASQUERADE) {
			buf_printf(&text, "%s: snat masquerade", m->source);
		} else {
			char addr[160];
			model_snat_str(sn, addr);
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
