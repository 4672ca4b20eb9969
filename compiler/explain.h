/* explain.h: the audit view of a compilation (--explain).
 *
 * Per route: where it is written, its listeners, its servers with the share
 * of new connections each really gets (from the values the target emits,
 * not from the weights), its snat, and the source lines. As text for a
 * reviewer, or as JSON for tools (schema EXPLAIN_SCHEMA, documented in
 * doc/explain-json.md). Like the emitters it reads only the plan, and its
 * output depends on nothing else. */
#ifndef TRC_EXPLAIN_H
#define TRC_EXPLAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "plan.h"
#include "util.h"

/* Bump the number on any change a tool reading the JSON could notice. */
#define EXPLAIN_SCHEMA "tcproutec-explain/1"

enum explain_format { EXPLAIN_TEXT = 1, EXPLAIN_JSON };

/* "10.0.0.1", "masquerade" or "none". */
void explain_snat_str(const struct model *m, const struct m_route *r, char out[160]);

/* A JSON string of s (escaped, invalid UTF-8 as U+FFFD), or null. */
void explain_json_str(struct buf *out, const char *s);

/* Every route in source order, with the shares of the plan's target:
 * iptables chains statistic rules whose probabilities the kernel keeps in
 * 31 bits, so the shares are close to the weights but not equal; nft draws
 * one of W integer slots, so they are exact. Roundrobin is W slots on
 * both. */
void explain_print(const struct plan *p, enum explain_format f, struct buf *out);

#endif
