/* chain.c: see chain.h. */
#include "chain.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

void chain_name(const char *name, char *out)
{
	size_t n = strlen(name);
	if (strlen(CHAIN_PREFIX) + n <= CHAIN_MAX_LEN) {
		snprintf(out, CHAIN_MAX_LEN + 1, "%s%s", CHAIN_PREFIX, name);
		return;
	}
	snprintf(out, CHAIN_MAX_LEN + 1, "%s%.*s-%08x", CHAIN_PREFIX,
		 CHAIN_HASH_KEEP, name, (unsigned)fnv1a32(name));
}
