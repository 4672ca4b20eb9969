/* cleanup.h: --conntrack-cleanup, the UDP flows a delta leaves behind.
 *
 * conntrack keeps a UDP flow's DNAT target for as long as the client
 * keeps sending within the timeout (NETFILTER-NOTES: 30 s, 120 s once a
 * stream): a device that sends every few seconds reaches a removed server
 * forever. After a --since delta, this script ends those flows, and only
 * those: UDP entries from a listener OLD declared to a server that NEW no
 * longer declares behind that listener (as kube-proxy does for UDP). TCP
 * connections are never touched: they end on their own, and a drained or
 * removed server's open connections continue. */
#ifndef TRC_CLEANUP_H
#define TRC_CLEANUP_H

#include "model.h"
#include "util.h"

/* Appends the POSIX sh script to out: header lines first (`#`, the caller's),
 * then one `conntrack -D` per (listener, server) pair that went, for the
 * routes of `family` (4 or 6; 0: both). Returns the number of pairs. */
size_t cleanup_script(const struct model *old, const struct model *new, int family,
		      const char *header, struct buf *out);

#endif
