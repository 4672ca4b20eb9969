/* xtsize.h: what an iptables-restore file weighs in the kernel of
 * iptables-legacy, read from the exact text written.
 *
 * The legacy backend loads each table as one blob, refused past
 * XT_MAX_TABLE_SIZE (512 MiB, net/netfilter/x_tables.c) at COMMIT, after
 * the whole file has been parsed: 100,000 PaaS-shaped apps (1.59 million
 * rules) fail there, while iptables-nft loads the same file. The blob is
 * the sum of its entries, each a struct ipt_entry (ip6t_entry) followed
 * by its matches and its target, every part XT_ALIGNed; the sizes below
 * are the uapi structs' on 64-bit hosts, and tests/kernel/scale.sh checks
 * the sum against the kernel's own (IPT_SO_GET_INFO). */
#ifndef TRC_XTSIZE_H
#define TRC_XTSIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XT_MAX_TABLE_SIZE (512ull << 20)

struct xtsize {
	int family;                /* 4 or 6 */
	char line[2048];           /* the start of a line cut by a chunk */
	size_t nline;
	bool long_line;            /* longer than line[]: its start is kept */
	char table[16];
	uint64_t size;             /* of the table being read */
	char big[16];              /* the largest table, and its size */
	uint64_t big_size;
	size_t unknown;            /* matches or targets without a size here */
};

void xtsize_init(struct xtsize *x, int family);
/* Reads the next bytes of the file. */
void xtsize_feed(struct xtsize *x, const char *p, size_t n);

#endif
