/* balance.h: the arithmetic of spreading connections over servers.
 *
 * random: server i of n takes the connections that reach its rule with
 * probability p_i = w_i / (w_i + ... + w_n), so that it gets w_i / W of all.
 * The kernel stores p as a 31-bit integer, round(p * 2^31), and
 * iptables-save prints it back as "%.11f" of that over 2^31: we compute the
 * integer exactly and print the same, so save gives back our text.
 * roundrobin: weights become slots; slot j of S matches every S-j+1-th
 * connection reaching it. */
#ifndef TRC_BALANCE_H
#define TRC_BALANCE_H

#include <stdint.h>

#define BALANCE_Q31_ONE 0x80000000u

/* round(w / rest * 2^31), half up, exactly; rest >= w > 0. */
uint32_t balance_q31(uint64_t w, uint64_t rest);
/* The text iptables-save prints for a stored value: "0.33333333349". */
void balance_q31_str(uint32_t q, char out[16]);
uint64_t balance_gcd(uint64_t a, uint64_t b);

#endif
