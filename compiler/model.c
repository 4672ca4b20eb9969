/* model.c: small helpers over the resolved model. */
#include "model.h"

#include <arpa/inet.h>
#include <stdio.h>

#include "balance.h"

void model_addr_str(const struct m_addr *a, char out[64])
{
	if (a->family == 6)
		inet_ntop(AF_INET6, a->bytes, out, 64);
	else
		snprintf(out, 64, "%u.%u.%u.%u", a->bytes[0], a->bytes[1],
			 a->bytes[2], a->bytes[3]);
}

unsigned long model_active_weight(const struct m_route *r)
{
	unsigned long w = 0;
	for (size_t i = 0; i < r->nservers; i++)
		if (!r->servers[i].drain)
			w += r->servers[i].weight;
	return w;
}

bool model_family_uses_snat(const struct model *m, int family, unsigned cls)
{
	for (size_t i = 0; i < m->nroutes; i++)
		if (m->routes[i].family == family && m->routes[i].snat_cls == cls)
			return true;
	return false;
}

size_t model_family_routes(const struct model *m, int family)
{
	size_t n = 0;
	for (size_t i = 0; i < m->nroutes; i++)
		n += m->routes[i].family == family;
	return n;
}

unsigned long model_weight_gcd(const struct m_route *r)
{
	uint64_t g = 0;
	for (size_t i = 0; i < r->nservers; i++)
		if (!r->servers[i].drain)
			g = balance_gcd(r->servers[i].weight, g);
	return g ? (unsigned long)g : 1;
}

enum model_lclass model_listener_class(const struct m_listener *l)
{
	return l->any ? (l->iface ? LC_ANY_IF : LC_ANY) : (l->iface ? LC_IF : LC_PLAIN);
}
