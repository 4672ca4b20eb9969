/* balance.c: see balance.h. */
#include "balance.h"

#include <stdio.h>

uint32_t balance_q31(uint64_t w, uint64_t rest)
{
	/* w < 2^32 and rest < 2^32 keep w * 2^32 within 64 bits. */
	uint64_t num = (w << 32) + rest;        /* (2 * w * 2^31 + rest) */
	return (uint32_t)(num / (2 * rest));
}

void balance_q31_str(uint32_t q, char out[16])
{
	/* q / 2^31 is exact in a double; glibc's %f rounds it exactly, as
	 * iptables-save does with the same call. */
	snprintf(out, 16, "%.11f", (double)q / 2147483648.0);
}

uint64_t balance_gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}
