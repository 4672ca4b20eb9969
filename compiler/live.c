/* live.c: see live.h. One pass over each text (the listing, the compiled
 * output) selects what tcproutec owns and normalises it into a "view";
 * the same pass collects the counters of the rules and map elements that
 * pick a server (iptables DNAT rules, nft map elements and dnat rules),
 * each with its comment, which names the route, and its destination,
 * which names the server. */
#include "live.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "coexist.h"
#include "explain.h"
#include "verify.h"

/* A counter of the listing on a rule or element that picks a server. */
struct hit {
	char *comment;
	char *dest;
	uint64_t packets;
};

struct listing {
	const char *what;         /* its name in messages */
	struct buf view;          /* what tcproutec owns, normalised */
	struct hit *hits;
	size_t nhits, caphits;
	size_t counted, uncounted;  /* owned rules with and without counters */
	bool found;               /* nft: the table is there */
	int family_hint;          /* iptables: 4/6 from the save tool's header */
	/* iptables: the table blocks in order, each with its owned lines and
	 * the built-in chains it declares. */
	struct ipt_table *tables;
	size_t ntables;
};

struct ipt_table {
	char *name;
	struct buf body;
	struct vec builtins;      /* char *: chains declared with a policy */
	bool listed;              /* put into the view already */
};

static void hit_add(struct listing *l, const char *comment, size_t clen,
		    const char *dest, size_t dlen, uint64_t packets)
{
	if (l->nhits == l->caphits) {
		l->caphits = l->caphits ? 2 * l->caphits : 64;
		l->hits = xrealloc(l->hits, xmul(l->caphits, sizeof(*l->hits)));
	}
	struct hit *h = &l->hits[l->nhits++];
	h->comment = xmalloc(clen + 1);
	memcpy(h->comment, comment, clen);
	h->comment[clen] = '\0';
	h->dest = xmalloc(dlen + 1);
	memcpy(h->dest, dest, dlen);
	h->dest[dlen] = '\0';
	h->packets = packets;
}

static void listing_free(struct listing *l)
{
	buf_free(&l->view);
	for (size_t i = 0; i < l->nhits; i++) {
		free(l->hits[i].comment);
		free(l->hits[i].dest);
	}
	free(l->hits);
	for (size_t i = 0; i < l->ntables; i++) {
		free(l->tables[i].name);
		buf_free(&l->tables[i].body);
		for (size_t k = 0; k < l->tables[i].builtins.len; k++)
			free(l->tables[i].builtins.items[k]);
		vec_free(&l->tables[i].builtins);
	}
	free(l->tables);
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A short, printable quote of a line for a message. */
static void quote_line(const char *line, char out[64])
{
	struct buf b;
	buf_init(&b);
	size_t n = strlen(line);
	buf_add_printable(&b, line, n > 48 ? 48 : n, false);
	snprintf(out, 64, "%s%s", buf_cstr(&b), n > 48 ? "..." : "");
	buf_free(&b);
}

static int bad_line(const struct listing *l, long lineno, const char *why,
		    const char *line)
{
	char q[64];
	quote_line(line, q);
	fprintf(stderr, "tcproutec: %s:%ld: %s: '%s'\n", l->what, lineno, why, q);
	return LIVE_ERROR;
}

/* Calls fn on each line of s (NUL-terminated copies, without the newline).
 * A line holding a NUL byte is not text. */
typedef int (*line_fn)(struct listing *l, void *ctx, long lineno, char *line);

static int each_line(const char *s, size_t n, struct listing *l, void *ctx, line_fn fn)
{
	struct buf line;
	buf_init(&line);
	long lineno = 0;
	int status = LIVE_SAME;
	for (size_t i = 0; i < n && status == LIVE_SAME;) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - s) : n;
		lineno++;
		line.len = 0;
		buf_add(&line, s + i, end - i);
		char *text = (char *)buf_cstr(&line);
		if (memchr(s + i, '\0', end - i))
			status = bad_line(l, lineno, "not text (a NUL byte)", "");
		else
			status = fn(l, ctx, lineno, text);
		i = end + 1;
	}
	buf_free(&line);
	return status;
}

static uint64_t parse_u64(const char *s, const char **end)
{
	uint64_t v = 0;
	/* Saturates: a counter past 2^64 cannot be, a listing may lie. */
	while (*s >= '0' && *s <= '9') {
		unsigned d = (unsigned)(*s - '0');
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
		s++;
	}
	*end = s;
	return v;
}

/* ---- iptables-save -------------------------------------------------------- */

struct ipt_ctx {
	const struct listing *ref;   /* the compiled file; NULL: this is it */
	struct ipt_table *cur;
	bool hooks;                  /* the compiled file is --coexist's: add
				      * the jumps its --hooks script installs */
	bool hooked;                 /* added to the current table */
};

/* The jumps of `tcproutec --coexist --hooks`, as iptables-save prints
 * them, where it prints them: after the declarations, before the first
 * rule of our own chains (a hook is the first rule of its builtin chain,
 * and builtin chains are listed first). */
static void add_hooks(struct ipt_ctx *c)
{
	if (!c->hooks || c->hooked || !c->cur)
		return;
	c->hooked = true;
	static const struct {
		const char *table, *chain, *target;
	} hooks[] = {
		{"nat", "PREROUTING", COEXIST_CHAIN_PRE},
		{"nat", "POSTROUTING", COEXIST_CHAIN_POST},
		{"filter", "FORWARD", COEXIST_CHAIN_FWD},
	};
	for (size_t i = 0; i < ARRAY_LEN(hooks); i++)
		if (strcmp(c->cur->name, hooks[i].table) == 0)
			buf_printf(&c->cur->body, "-A %s -m comment --comment " COEXIST_HOOK_COMMENT
				   " -j %s\n", hooks[i].chain, hooks[i].target);
}

static struct ipt_table *ipt_find(const struct listing *l, const char *name)
{
	for (size_t i = 0; l && i < l->ntables; i++)
		if (strcmp(l->tables[i].name, name) == 0)
			return &l->tables[i];
	return NULL;
}

static bool ipt_declares(const struct ipt_table *t, const char *chain)
{
	for (size_t i = 0; t && i < t->builtins.len; i++)
		if (strcmp(t->builtins.items[i], chain) == 0)
			return true;
	return false;
}

/* tcproutec's comments: "FILE: route NAME", "FILE: snat ...", "FILE:
 * policy forward ..." (plan.c). */
static bool comment_ours(const char *c)
{
	const char *colon = strstr(c, ": ");
	if (!colon || colon == c)
		return false;
	colon += 2;
	return starts(colon, "route ") || starts(colon, "snat ") ||
	       starts(colon, "policy forward ");
}

/* The value of an option as iptables-save prints it: bare, or quoted with
 * backslashes before '"', '\' and '\''. Returns its length in out. */
static size_t ipt_value(const char *s, struct buf *out)
{
	out->len = 0;
	if (*s != '"') {
		size_t n = strcspn(s, " ");
		buf_add(out, s, n);
		buf_cstr(out);
		return out->len;
	}
	for (s++; *s && *s != '"'; s++) {
		if (*s == '\\' && s[1])
			s++;
		buf_putc(out, *s);
	}
	buf_cstr(out);
	return out->len;
}

static int ipt_line(struct listing *l, void *vctx, long lineno, char *line)
{
	struct ipt_ctx *c = vctx;
	if (line[0] == '#') {
		if (starts(line, "# Generated by ip6tables"))
			l->family_hint = 6;
		else if (starts(line, "# Generated by iptables"))
			l->family_hint = 4;
		return LIVE_SAME;
	}
	if (line[0] == '\0')
		return LIVE_SAME;
	if (starts(line, "table ") && ends(line, "{"))
		return bad_line(l, lineno, "an nft listing, not iptables-save output "
				"(use -t nft)", line);
	if (line[0] == '*') {
		if (c->cur)
			return bad_line(l, lineno, "a table begins before the COMMIT "
					"of the one before", line);
		const char *name = line + 1;
		if (!*name || strspn(name, "abcdefghijklmnopqrstuvwxyz_") != strlen(name))
			return bad_line(l, lineno, "not an iptables-save table line", line);
		if (ipt_find(l, name))
			return bad_line(l, lineno, "a table listed twice", line);
		l->tables = xrealloc(l->tables, xmul(l->ntables + 1, sizeof(*l->tables)));
		c->cur = &l->tables[l->ntables++];
		memset(c->cur, 0, sizeof(*c->cur));
		c->cur->name = xstrdup(name);
		buf_init(&c->cur->body);
		return LIVE_SAME;
	}
	if (strcmp(line, "COMMIT") == 0) {
		if (!c->cur)
			return bad_line(l, lineno, "COMMIT outside a table", line);
		add_hooks(c);
		c->cur = NULL;
		c->hooked = false;
		return LIVE_SAME;
	}
	if (line[0] != ':' && line[0] != '[' && !starts(line, "-A "))
		return bad_line(l, lineno, "not an iptables-save listing", line);
	if (!c->cur)
		return bad_line(l, lineno, "a chain or rule outside a table", line);
	struct ipt_table *t = c->cur;

	if (line[0] == ':') {
		/* ":CHAIN POLICY [p:b]", policy "-" for a user chain. */
		char *sp = strchr(line, ' ');
		char *sp2 = sp ? strchr(sp + 1, ' ') : NULL;
		if (!sp || !sp2 || sp == line + 1 || sp2[1] != '[' || !ends(sp2, "]"))
			return bad_line(l, lineno, "not an iptables-save chain line", line);
		*sp = '\0';
		*sp2 = '\0';
		const char *chain = line + 1, *policy = sp + 1;
		bool builtin = strcmp(policy, "-") != 0;
		bool ours = starts(chain, CHAIN_PREFIX);
		if (builtin) {
			vec_push(&t->builtins, xstrdup(chain));
			ours = !c->ref || ipt_declares(ipt_find(c->ref, t->name), chain);
		}
		if (ours)
			buf_printf(&t->body, ":%s %s [0:0]\n", chain, policy);
		return LIVE_SAME;
	}

	add_hooks(c);
	uint64_t packets = 0;
	bool counted = false;
	char *rule = line;
	if (line[0] == '[') {
		/* "[packets:bytes] -A ...": iptables-save -c. */
		const char *p;
		packets = parse_u64(line + 1, &p);
		if (p == line + 1 || *p != ':')
			return bad_line(l, lineno, "not an iptables-save counter", line);
		const char *q;
		parse_u64(p + 1, &q);
		if (q == p + 1 || q[0] != ']' || q[1] != ' ' || !starts(q + 2, "-A "))
			return bad_line(l, lineno, "not an iptables-save counter", line);
		rule = (char *)q + 2;
		counted = true;
	}
	const char *chain = rule + 3;
	size_t clen = strcspn(chain, " ");
	if (clen == 0)
		return bad_line(l, lineno, "a rule without its chain", line);
	struct buf comment;
	buf_init(&comment);
	const char *cm = strstr(rule, " --comment ");
	if (cm)
		ipt_value(cm + strlen(" --comment "), &comment);
	bool ours = strncmp(chain, CHAIN_PREFIX, strlen(CHAIN_PREFIX)) == 0 ||
		    strstr(rule, " -j " CHAIN_PREFIX) || strstr(rule, " -g " CHAIN_PREFIX) ||
		    (cm && comment_ours(buf_cstr(&comment)));
	if (ours) {
		buf_puts(&t->body, rule);
		buf_putc(&t->body, '\n');
		if (counted)
			l->counted++;
		else
			l->uncounted++;
		const char *to = strstr(rule, " -j DNAT --to-destination ");
		if (to && cm && counted) {
			to += strlen(" -j DNAT --to-destination ");
			hit_add(l, comment.data, comment.len, to, strcspn(to, " "), packets);
		}
	}
	buf_free(&comment);
	return LIVE_SAME;
}

/* The view: the tables of the compiled file in its order (those the
 * listing has), then the listing's other tables that hold anything of
 * ours. */
static void ipt_view(struct listing *l, const struct listing *ref)
{
	for (size_t i = 0; ref && i < ref->ntables; i++) {
		struct ipt_table *t = ipt_find(l, ref->tables[i].name);
		if (!t)
			continue;
		buf_printf(&l->view, "*%s\n", t->name);
		buf_add(&l->view, t->body.data ? t->body.data : "", t->body.len);
		buf_puts(&l->view, "COMMIT\n");
		t->listed = true;
	}
	for (size_t i = 0; i < l->ntables; i++) {
		struct ipt_table *t = &l->tables[i];
		if (t->listed || (ref && t->body.len == 0))
			continue;
		buf_printf(&l->view, "*%s\n", t->name);
		buf_add(&l->view, t->body.data ? t->body.data : "", t->body.len);
		buf_puts(&l->view, "COMMIT\n");
		t->listed = true;
	}
}

static int ipt_parse(struct listing *l, const char *s, size_t n, const struct listing *ref,
		     bool hooks)
{
	struct ipt_ctx c = {.ref = ref, .hooks = hooks};
	int status = each_line(s, n, l, &c, ipt_line);
	if (status == LIVE_SAME && c.cur) {
		fprintf(stderr, "tcproutec: %s: ends inside table '%s' (no COMMIT)\n",
			l->what, c.cur->name);
		status = LIVE_ERROR;
	}
	if (status == LIVE_SAME && ref && l->ntables == 0) {
		fprintf(stderr, "tcproutec: %s: not an iptables-save listing (no table)\n",
			l->what);
		status = LIVE_ERROR;
	}
	if (status == LIVE_SAME)
		ipt_view(l, ref ? ref : l);
	return status;
}

/* ---- nft list ------------------------------------------------------------- */

struct nft_ctx {
	const char *table;
	bool in_table, ours;
	bool in_set, dynamic, in_map, skipping;
	bool found;
};

/* The text after the last " : " outside quotes: a map element's value. */
static const char *elem_value(const char *s, const char *end)
{
	const char *v = NULL;
	bool q = false;
	for (const char *p = s; p < end; p++) {
		if (*p == '"')
			q = !q;
		else if (!q && p + 3 <= end && memcmp(p, " : ", 3) == 0)
			v = p + 3;
	}
	return v;
}

/* The text of `comment "..."` in s..end, or NULL. */
static const char *nft_comment(const char *s, const char *end, size_t *len)
{
	bool q = false;
	for (const char *p = s; p < end; p++) {
		if (*p == '"') {
			q = !q;
			continue;
		}
		if (!q && (size_t)(end - p) > 9 && memcmp(p, "comment \"", 9) == 0) {
			const char *c = p + 9, *close = memchr(c, '"', (size_t)(end - c));
			if (!close)
				return NULL;
			*len = (size_t)(close - c);
			return c;
		}
	}
	return NULL;
}

static const char *counter_at(const char *s, const char *end)
{
	static const char key[] = "counter packets ";
	size_t k = sizeof(key) - 1;
	bool q = false;
	for (const char *p = s; p + k <= end; p++) {
		if (*p == '"')
			q = !q;
		else if (!q && memcmp(p, key, k) == 0)
			return p + k;
	}
	return NULL;
}

/* One element of a map: "KEY [counter packets N bytes M] [comment "C"] :
 * VALUE". */
static void nft_elem(struct listing *l, const char *s, const char *end)
{
	const char *cnt = counter_at(s, end);
	if (!cnt)
		return;
	const char *p;
	uint64_t packets = parse_u64(cnt, &p);
	size_t clen = 0;
	const char *comment = nft_comment(s, end, &clen);
	const char *value = elem_value(s, end);
	if (comment && value)
		hit_add(l, comment, clen, value, (size_t)(end - value), packets);
}

/* The elements on one line of a map: split at ", " outside quotes. */
static void nft_elems(struct listing *l, const char *line)
{
	while (*line == '\t' || *line == ' ')
		line++;
	if (starts(line, "elements = { "))
		line += strlen("elements = { ");
	const char *end = line + strlen(line);
	if (end - line >= 2 && memcmp(end - 2, " }", 2) == 0)
		end -= 2;
	else if (end > line && end[-1] == ',')
		end--;
	bool q = false;
	const char *start = line;
	for (const char *p = line; p <= end; p++) {
		if (p < end && *p == '"') {
			q = !q;
			continue;
		}
		if (p == end || (!q && p + 2 <= end && p[0] == ',' && p[1] == ' ')) {
			nft_elem(l, start, p);
			start = p + 2;
		}
	}
}

/* A rule that counts and DNATs: "... counter packets N bytes M ... dnat
 * [ip ]to DEST ...". */
static void nft_rule(struct listing *l, const char *line)
{
	const char *end = line + strlen(line);
	const char *cnt = counter_at(line, end);
	const char *dnat = strstr(line, " dnat ");
	if (!cnt || !dnat)
		return;
	const char *to = strstr(dnat, " to ");
	if (!to)
		return;
	to += 4;
	const char *p;
	uint64_t packets = parse_u64(cnt, &p);
	size_t clen = 0;
	const char *comment = nft_comment(line, end, &clen);
	if (comment)
		hit_add(l, comment, clen, to, strcspn(to, " "), packets);
}

/* Appends line with every "counter packets N bytes M" as zeros. */
static void put_normalised(struct buf *out, const char *line)
{
	static const char key[] = "counter packets ";
	size_t k = sizeof(key) - 1;
	const char *p = line;
	bool q = false;
	while (*p) {
		if (*p == '"')
			q = !q;
		if (!q && strncmp(p, key, k) == 0) {
			const char *a, *b;
			parse_u64(p + k, &a);
			if (a > p + k && starts(a, " bytes ")) {
				parse_u64(a + 7, &b);
				if (b > a + 7) {
					buf_puts(out, "counter packets 0 bytes 0");
					p = b;
					continue;
				}
			}
		}
		buf_putc(out, *p++);
	}
	buf_putc(out, '\n');
}

static int nft_line(struct listing *l, void *vctx, long lineno, char *line)
{
	struct nft_ctx *c = vctx;
	const char *t = line + strspn(line, "\t ");
	if (*t == '#')
		return LIVE_SAME;
	if (!c->in_table) {
		if (*t == '\0')
			return LIVE_SAME;
		if (starts(line, "table ") && ends(line, " {")) {
			/* "table FAMILY NAME {" */
			char fam[16], name[80];
			if (sscanf(line, "table %15s %79s {", fam, name) != 2)
				return bad_line(l, lineno, "not an nft table line", line);
			c->in_table = true;
			c->ours = strcmp(name, c->table) == 0 &&
				  (strcmp(fam, "ip") == 0 || strcmp(fam, "ip6") == 0 ||
				   strcmp(fam, "inet") == 0);
			if (c->ours) {
				c->found = true;
				buf_puts(&l->view, line);
				buf_putc(&l->view, '\n');
			}
			return LIVE_SAME;
		}
		/* The compiled file's preamble. */
		if (starts(line, "table ") || starts(line, "delete table "))
			return LIVE_SAME;
		if (line[0] == '*' || line[0] == ':' || line[0] == '[' || starts(line, "-A "))
			return bad_line(l, lineno, "an iptables-save listing, not nft's "
					"(use -t iptables or -t ip6tables)", line);
		return bad_line(l, lineno, "not an nft listing", line);
	}
	if (strcmp(line, "}") == 0) {
		if (c->ours)
			buf_puts(&l->view, "}\n");
		c->in_table = c->ours = false;
		return LIVE_SAME;
	}
	if (!c->ours)
		return LIVE_SAME;
	if (starts(line, "\t") && !starts(line, "\t\t")) {
		c->in_set = starts(line, "\tset ");
		c->in_map = starts(line, "\tmap ");
		c->dynamic = c->skipping = false;
	}
	/* A dynamic set's elements are the host's clients, not the file.
	 * tcproutec emits none now (affinity is a stateless jhash over slot
	 * maps, which count like any other); a table of an older version
	 * kept its affinity clients in such sets. */
	if (c->in_set && starts(line, "\t\tflags ") && strstr(line, "dynamic"))
		c->dynamic = true;
	if (c->skipping || (c->in_set && c->dynamic && starts(line, "\t\telements = {"))) {
		c->skipping = !ends(line, "}");
		return LIVE_SAME;
	}
	if (strstr(line, "counter packets ")) {
		l->counted++;
		if (c->in_map)
			nft_elems(l, line);
		else
			nft_rule(l, line);
	}
	put_normalised(&l->view, line);
	return LIVE_SAME;
}

struct block {
	const char *p;
	size_t n;             /* its lines, the last newline included */
};

static int cmp_block(const void *pa, const void *pb)
{
	const struct block *a = pa, *b = pb;
	int c = memcmp(a->p, b->p, a->n < b->n ? a->n : b->n);
	return c ? c : (a->n > b->n) - (a->n < b->n);
}

/* The table's maps, sets and chains in order of their first lines: nft
 * lists them in the order they were made, which a --since delta changes
 * (a chain it adds comes last) and which means nothing to a packet. */
static void sort_blocks(struct buf *view)
{
	const char *s = view->data, *end = s + view->len;
	struct block *v = NULL;
	size_t nv = 0, cap = 0;
	const char *body = NULL;    /* after the table's first line */
	for (const char *p = s; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		if (!body) {
			body = next;
		} else if (p + 6 <= end && memcmp(p, "table ", 6) == 0) {
			nv = 0;     /* two tables (drift): listed as they are */
			break;
		} else if (p[0] == '\t' && p + 1 < end && p[1] >= 'a' && p[1] <= 'z') {
			if (nv == cap) {
				cap = cap ? 2 * cap : 16;
				v = xrealloc(v, xmul(cap, sizeof(*v)));
			}
			v[nv++] = (struct block){p, (size_t)(next - p)};
		} else if (nv && p[0] != '\n' && !(p[0] == '}' && next == end)) {
			v[nv - 1].n = (size_t)(next - v[nv - 1].p);
		}
		p = next;
	}
	if (nv < 2) {
		free(v);
		return;
	}
	qsort(v, nv, sizeof(*v), cmp_block);
	struct buf out;
	buf_init(&out);
	buf_add(&out, s, (size_t)(body - s));
	for (size_t i = 0; i < nv; i++) {
		if (i)
			buf_putc(&out, '\n');
		buf_add(&out, v[i].p, v[i].n);
	}
	buf_puts(&out, "}\n");
	free(v);
	buf_free(view);
	*view = out;
}

static int nft_parse(struct listing *l, const char *s, size_t n, const char *table,
		     bool *found)
{
	struct nft_ctx c = {.table = table};
	int status = each_line(s, n, l, &c, nft_line);
	if (status == LIVE_SAME && c.in_table) {
		fprintf(stderr, "tcproutec: %s: ends inside a table (no closing '}')\n",
			l->what);
		status = LIVE_ERROR;
	}
	*found = c.found;
	if (status == LIVE_SAME && c.found)
		sort_blocks(&l->view);
	return status;
}

/* ---- both ------------------------------------------------------------------ */

static int read_all(const char *path, const char *what, struct buf *out)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "tcproutec: cannot read %s: %s\n", what, strerror(errno));
		return LIVE_ERROR;
	}
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(out, chunk, n);
	int err = ferror(f) ? errno : 0;
	if (f != stdin)
		fclose(f);
	if (err) {
		fprintf(stderr, "tcproutec: cannot read %s: %s\n", what, strerror(err));
		return LIVE_ERROR;
	}
	if (out->len == 0) {
		fprintf(stderr, "tcproutec: %s is empty: not a listing\n", what);
		return LIVE_ERROR;
	}
	return LIVE_SAME;
}

/* Reads LIVE and the compiled text into their views. */
static int load(const struct plan *p, const struct live_opts *o, const struct buf *compiled,
		struct listing *have, struct listing *want)
{
	const char *what = strcmp(o->path, "-") == 0 ? "<stdin>" : o->path;
	memset(have, 0, sizeof(*have));
	memset(want, 0, sizeof(*want));
	buf_init(&have->view);
	buf_init(&want->view);
	have->what = what;
	want->what = "the compiled output";
	struct buf text;
	buf_init(&text);
	int status = read_all(o->path, what, &text);
	const char *c = compiled->data ? compiled->data : "";
	if (status == LIVE_SAME && p->target == PLAN_NFT) {
		status = nft_parse(want, c, compiled->len, o->nft_table, &want->found);
		if (status == LIVE_SAME)
			status = nft_parse(have, text.data, text.len, o->nft_table, &have->found);
	} else if (status == LIVE_SAME) {
		status = ipt_parse(want, c, compiled->len, NULL, o->coexist);
		if (status == LIVE_SAME)
			status = ipt_parse(have, text.data, text.len, want, false);
		if (status == LIVE_SAME && have->family_hint && have->family_hint != o->family) {
			fprintf(stderr, "tcproutec: %s was made by %s, but the target is %s "
				"(-t %s)\n", what, have->family_hint == 6 ? "ip6tables-save" :
				"iptables-save", plan_target_name(p->target),
				have->family_hint == 6 ? "ip6tables" : "iptables");
			status = LIVE_ERROR;
		}
	}
	buf_free(&text);
	return status;
}

static bool drifted(const struct listing *have, const struct listing *want)
{
	return have->view.len != want->view.len ||
	       (have->view.len && memcmp(have->view.data, want->view.data, have->view.len) != 0);
}

int live_verify(const struct plan *p, const struct live_opts *o,
		const struct buf *compiled, FILE *to)
{
	struct listing have, want;
	int status = load(p, o, compiled, &have, &want);
	if (status == LIVE_SAME && drifted(&have, &want)) {
		struct buf diff;
		buf_init(&diff);
		char *label_b = xmalloc(strlen(o->source) + 64);
		sprintf(label_b, "%s (compiled, -t %s)", o->source, plan_target_name(p->target));
		verify_diff(have.view.data ? have.view.data : "", have.view.len,
			    want.view.data ? want.view.data : "", want.view.len,
			    have.what, label_b, &diff);
		fprintf(stderr, "tcproutec: %s has drifted: the host does not run what %s "
			"compiles to\n", have.what, o->source);
		status = LIVE_DRIFT;
		if (fwrite(diff.data, 1, diff.len, to) != diff.len || fflush(to) != 0) {
			fprintf(stderr, "tcproutec: cannot write the diff: %s\n", strerror(errno));
			status = LIVE_ERROR;
		}
		free(label_b);
		buf_free(&diff);
	}
	listing_free(&have);
	listing_free(&want);
	return status;
}

/* ---- statistics ------------------------------------------------------------ */

/* Q(a, x), the regularized upper incomplete gamma function: a series
 * below a + 1, Lentz's continued fraction above (Numerical Recipes 6.2). */
static double gamma_q(double a, double x)
{
	if (x <= 0.0)
		return 1.0;
	double lead = exp(-x + a * log(x) - lgamma(a));
	if (x < a + 1.0) {
		double ap = a, sum = 1.0 / a, del = sum;
		for (int i = 0; i < 10000; i++) {
			ap += 1.0;
			del *= x / ap;
			sum += del;
			if (fabs(del) < fabs(sum) * 1e-16)
				break;
		}
		double q = 1.0 - sum * lead;
		return q < 0.0 ? 0.0 : q;
	}
	const double tiny = 1e-300;
	double b = x + 1.0 - a, c = 1.0 / tiny, d = 1.0 / b, h = d;
	for (int i = 1; i < 10000; i++) {
		double an = -i * (i - a);
		b += 2.0;
		d = an * d + b;
		if (fabs(d) < tiny)
			d = tiny;
		c = b + an / c;
		if (fabs(c) < tiny)
			c = tiny;
		d = 1.0 / d;
		double del = d * c;
		h *= del;
		if (fabs(del - 1.0) < 1e-16)
			break;
	}
	return lead * h;
}

double live_chi2_sf(double x, unsigned df)
{
	return df ? gamma_q(df / 2.0, x / 2.0) : 1.0;
}

/* "10.0.0.2 . 1234", "10.0.0.2:1234", "[2001:db8::2]:80", "2001:db8::2 .
 * 80", or an address alone (port 0). */
static bool parse_dest(const char *s, struct m_addr *a, unsigned *port)
{
	char addr[64];
	const char *portp = NULL;
	size_t n;
	const char *dot = strstr(s, " . ");
	if (dot) {
		n = (size_t)(dot - s);
		portp = dot + 3;
	} else if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return false;
		s++;
		n = (size_t)(close - s);
		portp = close + 2;
	} else if (strchr(s, ':') && strchr(s, ':') == strrchr(s, ':') && strchr(s, '.')) {
		n = (size_t)(strchr(s, ':') - s);
		portp = strchr(s, ':') + 1;
	} else {
		n = strlen(s);
	}
	if (n == 0 || n >= sizeof(addr))
		return false;
	memcpy(addr, s, n);
	addr[n] = '\0';
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, addr, a->bytes) == 1)
		a->family = 4;
	else if (inet_pton(AF_INET6, addr, a->bytes) == 1)
		a->family = 6;
	else
		return false;
	*port = 0;
	if (portp) {
		const char *e;
		uint64_t v = parse_u64(portp, &e);
		if (e == portp || *e || v == 0 || v > 65535)
			return false;
		*port = (unsigned)v;
	}
	return true;
}

static bool same_addr(const struct m_addr *a, const struct m_addr *b)
{
	return a->family == b->family &&
	       memcmp(a->bytes, b->bytes, a->family == 6 ? 16 : 4) == 0;
}

/* The server that stands for server i: the first active one with the same
 * address and port (a duplicate's connections cannot be told apart). */
static size_t canon(const struct m_route *r, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (!r->servers[j].drain && same_addr(&r->servers[j].addr, &r->servers[i].addr) &&
		    r->servers[j].port == r->servers[i].port)
			return j;
	return i;
}

struct place_ix {
	const char *place;
	size_t route;
};

static int cmp_place(const void *pa, const void *pb)
{
	return strcmp(((const struct place_ix *)pa)->place, ((const struct place_ix *)pb)->place);
}

enum test_status { TS_TESTED, TS_TOO_FEW, TS_ONE_SERVER, TS_AFFINITY };

static const char *const test_names[] = {"tested", "too-few", "one-server", "affinity"};

struct route_stats {
	const struct plan_route *pr;
	uint64_t *count;          /* per server (pooled into canon) */
	double *declared;         /* per server (pooled into canon) */
	uint64_t total;
	enum test_status ts;
	double chi2, pvalue;
	unsigned df;
	bool flagged;
};

static bool in_family(const struct live_opts *o, const struct m_route *r)
{
	return o->family == 0 || r->family == o->family;
}

static void test_route(struct route_stats *rs)
{
	const struct m_route *r = rs->pr->r;
	size_t k = 0;
	bool few = rs->total == 0;
	for (size_t i = 0; i < r->nservers; i++) {
		if (r->servers[i].drain || canon(r, i) != i)
			continue;
		k++;
		if ((double)rs->total * rs->declared[i] < LIVE_MIN_EXPECTED)
			few = true;
	}
	/* Affinity's slots count like any route's, but the hash splits the
	 * client addresses, not the connections: not a sample to test. */
	if (r->affinity)
		rs->ts = TS_AFFINITY;
	else if (k < 2)
		rs->ts = TS_ONE_SERVER;
	else if (few)
		rs->ts = TS_TOO_FEW;
	else
		rs->ts = TS_TESTED;
	if (rs->ts != TS_TESTED)
		return;
	double chi2 = 0.0;
	for (size_t i = 0; i < r->nservers; i++) {
		if (r->servers[i].drain || canon(r, i) != i)
			continue;
		double e = (double)rs->total * rs->declared[i];
		double d = (double)rs->count[i] - e;
		chi2 += d * d / e;
	}
	rs->chi2 = chi2;
	rs->df = (unsigned)(k - 1);
	rs->pvalue = live_chi2_sf(chi2, rs->df);
	rs->flagged = rs->pvalue < LIVE_ALPHA;
}

/* The binomial z of server i: (observed - expected) / its deviation. */
static bool server_z(const struct route_stats *rs, size_t i, double *z)
{
	double d = rs->declared[i], n = (double)rs->total;
	/* Under affinity a client's address hashes to one slot, so the counts
	 * are shares of the clients (each with all its connections), not
	 * independent draws: no z. */
	if (rs->total == 0 || d <= 0.0 || d >= 1.0 || rs->pr->r->affinity)
		return false;
	*z = ((double)rs->count[i] - n * d) / sqrt(n * d * (1.0 - d));
	/* Printed with 2 or 4 decimals: no "-0.00". */
	if (fabs(*z) < 0.00005)
		*z = 0.0;
	return true;
}

static void server_label(const struct m_route *r, size_t i, char out[96])
{
	char ep[80];
	model_server_str(&r->servers[i], ep);
	snprintf(out, 96, "%s%s", ep, r->servers[i].drain ? " (drained)" : "");
}

static const char *test_text(const struct route_stats *rs)
{
	switch (rs->ts) {
	case TS_TOO_FEW:
		return "not tested: too few connections (a server expects fewer than 5)";
	case TS_ONE_SERVER:
		return "not tested: one server";
	case TS_AFFINITY:
		return "not tested: affinity (returning clients keep their server)";
	case TS_TESTED:
		break;
	}
	return "";
}

static void text_route(const struct route_stats *rs, struct buf *out)
{
	const struct m_route *r = rs->pr->r;
	buf_printf(out, "route %s (%s:%d), balance %s: %llu new connections\n", r->name,
		   r->loc.file->base, r->loc.first_line, model_balance_name(r->balance),
		   (unsigned long long)rs->total);
	size_t w = 6;
	for (size_t i = 0; i < r->nservers; i++) {
		char label[96];
		server_label(r, i, label);
		if (strlen(label) > w)
			w = strlen(label);
	}
	buf_printf(out, "  %-*s  connections  observed  declared        z\n", (int)w, "server");
	for (size_t i = 0; i < r->nservers; i++) {
		if (!r->servers[i].drain && canon(r, i) != i)
			continue;
		char label[96], obs[16] = "-", zs[16] = "-";
		server_label(r, i, label);
		if (rs->total)
			snprintf(obs, sizeof(obs), "%.2f%%",
				 100.0 * (double)rs->count[i] / (double)rs->total);
		double z;
		if (server_z(rs, i, &z))
			snprintf(zs, sizeof(zs), "%+.2f", z);
		buf_printf(out, "  %-*s  %11llu  %8s  %7.2f%%  %7s\n", (int)w, label,
			   (unsigned long long)rs->count[i], obs, 100.0 * rs->declared[i], zs);
	}
	if (rs->ts == TS_TESTED)
		buf_printf(out, "  chi-square %.3f, %u df: p = %.3g%s\n", rs->chi2, rs->df,
			   rs->pvalue, rs->flagged ? ": BEYOND CHANCE (p < 0.001)" : "");
	else
		buf_printf(out, "  %s\n", test_text(rs));
}

static void json_num(struct buf *out, const char *fmt, double v, bool ok)
{
	if (ok)
		buf_printf(out, fmt, v);
	else
		buf_puts(out, "null");
}

static void json_route(const struct route_stats *rs, bool last, struct buf *out)
{
	const struct m_route *r = rs->pr->r;
	buf_puts(out, "    {\"name\": ");
	explain_json_str(out, r->name);
	buf_printf(out, ", \"family\": %d, \"place\": {\"file\": ", r->family);
	explain_json_str(out, r->loc.file->base);
	buf_printf(out, ", \"line\": %d, \"column\": %d},\n", r->loc.first_line,
		   r->loc.first_column);
	buf_printf(out, "     \"balance\": \"%s\", \"affinity\": %s, \"connections\": %llu,\n",
		   model_balance_name(r->balance), r->affinity ? "true" : "false",
		   (unsigned long long)rs->total);
	bool t = rs->ts == TS_TESTED;
	buf_printf(out, "     \"test\": {\"status\": \"%s\", \"chi_square\": ", test_names[rs->ts]);
	json_num(out, "%.6f", rs->chi2, t);
	buf_puts(out, ", \"df\": ");
	json_num(out, "%.0f", rs->df, t);
	buf_puts(out, ", \"p_value\": ");
	json_num(out, "%.6g", rs->pvalue, t);
	buf_printf(out, ", \"flagged\": %s},\n     \"servers\": [\n", rs->flagged ? "true" : "false");
	bool first = true;
	for (size_t i = 0; i < r->nservers; i++) {
		const struct m_server *sv = &r->servers[i];
		if (!sv->drain && canon(r, i) != i)
			continue;
		char ep[80];
		model_server_str(sv, ep);
		buf_printf(out, "%s       {\"server\": ", first ? "" : ",\n");
		first = false;
		explain_json_str(out, ep);
		buf_puts(out, ", \"lines\": [");
		for (size_t j = i, n = 0; j < r->nservers; j++) {
			if (j != i && (sv->drain || r->servers[j].drain || canon(r, j) != i))
				continue;
			buf_printf(out, "%s%d", n++ ? ", " : "", r->servers[j].loc.first_line);
		}
		buf_printf(out, "], \"drain\": %s, \"connections\": %llu, \"observed_share\": ",
			   sv->drain ? "true" : "false", (unsigned long long)rs->count[i]);
		json_num(out, "%.6f", rs->total ? (double)rs->count[i] / (double)rs->total : 0,
			 rs->total != 0);
		buf_printf(out, ", \"declared_share\": %.12f, \"z\": ", rs->declared[i]);
		double z = 0;
		bool has_z = server_z(rs, i, &z);
		json_num(out, "%.4f", z, has_z);
		buf_putc(out, '}');
	}
	buf_printf(out, "\n     ]}%s\n", last ? "" : ",");
}

int live_stats(const struct plan *p, const struct live_opts *o,
	       const struct buf *compiled, enum live_format f, struct buf *out)
{
	struct listing have, want;
	int status = load(p, o, compiled, &have, &want);
	if (status != LIVE_SAME)
		goto done;
	/* iptables-save without -c; nft -s, or a table of an older tcproutec. */
	if (have.uncounted > 0 || (want.counted > 0 && have.found && have.counted == 0)) {
		fprintf(stderr, "tcproutec: %s has no counters on tcproutec's rules: take "
			"it with %s\n", have.what, p->target == PLAN_NFT ?
			"'nft list ruleset' (not -s) of a table compiled with counters" :
			p->target == PLAN_IP6TABLES ? "'ip6tables-save -c'" : "'iptables-save -c'");
		status = LIVE_ERROR;
		goto done;
	}
	bool drift = drifted(&have, &want);

	/* Each route's counters, found by its comment. */
	size_t n = 0;
	struct place_ix *ix = xmalloc(xmul(p->nroutes ? p->nroutes : 1, sizeof(*ix)));
	struct route_stats *rs = xcalloc(p->nroutes ? p->nroutes : 1, sizeof(*rs));
	for (size_t i = 0; i < p->nroutes; i++) {
		const struct plan_route *pr = p->by_name[i];
		rs[i].pr = pr;
		rs[i].count = xcalloc(pr->r->nservers ? pr->r->nservers : 1, sizeof(uint64_t));
		rs[i].declared = xcalloc(pr->r->nservers ? pr->r->nservers : 1, sizeof(double));
		for (size_t s = 0; s < pr->r->nservers; s++)
			if (!pr->r->servers[s].drain)
				rs[i].declared[canon(pr->r, s)] += pr->servers[s].share;
		if (in_family(o, pr->r))
			ix[n++] = (struct place_ix){pr->place, i};
	}
	qsort(ix, n, sizeof(*ix), cmp_place);
	for (size_t h = 0; h < have.nhits; h++) {
		struct place_ix key = {have.hits[h].comment, 0};
		const struct place_ix *at = bsearch(&key, ix, n, sizeof(*ix), cmp_place);
		struct m_addr a;
		unsigned port;
		if (!at || !parse_dest(have.hits[h].dest, &a, &port))
			continue;
		struct route_stats *r = &rs[at->route];
		const struct m_route *mr = r->pr->r;
		for (size_t s = 0; s < mr->nservers; s++) {
			const struct m_server *sv = &mr->servers[s];
			if (!sv->drain && same_addr(&sv->addr, &a) &&
			    (sv->port == port || sv->port == 0)) {
				r->count[s] += have.hits[h].packets;
				r->total += have.hits[h].packets;
				break;
			}
		}
	}

	size_t flagged = 0, tested = 0, shown = 0;
	for (size_t i = 0; i < p->nroutes; i++) {
		if (!in_family(o, rs[i].pr->r))
			continue;
		test_route(&rs[i]);
		shown++;
		tested += rs[i].ts == TS_TESTED;
		flagged += rs[i].flagged;
	}
	if (f == LIVE_JSON) {
		buf_printf(out, "{\n  \"schema\": \"%s\",\n  \"generator\": {\"name\": "
			   "\"tcproutec\", \"version\": \"%s\"},\n  \"source\": ",
			   LIVE_STATS_SCHEMA, TRC_VERSION);
		explain_json_str(out, p->m->source);
		buf_printf(out, ",\n  \"target\": \"%s\",\n  \"live\": ", plan_target_name(p->target));
		explain_json_str(out, have.what);
		buf_printf(out, ",\n  \"drift\": %s,\n  \"test\": {\"name\": \"chi-square\", "
			   "\"alpha\": %g, \"min_expected\": %g},\n  \"flagged\": %zu,\n"
			   "  \"routes\": [\n", drift ? "true" : "false", LIVE_ALPHA,
			   LIVE_MIN_EXPECTED, flagged);
		for (size_t i = 0, k = 0; i < p->nroutes; i++)
			if (in_family(o, rs[i].pr->r))
				json_route(&rs[i], ++k == shown, out);
		buf_puts(out, "  ]\n}\n");
	} else {
		buf_printf(out, "# new connections counted in %s since the last load, "
			   "against %s (-t %s)\n", have.what, o->source,
			   plan_target_name(p->target));
		buf_puts(out, "# test: per route, Pearson's chi-square of the servers' counts "
			      "against the declared shares;\n# flagged when p < 0.001, not tested "
			      "while a server expects fewer than 5\n");
		if (drift)
			buf_printf(out, "# DRIFT: %s is not what %s compiles to (see "
				   "--verify-live)\n", have.what, o->source);
		for (size_t i = 0; i < p->nroutes; i++)
			if (in_family(o, rs[i].pr->r))
				text_route(&rs[i], out);
		buf_printf(out, "routes: %zu, tested: %zu, beyond chance: %zu\n", shown,
			   tested, flagged);
	}
	if (drift)
		fprintf(stderr, "tcproutec: %s has drifted: the host does not run what %s "
			"compiles to (see --verify-live)\n", have.what, o->source);
	if (flagged)
		fprintf(stderr, "tcproutec: %zu route%s balance%s beyond chance (p < 0.001)\n",
			flagged, flagged == 1 ? "" : "s", flagged == 1 ? "s" : "");
	status = drift || flagged ? LIVE_DRIFT : LIVE_SAME;
	for (size_t i = 0; i < p->nroutes; i++) {
		free(rs[i].count);
		free(rs[i].declared);
	}
	free(rs);
	free(ix);
done:
	listing_free(&have);
	listing_free(&want);
	return status;
}
