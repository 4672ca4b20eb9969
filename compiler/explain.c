/* explain.c: see explain.h. */
#include "explain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "src.h"

/* ---- names of things -------------------------------------------------- */

void explain_snat_str(const struct model *m, const struct m_route *r, char out[160])
{
	const struct m_snat *sn = &m->snats[r->snat_cls];
	if (sn->kind == M_SNAT_ADDR)
		model_snat_str(sn, out);
	else
		snprintf(out, 160, "%s", sn->kind == M_SNAT_NONE ? "none" : "masquerade");
}

/* "198.51.100.0/24", or "203.0.113.7" for a single host (cidr: always
 * with the prefix). */
static void allow_str(const struct m_route *r, const struct m_addr *a, bool cidr,
		      char out[80])
{
	char text[64];
	model_addr_str(a, text);
	if (cidr || a->prefix != (r->family == 6 ? 128 : 32))
		snprintf(out, 80, "%s/%d", text, a->prefix);
	else
		snprintf(out, 80, "%s", text);
}

static int route_last_line(const struct m_route *r)
{
	return r->last_line >= r->loc.first_line ? r->last_line : r->loc.first_line;
}

/* ---- text ------------------------------------------------------------- */

static void pad(struct buf *out, size_t have, size_t want)
{
	for (; have < want; have++)
		buf_putc(out, ' ');
}

static void place_str(const struct loc *l, char *out, size_t n)
{
	if (l->file)
		snprintf(out, n, "%s:%d", l->file->base, l->first_line);
	else
		snprintf(out, n, "(default)");
}

/* The balancing column of a server line: what its rule or slots are. */
static void rule_str(const struct plan_route *pr, size_t i, char *out, size_t n)
{
	const struct plan_server *s = &pr->servers[i];
	if (!s->slots)
		snprintf(out, n, "drained");
	else if (!pr->by_q31 && s->slots == 1)
		snprintf(out, n, "slot %lu of %lu", (unsigned long)s->first_slot,
			 (unsigned long)pr->slots);
	else if (!pr->by_q31)
		snprintf(out, n, "slots %lu-%lu of %lu", (unsigned long)s->first_slot,
			 (unsigned long)(s->first_slot + s->slots - 1),
			 (unsigned long)pr->slots);
	else if (!s->has_q31 && s->share == 1.0)
		snprintf(out, n, "all");
	else if (s->has_q31) {
		char prob[16];
		plan_q31_str(s->q31, prob);
		snprintf(out, n, "probability %s", prob);
	} else {
		snprintf(out, n, "the rest");
	}
}

static void text_balance(const struct plan_route *pr, enum plan_target t, struct buf *out)
{
	const struct m_route *r = pr->r;
	unsigned long total = pr->slots;
	if (r->balance == M_ROUNDROBIN)
		buf_printf(out, "  balance  roundrobin: new connections take the %lu "
			   "slot%s in turn\n", total, total == 1 ? "" : "s");
	else if (t == PLAN_NFT)
		buf_printf(out, "  balance  random: each new connection draws one of "
			   "%lu slot%s\n", total, total == 1 ? "" : "s");
	else
		buf_puts(out, "  balance  random: each rule takes its probability of "
			      "what reaches it, the last the rest\n");
}

static void text_source(const struct m_route *r, struct buf *out)
{
	const struct src_file *f = r->loc.file;
	int first = r->loc.first_line, last = route_last_line(r);
	if (last > first)
		buf_printf(out, "  source   %s:%d-%d\n", f->base, first, last);
	else
		buf_printf(out, "  source   %s:%d\n", f->base, first);
	for (int line = first; line <= last; line++) {
		size_t len;
		const char *text = src_line(f, line, &len);
		buf_printf(out, "  %6d | ", line);
		/* Comments in the source may hold terminal escapes. */
		buf_add_printable(out, text, len, true);
		buf_putc(out, '\n');
	}
}

static void text_route(const struct plan *p, const struct plan_route *pr, struct buf *out)
{
	const struct model *m = p->m;
	const struct m_route *r = pr->r;
	char place[128], snat[160];
	place_str(&r->loc, place, sizeof(place));
	buf_printf(out, "\nroute %s (%s)%s\n", r->name, place, r->family == 6 ? ", IPv6" : "");
	if (r->comment)
		buf_printf(out, "  comment  %s\n", r->comment);

	/* Columns: endpoint, weight, share, rule; then the place, lined up
	 * with the listeners'. */
	size_t wep = 0, wweight = 0, wrule = 0, wbody = 0;
	char text[160], rule[64];
	for (size_t i = 0; i < r->nlisteners; i++) {
		model_listener_str(&r->listeners[i], r->family, text, sizeof(text));
		if (strlen(text) > wbody)
			wbody = strlen(text);
	}
	for (size_t i = 0; i < r->nservers; i++) {
		model_server_str(&r->servers[i], text);
		if (strlen(text) > wep)
			wep = strlen(text);
		int n = snprintf(text, sizeof(text), "%u", r->servers[i].weight);
		if ((size_t)n > wweight)
			wweight = (size_t)n;
		rule_str(pr, i, rule, sizeof(rule));
		if (strlen(rule) > wrule)
			wrule = strlen(rule);
	}
	/* endpoint, "  weight " W, "  " "NNN.NN %", "  " rule */
	if (r->nservers && wep + 9 + wweight + 10 + 2 + wrule > wbody)
		wbody = wep + 9 + wweight + 10 + 2 + wrule;

	for (size_t i = 0; i < r->nlisteners; i++) {
		const struct m_listener *l = &r->listeners[i];
		model_listener_str(l, r->family, text, sizeof(text));
		place_str(&l->loc, place, sizeof(place));
		buf_printf(out, "  listen   %s", text);
		pad(out, strlen(text), wbody + 2);
		buf_printf(out, "%s\n", place);
	}
	for (size_t i = 0; i < r->nservers; i++) {
		const struct m_server *sv = &r->servers[i];
		size_t start = out->len;
		model_server_str(sv, text);
		buf_printf(out, "  server   %s", text);
		pad(out, strlen(text), wep);
		buf_printf(out, "  weight %-*u  %6.2f %%  ", (int)wweight, sv->weight,
			   pr->servers[i].share * 100.0);
		rule_str(pr, i, rule, sizeof(rule));
		buf_puts(out, rule);
		pad(out, out->len - start - 11, wbody + 2);
		place_str(&sv->loc, place, sizeof(place));
		buf_printf(out, "%s\n", place);
	}
	text_balance(pr, p->target, out);
	explain_snat_str(m, r, snat);
	if (m->snats[r->snat_cls].kind == M_SNAT_NONE)
		buf_puts(out, "  snat     none: servers see the client's address");
	else if (m->snats[r->snat_cls].kind == M_SNAT_MASQUERADE)
		buf_puts(out, "  snat     masquerade: the front's address on the way "
			      "to each server");
	else
		buf_printf(out, "  snat     %s", snat);
	/* Say which line decided it: the route's, the defaults block's (which
	 * may be in another file), or none. */
	if (r->snat_loc.file) {
		place_str(&r->snat_loc, place, sizeof(place));
		buf_printf(out, " (%s%s)\n", place,
			   r->snat_loc.file == r->loc.file &&
			   r->snat_loc.first_line >= r->loc.first_line &&
			   r->snat_loc.first_line <= route_last_line(r) ? "" : ", from defaults");
	} else {
		buf_puts(out, " (the default)\n");
	}
	if (r->allow) {
		buf_puts(out, "  allow    ");
		for (size_t i = 0; i < r->nallow; i++) {
			allow_str(r, &r->allow[i], false, text);
			buf_printf(out, "%s%s", i ? ", " : "", text);
		}
		buf_puts(out, r->nallow ? ": only these clients are routed\n"
					: "nobody: no client is routed\n");
	}
	if (pr->aff)
		buf_printf(out, "  affinity client-ip: a hash of the client's address picks "
			   "one of %lu slots (seed 0x%x),\n           so a client keeps its "
			   "server across connections, reloads and gateways;\n           the "
			   "shares are of clients, the balance is not used\n",
			   (unsigned long)pr->slots, p->aff_seed);
	if (r->keep_port)
		buf_puts(out, "  ports    each connection keeps its destination port\n");
	text_source(r, out);
}

static void text_print(const struct plan *p, struct buf *out)
{
	const struct model *m = p->m;
	buf_printf(out, "tcproutec %s explain: %s, target %s\n", TRC_VERSION,
		   m->source, plan_target_name(p->target));
	buf_puts(out, "compiled with: ");
	report_command_line(p, out);
	buf_putc(out, '\n');
	char place[128];
	place_str(&m->policy_loc, place, sizeof(place));
	buf_printf(out, "forward policy: %s (%s)\n",
		   m->forward_accept ? "accept: all forwarded traffic passes"
				     : "drop: only routed connections and their replies pass",
		   m->policy_explicit ? place : "the default");
	/* What the command line changed, and where the source says otherwise. */
	if (m->noverrides)
		buf_printf(out, "overrides: %zu\n", m->noverrides);
	for (size_t i = 0; i < m->noverrides; i++) {
		const struct m_override *ov = &m->overrides[i];
		place_str(&ov->replaced_loc, place, sizeof(place));
		buf_printf(out, "  -D %s replaces %s (%s)\n", ov->arg, ov->replaced, place);
	}
	buf_printf(out, "routes: %zu\n", m->nroutes);
	for (size_t i = 0; i < p->nroutes; i++)
		text_route(p, &p->routes[i], out);
}

/* ---- JSON ------------------------------------------------------------- */

static void json_strn(struct buf *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	buf_putc(out, '"');
	while (p < end) {
		unsigned char c = *p;
		if (c == '"' || c == '\\') {
			buf_putc(out, '\\');
			buf_putc(out, (char)c);
			p++;
		} else if (c == '\n') {
			buf_puts(out, "\\n");
			p++;
		} else if (c == '\t') {
			buf_puts(out, "\\t");
			p++;
		} else if (c < 0x20 || c == 0x7f) {
			buf_printf(out, "\\u%04x", c);
			p++;
		} else if (c < 0x80) {
			buf_putc(out, (char)c);
			p++;
		} else {
			/* JSON is UTF-8: a byte that starts no valid sequence
			 * becomes U+FFFD rather than invalid output. */
			size_t len = src_utf8_len(p, (size_t)(end - p));
			if (len) {
				buf_add(out, (const char *)p, len);
				p += len;
			} else {
				buf_puts(out, "\\ufffd");
				p++;
			}
		}
	}
	buf_putc(out, '"');
}

static void json_str(struct buf *out, const char *s)
{
	if (s)
		json_strn(out, s, strlen(s));
	else
		buf_puts(out, "null");
}

void explain_json_str(struct buf *out, const char *s)
{
	json_str(out, s);
}

static void json_place(struct buf *out, const struct loc *l)
{
	if (!l->file) {
		buf_puts(out, "null");
		return;
	}
	buf_puts(out, "{\"file\": ");
	json_str(out, l->file->base);
	buf_printf(out, ", \"line\": %d, \"column\": %d}", l->first_line, l->first_column);
}

static void json_addr(struct buf *out, const struct m_addr *a)
{
	char text[64];
	model_addr_str(a, text);
	json_str(out, text);
}

static void json_listener(struct buf *out, const struct m_listener *l)
{
	buf_printf(out, "        {\"protocol\": \"%s\", \"address\": ",
		   model_proto_name(l->proto));
	if (l->any)
		buf_puts(out, "null");
	else
		json_addr(out, &l->addr);
	buf_printf(out, ", \"port\": %u, \"port_last\": %u, \"interface\": ",
		   l->port_lo, l->port_hi > l->port_lo ? l->port_hi : l->port_lo);
	json_str(out, l->iface);
	buf_puts(out, ",\n         \"place\": ");
	json_place(out, &l->loc);
	buf_putc(out, '}');
}

static void json_server(struct buf *out, const struct plan_route *pr, size_t i)
{
	const struct m_server *sv = &pr->r->servers[i];
	const struct plan_server *s = &pr->servers[i];
	char decimal[20];
	plan_share_decimal(pr, i, decimal);
	buf_puts(out, "        {\"address\": ");
	json_addr(out, &sv->addr);
	if (sv->port)
		buf_printf(out, ", \"port\": %u", sv->port);
	else
		buf_puts(out, ", \"port\": null");
	buf_printf(out, ", \"weight\": %u, \"drained\": %s,\n", sv->weight,
		   sv->drain ? "true" : "false");
	buf_printf(out, "         \"share\": {\"decimal\": \"%s\", \"percent\": \"%.2f\"},\n",
		   decimal, s->share * 100.0);
	buf_puts(out, "         \"rule\": ");
	if (sv->drain) {
		buf_puts(out, "null");
	} else if (!pr->by_q31) {
		buf_printf(out, "{\"kind\": \"slots\", \"first\": %lu, \"count\": %lu, "
			   "\"of\": %lu}", (unsigned long)s->first_slot,
			   (unsigned long)s->slots, (unsigned long)pr->slots);
	} else if (s->has_q31) {
		char prob[16];
		plan_q31_str(s->q31, prob);
		buf_printf(out, "{\"kind\": \"probability\", \"q31\": %lu, "
			   "\"probability\": \"%s\"}", (unsigned long)s->q31, prob);
	} else {
		buf_puts(out, "{\"kind\": \"rest\"}");
	}
	buf_puts(out, ",\n         \"place\": ");
	json_place(out, &sv->loc);
	buf_putc(out, '}');
}

static void json_route(const struct plan *p, const struct plan_route *pr, struct buf *out)
{
	const struct model *m = p->m;
	const struct m_route *r = pr->r;

	buf_puts(out, "    {\n      \"name\": ");
	json_str(out, r->name);
	buf_printf(out, ",\n      \"family\": %d", r->family);
	buf_puts(out, ",\n      \"place\": ");
	json_place(out, &r->loc);
	buf_puts(out, ",\n      \"comment\": ");
	json_str(out, r->comment);
	buf_printf(out, ",\n      \"balance\": \"%s\",\n      \"active_weight\": %lu,\n"
		   "      \"slots\": ", model_balance_name(r->balance),
		   (unsigned long)pr->active_weight);
	if (!pr->by_q31)
		buf_printf(out, "%lu", (unsigned long)pr->slots);
	else
		buf_puts(out, "null");

	const struct m_snat *sn = &m->snats[r->snat_cls];
	buf_puts(out, ",\n      \"snat\": ");
	if (sn->kind == M_SNAT_ADDR) {
		buf_puts(out, "{\"kind\": \"address\", \"address\": ");
		json_addr(out, &sn->addr);
		/* New in 0.2: the last address of a range. */
		if (memcmp(&sn->last, &sn->addr, sizeof(sn->addr)) != 0) {
			buf_puts(out, ", \"last\": ");
			json_addr(out, &sn->last);
		}
		buf_putc(out, '}');
	} else {
		buf_printf(out, "{\"kind\": \"%s\"}",
			   sn->kind == M_SNAT_NONE ? "none" : "masquerade");
	}
	buf_puts(out, ",\n      \"allow\": ");
	if (r->allow) {
		buf_putc(out, '[');
		for (size_t i = 0; i < r->nallow; i++) {
			char text[80];
			allow_str(r, &r->allow[i], true, text);
			buf_puts(out, i ? ", " : "");
			json_str(out, text);
		}
		buf_putc(out, ']');
	} else {
		buf_puts(out, "null");
	}
	buf_puts(out, ",\n      \"affinity\": ");
	if (pr->aff)
		buf_printf(out, "{\"kind\": \"client-ip\", \"method\": \"hash\", "
			   "\"slots\": %lu, \"seed\": %lu, \"timeout_seconds\": %u}",
			   (unsigned long)pr->slots, (unsigned long)p->aff_seed, r->affinity);
	else
		buf_puts(out, "null");
	buf_puts(out, ",\n      \"chain\": ");
	json_str(out, pr->chain);

	buf_puts(out, ",\n      \"listeners\": [");
	for (size_t i = 0; i < r->nlisteners; i++) {
		buf_puts(out, i ? ",\n" : "\n");
		json_listener(out, &r->listeners[i]);
	}
	buf_puts(out, r->nlisteners ? "\n      ],\n" : "],\n");
	buf_puts(out, "      \"servers\": [");
	for (size_t i = 0; i < r->nservers; i++) {
		buf_puts(out, i ? ",\n" : "\n");
		json_server(out, pr, i);
	}
	buf_puts(out, r->nservers ? "\n      ],\n" : "],\n");

	const struct src_file *f = r->loc.file;
	int first = r->loc.first_line, last = route_last_line(r);
	buf_puts(out, "      \"source\": {\"file\": ");
	json_str(out, f->base);
	buf_printf(out, ", \"first_line\": %d, \"last_line\": %d, \"lines\": [", first, last);
	for (int line = first; line <= last; line++) {
		size_t len;
		const char *text = src_line(f, line, &len);
		buf_puts(out, line > first ? ",\n        " : "\n        ");
		json_strn(out, text, len);
	}
	buf_puts(out, "\n      ]}\n    }");
}

/* "command" and "overrides": how the ruleset described was made. */
static void json_command(const struct plan *p, struct buf *out)
{
	const struct model *m = p->m;
	struct buf line;
	buf_init(&line);
	report_command_line(p, &line);
	buf_puts(out, "  \"command\": {\"line\": ");
	json_strn(out, line.data, line.len);
	buf_free(&line);
	buf_puts(out, ",\n              \"argv\": [");
	struct vec v = {0};
	report_command_argv(p, &v);
	for (size_t i = 0; i < v.len; i++) {
		buf_puts(out, i ? ", " : "");
		json_str(out, v.items[i]);
	}
	vec_free(&v);
	buf_puts(out, "]},\n  \"overrides\": [");
	for (size_t i = 0; i < m->noverrides; i++) {
		const struct m_override *ov = &m->overrides[i];
		buf_puts(out, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
		json_str(out, ov->name);
		buf_puts(out, ", \"value\": ");
		json_str(out, ov->value);
		buf_puts(out, ",\n     \"replaces\": {\"value\": ");
		json_str(out, ov->replaced);
		buf_puts(out, ", \"place\": ");
		json_place(out, &ov->replaced_loc);
		buf_puts(out, "}}");
	}
	buf_puts(out, m->noverrides ? "\n  ],\n" : "],\n");
}

static void json_print(const struct plan *p, struct buf *out)
{
	const struct model *m = p->m;
	buf_puts(out, "{\n  \"schema\": \"" EXPLAIN_SCHEMA "\",\n");
	buf_puts(out, "  \"generator\": {\"name\": \"tcproutec\", \"version\": ");
	json_str(out, TRC_VERSION);
	buf_puts(out, "},\n  \"source\": ");
	json_str(out, m->source);
	buf_printf(out, ",\n  \"target\": \"%s\",\n", plan_target_name(p->target));
	json_command(p, out);
	buf_printf(out, "  \"forward_policy\": {\"action\": \"%s\", \"place\": ",
		   m->forward_accept ? "accept" : "drop");
	if (m->policy_explicit)
		json_place(out, &m->policy_loc);
	else
		buf_puts(out, "null");
	buf_puts(out, "},\n  \"routes\": [");
	for (size_t i = 0; i < p->nroutes; i++) {
		buf_puts(out, i ? ",\n" : "\n");
		json_route(p, &p->routes[i], out);
	}
	buf_puts(out, m->nroutes ? "\n  ]\n}\n" : "]\n}\n");
}

void explain_print(const struct plan *p, enum explain_format f, struct buf *out)
{
	if (f == EXPLAIN_JSON)
		json_print(p, out);
	else
		text_print(p, out);
}
