/* cleanup.c: see cleanup.h. */
#include "cleanup.h"

#include <string.h>

static bool same_addr(const struct m_addr *a, const struct m_addr *b)
{
	size_t n = a->family == 6 ? 16 : 4;
	return a->family == b->family && memcmp(a->bytes, b->bytes, n) == 0;
}

static bool same_listener(const struct m_listener *a, const struct m_listener *b)
{
	return a->proto == b->proto && a->any == b->any && (a->any || same_addr(&a->addr, &b->addr)) &&
	       a->port_lo == b->port_lo && a->port_hi == b->port_hi;
}

/* Whether new still sends UDP flows of listener l to server s (drained
 * included: a drained server keeps its flows). */
static bool kept(const struct model *new, const struct m_listener *l, const struct m_server *s)
{
	for (size_t i = 0; i < new->nroutes; i++) {
		const struct m_route *r = &new->routes[i];
		bool listens = false;
		for (size_t j = 0; j < r->nlisteners && !listens; j++)
			listens = same_listener(&r->listeners[j], l);
		for (size_t k = 0; listens && k < r->nservers; k++)
			if (same_addr(&r->servers[k].addr, &s->addr) && r->servers[k].port == s->port)
				return true;
	}
	return false;
}

size_t cleanup_script(const struct model *old, const struct model *new, int family,
		      const char *header, struct buf *out)
{
	buf_puts(out, "#!/bin/sh\n");
	buf_puts(out, header);
	buf_puts(out, "# Run it after the delta has loaded. conntrack exits 1 when no flow\n"
		 "# matched, which is not an error here; any other failure is reported and\n"
		 "# the script exits 1. CONNTRACK names the program (default conntrack).\n"
		 "set -u\n"
		 "CONNTRACK=${CONNTRACK:-conntrack}\n"
		 "status=0\n"
		 "end_flows() {\n"
		 "\tif ! out=$(\"$CONNTRACK\" \"$@\" 2>&1); then\n"
		 "\t\tcase $out in\n"
		 "\t\t*' 0 flow entries have been deleted'*) ;;\n"
		 "\t\t*) printf '%s\\n' \"$out\" >&2; status=1 ;;\n"
		 "\t\tesac\n"
		 "\tfi\n"
		 "}\n");
	size_t n = 0;
	for (size_t i = 0; i < old->nroutes; i++) {
		const struct m_route *r = &old->routes[i];
		if (!(r->protos & M_UDP) || (family && r->family != family))
			continue;
		for (size_t j = 0; j < r->nlisteners; j++) {
			const struct m_listener *l = &r->listeners[j];
			if (l->proto != M_UDP)
				continue;
			for (size_t k = 0; k < r->nservers; k++) {
				const struct m_server *s = &r->servers[k];
				if (kept(new, l, s))
					continue;
				char ltext[160], stext[80], addr[64];
				model_listener_str(l, r->family, ltext, sizeof(ltext));
				model_server_str(s, stext);
				/* Names and addresses only: a route name is
				 * [A-Za-z0-9_-], nothing the shell reads. */
				buf_printf(out, "# route %s: %s -> %s\n", r->name, ltext, stext);
				buf_printf(out, "end_flows -D -f %s -p udp",
					   r->family == 6 ? "ipv6" : "ipv4");
				if (!l->any) {
					model_addr_str(&l->addr, addr);
					buf_printf(out, " --orig-dst %s", addr);
				}
				/* One port can be matched; a range is matched by
				 * its addresses alone. */
				bool one = l->port_lo == l->port_hi;
				if (one)
					buf_printf(out, " --orig-port-dst %u", l->port_lo);
				model_addr_str(&s->addr, addr);
				buf_printf(out, " --reply-src %s", addr);
				if (s->port)
					buf_printf(out, " --reply-port-src %u", s->port);
				else if (one)
					buf_printf(out, " --reply-port-src %u", l->port_lo);
				buf_putc(out, '\n');
				n++;
			}
		}
	}
	if (n == 0)
		buf_puts(out, "# no UDP flow to end: no server behind a UDP listener went\n");
	buf_puts(out, "exit $status\n");
	return n;
}
