/* test_coexist.c: the --coexist frame (coexist.c): which server endpoints
 * are guarded, and the names a route may not take. */
#include "unit.h"

#include "coexist.h"

struct cx_run {
	struct compile comp;
	struct diag_ctx *diag;
	enum compile_status st;
};

static const struct coexist *cx_compile(struct cx_run *r, enum plan_target t,
					const char *text)
{
	memset(r, 0, sizeof(*r));
	r->diag = diag_new();
	struct compile_opts o = {.target = t, .input = "t.tr", .text = text,
				 .coexist = true};
	r->st = compile_run(&r->comp, &o, r->diag);
	return r->st == COMPILE_OK ? r->comp.coexist : NULL;
}

static void cx_free(struct cx_run *r)
{
	compile_free(&r->comp);
	diag_free(r->diag);
}

static void assert_guard(const struct coexist_guard *g, const char *route,
			 const char *addr, enum m_proto proto, unsigned lo, unsigned hi)
{
	char a[64];
	model_addr_str(g->addr, a);
	assert_string_equal(g->pr->r->name, route);
	assert_string_equal(a, addr);
	assert_int_equal(g->proto, proto);
	assert_int_equal(g->port_lo, lo);
	assert_int_equal(g->port_hi, hi);
}

/* One guard per route, server and protocol, drained servers included,
 * in route-name order; a server repeated in one route is guarded once,
 * in two routes once in each. */
static void test_guards(void **state)
{
	(void)state;
	struct cx_run r;
	const struct coexist *cx = cx_compile(&r, PLAN_IPTABLES,
		"route b {\n listen tcp 192.0.2.1:80\n listen udp 192.0.2.1:80\n"
		" server 198.51.100.2:8080\n server 198.51.100.3:8080 drain\n}\n"
		"route a {\n listen tcp 192.0.2.1:81\n server 198.51.100.2:8080\n"
		" server 198.51.100.2:8080\n}\n");
	assert_non_null(cx);
	assert_int_equal(cx->nguards, 5);
	assert_guard(&cx->guards[0], "a", "198.51.100.2", M_TCP, 8080, 8080);
	assert_guard(&cx->guards[1], "b", "198.51.100.2", M_TCP, 8080, 8080);
	assert_guard(&cx->guards[2], "b", "198.51.100.2", M_UDP, 8080, 8080);
	assert_guard(&cx->guards[3], "b", "198.51.100.3", M_TCP, 8080, 8080);
	assert_guard(&cx->guards[4], "b", "198.51.100.3", M_UDP, 8080, 8080);
	assert_string_equal(cx->routed, "t.tr: coexist: routed connections");
	cx_free(&r);
}

/* A server that keeps the port is guarded on each listener's port or
 * range of its protocol. */
static void test_guards_keep_port(void **state)
{
	(void)state;
	struct cx_run r;
	const struct coexist *cx = cx_compile(&r, PLAN_NFT,
		"route g {\n listen udp 192.0.2.1:27000-27015\n"
		" listen udp 192.0.2.1:28000\n server 198.51.100.5\n}\n");
	assert_non_null(cx);
	assert_int_equal(cx->nguards, 2);
	assert_guard(&cx->guards[0], "g", "198.51.100.5", M_UDP, 27000, 27015);
	assert_guard(&cx->guards[1], "g", "198.51.100.5", M_UDP, 28000, 28000);
	cx_free(&r);
}

/* policy forward accept: nothing is guarded. */
static void test_accept_no_guards(void **state)
{
	(void)state;
	struct cx_run r;
	const struct coexist *cx = cx_compile(&r, PLAN_IPTABLES,
		"route a {\n listen tcp 192.0.2.1:80\n server 198.51.100.2:80\n}\n"
		"policy forward accept\n");
	assert_non_null(cx);
	assert_int_equal(cx->nguards, 0);
	cx_free(&r);
}

/* iptables: a route named like a hook would own its chain; nft has no
 * such chains. */
static void test_hook_names(void **state)
{
	(void)state;
	static const char *const text =
		"route POSTROUTING {\n listen tcp 192.0.2.1:80\n server 198.51.100.2:80\n}\n";
	struct cx_run r;
	assert_null(cx_compile(&r, PLAN_IPTABLES, text));
	assert_int_equal(r.st, COMPILE_ERRORS);
	assert_int_equal(diag_errors(r.diag), 1);
	cx_free(&r);
	assert_non_null(cx_compile(&r, PLAN_IP6TABLES,
		"route postrouting {\n listen tcp [2001:db8::1]:80\n"
		" server [2001:db8:1::2]:80\n}\n"));
	cx_free(&r);
	assert_non_null(cx_compile(&r, PLAN_NFT, text));
	cx_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guards),
		cmocka_unit_test(test_guards_keep_port),
		cmocka_unit_test(test_accept_no_guards),
		cmocka_unit_test(test_hook_names),
	};
	return cmocka_run_group_tests_name("coexist", tests, NULL, NULL);
}
