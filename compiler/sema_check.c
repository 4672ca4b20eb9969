/* sema_check.c: what spans routes: listeners that overlap. */
#include <stdlib.h>
#include <string.h>

#include "sema_int.h"

/* ---- checks across routes -------------------------------------------- */

struct lref {
	const struct m_listener *l;
	int family;
	size_t route;
};

static int cmp_listener(const void *pa, const void *pb)
{
	const struct lref *a = pa, *b = pb;
	if (a->l->proto != b->l->proto)
		return a->l->proto < b->l->proto ? -1 : 1;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->l->any != b->l->any)
		return a->l->any ? -1 : 1;
	int c = memcmp(a->l->addr.bytes, b->l->addr.bytes, 16);
	if (c)
		return c;
	if (a->l->port_lo != b->l->port_lo)
		return a->l->port_lo < b->l->port_lo ? -1 : 1;
	if (a->route != b->route)
		return a->route < b->route ? -1 : 1;
	return a->l < b->l ? -1 : a->l > b->l;
}

static bool same_group(const struct lref *a, const struct lref *b)
{
	return a->l->proto == b->l->proto && a->family == b->family;
}

/* Two listeners collide when a connection could match both. */
static bool collide(const struct lref *a, const struct lref *b)
{
	const struct m_listener *x = a->l, *y = b->l;
	if (!same_group(a, b) || x->port_hi < y->port_lo || y->port_hi < x->port_lo)
		return false;
	if (!x->any && !y->any && memcmp(x->addr.bytes, y->addr.bytes, 16) != 0)
		return false;
	return !x->iface || !y->iface || strcmp(x->iface, y->iface) == 0;
}

static void report_overlap(struct sema *s, const struct lref *p, const struct lref *q)
{
	const struct model *m = s->m;
	/* Report at the later of the two in source order. */
	if (q->route < p->route || (q->route == p->route && q->l < p->l)) {
		const struct lref *t = p;
		p = q;
		q = t;
	}
	char a[128], b[128];
	model_listener_str(q->l, q->family, a, sizeof(a));
	model_listener_str(p->l, p->family, b, sizeof(b));
	if (p->route == q->route)
		diag_error(s->d, q->l->loc, "%s overlaps %s of the same route", a, b);
	else
		diag_error(s->d, q->l->loc, "%s overlaps %s of route '%s'", a, b,
			   m->routes[p->route].name);
	diag_note(s->d, p->l->loc, "previous listener for %s is here", b);
}

/* Sorting keeps this O(n log n) for the usual case of one listener per
 * address and port: a gateway holds 100,000 listeners. Listeners on any
 * address ('*') are few; each is compared with its group. */
void sema_check_listeners(struct sema *s)
{
	struct model *m = s->m;
	size_t n = 0;
	for (size_t i = 0; i < m->nroutes; i++)
		n += m->routes[i].nlisteners;
	if (n < 2)
		return;
	struct lref *v = xmalloc(xmul(n, sizeof(*v)));
	size_t k = 0;
	for (size_t i = 0; i < m->nroutes; i++)
		for (size_t j = 0; j < m->routes[i].nlisteners; j++)
			v[k++] = (struct lref){&m->routes[i].listeners[j],
					       m->routes[i].family, i};
	qsort(v, n, sizeof(*v), cmp_listener);
	/* Any-address listeners sort first in their group. */
	size_t group = 0;
	for (size_t i = 0; i < n; i++) {
		if (!same_group(&v[group], &v[i]))
			group = i;
		if (!v[i].l->any)
			continue;
		for (size_t j = group; j < n && same_group(&v[group], &v[j]); j++)
			if (j != i && (!v[j].l->any || j > i) && collide(&v[i], &v[j]))
				report_overlap(s, &v[i], &v[j]);
	}
	/* Same address: the listeners still open (reaching past this port). */
	size_t *open = xmalloc(xmul(n, sizeof(*open)));
	size_t nopen = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].l->any)
			continue;
		size_t keep = 0;
		for (size_t j = 0; j < nopen; j++) {
			const struct lref *o = &v[open[j]];
			bool same_addr = same_group(o, &v[i]) &&
				memcmp(o->l->addr.bytes, v[i].l->addr.bytes, 16) == 0;
			if (!same_addr || o->l->port_hi < v[i].l->port_lo)
				continue;
			if (collide(o, &v[i]))
				report_overlap(s, o, &v[i]);
			open[keep++] = open[j];
		}
		nopen = keep;
		open[nopen++] = i;
	}
	free(open);
	free(v);
}
