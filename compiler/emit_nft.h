/* emit_nft.h: the nft target, one table that `nft -f` replaces atomically,
 * in the form `nft list ruleset` prints back (see doc/nft-output.md). */
#ifndef TRC_EMIT_NFT_H
#define TRC_EMIT_NFT_H

#include "plan.h"
#include "util.h"

#define EMIT_NFT_DEFAULT_TABLE "tcproutec"

void emit_nft(const struct plan *p, const char *table, struct buf *out);

/* --coexist: the same table, but its forward chain has policy accept and
 * drops only new connections to declared servers that no route
 * translated (see doc/coexist.md). */
struct coexist;
void emit_nft_coexist(const struct plan *p, const struct coexist *cx, const char *table,
		      struct buf *out);

#endif
