/* model.h: the resolved model, what the emitters read.
 *
 * Every define is substituted, every set expanded, every default applied and
 * every check done: an emitter only prints. Places point back at the source
 * line each element came from. */
#ifndef TRC_MODEL_H
#define TRC_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "limit.h"
#include "src.h"

/* The model's own words: the AST records what was written, these what it
 * means, so that nothing above the model depends on the syntax tree. */
enum m_proto { M_TCP = 1, M_UDP = 2 };         /* bits: a route's protos */
enum m_balance { M_RANDOM = 1, M_ROUNDROBIN };
enum m_snat_kind { M_SNAT_ADDR = 1, M_SNAT_MASQUERADE, M_SNAT_NONE };

struct m_addr {
	int family;           /* 4 or 6 */
	uint8_t bytes[16];    /* network order; IPv4 in the first 4 */
	int prefix;           /* 32 / 128 for a host */
};

struct m_listener {
	enum m_proto proto;
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
 * one per distinct address (or range), placed by a hash of it (sema.c). */
struct m_snat {
	enum m_snat_kind kind;
	struct m_addr addr;   /* M_SNAT_ADDR: the first address */
	struct m_addr last;   /* the last of a range; = addr for one */
	struct loc loc;       /* first use */
	unsigned cls;
	bool used;
};

struct m_route {
	const char *name;
	struct loc loc;       /* the 'route' keyword */
	struct loc name_loc;
	const char *comment;  /* NULL when none */
	struct loc comment_loc;
	enum m_balance balance;
	struct m_listener *listeners;
	size_t nlisteners;
	struct m_server *servers;
	size_t nservers;
	unsigned snat_cls;    /* index into model.snats */
	unsigned protos;      /* M_TCP | M_UDP of its listeners */
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

/* A -D NAME=VALUE of the command line and the source's define it
 * replaced. Values are written back from their syntax in one form ("{ a,
 * b }", "$name", "80-90"), so that the header does not depend on how the
 * command line spaced them. */
struct m_override {
	const char *name;
	const char *value;
	const char *arg;          /* "NAME=VALUE", the word after -D */
	const char *replaced;     /* the source's value, written the same way */
	struct loc replaced_loc;  /* its 'define' keyword */
};

struct model {
	const char *source;   /* base name of the main file */
	const struct src_file *file;  /* the main file */
	struct m_route *routes;
	size_t nroutes;
	struct m_snat *snats; /* by class; kind 0: a class not in use */
	size_t nsnats;
	bool forward_accept;
	bool policy_explicit;
	struct loc policy_loc;
	struct m_override *overrides;   /* by name */
	size_t noverrides;
	/* Options that change the output, other than -t and -D, as the
	 * header's "Compiled with" line gives them (compile_opts.options). */
	const char *const *options;
	size_t noptions;
};

#define AFFINITY_DEFAULT_SECONDS (3u * 3600u)

#define SNAT_CLASS_NONE 0u
#define SNAT_CLASS_MASQUERADE 1u
#define SNAT_MAX_CLASSES LIM_SNAT_CLASSES

/* "tcp 192.0.2.1:80", "udp [2001:db8::1]:53-54 on eth0", "tcp *:80". */
void model_listener_str(const struct m_listener *l, int family, char *out, size_t n);
/* "10.0.0.2:1234", "[2001:db8::2]:80", or the bare address (port kept). */
void model_server_str(const struct m_server *s, char out[80]);
const char *model_proto_name(enum m_proto p);
const char *model_balance_name(enum m_balance b);

/* "203.0.113.10" or "203.0.113.10-203.0.113.13": an snat address or range. */
void model_snat_str(const struct m_snat *sn, char out[160]);

/* Text of an address, e.g. "10.0.0.1" or "2001:db8::1" (no prefix). */
void model_addr_str(const struct m_addr *a, char out[64]);
/* The same texts written into a buffer (IPv4 by hand, without printf):
 * what the printers of a whole ruleset use. */
struct buf;
void model_put_addr(struct buf *b, const struct m_addr *a);
void model_put_listener(struct buf *b, const struct m_listener *l, int family);
void model_put_server(struct buf *b, const struct m_server *s);
/* Number of routes of `family`. */
size_t model_family_routes(const struct model *m, int family);
/* The listener class of l: plain, on an interface, any address, both. */
enum model_lclass { LC_PLAIN, LC_IF, LC_ANY, LC_ANY_IF, LC_COUNT };
enum model_lclass model_listener_class(const struct m_listener *l);

#endif
