/* explain.h: the audit view of a compilation (--explain).
 *
 * Per route: where it is written, its listeners, its servers with the share
 * of new connections each really gets (from the values the target emits,
 * not from the weights), its snat, and the source lines. As text for a
 * reviewer, or as JSON for tools (schema EXPLAIN_SCHEMA, documented in
 * doc/explain-json.md). Like the emitters it reads only the model, and its
 * output depends on nothing else. */
#ifndef TRC_EXPLAIN_H
#define TRC_EXPLAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "util.h"

/* Bump the number on any change a tool reading the JSON could notice. */
#define EXPLAIN_SCHEMA "tcproutec-explain/1"

enum explain_format { EXPLAIN_TEXT = 1, EXPLAIN_JSON };

/* How the target carries out `balance random`: iptables chains statistic
 * rules whose probabilities the kernel keeps in 31 bits, so the shares are
 * close to the weights but not equal; nft draws one of W integer slots, so
 * they are exact. Roundrobin is W slots on both. */
enum explain_target { EXPLAIN_IPTABLES, EXPLAIN_IP6TABLES, EXPLAIN_NFT };

/* What one server of a route gets. */
struct explain_share {
	double fraction;        /* of new connections; report_shares() on iptables */
	char decimal[20];       /* exact share, 12 digits after the point, half up */
	bool by_slots;          /* slots of the route's W */
	uint64_t first_slot, slots, total_slots;  /* slots == 0: drained */
	bool has_q31;           /* iptables random: the rule's probability... */
	uint32_t q31;           /* ...as the kernel stores it, over 2^31 */
};

/* Fills shares[0 .. r->nservers - 1]. */
void explain_shares(const struct m_route *r, enum explain_target t,
		    struct explain_share *shares);

/* "tcp 192.0.2.1:80", "udp *:1000-1010 on eth0", "tcp [2001:db8::1]:443". */
void explain_listener_str(const struct m_route *r, const struct m_listener *l,
			  char out[160]);
/* "10.0.0.2:1234", "[2001:db8::2]:80", or the bare address (port kept). */
void explain_server_str(const struct m_server *s, char out[80]);
/* "10.0.0.1", "masquerade" or "none". */
void explain_snat_str(const struct model *m, const struct m_route *r, char out[64]);
const char *explain_target_name(enum explain_target t);

void explain_print(const struct model *m, enum explain_target t,
		   enum explain_format f, struct buf *out);

#endif
