/* test_balance.c: the probabilities and their printed form, exactly. */
#include "unit.h"

#include "balance.h"
#include "q31_expected.h"

/* 1/(n-i+1) for every n up to 1000: the article's probabilities. */
static void test_equal_weights_n_1_to_1000(void **state)
{
	(void)state;
	for (unsigned long k = 1; k <= 1000; k++)
		assert_int_equal(balance_q31(1, k), q31_inverse[k]);
}

static void test_weighted_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(q31_cases) / sizeof(q31_cases[0]); i++) {
		const struct q31_case *c = &q31_cases[i];
		assert_int_equal(balance_q31(c->w, c->rest), c->q);
		char text[16];
		balance_q31_str((uint32_t)c->q, text);
		assert_string_equal(text, c->text);
	}
}

/* The kernel value parsed back from our text is the same integer, so a
 * reload never drifts: iptables computes lround(p * 2^31). */
static void test_text_round_trips(void **state)
{
	(void)state;
	for (unsigned long k = 2; k <= 1000; k++) {
		char text[16];
		balance_q31_str((uint32_t)q31_inverse[k], text);
		double p = strtod(text, NULL);
		long back = (long)(p * 2147483648.0 + 0.5);
		assert_int_equal(back, q31_inverse[k]);
	}
}

static void test_known_texts(void **state)
{
	(void)state;
	char text[16];
	balance_q31_str(balance_q31(1, 3), text);
	assert_string_equal(text, "0.33333333349");
	balance_q31_str(balance_q31(1, 2), text);
	assert_string_equal(text, "0.50000000000");
	balance_q31_str(balance_q31(1, 5), text);
	assert_string_equal(text, "0.20000000019");
}

/* balance_q31_str formats in integers; it must print what printf's
 * "%.11f" prints (iptables-save's call): every value near 0, 1/2 and 1,
 * and a sweep between (2.2 million values). */
static void test_text_is_printf(void **state)
{
	(void)state;
	unsigned long checked = 0;
	for (uint64_t q = 0; q <= 0x80000000u;) {
		char ours[16], want[32];
		balance_q31_str((uint32_t)q, ours);
		snprintf(want, sizeof(want), "%.11f", (double)q / 2147483648.0);
		if (strcmp(ours, want) != 0)
			fail_msg("q=%lu: %s, printf %s", (unsigned long)q, ours, want);
		checked++;
		bool edge = q < 70000 || q > 0x80000000u - 70000 ||
			    (q > 0x40000000u - 70000 && q < 0x40000000u + 70000);
		q += edge ? 1 : 997;
	}
	assert_true(checked > 2000000);
}

static void test_gcd(void **state)
{
	(void)state;
	assert_int_equal(balance_gcd(4, 6), 2);
	assert_int_equal(balance_gcd(0, 7), 7);
	assert_int_equal(balance_gcd(1000, 999), 1);
}

/* The shares a reviewer is shown add up to one and follow the weights to
 * within the 2^-31 quantum per rule. */
static void test_shares_follow_weights(void **state)
{
	(void)state;
	struct unit_compile c;
	unit_compile(&c, "route r {\n listen tcp 192.0.2.1:80\n"
			 " server 198.51.100.2:80 weight 1\n"
			 " server 198.51.100.3:80 weight 2\n"
			 " server 198.51.100.4:80 weight 3 drain\n"
			 " server 198.51.100.5:80 weight 4\n}\n");
	assert_non_null(c.model);
	double shares[4];
	for (int i = 0; i < 4; i++)
		shares[i] = c.plan->routes[0].servers[i].share;
	double want[4] = {1.0 / 7, 2.0 / 7, 0.0, 4.0 / 7};
	double sum = 0;
	for (int i = 0; i < 4; i++) {
		assert_true(shares[i] - want[i] < 4e-9 && want[i] - shares[i] < 4e-9);
		sum += shares[i];
	}
	assert_true(sum > 1 - 1e-12 && sum < 1 + 1e-12);
	unit_compile_free(&c);
}

/* The emitted rules carry exactly those values, the last one none. */
static void test_emitted_probabilities(void **state)
{
	(void)state;
	struct unit_compile c;
	unit_compile(&c, "route r {\n listen tcp 192.0.2.1:80\n"
			 " server 198.51.100.2:80 weight 2\n"
			 " server 198.51.100.3:80 weight 3\n"
			 " server 198.51.100.4:80 weight 5\n}\n");
	assert_non_null(c.output);
	/* 2/10, then 3/8, then the rest. */
	assert_non_null(strstr(c.output, "--probability 0.20000000019 -j DNAT "
				      "--to-destination 198.51.100.2:80\n"));
	assert_non_null(strstr(c.output, "--probability 0.37500000000 -j DNAT "
				      "--to-destination 198.51.100.3:80\n"));
	assert_non_null(strstr(c.output, "route r\" -j DNAT --to-destination "
				      "198.51.100.4:80\n"));
	unit_compile_free(&c);
}

/* Weighted roundrobin: slots reduced by the gcd, nth counts down. */
static void test_roundrobin_slots(void **state)
{
	(void)state;
	struct unit_compile c;
	unit_compile(&c, "route r {\n listen tcp 192.0.2.1:80\n"
			 " server 198.51.100.2:80 weight 4\n"
			 " server 198.51.100.3:80 weight 2\n"
			 " balance roundrobin\n}\n");
	assert_non_null(c.output);
	assert_non_null(strstr(c.output, "--every 3 --packet 0 -j DNAT --to-destination 198.51.100.2:80"));
	assert_non_null(strstr(c.output, "--every 2 --packet 0 -j DNAT --to-destination 198.51.100.2:80"));
	assert_null(strstr(c.output, "--every 4"));
	assert_non_null(strstr(c.output, "route r\" -j DNAT --to-destination 198.51.100.3:80"));
	unit_compile_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equal_weights_n_1_to_1000),
		cmocka_unit_test(test_weighted_cases),
		cmocka_unit_test(test_text_round_trips),
		cmocka_unit_test(test_known_texts),
		cmocka_unit_test(test_text_is_printf),
		cmocka_unit_test(test_gcd),
		cmocka_unit_test(test_shares_follow_weights),
		cmocka_unit_test(test_emitted_probabilities),
		cmocka_unit_test(test_roundrobin_slots),
	};
	return cmocka_run_group_tests_name("balance", tests, NULL, NULL);
}
