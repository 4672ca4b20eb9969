/* ast.h: the syntax tree, as the parser builds it.
 *
 * It records what was written and where, nothing more: values are kept as
 * their source text and checked by the semantic pass, so that each error
 * points at the exact token. All nodes live in the compilation's arena. */
#ifndef TRC_AST_H
#define TRC_AST_H

#include <stdbool.h>

#include "src.h"
#include "util.h"

enum ast_val_kind {
	AV_NUMBER,    /* text: digits */
	AV_RANGE,     /* lo '-' hi, each a NUMBER or VAR */
	AV_ADDR,      /* text: an IPv4 or IPv6 address; prefix: digits or NULL */
	AV_SET,       /* '{' elems '}' */
	AV_VAR,       /* text: the define's name, without '$' */
	AV_ANY,       /* '*' */
	AV_DURATION,  /* text: digits and a unit */
};

struct ast_val {
	enum ast_val_kind kind;
	struct loc loc;
	const char *text;
	bool is6;                /* AV_ADDR written in IPv6 form */
	bool bracketed;          /* AV_ADDR written as [addr] */
	const char *prefix;      /* AV_ADDR "/N": the digits */
	struct loc prefix_loc;
	struct ast_val *lo, *hi; /* AV_RANGE */
	struct ast_val *elems;   /* AV_SET */
	struct ast_val *next;    /* in a set */
};

enum ast_item_kind {
	AI_LISTEN,
	AI_SERVER,
	AI_BALANCE,
	AI_SNAT,
	AI_ALLOW,
	AI_AFFINITY,
	AI_COMMENT,
};

enum ast_proto { PROTO_TCP = 1, PROTO_UDP = 2 };
enum ast_balance { BALANCE_RANDOM = 1, BALANCE_ROUNDROBIN };
enum ast_snat { SNAT_ADDR = 1, SNAT_MASQUERADE, SNAT_NONE };

struct ast_item {
	enum ast_item_kind kind;
	struct loc loc;          /* the keyword */
	struct loc end;          /* the item's last token */
	/* listen, server: an endpoint; port is NULL when none is given */
	enum ast_proto proto;
	struct loc proto_loc;
	struct ast_val *host, *port;
	const char *iface;
	struct loc iface_loc;
	/* server */
	struct ast_val *weight;
	struct loc weight_loc;
	/* The first attribute given twice ("weight 2 weight 3"), where, and
	 * where it was first given: the semantic pass reports it. */
	const char *twice;
	struct loc twice_loc, first_loc;
	bool drain;
	struct loc drain_loc;
	/* balance */
	enum ast_balance balance;
	/* snat: addr for SNAT_ADDR, addr_hi the end of a range (or NULL) */
	enum ast_snat snat;
	struct ast_val *addr, *addr_hi;
	/* allow: addr */
	/* affinity */
	struct ast_val *timeout;
	/* comment */
	const char *text;
	struct loc text_loc;
	struct ast_item *next;
};

enum ast_stmt_kind {
	AS_INCLUDE,
	AS_DEFINE,
	AS_DEFAULTS,
	AS_ROUTE,
	AS_POLICY,
};

struct ast_stmt {
	enum ast_stmt_kind kind;
	struct loc loc;          /* the keyword */
	const char *name;        /* define, route; include: the path string */
	struct loc name_loc;
	struct ast_val *value;   /* define */
	struct ast_item *items;  /* defaults, route */
	struct loc end;          /* defaults, route: the closing '}' */
	bool accept;             /* policy forward accept */
	struct loc policy_loc;   /* the drop/accept word */
	struct ast_stmt *next;
};

/* The statements of a whole compilation: includes are spliced in where they
 * stand, each included file once. */
struct ast_file {
	struct ast_stmt *first, *last;
};

#endif
