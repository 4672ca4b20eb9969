/* chain.h: names of the per-route chains (iptables) and their hashing. */
#ifndef TRC_CHAIN_H
#define TRC_CHAIN_H

#include <stddef.h>

#define CHAIN_PREFIX "TRC-"
#define CHAIN_MAX_LEN 28    /* what iptables accepts (XT_EXTENSION_MAXNAMELEN - 1) */
#define CHAIN_HASH_KEEP 15  /* characters of a long name kept before its hash */

/* Writes the chain name of route `name` into out (at least CHAIN_MAX_LEN+1
 * bytes): "TRC-" + name when it fits, else "TRC-" + the first 15 characters
 * + "-" + 8 hex digits of the FNV-1a hash of the whole name. Stable across
 * releases: changing it renames every chain on every gateway. */
void chain_name(const char *name, char *out);

#endif
