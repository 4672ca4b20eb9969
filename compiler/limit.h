/* limit.h: every limit the compiler enforces, each with where it comes
 * from. A limit the kernel or a loader enforces is checked on the exact
 * text the compiler writes (plan.c), so that output that compiles loads. */
#ifndef TRC_LIMITS_H
#define TRC_LIMITS_H

/* ---- the language (LANGUAGE.md) --------------------------------------- */
#define LIM_NAME_LEN 64             /* names: "at most 64 characters" */
#define LIM_WEIGHT 1000u            /* server weight 1-1000 */
#define LIM_DURATION_S (30u * 24 * 3600)  /* 720h: a month of affinity */

/* ---- the compiler's own bounds ------------------------------------------ */
/* Servers of one route after set expansion: keeps per-route arrays and
 * the iptables chain of a route within reason. */
#define LIM_SERVERS 100000u
/* Roundrobin slots of a route (one rule each in iptables, per protocol):
 * 65536 rules in one chain already take seconds to load. */
#define LIM_RR_SLOTS 65536ul
/* Nesting of $name references before a chain of defines is called a
 * cycle. */
#define LIM_VAR_DEPTH 64
/* Distinct snat settings: the class lives in 7 bits of the connection
 * mark (PLAN_MARK_MASK), with 0 for `none` and 1 for `masquerade`. */
#define LIM_SNAT_CLASSES 128u

/* ---- the kernel and the loaders ---------------------------------------- */
/* xt_comment: `char comment[XT_MAX_COMMENT_LEN]` with XT_MAX_COMMENT_LEN
 * 256, NUL included (include/uapi/linux/netfilter/xt_comment.h).
 * iptables-legacy-restore silently cuts a longer one; iptables-nft refuses
 * it. */
#define LIM_IPT_COMMENT 255u
/* nft: "comment too long, 128 characters maximum allowed"
 * (NFTNL_UDATA_COMMENT_MAXLEN in libnftnl's udata.h, checked by nft's
 * parser on rule, element, set and chain comments). */
#define LIM_NFT_COMMENT 128u
/* iptables chain names: XT_EXTENSION_MAXNAMELEN 29, NUL included
 * (include/uapi/linux/netfilter/x_tables.h); see chain.h. */
#define LIM_IPT_CHAIN 28u
/* Interface names: IFNAMSIZ 16, NUL included (include/uapi/linux/if.h). */
#define LIM_IFNAME 15u

#endif
