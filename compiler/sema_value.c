/* sema_value.c: defines and values: names, $references, numbers, ports,
 * addresses and durations, each error at its token. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "sema_int.h"

/* ---- names ------------------------------------------------------------ */

static size_t def_slot(const struct sema *s, const char *name)
{
	size_t i = fnv1a32(name) & (s->defs_cap - 1);
	while (s->defs[i] && strcmp(s->defs[i]->stmt->name, name) != 0)
		i = (i + 1) & (s->defs_cap - 1);
	return i;
}

struct def *sema_def_find(const struct sema *s, const char *name)
{
	return s->defs_cap ? s->defs[def_slot(s, name)] : NULL;
}

static void def_grow(struct sema *s)
{
	size_t old_cap = s->defs_cap;
	struct def **old = s->defs;
	s->defs_cap = old_cap ? old_cap * 2 : 64;
	s->defs = ARENA_ARRAY(s->a, struct def *, s->defs_cap);
	for (size_t i = 0; i < old_cap; i++)
		if (old[i])
			s->defs[def_slot(s, old[i]->stmt->name)] = old[i];
}

struct def *sema_def_add(struct sema *s, const struct ast_stmt *st)
{
	if ((s->ndefs + 1) * 2 > s->defs_cap)
		def_grow(s);
	struct def *d = ARENA_NEW(s->a, struct def);
	d->stmt = st;
	s->defs[def_slot(s, st->name)] = d;
	s->ndefs++;
	return d;
}

/* The define whose name is nearest to `name`, for "did you mean". */
static const char *nearest_def(const struct sema *s, const char *name)
{
	const char *best = NULL;
	unsigned best_d = 3;
	for (size_t i = 0; i < s->defs_cap; i++) {
		if (!s->defs[i])
			continue;
		const char *cand = s->defs[i]->stmt->name;
		unsigned dist = levenshtein(name, cand);
		if (dist < best_d && dist * 3 <= strlen(cand) &&
		    (!best || dist < best_d || strcmp(cand, best) < 0)) {
			best_d = dist;
			best = cand;
		}
	}
	return best;
}

/* ---- values ----------------------------------------------------------- */

const struct ast_val *sema_deref(struct sema *s, const struct ast_val *v)
{
	struct def *stack[LIM_VAR_DEPTH];
	int depth = 0;
	const struct ast_val *result = NULL;
	while (v && v->kind == AV_VAR) {
		struct def *d = sema_def_find(s, v->text);
		if (!d) {
			const char *near = nearest_def(s, v->text);
			if (near)
				diag_error(s->d, v->loc, "'$%s' is not defined; did you mean '$%s'?",
					   v->text, near);
			else
				diag_error(s->d, v->loc, "'$%s' is not defined", v->text);
			goto out;
		}
		d->used = true;
		if (d->resolving || depth == LIM_VAR_DEPTH) {
			if (!d->cycle_reported)
				diag_error(s->d, d->stmt->name_loc,
					   "define '%s' refers to itself", d->stmt->name);
			d->cycle_reported = true;
			goto out;
		}
		d->resolving = true;
		stack[depth++] = d;
		v = d->stmt->value;
	}
	result = v;
out:
	while (depth > 0)
		stack[--depth]->resolving = false;
	return result;
}

/* The defines v names, directly or in a range or a set. */
static void refs_of(const struct sema *s, const struct ast_val *v, struct vec *out)
{
	if (v) {
		switch (v->kind) {
		case AV_VAR: {
			struct def *d = sema_def_find(s, v->text);
			if (d)
				vec_push(out, d);
			break;
		}
		case AV_RANGE:
			refs_of(s, v->lo, out);
			refs_of(s, v->hi, out);
			break;
		case AV_SET:
			for (const struct ast_val *e = v->elems; e; e = e->next)
				refs_of(s, e, out);
			break;
		default:
			break;
		}
	}
}

/* A depth-first walk of the define graph with an explicit stack (a chain
 * of 100,000 defines must not exhaust the C stack); a reference back to a
 * define still on the stack closes a cycle. */
void sema_check_cycles(struct sema *s)
{
	struct frame {
		struct def *d;
		struct vec refs;
		size_t next;
	};
	struct frame *stack = NULL;
	size_t depth = 0, cap = 0;
	for (size_t i = 0; i < s->defs_cap; i++) {
		struct def *root = s->defs[i];
		if (!root || root->color)
			continue;
		root->color = 1;
		if (depth == cap) {
			cap = cap ? cap * 2 : 16;
			stack = xrealloc(stack, xmul(cap, sizeof(*stack)));
		}
		stack[depth++] = (struct frame){root, {0}, 0};
		refs_of(s, root->stmt->value, &stack[depth - 1].refs);
		while (depth) {
			struct frame *f = &stack[depth - 1];
			if (f->next == f->refs.len) {
				f->d->color = 2;
				vec_free(&f->refs);
				depth--;
				continue;
			}
			struct def *to = f->refs.items[f->next++];
			if (to->color == 1) {
				if (!to->cycle_reported)
					diag_error(s->d, to->stmt->name_loc,
						   "define '%s' refers to itself", to->stmt->name);
				to->cycle_reported = true;
				continue;
			}
			if (to->color == 2)
				continue;
			to->color = 1;
			if (depth == cap) {
				cap *= 2;
				stack = xrealloc(stack, xmul(cap, sizeof(*stack)));
			}
			stack[depth++] = (struct frame){to, {0}, 0};
			refs_of(s, to->stmt->value, &stack[depth - 1].refs);
		}
	}
	free(stack);
}

static const char *kind_name(enum ast_val_kind k)
{
	switch (k) {
	case AV_NUMBER: return "a number";
	case AV_RANGE: return "a port range";
	case AV_ADDR: return "an address";
	case AV_SET: return "a set";
	case AV_VAR: return "a name";
	case AV_ANY: return "'*'";
	case AV_DURATION: return "a duration";
	}
	return "a value";
}

void sema_wrong_kind(struct sema *s, const struct ast_val *use,
		       const struct ast_val *got, const char *wanted)
{
	if (use->kind == AV_VAR) {
		diag_error(s->d, use->loc, "'$%s' is %s, expected %s", use->text,
			   kind_name(got->kind), wanted);
		if (sema_def_find(s, use->text))
			diag_note(s->d, got->loc, "'$%s' is defined here", use->text);
	} else {
		diag_error(s->d, use->loc, "expected %s, found %s", wanted,
			   kind_name(got->kind));
	}
}

/* Decimal digits to an integer in [min, max]. */
static bool eval_uint(struct sema *s, const struct ast_val *v, unsigned long min,
		      unsigned long max, const char *what, unsigned long *out)
{
	const char *t = v->text;
	unsigned long n = 0;
	bool overflow = false;
	for (; *t; t++) {
		if (n > (max + 9) / 10 + 1000000)
			overflow = true;
		else
			n = n * 10 + (unsigned long)(*t - '0');
	}
	if (overflow || n < min || n > max) {
		diag_error(s->d, v->loc, "%s %s is out of range (%lu-%lu)", what,
			   v->text, min, max);
		return false;
	}
	*out = n;
	return true;
}

bool sema_eval_number(struct sema *s, const struct ast_val *use,
			unsigned long min, unsigned long max, const char *what,
			unsigned long *out)
{
	const struct ast_val *v = sema_deref(s, use);
	if (!v)
		return false;
	if (v->kind != AV_NUMBER) {
		char wanted[64];
		snprintf(wanted, sizeof(wanted), "a %s", what);
		sema_wrong_kind(s, use, v, wanted);
		return false;
	}
	return eval_uint(s, v, min, max, what, out);
}

bool sema_eval_port(struct sema *s, const struct ast_val *use, bool allow_range,
		      uint16_t *lo, uint16_t *hi)
{
	const struct ast_val *v = sema_deref(s, use);
	if (!v)
		return false;
	unsigned long a, b;
	if (v->kind == AV_NUMBER) {
		if (!eval_uint(s, v, 1, 65535, "port", &a))
			return false;
		*lo = *hi = (uint16_t)a;
		return true;
	}
	if (v->kind == AV_RANGE) {
		if (!allow_range) {
			diag_error(s->d, use->loc, "a port range is not allowed here");
			return false;
		}
		if (!sema_eval_number(s, v->lo, 1, 65535, "port", &a) ||
		    !sema_eval_number(s, v->hi, 1, 65535, "port", &b))
			return false;
		if (a > b) {
			diag_error(s->d, v->loc, "port range %lu-%lu is empty (low > high)", a, b);
			return false;
		}
		*lo = (uint16_t)a;
		*hi = (uint16_t)b;
		return true;
	}
	sema_wrong_kind(s, use, v, "a port");
	return false;
}

struct loc sema_sub_loc(struct loc l, size_t offset, size_t len)
{
	l.first_column += (int)offset;
	l.last_column = l.first_column + (int)(len ? len : 1) - 1;
	return l;
}

bool sema_parse_addr(struct sema *s, const struct ast_val *v, struct m_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (!v->is6) {
		const char *t = v->text;
		int part = 0;
		while (*t) {
			const char *start = t;
			unsigned long n = 0;
			while (*t >= '0' && *t <= '9') {
				if (n < 1000)
					n = n * 10 + (unsigned long)(*t - '0');
				t++;
			}
			size_t len = (size_t)(t - start);
			struct loc at = sema_sub_loc(v->loc, (size_t)(start - v->text), len);
			if (part == 4) {
				diag_error(s->d, v->loc, "'%s' is not an IPv4 address: "
					   "it has more than four numbers", v->text);
				return false;
			}
			if (n > 255) {
				diag_error(s->d, at, "%.*s is out of range for an IPv4 address "
					   "octet (0-255)", (int)len, start);
				return false;
			}
			if (len > 1 && start[0] == '0') {
				diag_error(s->d, at, "octet '%.*s' has a leading zero "
					   "(ambiguous: octal or decimal?)", (int)len, start);
				return false;
			}
			out->bytes[part++] = (uint8_t)n;
			if (*t == '.')
				t++;
		}
		if (part != 4) {
			diag_error(s->d, v->loc, "'%s' is not an IPv4 address: it needs "
				   "four numbers", v->text);
			return false;
		}
		out->family = 4;
		out->prefix = 32;
	} else {
		if (strlen(v->text) >= INET6_ADDRSTRLEN ||
		    inet_pton(AF_INET6, v->text, out->bytes) != 1) {
			diag_error(s->d, v->loc, "'%s' is not a valid IPv6 address", v->text);
			return false;
		}
		out->family = 6;
		out->prefix = 128;
	}
	if (v->prefix) {
		unsigned long p;
		struct ast_val pv = {.kind = AV_NUMBER, .loc = v->prefix_loc, .text = v->prefix};
		if (!eval_uint(s, &pv, 0, out->family == 4 ? 32 : 128, "prefix length", &p))
			return false;
		out->prefix = (int)p;
		int bytes = out->family == 4 ? 4 : 16;
		for (int bit = (int)p; bit < bytes * 8; bit++) {
			if (out->bytes[bit / 8] & (0x80 >> (bit % 8))) {
				struct m_addr net = *out;
				for (int b = (int)p; b < bytes * 8; b++)
					net.bytes[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
				char txt[64];
				model_addr_str(&net, txt);
				diag_error(s->d, v->loc, "%s/%s has host bits set; the network "
					   "is %s/%lu", v->text, v->prefix, txt, p);
				return false;
			}
		}
	}
	return true;
}

bool sema_eval_host(struct sema *s, const struct ast_val *use, const char *role,
		      struct m_addr *out)
{
	const struct ast_val *v = sema_deref(s, use);
	if (!v)
		return false;
	if (v->kind != AV_ADDR) {
		char wanted[80];
		snprintf(wanted, sizeof(wanted), "an address for %s", role);
		sema_wrong_kind(s, use, v, wanted);
		return false;
	}
	if (!sema_parse_addr(s, v, out))
		return false;
	if (v->prefix) {
		diag_error(s->d, use->loc, "%s must be a single address, not the "
			   "network %s/%s", role, v->text, v->prefix);
		return false;
	}
	return true;
}


bool sema_eval_duration(struct sema *s, const struct ast_val *use, unsigned *out)
{
	const struct ast_val *v = sema_deref(s, use);
	if (!v)
		return false;
	if (v->kind != AV_DURATION) {
		sema_wrong_kind(s, use, v, "a duration such as 90s, 30m or 3h");
		return false;
	}
	size_t n = strlen(v->text);
	char unit = v->text[n - 1];
	unsigned long mult = unit == 's' ? 1 : unit == 'm' ? 60 : 3600;
	struct ast_val digits = *v;
	digits.kind = AV_NUMBER;
	digits.text = arena_strndup(s->a, v->text, n - 1);
	unsigned long max = 30ul * 24 * 3600 / mult, val = 0;
	for (const char *p = digits.text; *p && val <= max; p++)
		val = val * 10 + (unsigned long)(*p - '0');
	if (val < 1 || val > max) {
		diag_error(s->d, v->loc, "duration %s is out of range (1s to 720h)", v->text);
		return false;
	}
	*out = (unsigned)(val * mult);
	return true;
}
