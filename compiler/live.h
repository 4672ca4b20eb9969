/* live.h: a live gateway against its source (--verify-live, --stats).
 *
 * LIVE is what the host prints: `iptables-save -c` (or `ip6tables-save
 * -c`) for the iptables targets, `nft list ruleset` or `nft list table
 * ...` for nft. Only what tcproutec owns is read, so rules of other tools
 * (Docker's chains, a host firewall's tables) change nothing:
 *   iptables: the TRC- chains, the rules of built-in chains that jump to
 *             them or carry a tcproutec comment ("FILE: route NAME",
 *             "FILE: snat ...", "FILE: policy forward ..."), and the
 *             policies of the built-in chains the compiled file declares;
 *   nft:      the table named by --nft-table, in any family.
 * Both sides, the listing and the compiled output, go through the same
 * selection and normalisation (counters zeroed, `#` lines dropped, the
 * elements of dynamic sets dropped), so "the host runs the file" is plain
 * equality of two texts, and a difference is shown as a unified diff. */
#ifndef TRC_LIVE_H
#define TRC_LIVE_H

#include <stdio.h>

#include "plan.h"
#include "util.h"

/* Bump the number on any change a tool reading the JSON could notice. */
#define LIVE_STATS_SCHEMA "tcproutec-stats/1"

/* The statistical test of --stats: per route, Pearson's chi-square of the
 * servers' counts against the declared shares; flagged below LIVE_ALPHA,
 * not tested while a server expects fewer than LIVE_MIN_EXPECTED. */
#define LIVE_ALPHA 0.001
#define LIVE_MIN_EXPECTED 5.0

/* Exit statuses: the host runs the file (and balances as declared), it
 * does not (a diff or a flag was printed), or LIVE cannot be read or is
 * not a listing of the target. */
#define LIVE_SAME 0
#define LIVE_DRIFT 1
#define LIVE_ERROR 2

enum live_format { LIVE_TEXT = 1, LIVE_JSON };

struct live_opts {
	const char *path;         /* LIVE, or "-" for standard input */
	const char *source;       /* the source's name, for messages */
	const char *nft_table;    /* nft: the table */
	int family;               /* iptables targets: 4 or 6; nft: 0 */
	bool coexist;             /* compiled with --coexist: iptables, the host
				   * also has the jumps of --hooks */
};

/* Compares LIVE with `compiled` (what the source compiles to for the
 * plan's target); prints a unified diff (host -> compiled) to `to` when
 * they differ. Messages go to standard error. Returns a LIVE_ status. */
int live_verify(const struct plan *p, const struct live_opts *o,
		const struct buf *compiled, FILE *to);

/* Appends to out, for each route of the target and each server, the new
 * connections the kernel counted, the observed share beside the declared
 * one, and the test; returns LIVE_DRIFT when LIVE is not what the source
 * compiles to or a route is flagged, LIVE_ERROR (out untouched) when LIVE
 * cannot be read, is not a listing of the target or has no counters. */
int live_stats(const struct plan *p, const struct live_opts *o,
	       const struct buf *compiled, enum live_format f, struct buf *out);

/* The probability that a chi-square variable of df degrees of freedom
 * exceeds x (the regularized upper incomplete gamma Q(df/2, x/2)). */
double live_chi2_sf(double x, unsigned df);

#endif
