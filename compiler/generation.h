/* generation.h: the generation marker that ends each table tcproutec
 * writes, the compare-and-swap of --since deltas (doc/deltas.md).
 *
 * The marker carries a 64-bit hash (hash64, util.h) of the table's text
 * above it, so two loads agree on it exactly when they wrote the same
 * table. A delta first deletes the marker of the output it was computed
 * against (OLD): on a host that does not run OLD the delete fails, and the
 * whole transaction (nft) or table (iptables-restore) with it; its last
 * step writes NEW's marker.
 *   nft:      an empty chain, `chain generation_<16 hex> { }`, the last of
 *             the table;
 *   iptables: the chain TRC-~generation ('~' sorts after every other name,
 *             so iptables-save lists it last) holding one rule whose
 *             comment is "tcproutec generation <16 hex>", the last rule of
 *             each table section. */
#ifndef TRC_GENERATION_H
#define TRC_GENERATION_H

#define GEN_NFT_CHAIN "generation_"
#define GEN_IPT_CHAIN "TRC-~generation"
#define GEN_IPT_COMMENT "tcproutec generation "

#endif
