/* plan.h: how the target carries out each route, worked out once.
 *
 * The model says what the source means; the plan says what one target
 * writes for it: which servers take new connections, their integer slots,
 * the 31-bit probabilities of iptables rules, the share each server
 * really gets, the connection mark, the chain names, and the exact text of
 * every comment, checked against the kernel's and nft's limits. Every
 * printer (both emitters, the header, explain, graph) reads the plan and
 * computes nothing of its own, so they cannot disagree. */
#ifndef TRC_PLAN_H
#define TRC_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "chain.h"
#include "diag.h"
#include "model.h"
#include "util.h"

enum plan_target { PLAN_IPTABLES, PLAN_IP6TABLES, PLAN_NFT };

/* Connection-mark bits: bit 23 says "routed by tcproutec", bits 16-22 hold
 * the snat class, so that FORWARD and POSTROUTING stay a few rules however
 * many routes there are. */
#define PLAN_MARK_OURS 0x800000u
#define PLAN_MARK_MASK 0xff0000u

/* Client-ip affinity: the client address is hashed (nft jhash, iptables
 * HMARK) into a table of PLAN_AFF_SLOTS slots that the plan fills with
 * weighted rendezvous hashing under exact quotas, so that every gateway
 * loaded with one file sends a client to one server, and adding or
 * removing one of n servers moves about 1/n of the clients. */
#define PLAN_AFF_SLOTS 128u
#define PLAN_AFF_SEED_DEFAULT 0x74726331u   /* "trc1" */

/* One server of a route, drained ones included (slots 0). */
struct plan_server {
	uint32_t slots;        /* weight / the route's gcd; 0: drained */
	uint32_t first_slot;   /* of the route's W slots */
	bool has_q31;          /* iptables random: its rule has a probability */
	uint32_t q31;          /* that probability, as the kernel keeps it */
	double share;          /* of new connections, as the target does it */
};

struct plan_route {
	const struct m_route *r;
	struct plan_server *servers;   /* r->nservers */
	uint64_t active_weight;        /* of the servers not drained */
	uint32_t slots;                /* W: the active weights over their gcd */
	size_t nactive;
	size_t last;                   /* the last active server */
	bool by_q31;                   /* iptables random: a chain of probabilities */
	uint32_t mark;                 /* PLAN_MARK_OURS | snat class << 16 */
	/* "routes.tr: route mqtt": every rule and element of the route says
	 * it; the dispatch rule adds the route's comment (iptables). Neither
	 * names a line, so an edit elsewhere changes neither. */
	const char *place;
	const char *dispatch_place;
	const char *chain;             /* iptables: the route's chain */
	/* Affinity: server of each of the PLAN_AFF_SLOTS slots (then slots
	 * is PLAN_AFF_SLOTS and a server's slots is its count there). */
	uint32_t *aff;
	/* nft, a route with a chain of its own: where its slots start in
	 * the shared slot maps. A function of the route's name and of the
	 * names and spans of the routes it would overlap, not of their
	 * order or number, so adding a route moves no other. */
	uint32_t base;
	/* nft: which of the PLAN_SHARDS maps of its kind holds its slots
	 * (a hash of its name). The kernel walks a map's every element each
	 * time a rule of another chain binds it, so one map shared by
	 * thousands of route chains loads in quadratic time. */
	uint32_t shard;
};

#define PLAN_SHARDS 1024u

struct plan {
	const struct model *m;
	enum plan_target target;
	struct plan_route *routes;     /* in the model's (source) order */
	size_t nroutes;
	/* The same, by route name: the order of everything written, so that
	 * moving a route in the source changes no byte of the output. */
	const struct plan_route **by_name;
	/* Comments of the rules that serve every route: POSTROUTING by snat
	 * class, FORWARD (replies, routed connections). */
	const char **snat_place;
	const char *policy_place[2];
	uint32_t aff_seed;             /* of the kernel's hash and the table */
};

/* Works out the plan of m for target t in arena a; reports what the
 * target cannot carry (a comment over its limit, two chains of one name,
 * too many roundrobin slots) to d and returns NULL then. */
struct plan_options {
	bool aff_seed_set;             /* --affinity-seed */
	uint32_t aff_seed;
};

struct plan *plan_build(const struct model *m, enum plan_target t,
			const struct plan_options *o, struct arena *a,
			struct diag_ctx *d);

/* nft: the route has a chain of its own (it cannot take the shared path of
 * random routes that match only their listeners). */
bool plan_route_own_chain(const struct m_route *r);

/* The exact share of server i, "0.333333333333": 12 digits, half up. From
 * the slots, or from the chain of 31-bit probabilities (computed in fixed
 * point, exact far below the last digit). */
void plan_share_decimal(const struct plan_route *pr, size_t i, char out[20]);

/* The text iptables-save prints for a stored probability: "0.33333333349". */
void plan_q31_str(uint32_t q, char out[16]);

/* The route of family `family` (4 or 6) uses snat class cls. */
bool plan_family_uses_snat(const struct plan *p, int family, unsigned cls);

const char *plan_target_name(enum plan_target t);

/* iptables, affinity: the chain of server i, where the client is
 * remembered. */
void plan_server_chain(const struct plan_route *pr, size_t i, char out[CHAIN_MAX_LEN + 1]);

#endif
