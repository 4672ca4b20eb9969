/* emit_ipt.h: the iptables target, an iptables-restore file in the exact
 * form iptables-save prints (see doc/iptables-output.md). */
#ifndef TRC_EMIT_IPT_H
#define TRC_EMIT_IPT_H

#include "model.h"
#include "util.h"

#define EMIT_IPT_MARK_OURS 0x800000u   /* connection routed by tcproutec */
#define EMIT_IPT_MARK_MASK 0xff0000u   /* ours + 7 bits of snat class */

/* The routes of `family` (4: iptables, rules.v4; 6: ip6tables, rules.v6). */
void emit_ipt(const struct model *m, int family, struct buf *out);

/* Appends ` "TEXT"` (or ` TEXT` when nothing needs quoting) the way
 * iptables-save prints a string option. */
void emit_ipt_quote(struct buf *out, const char *text);

#endif
