/* model.c: small helpers over the resolved model. */
#include "model.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* "a.b.c.d" into out (at least 16 bytes); returns the length. */
static size_t ipv4_text(const uint8_t *bytes, char *out)
{
	size_t n = 0;
	for (int i = 0; i < 4; i++) {
		unsigned v = bytes[i];
		if (i)
			out[n++] = '.';
		if (v >= 100)
			out[n++] = (char)('0' + v / 100);
		if (v >= 10)
			out[n++] = (char)('0' + v / 10 % 10);
		out[n++] = (char)('0' + v % 10);
	}
	return n;
}

void model_snat_str(const struct m_snat *sn, char out[160])
{
	char lo[64], hi[64];
	model_addr_str(&sn->addr, lo);
	model_addr_str(&sn->last, hi);
	if (strcmp(lo, hi) == 0)
		snprintf(out, 160, "%s", lo);
	else
		snprintf(out, 160, "%s-%s", lo, hi);
}

void model_addr_str(const struct m_addr *a, char out[64])
{
	if (a->family == 6)
		inet_ntop(AF_INET6, a->bytes, out, 64);
	else
		out[ipv4_text(a->bytes, out)] = '\0';
}

void model_put_addr(struct buf *b, const struct m_addr *a)
{
	char txt[64];
	if (a->family == 6) {
		inet_ntop(AF_INET6, a->bytes, txt, sizeof(txt));
		buf_puts(b, txt);
	} else {
		buf_add(b, txt, ipv4_text(a->bytes, txt));
	}
}

void model_put_listener(struct buf *b, const struct m_listener *l, int family)
{
	bool v6 = family == 6 && !l->any;
	buf_puts(b, model_proto_name(l->proto));
	buf_puts(b, v6 ? " [" : " ");
	if (l->any)
		buf_putc(b, '*');
	else
		model_put_addr(b, &l->addr);
	buf_puts(b, v6 ? "]:" : ":");
	buf_put_u64(b, l->port_lo);
	if (l->port_hi != l->port_lo) {
		buf_putc(b, '-');
		buf_put_u64(b, l->port_hi);
	}
	if (l->iface) {
		buf_puts(b, " on ");
		buf_puts(b, l->iface);
	}
}

void model_put_server(struct buf *b, const struct m_server *s)
{
	bool v6 = s->addr.family == 6 && s->port != 0;
	if (v6)
		buf_putc(b, '[');
	model_put_addr(b, &s->addr);
	if (s->port != 0) {
		buf_puts(b, v6 ? "]:" : ":");
		buf_put_u64(b, s->port);
	}
}

const char *model_proto_name(enum m_proto p)
{
	return p == M_UDP ? "udp" : "tcp";
}

const char *model_balance_name(enum m_balance b)
{
	return b == M_ROUNDROBIN ? "roundrobin" : "random";
}

void model_listener_str(const struct m_listener *l, int family, char *out, size_t n)
{
	char addr[64] = "*";
	if (!l->any)
		model_addr_str(&l->addr, addr);
	const char *lb = family == 6 && !l->any ? "[" : "";
	const char *rb = family == 6 && !l->any ? "]" : "";
	int k = snprintf(out, n, "%s %s%s%s:%u", model_proto_name(l->proto), lb, addr,
			 rb, l->port_lo);
	if (l->port_hi != l->port_lo && k > 0 && (size_t)k < n)
		k += snprintf(out + k, n - (size_t)k, "-%u", l->port_hi);
	if (l->iface && k > 0 && (size_t)k < n)
		snprintf(out + k, n - (size_t)k, " on %s", l->iface);
}

void model_server_str(const struct m_server *s, char out[80])
{
	char text[64];
	model_addr_str(&s->addr, text);
	if (s->port == 0)
		snprintf(out, 80, "%s", text);
	else if (s->addr.family == 6)
		snprintf(out, 80, "[%s]:%u", text, s->port);
	else
		snprintf(out, 80, "%s:%u", text, s->port);
}

size_t model_family_routes(const struct model *m, int family)
{
	size_t n = 0;
	for (size_t i = 0; i < m->nroutes; i++)
		n += m->routes[i].family == family;
	return n;
}

enum model_lclass model_listener_class(const struct m_listener *l)
{
	return l->any ? (l->iface ? LC_ANY_IF : LC_ANY) : (l->iface ? LC_IF : LC_PLAIN);
}
