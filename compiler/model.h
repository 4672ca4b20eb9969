/* model.h: the resolved model, what the emitters read.
 *
 * Every define is substituted, every set expanded, every default applied and
 * every check done: an emitter only prints. Places point back at the source
 * line each element came from. */
#ifndef TRC_MODEL_H
#define TRC_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "ast.h"
#include "src.h"

struct m_addr {
	int family;           /* 4 or 6 */
	uint8_t bytes[16];    /* network order; IPv4 in the first 4 */
	int prefix;           /* 32 / 128 for a host */
};

struct m_listener {
	enum ast_proto proto;
	bool any;             /* listen *:PORT: any local address */
	struct m_addr addr;
	uint16_t port_lo, port_hi;
	const char *iface;    /* NULL: any */
	struct loc loc;
};

struct m_server {
	struct m_addr addr;
	uint16_t port;        /* 0: keep the connection's original port */
	unsigned weight;      /* 1..1000 */
	bool drain;
	struct loc loc;
};

/* A distinct source rewrite. Class 0 is `snat none`, 1 `masquerade`, then
 * one per distinct address, in order of first use. */
struct m_snat {
	enum ast_snat kind;
	struct m_addr addr;   /* SNAT_ADDR */
	struct loc loc;       /* first use */
	unsigned cls;
	bool used;
};

struct m_route {
	const char *name;
	struct loc loc;       /* the 'route' keyword */
	struct loc name_loc;
	const char *comment;  /* NULL when none */
	enum ast_balance balance;
	struct m_listener *listeners;
	size_t nlisteners;
	struct m_server *servers;
	size_t nservers;
	unsigned snat_cls;    /* index into model.snats */
	unsigned protos;      /* PROTO_TCP | PROTO_UDP of its listeners */
	const char *chain;    /* iptables chain name */
	int family;           /* 4 or 6: every address of a route is of one */
	bool keep_port;       /* servers are given without a port */
	bool any_range;       /* a listener has a port range */
	struct m_addr *allow; /* allow from: NULL when anyone may connect */
	size_t nallow;
	unsigned affinity;    /* seconds a client keeps its server; 0: none */
	int last_line;        /* of the closing '}' */
	/* Where balance, snat and affinity were set: the route's own line, or
	 * the defaults block's; .file is NULL for the built-in default. */
	struct loc balance_loc, snat_loc, affinity_loc;
};

struct model {
	const char *source;   /* base name of the main file */
	struct m_route *routes;
	size_t nroutes;
	struct m_snat *snats; /* by class */
	size_t nsnats;
	bool forward_accept;
	bool policy_explicit;
	struct loc policy_loc;
};

#define AFFINITY_DEFAULT_SECONDS (3u * 3600u)

#define SNAT_CLASS_NONE 0u
#define SNAT_CLASS_MASQUERADE 1u
#define SNAT_MAX_CLASSES 128u  /* 7 bits of the connection mark */

/* Text of an address, e.g. "10.0.0.1" or "2001:db8::1" (no prefix). */
void model_addr_str(const struct m_addr *a, char out[64]);
/* Does any route of `family` (4 or 6) use snat class cls? */
bool model_family_uses_snat(const struct model *m, int family, unsigned cls);
/* Number of routes of `family`. */
size_t model_family_routes(const struct model *m, int family);
/* The greatest common divisor of the active servers' weights (1 if none):
 * slots are weights divided by it. */
unsigned long model_weight_gcd(const struct m_route *r);
/* The listener class of l: plain, on an interface, any address, both. */
enum model_lclass { LC_PLAIN, LC_IF, LC_ANY, LC_ANY_IF, LC_COUNT };
enum model_lclass model_listener_class(const struct m_listener *l);
/* Active (not drained) servers' total weight. */
unsigned long model_active_weight(const struct m_route *r);

#endif
