/* coexist.h: --coexist, sharing the host with Docker, a host firewall and
 * other tools (see doc/coexist.md).
 *
 * What both targets need beyond the plan: the chains of tcproutec's own
 * that the builtin chains jump to (iptables), the comments of the forward
 * rules, and the guards: with `policy forward drop`, one drop of new
 * connections per declared server endpoint, so that a client cannot reach
 * a server directly while everything else is left to the host's rules. */
#ifndef TRC_COEXIST_H
#define TRC_COEXIST_H

#include "diag.h"
#include "plan.h"
#include "util.h"

/* iptables: the chains the builtin chains jump to (tcproutec --hooks). */
#define COEXIST_CHAIN_PRE CHAIN_PREFIX "PREROUTING"    /* nat PREROUTING */
#define COEXIST_CHAIN_POST CHAIN_PREFIX "POSTROUTING"  /* nat POSTROUTING */
#define COEXIST_CHAIN_FWD CHAIN_PREFIX "FORWARD"       /* filter FORWARD */
/* The comment of each jump the --hooks script installs. */
#define COEXIST_HOOK_COMMENT "tcproutec"

/* A declared server endpoint: new connections to it that no route
 * translated are dropped. A server that keeps the port is guarded on
 * each listener's port or range. */
struct coexist_guard {
	const struct plan_route *pr;
	const struct m_addr *addr;
	enum m_proto proto;
	uint16_t port_lo, port_hi;
};

struct coexist {
	const char *replies;   /* comment: replies of routed connections */
	const char *routed;    /* comment: routed connections */
	const char *guard;     /* comment: the drop of the guards (nft) */
	struct coexist_guard *guards;   /* by route name, then as declared */
	size_t nguards;                 /* 0 with policy forward accept */
};

/* Works out the --coexist frame of plan p in arena a; reports a route
 * whose chain would take the name of a hook chain, or a comment over the
 * target's limit, to d, and returns NULL then. */
struct coexist *coexist_build(const struct plan *p, struct arena *a, struct diag_ctx *d);

#endif
