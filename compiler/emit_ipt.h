/* emit_ipt.h: the iptables target, an iptables-restore file in the exact
 * form iptables-save prints (see doc/iptables-output.md). */
#ifndef TRC_EMIT_IPT_H
#define TRC_EMIT_IPT_H

#include "plan.h"
#include "util.h"

/* The routes of `family` (4: iptables, rules.v4; 6: ip6tables, rules.v6). */
void emit_ipt(const struct plan *p, int family, struct buf *out);

/* --coexist: only tcproutec's own chains (TRC-*), for
 * `iptables-restore --noflush`; no builtin chain, no policy. */
struct coexist;
void emit_ipt_coexist(const struct plan *p, const struct coexist *cx, int family,
		      struct buf *out);

/* --coexist --hooks: a POSIX sh script that makes sure each builtin chain
 * jumps once to its TRC- chain. */
void emit_ipt_hooks(const struct plan *p, int family, struct buf *out);

/* Appends ` "TEXT"` (or ` TEXT` when nothing needs quoting) the way
 * iptables-save prints a string option. */
void emit_ipt_quote(struct buf *out, const char *text);

#endif
