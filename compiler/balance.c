/* balance.c: see balance.h. */
#include "balance.h"


uint32_t balance_q31(uint64_t w, uint64_t rest)
{
	/* w < 2^32 and rest < 2^32 keep w * 2^32 within 64 bits. */
	uint64_t num = (w << 32) + rest;        /* (2 * w * 2^31 + rest) */
	return (uint32_t)(num / (2 * rest));
}

void balance_q31_str(uint32_t q, char out[16])
{
	/* The text of printf("%.11f", q / 2^31), as iptables-save prints it:
	 * q / 2^31 is exact in a double and glibc rounds it exactly, to
	 * nearest, a tie to even. The same in integers, without printf (a
	 * ruleset has one per server): the fraction times 10^11, rounded. */
	uint64_t whole = q >> 31;
	unsigned __int128 scaled = (unsigned __int128)(q & 0x7fffffffu) * 100000000000u;
	uint64_t digits = (uint64_t)(scaled >> 31);
	uint64_t rem = (uint64_t)(scaled & 0x7fffffffu);
	if (rem > 0x40000000u || (rem == 0x40000000u && (digits & 1)))
		digits++;
	if (digits == 100000000000u) {
		digits = 0;
		whole++;
	}
	out[0] = (char)('0' + whole);
	out[1] = '.';
	for (int i = 12; i >= 2; i--, digits /= 10)
		out[i] = (char)('0' + digits % 10);
	out[13] = '\0';
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
