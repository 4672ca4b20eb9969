/* emit_nft.h: the nft target, one table that `nft -f` replaces atomically,
 * in the form `nft list ruleset` prints back (see doc/nft-output.md). */
#ifndef TRC_EMIT_NFT_H
#define TRC_EMIT_NFT_H

#include "plan.h"
#include "util.h"

#define EMIT_NFT_DEFAULT_TABLE "tcproutec"

void emit_nft(const struct plan *p, const char *table, struct buf *out);

#endif
