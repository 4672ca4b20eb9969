/* model.c: small helpers over the resolved model. */
#include "model.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

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
		snprintf(out, 64, "%u.%u.%u.%u", a->bytes[0], a->bytes[1],
			 a->bytes[2], a->bytes[3]);
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
