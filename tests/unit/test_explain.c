/* test_explain.c: the shares --explain reports, exactly, and the parts of
 * its text and JSON a reviewer or a tool relies on. Expected decimals were
 * computed with exact rational arithmetic (Python's fractions). */
#include "unit.h"

#include "explain.h"

/* What the plan says of one server, in one place for the assertions. */
struct share {
	bool by_slots, has_q31;
	uint32_t q31;
	uint64_t first_slot, slots, total_slots;
	char decimal[20];
	double fraction;
};

struct shares {
	struct unit_compile c;
	struct share *s;
};

static const struct m_route *compile_route(struct shares *sh, const char *text,
					   enum plan_target t)
{
	unit_compile_target(&sh->c, "t.tr", text, NULL, t);
	assert_non_null(sh->c.plan);
	assert_true(sh->c.plan->nroutes >= 1);
	const struct plan_route *pr = &sh->c.plan->routes[0];
	const struct m_route *r = pr->r;
	sh->s = xcalloc(r->nservers, sizeof(*sh->s));
	for (size_t i = 0; i < r->nservers; i++) {
		struct share *s = &sh->s[i];
		s->by_slots = !pr->by_q31;
		s->has_q31 = pr->servers[i].has_q31;
		s->q31 = pr->servers[i].q31;
		s->first_slot = pr->servers[i].first_slot;
		s->slots = pr->servers[i].slots;
		s->total_slots = s->by_slots ? pr->slots : 0;
		s->fraction = pr->servers[i].share;
		plan_share_decimal(pr, i, s->decimal);
	}
	return r;
}

static void free_shares(struct shares *sh)
{
	free(sh->s);
	unit_compile_free(&sh->c);
}

static char *explain_text(const char *src, enum plan_target t, enum explain_format f)
{
	struct unit_compile c;
	unit_compile_target(&c, "t.tr", src, NULL, t);
	assert_non_null(c.plan);
	struct buf out;
	buf_init(&out);
	explain_print(c.plan, f, &out);
	char *s = xstrdup(buf_cstr(&out));
	buf_free(&out);
	unit_compile_free(&c);
	return s;
}

#define WEIGHTED \
	"route app {\n listen tcp 192.0.2.1:5432\n" \
	" server 198.51.100.2:5432 weight 1\n server 198.51.100.3:5432 weight 2\n" \
	" server 198.51.100.4:5432 weight 3\n server 198.51.100.5:5432 weight 4\n}\n"

/* iptables: each rule's 31-bit probability, and the product of what the
 * earlier rules leave, to 12 digits. */
static void test_random_iptables_exact(void **state)
{
	(void)state;
	struct shares sh;
	compile_route(&sh, WEIGHTED, PLAN_IPTABLES);
	static const uint32_t q[] = {214748365, 477218588, 920350135};
	static const char *dec[] = {"0.100000000093", "0.199999999793",
				    "0.300000000095", "0.400000000018"};
	for (int i = 0; i < 4; i++) {
		assert_false(sh.s[i].by_slots);
		assert_int_equal(sh.s[i].has_q31, i < 3);
		if (i < 3)
			assert_int_equal(sh.s[i].q31, q[i]);
		assert_string_equal(sh.s[i].decimal, dec[i]);
	}
	free_shares(&sh);
}

/* nft: slots, exact fractions of W. */
static void test_random_nft_slots(void **state)
{
	(void)state;
	struct shares sh;
	compile_route(&sh, WEIGHTED, PLAN_NFT);
	static const char *dec[] = {"0.100000000000", "0.200000000000",
				    "0.300000000000", "0.400000000000"};
	uint64_t first = 0;
	for (int i = 0; i < 4; i++) {
		assert_true(sh.s[i].by_slots);
		assert_false(sh.s[i].has_q31);
		assert_int_equal(sh.s[i].first_slot, first);
		assert_int_equal(sh.s[i].slots, (uint64_t)i + 1);
		assert_int_equal(sh.s[i].total_slots, 10);
		assert_string_equal(sh.s[i].decimal, dec[i]);
		first += (uint64_t)i + 1;
	}
	free_shares(&sh);
}

/* Weights divided by their gcd; a drained server holds no slot. */
static void test_roundrobin_gcd_and_drain(void **state)
{
	(void)state;
	struct shares sh;
	compile_route(&sh, "route r {\n listen tcp 192.0.2.1:1883\n"
			   " server 203.0.113.11:1883 weight 6\n"
			   " server 203.0.113.12:1883 weight 4 drain\n"
			   " server 203.0.113.13:1883 weight 2\n"
			   " server 203.0.113.14:1883 weight 4\n balance roundrobin\n}\n",
		      PLAN_IPTABLES);
	assert_int_equal(sh.s[0].slots, 3);
	assert_int_equal(sh.s[1].slots, 0);
	assert_int_equal(sh.s[2].first_slot, 3);
	assert_int_equal(sh.s[3].first_slot, 4);
	assert_int_equal(sh.s[3].total_slots, 6);
	assert_string_equal(sh.s[0].decimal, "0.500000000000");
	assert_string_equal(sh.s[1].decimal, "0.000000000000");
	assert_string_equal(sh.s[2].decimal, "0.166666666667");
	assert_string_equal(sh.s[3].decimal, "0.333333333333");
	assert_true(sh.s[1].fraction == 0.0);
	free_shares(&sh);
}

/* 1/8192 is 0.0001220703125 exactly: a tie at the 12th digit, rounded up;
 * on both targets. */
static void test_ties_round_half_up(void **state)
{
	(void)state;
	struct shares sh;
	/* 1 + 8 * 1000 + 191 = 8192 */
	compile_route(&sh, "route r {\n listen tcp 192.0.2.1:80\n"
			   " server 198.51.100.2:80 weight 1\n"
			   " server 198.51.100.3:80 weight 1000\n"
			   " server 198.51.100.4:80 weight 1000\n"
			   " server 198.51.100.5:80 weight 1000\n"
			   " server 198.51.100.6:80 weight 1000\n"
			   " server 198.51.100.7:80 weight 1000\n"
			   " server 198.51.100.8:80 weight 1000\n"
			   " server 198.51.100.9:80 weight 1000\n"
			   " server 198.51.100.10:80 weight 1000\n"
			   " server 198.51.100.11:80 weight 191\n}\n", PLAN_IPTABLES);
	assert_int_equal(sh.s[0].q31, 262144);
	assert_string_equal(sh.s[0].decimal, "0.000122070313");
	free_shares(&sh);
	compile_route(&sh, "route r {\n listen tcp 192.0.2.1:80\n"
			   " server 198.51.100.2:80 weight 1\n"
			   " server 198.51.100.3:80 weight 1000\n"
			   " server 198.51.100.4:80 weight 1000\n"
			   " server 198.51.100.5:80 weight 1000\n"
			   " server 198.51.100.6:80 weight 1000\n"
			   " server 198.51.100.7:80 weight 1000\n"
			   " server 198.51.100.8:80 weight 1000\n"
			   " server 198.51.100.9:80 weight 1000\n"
			   " server 198.51.100.10:80 weight 1000\n"
			   " server 198.51.100.11:80 weight 191\n}\n", PLAN_NFT);
	assert_string_equal(sh.s[0].decimal, "0.000122070313");
	free_shares(&sh);
}

static void test_single_server_is_one(void **state)
{
	(void)state;
	struct shares sh;
	compile_route(&sh, "route r {\n listen tcp 192.0.2.1:80\n"
			   " server 198.51.100.2:80\n}\n", PLAN_IPTABLES);
	assert_string_equal(sh.s[0].decimal, "1.000000000000");
	assert_false(sh.s[0].has_q31);
	free_shares(&sh);
}

/* The text view: percentages, the rule behind each share, places, and the
 * route's source lines up to its closing brace, not fooled by braces in
 * strings or comments. */
static void test_text_view(void **state)
{
	(void)state;
	char *t = explain_text("# a file\n"
			       "route app {   # { not a brace\n"
			       "    listen tcp 192.0.2.1:27017\n"
			       "    server 198.51.100.2:1234\n"
			       "    server 198.51.100.3:1234\n"
			       "    server 198.51.100.4:1234\n"
			       "    server 198.51.100.5:1234 drain\n"
			       "    comment \"a } in a comment\"\n"
			       "}\n"
			       "route ping { listen tcp 192.0.2.1:7; server 198.51.100.9:7 }\n",
			       PLAN_IPTABLES, EXPLAIN_TEXT);
	assert_non_null(strstr(t, "route app (t.tr:2)\n"));
	assert_non_null(strstr(t, "  comment  a } in a comment\n"));
	assert_non_null(strstr(t, "  33.33 %  probability 0.33333333349  t.tr:4\n"));
	assert_non_null(strstr(t, "  33.33 %  probability 0.50000000000  t.tr:5\n"));
	assert_non_null(strstr(t, "  33.33 %  the rest                   t.tr:6\n"));
	assert_non_null(strstr(t, "   0.00 %  drained                    t.tr:7\n"));
	assert_non_null(strstr(t, "  source   t.tr:2-9\n"));
	assert_non_null(strstr(t, "       9 | }\n\nroute ping (t.tr:10)\n"));
	assert_non_null(strstr(t, "  source   t.tr:10\n      10 | route ping {"));
	free(t);
}

static void test_json_view(void **state)
{
	(void)state;
	char *j = explain_text("route app {\n\tlisten tcp 192.0.2.1:80   # caf\xc3\xa9 \"x\"\n"
			       "    server 198.51.100.2:8080 weight 3\n"
			       "    server 198.51.100.3:8080\n"
			       "    comment \"Bob's farm, 50%\"\n}\n",
			       PLAN_IPTABLES, EXPLAIN_JSON);
	assert_non_null(strstr(j, "\"schema\": \"" EXPLAIN_SCHEMA "\""));
	assert_non_null(strstr(j, "\"comment\": \"Bob's farm, 50%\""));
	assert_non_null(strstr(j, "\"place\": {\"file\": \"t.tr\", \"line\": 3, \"column\": 5}"));
	assert_non_null(strstr(j, "\"rule\": {\"kind\": \"probability\", \"q31\": 1610612736, "
				  "\"probability\": \"0.75000000000\"}"));
	assert_non_null(strstr(j, "\"share\": {\"decimal\": \"0.750000000000\", \"percent\": \"75.00\"}"));
	assert_non_null(strstr(j, "\"rule\": {\"kind\": \"rest\"}"));
	/* a tab and quotes escaped, UTF-8 kept */
	assert_non_null(strstr(j, "\"\\tlisten tcp 192.0.2.1:80   # caf\xc3\xa9 \\\"x\\\"\""));
	assert_non_null(strstr(j, "\"chain\": \"TRC-app\""));
	free(j);
	j = explain_text("route app {\n listen tcp 192.0.2.1:80\n server 198.51.100.2:8080\n}\n",
			 PLAN_NFT, EXPLAIN_JSON);
	assert_non_null(strstr(j, "\"target\": \"nft\""));
	assert_non_null(strstr(j, "\"chain\": null"));
	assert_non_null(strstr(j, "\"rule\": {\"kind\": \"slots\", \"first\": 0, \"count\": 1, \"of\": 1}"));
	free(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_iptables_exact),
		cmocka_unit_test(test_random_nft_slots),
		cmocka_unit_test(test_roundrobin_gcd_and_drain),
		cmocka_unit_test(test_ties_round_half_up),
		cmocka_unit_test(test_single_server_is_one),
		cmocka_unit_test(test_text_view),
		cmocka_unit_test(test_json_view),
	};
	return cmocka_run_group_tests_name("explain", tests, NULL, NULL);
}
