/* delta.h: --since, the change from one compiled output to another, as a
 * file the loader applies to a host that runs the first (doc/deltas.md).
 *
 * Both outputs are the exact texts the full compile writes (same target,
 * same options), so the delta reaches exactly the bytes a full load of
 * NEW would: it is computed from them, object by object (nft: map and set
 * elements, chains, maps; iptables: rules by position, chains), and
 * guarded by their generation markers (generation.h):
 *   nft:      one transaction for `nft -f`: delete OLD's marker, the
 *             elements, rules and objects that went, then add what came
 *             and NEW's marker;
 *   iptables: a file for `iptables-restore --noflush`, one section per
 *             table, each opening with the deletion of that table's OLD
 *             marker and ending with NEW's. */
#ifndef TRC_DELTA_H
#define TRC_DELTA_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

struct delta_counts {
	size_t del, add;      /* elements (nft) or rules deleted and added */
	size_t chains_del, chains_add, chains_refill;
	size_t objects_del, objects_add;   /* maps and sets (nft) */
	bool replaced;        /* nft: the table moved family, replaced whole */
};

/* Appends to out the delta from the text old to the text new, both full
 * outputs of the same target (nft when nft is true, else iptables or
 * ip6tables). header: the `#` lines to open the delta with. Returns false
 * with a message in err when the texts are not outputs this compiler
 * writes (a bug, not a user error). */
bool delta_make(bool nft, const struct buf *old, const struct buf *new,
		const char *header, struct buf *out, struct delta_counts *n,
		char *err, size_t errlen);

#endif
