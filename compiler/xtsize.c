/* xtsize.c: see xtsize.h. */
#include "xtsize.h"

#include <string.h>

/* XT_ALIGN(sizeof(struct xt_entry_match or xt_entry_target)). */
#define XT_HEAD 32u

static const struct {
	const char *name;
	unsigned size;             /* XT_ALIGN(sizeof(the match's info)) */
} matches[] = {
	{"comment", 256},          /* xt_comment_info */
	{"statistic", 24},         /* xt_statistic_info */
	{"conntrack", 168},        /* xt_conntrack_mtinfo3 */
	{"connmark", 16},          /* xt_connmark_mtinfo1 */
	{"mark", 16},              /* xt_mark_mtinfo1 */
	{"tcp", 16},               /* xt_tcp */
	{"udp", 16},               /* xt_udp */
	{"iprange", 72},           /* xt_iprange_mtinfo */
	{"addrtype", 8},           /* xt_addrtype_info_v1 */
};

/* The target's info; 0: a standard target (a verdict or a chain). */
static unsigned target_size(const char *t, size_t n, int family)
{
	static const struct {
		const char *name;
		unsigned v4, v6;
	} targets[] = {
		{"CONNMARK", 16, 16},      /* xt_connmark_tginfo2 */
		{"DNAT", 48, 48},          /* nf_nat_range2 */
		/* v4: nf_nat_ipv4_multi_range_compat; v6: nf_nat_range
		 * (revision 1 of both targets) */
		{"SNAT", 24, 40},
		{"MASQUERADE", 24, 40},
		{"HMARK", 64, 64},         /* xt_hmark_info */
	};
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
		if (strlen(targets[i].name) == n && memcmp(targets[i].name, t, n) == 0)
			return family == 6 ? targets[i].v6 : targets[i].v4;
	return 0;
}

void xtsize_init(struct xtsize *x, int family)
{
	memset(x, 0, sizeof(*x));
	x->family = family;
}

static uint64_t entry(const struct xtsize *x)
{
	return x->family == 6 ? 168 : 112;     /* ip6t_entry, ipt_entry */
}

/* A verdict (xt_standard_target, 40) or an error target (the name of a
 * chain, xt_error_target, 64). */
#define STANDARD 40u
#define ERROR 64u

static void word(const char *s, const char *end, const char **w, size_t *n)
{
	while (s < end && *s == ' ')
		s++;
	*w = s;
	while (s < end && *s != ' ')
		s++;
	*n = (size_t)(s - *w);
}

static void rule(struct xtsize *x, const char *s, const char *end)
{
	uint64_t size = entry(x) + STANDARD;
	bool quoted = false;
	for (const char *p = s; p + 4 <= end; p++) {
		/* A comment's text is the user's: "... -m x ..." in it is no
		 * match. iptables-save escapes '"' and '\' with '\'. */
		if (*p == '\\' && quoted) {
			p++;
			continue;
		}
		if (*p == '"')
			quoted = !quoted;
		if (quoted || *p != ' ' || p[1] != '-' || (p[2] != 'm' && p[2] != 'j') ||
		    p[3] != ' ')
			continue;
		const char *w;
		size_t n;
		word(p + 4, end, &w, &n);
		if (p[2] == 'j') {
			unsigned t = target_size(w, n, x->family);
			if (t)
				size += XT_HEAD + t - STANDARD;
			continue;
		}
		size_t i;
		for (i = 0; i < sizeof(matches) / sizeof(matches[0]); i++)
			if (strlen(matches[i].name) == n && memcmp(matches[i].name, w, n) == 0)
				break;
		if (i == sizeof(matches) / sizeof(matches[0]))
			x->unknown++;
		else
			size += XT_HEAD + matches[i].size;
	}
	x->size += size;
}

static void line(struct xtsize *x, const char *s, const char *end)
{
	if (s == end || *s == '#')
		return;
	if (*s == '*') {
		size_t n = (size_t)(end - s - 1);
		if (n >= sizeof(x->table))
			n = sizeof(x->table) - 1;
		memcpy(x->table, s + 1, n);
		x->table[n] = '\0';
		x->size = entry(x) + ERROR;      /* the table's last entry */
	} else if (*s == ':') {
		const char *sp = memchr(s, ' ', (size_t)(end - s));
		bool user = sp && sp + 1 < end && sp[1] == '-';
		/* A builtin chain: its policy; a user chain: its head and its
		 * RETURN. */
		x->size += user ? 2 * entry(x) + ERROR + STANDARD : entry(x) + STANDARD;
	} else if (end - s > 3 && memcmp(s, "-A ", 3) == 0) {
		rule(x, s, end);
	} else if (end - s == 6 && memcmp(s, "COMMIT", 6) == 0) {
		if (x->size > x->big_size) {
			x->big_size = x->size;
			memcpy(x->big, x->table, sizeof(x->big));
		}
	}
}

void xtsize_feed(struct xtsize *x, const char *p, size_t n)
{
	const char *end = p + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		if (x->nline || !nl) {
			/* A line cut by a chunk: gathered, as far as it fits (a
			 * rule's comment is at most 255 bytes, 510 escaped). */
			size_t k = (size_t)(e - p);
			if (k > sizeof(x->line) - x->nline) {
				k = sizeof(x->line) - x->nline;
				x->long_line = true;
			}
			memcpy(x->line + x->nline, p, k);
			x->nline += k;
			if (nl) {
				line(x, x->line, x->line + x->nline);
				x->nline = 0;
				x->long_line = false;
			}
		} else {
			line(x, p, e);
		}
		p = nl ? nl + 1 : end;
	}
}
