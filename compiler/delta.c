/* delta.c: see delta.h and doc/deltas.md.
 *
 * The two texts are read back into objects: nft tables of maps, sets and
 * chains (a declaration, then elements or rules), iptables sections of
 * chains (a policy, then rules). Only the shapes the emitters write are
 * read; anything else is an internal error, never a guess. */
#include "delta.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "generation.h"

/* A piece of one of the texts (no newline). */
struct span {
	const char *p;
	size_t n;
};

static bool span_eq(struct span a, struct span b)
{
	return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

static int span_cmp(struct span a, struct span b)
{
	int c = memcmp(a.p, b.p, a.n < b.n ? a.n : b.n);
	return c ? c : (a.n > b.n) - (a.n < b.n);
}

static bool span_starts(struct span s, const char *prefix)
{
	size_t k = strlen(prefix);
	return s.n >= k && memcmp(s.p, prefix, k) == 0;
}

struct spans {
	struct span *v;
	size_t n, cap;
};

static void spans_push(struct spans *s, struct span x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 8;
		s->v = xrealloc(s->v, xmul(s->cap, sizeof(*s->v)));
	}
	s->v[s->n++] = x;
}

/* A reader of lines. */
struct reader {
	const char *p, *end;
	long lineno;
};

static bool next_line(struct reader *r, struct span *l)
{
	if (r->p >= r->end)
		return false;
	const char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
	const char *e = nl ? nl : r->end;
	*l = (struct span){r->p, (size_t)(e - r->p)};
	r->p = nl ? nl + 1 : r->end;
	r->lineno++;
	return true;
}

struct ctx {
	struct buf *out;
	struct delta_counts *n;
	char *err;
	size_t errlen;
};

static bool bad(struct ctx *c, const char *what, long lineno, struct span l)
{
	snprintf(c->err, c->errlen, "internal error: --since cannot read %s, at line %ld "
		 "of a compiled output: '%.*s'", what, lineno, (int)(l.n > 60 ? 60 : l.n), l.p);
	return false;
}

/* ---- nft ------------------------------------------------------------------ */

enum obj_kind { OBJ_MAP, OBJ_SET, OBJ_CHAIN };

struct obj {
	enum obj_kind kind;
	struct span name;
	struct span block;    /* the whole block, "\tmap NAME {" to "\t}" */
	struct spans decl;    /* declaration lines (maps, sets: all but the
			       * elements; chains: the "type ..." line) */
	struct spans items;   /* elements (sorted) or rules (in order) */
	bool seen;            /* matched in the other table */
};

struct table {
	struct span family, name;
	struct span gen;      /* the marker chain's name */
	struct span block;    /* "table F N {" to "}" */
	struct obj *objs;
	size_t nobjs;
	struct obj **sorted;  /* by kind and name */
};

static const char *const kind_word[] = {"map", "set", "chain"};

/* Splits the text of an elements list at the commas between elements
 * (outside quotes and braces), trimming the blanks around each. */
static void split_elements(const char *p, const char *end, struct spans *out)
{
	bool q = false;
	int depth = 0;
	const char *start = p;
	for (const char *s = p; s <= end; s++) {
		if (s < end) {
			if (*s == '"')
				q = !q;
			if (q)
				continue;
			if (*s == '{')
				depth++;
			else if (*s == '}')
				depth--;
			if (*s != ',' || depth != 0)
				continue;
		}
		const char *a = start, *b = s;
		while (a < b && (*a == ' ' || *a == '\t' || *a == '\n'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\n'))
			b--;
		if (b > a)
			spans_push(out, (struct span){a, (size_t)(b - a)});
		start = s + 1;
	}
}

static int cmp_item(const void *pa, const void *pb)
{
	return span_cmp(*(const struct span *)pa, *(const struct span *)pb);
}

static int cmp_obj(const void *pa, const void *pb)
{
	const struct obj *a = *(struct obj *const *)pa, *b = *(struct obj *const *)pb;
	if (a->kind != b->kind)
		return (int)a->kind - (int)b->kind;
	return span_cmp(a->name, b->name);
}

/* Reads one object block; r is past its first line. */
static bool read_obj(struct ctx *c, struct reader *r, struct obj *o)
{
	struct span l = {0};
	const char *el = NULL;     /* the elements list, from "elements = { " */
	bool quoted = false;
	while (next_line(r, &l)) {
		if (span_eq(l, (struct span){"\t}", 2})) {
			o->block.n = (size_t)(l.p + l.n - o->block.p);
			if (o->kind != OBJ_CHAIN)
				qsort(o->items.v, o->items.n, sizeof(*o->items.v), cmp_item);
			return true;
		}
		if (!span_starts(l, "\t\t"))
			return bad(c, "an nft object", r->lineno, l);
		struct span body = {l.p + 2, l.n - 2};
		if (o->kind == OBJ_CHAIN) {
			if (span_starts(body, "type "))
				spans_push(&o->decl, body);
			else
				spans_push(&o->items, body);
			continue;
		}
		const char *from = l.p;
		if (!el && span_starts(body, "elements = { ")) {
			el = body.p + strlen("elements = { ");
			from = el;
			quoted = false;
		}
		if (!el) {
			spans_push(&o->decl, body);
			continue;
		}
		/* The list ends on the line that ends with " }" outside quotes
		 * (the parity of the quotes so far, line by line). */
		for (const char *s = from; s < l.p + l.n; s++)
			quoted ^= *s == '"';
		if (!quoted && l.n >= 2 && memcmp(l.p + l.n - 2, " }", 2) == 0) {
			split_elements(el, l.p + l.n - 2, &o->items);
			el = NULL;
		}
	}
	return bad(c, "the end of an nft object", r->lineno, l);
}

static bool read_table(struct ctx *c, const struct buf *text, struct table *t)
{
	struct reader r = {text->data, text->data + text->len, 0};
	struct span l = {0};
	*t = (struct table){0};
	size_t cap = 0;
	while (next_line(&r, &l)) {
		if (l.n == 0 || l.p[0] == '#')
			continue;
		if (!(span_starts(l, "table ") && l.p[l.n - 1] == '{')) {
			if (span_starts(l, "table ") || span_starts(l, "delete table "))
				continue;
			return bad(c, "an nft output", r.lineno, l);
		}
		if (t->name.p)
			return bad(c, "a second nft table in the output", r.lineno, l);
		const char *f = l.p + 6, *sp = memchr(f, ' ', l.n - 6);
		if (!sp)
			return bad(c, "an nft table", r.lineno, l);
		t->family = (struct span){f, (size_t)(sp - f)};
		t->name = (struct span){sp + 1, (size_t)(l.p + l.n - 2 - (sp + 1))};
		t->block.p = l.p;
		while (next_line(&r, &l)) {
			if (l.n == 0)
				continue;
			if (span_eq(l, (struct span){"}", 1})) {
				t->block.n = (size_t)(l.p + l.n - t->block.p);
				break;
			}
			enum obj_kind k;
			if (span_starts(l, "\tmap "))
				k = OBJ_MAP;
			else if (span_starts(l, "\tset "))
				k = OBJ_SET;
			else if (span_starts(l, "\tchain "))
				k = OBJ_CHAIN;
			else
				return bad(c, "an nft table", r.lineno, l);
			size_t skip = 2 + strlen(kind_word[k]);
			if (l.n < skip + 2 || memcmp(l.p + l.n - 2, " {", 2) != 0)
				return bad(c, "an nft object", r.lineno, l);
			struct span name = {l.p + skip, l.n - skip - 2};
			if (k == OBJ_CHAIN && span_starts(name, GEN_NFT_CHAIN)) {
				t->gen = name;
				if (!next_line(&r, &l) || !span_eq(l, (struct span){"\t}", 2}))
					return bad(c, "the generation marker", r.lineno, l);
				continue;
			}
			if (t->nobjs == cap) {
				cap = cap ? 2 * cap : 16;
				t->objs = xrealloc(t->objs, xmul(cap, sizeof(*t->objs)));
			}
			struct obj *o = &t->objs[t->nobjs++];
			*o = (struct obj){.kind = k, .name = name, .block = {l.p, 0}};
			if (!read_obj(c, &r, o))
				return false;
		}
		if (!t->block.n)
			return bad(c, "the end of the nft table", r.lineno, l);
	}
	if (!t->name.p || !t->gen.p)
		return bad(c, "an nft output without its table or marker", r.lineno,
			   (struct span){"", 0});
	t->sorted = xmalloc(xmul(t->nobjs ? t->nobjs : 1, sizeof(*t->sorted)));
	for (size_t i = 0; i < t->nobjs; i++)
		t->sorted[i] = &t->objs[i];
	qsort(t->sorted, t->nobjs, sizeof(*t->sorted), cmp_obj);
	return true;
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nobjs; i++) {
		free(t->objs[i].decl.v);
		free(t->objs[i].items.v);
	}
	free(t->objs);
	free(t->sorted);
}

static struct obj *find_obj(const struct table *t, enum obj_kind k, struct span name)
{
	struct obj key = {.kind = k, .name = name}, *kp = &key;
	struct obj **hit = bsearch(&kp, t->sorted, t->nobjs, sizeof(*t->sorted), cmp_obj);
	return hit ? *hit : NULL;
}

static bool same_decl(const struct obj *a, const struct obj *b)
{
	if (a->decl.n != b->decl.n)
		return false;
	for (size_t i = 0; i < a->decl.n; i++)
		if (!span_eq(a->decl.v[i], b->decl.v[i]))
			return false;
	return true;
}

static bool same_items(const struct obj *a, const struct obj *b)
{
	if (a->items.n != b->items.n)
		return false;
	for (size_t i = 0; i < a->items.n; i++)
		if (!span_eq(a->items.v[i], b->items.v[i]))
			return false;
	return true;
}

static bool name_char(char ch)
{
	return ch == '_' || ch == '-' || ch == '.' || (ch >= '0' && ch <= '9') ||
	       (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* The objects text refers to: "@name" (a map or set), "goto name" and
 * "jump name" (a chain). Calls fn for each that t has. */
static void each_ref(const struct table *t, struct span text,
		     void (*fn)(void *ctx, const struct obj *target), void *ctx)
{
	const char *end = text.p + text.n;
	bool q = false;
	for (const char *p = text.p; p < end; p++) {
		if (*p == '"')
			q = !q;
		if (q)
			continue;
		enum obj_kind k;
		const char *name;
		if (*p == '@') {
			k = OBJ_MAP;
			name = p + 1;
		} else if ((p == text.p || p[-1] == ' ') && end - p > 5 &&
			   (memcmp(p, "goto ", 5) == 0 || memcmp(p, "jump ", 5) == 0)) {
			k = OBJ_CHAIN;
			name = p + 5;
		} else {
			continue;
		}
		const char *e = name;
		while (e < end && name_char(*e))
			e++;
		struct span n = {name, (size_t)(e - name)};
		const struct obj *hit = find_obj(t, k, n);
		if (!hit && k == OBJ_MAP)
			hit = find_obj(t, OBJ_SET, n);
		if (hit)
			fn(ctx, hit);
		p = e - 1;
	}
}

/* What happens to each object of the old table. */
enum fate { KEEP, ELEMS, REFILL, RECREATE, DROP };

struct fates {
	const struct table *o;
	enum fate *fate;
	bool hit;             /* each_ref found an object of the asked fate */
	bool want_recreate;   /* asked: RECREATE (else: KEEP or ELEMS maps) */
};

static void ref_check(void *ctx, const struct obj *target)
{
	struct fates *f = ctx;
	enum fate x = f->fate[target - f->o->objs];
	if (f->want_recreate ? x == RECREATE : (target->kind != OBJ_CHAIN && x <= ELEMS))
		f->hit = true;
}

static void ref_recreate_map(void *ctx, const struct obj *target)
{
	struct fates *f = ctx;
	enum fate *x = &f->fate[target - f->o->objs];
	if (target->kind != OBJ_CHAIN && *x <= ELEMS) {
		*x = RECREATE;
		f->hit = true;
	}
}

/* The key of an element: what comes before its counter, comment or
 * value. */
static struct span elem_key(struct span e)
{
	bool q = false;
	for (size_t i = 0; i < e.n; i++) {
		if (e.p[i] == '"')
			q = !q;
		if (q || e.p[i] != ' ')
			continue;
		struct span rest = {e.p + i, e.n - i};
		if (span_starts(rest, " counter") || span_starts(rest, " comment \"") ||
		    span_starts(rest, " : "))
			return (struct span){e.p, i};
	}
	return e;
}

static void put_span(struct buf *b, struct span s)
{
	buf_add(b, s.p, s.n);
}

/* Appends the elements of NEW's object o that old lacks (all of them when
 * old is NULL) as one "add element" command; the keys of old's that o
 * lacks as one "delete element" command, when del. Counts them. */
static void elem_changes(struct ctx *c, const struct table *t, const struct obj *old,
			 const struct obj *o, bool del)
{
	struct span *a = old->items.v, *b = o->items.v;
	size_t na = old->items.n, nb = o->items.n, i = 0, j = 0, count = 0;
	struct buf *out = c->out;
	while (i < na || j < nb) {
		int k = i == na ? 1 : j == nb ? -1 : span_cmp(a[i], b[j]);
		if (k == 0) {
			i++, j++;
			continue;
		}
		struct span s = k < 0 ? a[i++] : b[j++];
		if ((k < 0) != del)
			continue;
		if (count++ == 0) {
			buf_printf(out, "%s element ", del ? "delete" : "add");
			put_span(out, t->family);
			buf_putc(out, ' ');
			put_span(out, t->name);
			buf_putc(out, ' ');
			put_span(out, o->name);
			buf_puts(out, " { ");
		} else {
			buf_puts(out, ",\n\t");
		}
		put_span(out, del ? elem_key(s) : s);
	}
	if (count)
		buf_puts(out, " }\n");
	if (del)
		c->n->del += count;
	else
		c->n->add += count;
}

static void put_cmd(struct buf *out, const char *verb, const char *kind,
		    const struct table *t, struct span name)
{
	buf_printf(out, "%s %s ", verb, kind);
	put_span(out, t->family);
	buf_putc(out, ' ');
	put_span(out, t->name);
	buf_putc(out, ' ');
	put_span(out, name);
	buf_putc(out, '\n');
}


static bool nft_delta(struct ctx *c, const struct table *o, struct table *n)
{
	struct buf *out = c->out;
	if (!span_eq(o->family, n->family) || !span_eq(o->name, n->name)) {
		/* The table moves family: replaced whole. */
		c->n->replaced = true;
		put_cmd(out, "delete", "chain", o, o->gen);
		buf_puts(out, "delete table ");
		put_span(out, o->family);
		buf_putc(out, ' ');
		put_span(out, o->name);
		buf_putc(out, '\n');
		put_span(out, n->block);
		buf_putc(out, '\n');
		c->n->objects_add = n->nobjs;
		return true;
	}
	enum fate *fate = xcalloc(o->nobjs ? o->nobjs : 1, sizeof(*fate));
	struct obj **twin = xcalloc(o->nobjs ? o->nobjs : 1, sizeof(*twin));
	for (size_t i = 0; i < o->nobjs; i++) {
		struct obj *a = &o->objs[i], *b = find_obj(n, a->kind, a->name);
		twin[i] = b;
		if (!b)
			fate[i] = DROP;
		else if (!same_decl(a, b))
			fate[i] = RECREATE;
		else if (!same_items(a, b))
			fate[i] = a->kind == OBJ_CHAIN ? REFILL : ELEMS;
		if (b)
			b->seen = true;
	}
	/* Two rules, applied until nothing moves:
	 * - a chain written in the delta (new, recreated or refilled) may
	 *   refer only to maps and sets made in the same transaction: nft
	 *   1.0.6 cannot evaluate a rule against a map it reads back from the
	 *   kernel whose typeof has "th dport" ("conflicting protocols
	 *   specified: tcp vs. th"), so such a map is recreated with its
	 *   elements;
	 * - whatever refers to a recreated object (rules, verdict elements)
	 *   lets go of it first and takes the new one after, even where its
	 *   own text did not change: chains are refilled, maps recreated. */
	struct fates fs = {.o = o, .fate = fate};
	for (bool again = true; again;) {
		again = false;
		for (size_t i = 0; i < n->nobjs; i++) {
			const struct obj *b = &n->objs[i];
			if (b->kind != OBJ_CHAIN)
				continue;
			const struct obj *a = b->seen ? find_obj(o, OBJ_CHAIN, b->name) : NULL;
			if (a && fate[a - o->objs] < REFILL)
				continue;
			fs.hit = false;
			for (size_t k = 0; k < b->items.n; k++)
				each_ref(o, b->items.v[k], ref_recreate_map, &fs);
			again |= fs.hit;
		}
		for (size_t j = 0; j < o->nobjs; j++) {
			if (fate[j] != KEEP && fate[j] != ELEMS)
				continue;
			fs.hit = false;
			fs.want_recreate = true;
			for (size_t k = 0; k < o->objs[j].items.n && !fs.hit; k++)
				each_ref(o, o->objs[j].items.v[k], ref_check, &fs);
			fs.want_recreate = false;
			if (fs.hit) {
				fate[j] = o->objs[j].kind == OBJ_CHAIN ? REFILL : RECREATE;
				again = true;
			}
		}
	}

	/* 1. The guard; then what goes: elements, rules, chains, maps. */
	put_cmd(out, "delete", "chain", o, o->gen);
	for (size_t i = 0; i < o->nobjs; i++)
		if (fate[i] == ELEMS)
			elem_changes(c, o, &o->objs[i], twin[i], true);
	for (size_t i = 0; i < o->nobjs; i++)
		if (o->objs[i].kind == OBJ_CHAIN && fate[i] >= REFILL)
			put_cmd(out, "flush", "chain", o, o->objs[i].name);
	for (size_t i = 0; i < o->nobjs; i++) {
		if (fate[i] < RECREATE)
			continue;
		put_cmd(out, "delete", kind_word[o->objs[i].kind], o, o->objs[i].name);
		if (o->objs[i].kind == OBJ_CHAIN)
			c->n->chains_del++;
		else
			c->n->objects_del++;
	}
	/* 2. What comes, in one block: nft declares the block's chains and
	 * maps before its rules and elements, so they may refer to each
	 * other in any order. */
	buf_puts(out, "table ");
	put_span(out, n->family);
	buf_putc(out, ' ');
	put_span(out, n->name);
	buf_puts(out, " {\n");
	for (size_t i = 0; i < n->nobjs; i++) {
		struct obj *b = &n->objs[i], *a = b->seen ? find_obj(o, b->kind, b->name) : NULL;
		size_t ai = a ? (size_t)(a - o->objs) : 0;
		if (!a || fate[ai] >= RECREATE) {
			put_span(out, b->block);
			buf_putc(out, '\n');
			if (b->kind == OBJ_CHAIN)
				c->n->chains_add++;
			else
				c->n->objects_add++;
		} else if (fate[ai] == REFILL) {
			buf_puts(out, "\tchain ");
			put_span(out, b->name);
			buf_puts(out, " {\n");
			for (size_t k = 0; k < b->items.n; k++) {
				buf_puts(out, "\t\t");
				put_span(out, b->items.v[k]);
				buf_putc(out, '\n');
			}
			buf_puts(out, "\t}\n");
			c->n->chains_refill++;
		}
	}
	buf_puts(out, "\tchain ");
	put_span(out, n->gen);
	buf_puts(out, " {\n\t}\n}\n");
	for (size_t i = 0; i < o->nobjs; i++)
		if (fate[i] == ELEMS)
			elem_changes(c, o, &o->objs[i], twin[i], false);
	free(fate);
	free(twin);
	return true;
}

/* ---- iptables -------------------------------------------------------------- */

struct ichain {
	struct span name, policy;   /* policy "-" for a user chain */
	struct line *rules;         /* the spec after "-A NAME " */
	long nrules, cap;
	bool seen;
};

struct section {
	struct span name;
	struct ichain *chains;      /* in declaration order */
	size_t nchains;
	struct ichain **sorted;
	struct span gen;            /* the marker rule's spec */
};

struct ipt {
	struct section *secs;
	size_t nsecs;
};

static int cmp_ichain(const void *pa, const void *pb)
{
	const struct ichain *a = *(struct ichain *const *)pa, *b = *(struct ichain *const *)pb;
	return span_cmp(a->name, b->name);
}

static struct ichain *find_ichain(const struct section *s, struct span name)
{
	struct ichain key = {.name = name}, *kp = &key;
	struct ichain **hit = bsearch(&kp, s->sorted, s->nchains, sizeof(*s->sorted), cmp_ichain);
	return hit ? *hit : NULL;
}

static bool read_ipt(struct ctx *c, const struct buf *text, struct ipt *t)
{
	struct reader r = {text->data, text->data + text->len, 0};
	struct span l = {0};
	*t = (struct ipt){0};
	struct section *s = NULL;
	struct ichain *last = NULL;
	size_t cap = 0;
	while (next_line(&r, &l)) {
		if (l.n == 0 || l.p[0] == '#')
			continue;
		if (l.p[0] == '*') {
			last = NULL;
			t->secs = xrealloc(t->secs, xmul(t->nsecs + 1, sizeof(*t->secs)));
			s = &t->secs[t->nsecs++];
			*s = (struct section){.name = {l.p + 1, l.n - 1}};
			cap = 0;
			continue;
		}
		if (!s)
			return bad(c, "an iptables output", r.lineno, l);
		if (span_eq(l, (struct span){"COMMIT", 6})) {
			if (!s->sorted) {
				s->sorted = xmalloc(xmul(s->nchains ? s->nchains : 1,
							 sizeof(*s->sorted)));
				for (size_t i = 0; i < s->nchains; i++)
					s->sorted[i] = &s->chains[i];
				qsort(s->sorted, s->nchains, sizeof(*s->sorted), cmp_ichain);
			}
			if (!s->gen.p)
				return bad(c, "a table without its generation marker", r.lineno, l);
			s = NULL;
			continue;
		}
		if (l.p[0] == ':') {
			const char *sp = memchr(l.p, ' ', l.n), *sp2;
			if (s->sorted)
				return bad(c, "a chain declared after the rules", r.lineno, l);
			if (!sp || !(sp2 = memchr(sp + 1, ' ', (size_t)(l.p + l.n - sp - 1))))
				return bad(c, "a chain declaration", r.lineno, l);
			if (s->nchains == cap) {
				cap = cap ? 2 * cap : 16;
				s->chains = xrealloc(s->chains, xmul(cap, sizeof(*s->chains)));
			}
			s->chains[s->nchains++] = (struct ichain){
				.name = {l.p + 1, (size_t)(sp - l.p - 1)},
				.policy = {sp + 1, (size_t)(sp2 - sp - 1)},
			};
			continue;
		}
		if (!span_starts(l, "-A "))
			return bad(c, "an iptables rule", r.lineno, l);
		const char *name = l.p + 3, *sp = memchr(name, ' ', l.n - 3);
		if (!sp)
			return bad(c, "an iptables rule", r.lineno, l);
		struct span cn = {name, (size_t)(sp - name)}, spec = {sp + 1, (size_t)(l.p + l.n - sp - 1)};
		if (span_eq(cn, (struct span){GEN_IPT_CHAIN, strlen(GEN_IPT_CHAIN)})) {
			s->gen = spec;
			continue;
		}
		/* Rules come grouped by chain, after the declarations: the
		 * chains are indexed at the first rule, the last one found is
		 * tried first. */
		if (!s->sorted) {
			s->sorted = xmalloc(xmul(s->nchains ? s->nchains : 1, sizeof(*s->sorted)));
			for (size_t i = 0; i < s->nchains; i++)
				s->sorted[i] = &s->chains[i];
			qsort(s->sorted, s->nchains, sizeof(*s->sorted), cmp_ichain);
		}
		if (!last || !span_eq(last->name, cn))
			last = find_ichain(s, cn);
		struct ichain *ch = last;
		if (!ch)
			return bad(c, "a rule of an undeclared chain", r.lineno, l);
		if (ch->nrules == ch->cap) {
			ch->cap = ch->cap ? 2 * ch->cap : 8;
			ch->rules = xrealloc(ch->rules, xmul((size_t)ch->cap, sizeof(*ch->rules)));
		}
		ch->rules[ch->nrules++] = (struct line){spec.p, spec.n};
	}
	if (s)
		return bad(c, "a table without COMMIT", r.lineno, l);
	return true;
}

static void ipt_free(struct ipt *t)
{
	for (size_t i = 0; i < t->nsecs; i++) {
		for (size_t j = 0; j < t->secs[i].nchains; j++)
			free(t->secs[i].chains[j].rules);
		free(t->secs[i].chains);
		free(t->secs[i].sorted);
	}
	free(t->secs);
}

static void put_rule(struct buf *out, const char *verb, struct span chain, const struct line *r)
{
	buf_puts(out, verb);
	put_span(out, chain);
	buf_putc(out, ' ');
	buf_add(out, r->p, r->len);
	buf_putc(out, '\n');
}

static bool unique_rule(const struct ichain *ch, const struct line *r)
{
	int seen = 0;
	for (long i = 0; i < ch->nrules; i++)
		seen += ch->rules[i].len == r->len && memcmp(ch->rules[i].p, r->p, r->len) == 0;
	return seen == 1;
}

/* One chain in both: its rules edited in place when that is cheaper,
 * else flushed and refilled. Deletions first, from the last (each -D
 * leaves the positions before it alone), by spec when the rule is unique
 * in the chain (so a drifted chain fails the table), by number otherwise;
 * then insertions from the first, each at its place in NEW. */
static void ipt_chain_edit(struct ctx *c, const struct ichain *a, const struct ichain *b)
{
	struct buf *out = c->out;
	struct op *ops;
	size_t nops = diff_lines(a->rules, a->nrules, b->rules, b->nrules, &ops);
	size_t edits = 0;
	for (size_t i = 0; i < nops; i++)
		edits += ops[i].kind != OP_EQ;
	if (edits == 0) {
		free(ops);
		return;
	}
	if (edits > (size_t)b->nrules / 2 + 8) {
		buf_puts(out, "-F ");
		put_span(out, a->name);
		buf_putc(out, '\n');
		for (long j = 0; j < b->nrules; j++)
			put_rule(out, "-A ", b->name, &b->rules[j]);
		c->n->chains_refill++;
		c->n->del += (size_t)a->nrules;
		c->n->add += (size_t)b->nrules;
		free(ops);
		return;
	}
	for (size_t i = nops; i-- > 0;) {
		if (ops[i].kind != OP_DEL)
			continue;
		const struct line *r = &a->rules[ops[i].a];
		if (unique_rule(a, r)) {
			put_rule(out, "-D ", a->name, r);
		} else {
			buf_puts(out, "-D ");
			put_span(out, a->name);
			buf_printf(out, " %ld\n", ops[i].a + 1);
		}
		c->n->del++;
	}
	long len = a->nrules;
	for (size_t i = 0; i < nops; i++)
		len -= ops[i].kind == OP_DEL;
	for (size_t i = 0; i < nops; i++) {
		if (ops[i].kind != OP_INS)
			continue;
		const struct line *r = &b->rules[ops[i].b];
		if (ops[i].b == len) {
			put_rule(out, "-A ", b->name, r);
		} else {
			buf_puts(out, "-I ");
			put_span(out, b->name);
			buf_printf(out, " %ld ", ops[i].b + 1);
			buf_add(out, r->p, r->len);
			buf_putc(out, '\n');
		}
		len++;
		c->n->add++;
	}
	free(ops);
}

static bool is_builtin(const struct ichain *ch)
{
	return !(ch->policy.n == 1 && ch->policy.p[0] == '-');
}

static bool ipt_section(struct ctx *c, const struct section *a, struct section *b)
{
	struct buf *out = c->out;
	buf_puts(out, "*");
	put_span(out, b->name);
	buf_printf(out, "\n-D " GEN_IPT_CHAIN " ");
	put_span(out, a->gen);
	buf_putc(out, '\n');
	/* New chains, and built-in chains whose policy changed. */
	for (size_t i = 0; i < b->nchains; i++) {
		struct ichain *y = &b->chains[i], *x = find_ichain(a, y->name);
		if (x && span_eq(x->policy, y->policy))
			continue;
		if (x && (!is_builtin(x) || !is_builtin(y))) {
			snprintf(c->err, c->errlen, "internal error: --since: chain %.*s changes "
				 "kind", (int)y->name.n, y->name.p);
			return false;
		}
		buf_putc(out, ':');
		put_span(out, y->name);
		buf_putc(out, ' ');
		put_span(out, y->policy);
		buf_puts(out, " [0:0]\n");
		if (!x)
			c->n->chains_add++;
	}
	/* Rules of the chains in both, in place. */
	for (size_t i = 0; i < a->nchains; i++) {
		struct ichain *x = &a->chains[i], *y = find_ichain(b, x->name);
		if (y) {
			y->seen = true;
			ipt_chain_edit(c, x, y);
		}
	}
	/* Rules of the new chains. */
	for (size_t i = 0; i < b->nchains; i++) {
		struct ichain *y = &b->chains[i];
		for (long j = 0; !y->seen && j < y->nrules; j++) {
			put_rule(out, "-A ", y->name, &y->rules[j]);
			c->n->add++;
		}
	}
	/* Chains that went: emptied first, all of them, then deleted (one may
	 * jump to another). A built-in chain cannot go. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < a->nchains; i++) {
			struct ichain *x = &a->chains[i];
			if (find_ichain(b, x->name))
				continue;
			if (is_builtin(x)) {
				snprintf(c->err, c->errlen, "internal error: --since: built-in "
					 "chain %.*s is gone", (int)x->name.n, x->name.p);
				return false;
			}
			buf_puts(out, pass ? "-X " : "-F ");
			put_span(out, x->name);
			buf_putc(out, '\n');
			if (pass) {
				c->n->chains_del++;
				c->n->del += (size_t)x->nrules;
			}
		}
	buf_puts(out, "-A " GEN_IPT_CHAIN " ");
	put_span(out, b->gen);
	buf_puts(out, "\nCOMMIT\n");
	return true;
}

static bool ipt_delta(struct ctx *c, const struct ipt *a, struct ipt *b)
{
	if (a->nsecs != b->nsecs)
		goto tables;
	for (size_t i = 0; i < a->nsecs; i++)
		if (!span_eq(a->secs[i].name, b->secs[i].name))
			goto tables;
	for (size_t i = 0; i < b->nsecs; i++) {
		const struct section *x = &a->secs[i];
		struct section *y = &b->secs[i];
		/* A table whose marker is unchanged is unchanged: only its
		 * guard, so that every table of the host is checked. */
		if (span_eq(x->gen, y->gen)) {
			buf_puts(c->out, "*");
			put_span(c->out, y->name);
			buf_puts(c->out, "\n-D " GEN_IPT_CHAIN " ");
			put_span(c->out, x->gen);
			buf_puts(c->out, "\n-A " GEN_IPT_CHAIN " ");
			put_span(c->out, y->gen);
			buf_puts(c->out, "\nCOMMIT\n");
			continue;
		}
		if (!ipt_section(c, x, y))
			return false;
	}
	return true;
tables:
	snprintf(c->err, c->errlen, "internal error: --since: the two outputs have different "
		 "tables");
	return false;
}

bool delta_make(bool nft, const struct buf *old, const struct buf *new,
		const char *header, struct buf *out, struct delta_counts *n,
		char *err, size_t errlen)
{
	struct ctx c = {.out = out, .n = n, .err = err, .errlen = errlen};
	*n = (struct delta_counts){0};
	/* The delta is made whole, then appended: its header counts it. */
	struct buf body;
	buf_init(&body);
	c.out = &body;
	bool ok;
	if (nft) {
		struct table a = {0}, b = {0};
		ok = read_table(&c, old, &a) && read_table(&c, new, &b);
		if (ok && span_eq(a.gen, b.gen) && span_eq(a.family, b.family)) {
			/* No change; the guard still says which host may take it. */
			put_cmd(c.out, "delete", "chain", &a, a.gen);
			put_cmd(c.out, "add", "chain", &b, b.gen);
		} else if (ok) {
			ok = nft_delta(&c, &a, &b);
		}
		table_free(&a);
		table_free(&b);
	} else {
		struct ipt a = {0}, b = {0};
		ok = read_ipt(&c, old, &a) && read_ipt(&c, new, &b) && ipt_delta(&c, &a, &b);
		ipt_free(&a);
		ipt_free(&b);
	}
	if (ok) {
		buf_puts(out, header);
		if (nft && n->replaced)
			buf_puts(out, "# the table moves to another family: replaced whole "
				 "(its counters start again)\n");
		buf_printf(out, "# changes: %zu %s deleted, %zu added; chains: %zu deleted, "
			   "%zu added, %zu refilled\n", n->del, nft ? "elements" : "rules",
			   n->add, n->chains_del, n->chains_add, n->chains_refill);
		if (nft && (n->objects_del || n->objects_add))
			buf_printf(out, "# maps and sets: %zu deleted, %zu added\n",
				   n->objects_del, n->objects_add);
		buf_add(out, body.data, body.len);
	}
	buf_free(&body);
	return ok;
}
