/* test_live.c: the p-value of --stats, against the critical values of
 * printed chi-square tables (and the closed form for 2 degrees of
 * freedom, exp(-x/2)). */
#include "unit.h"

#include <math.h>

#include "live.h"

static void near(double got, double want, double rel)
{
	if (fabs(got - want) > rel * want)
		fail_msg("p = %.9g, expected %.9g", got, want);
}

static void test_table_values(void **state)
{
	(void)state;
	/* Critical values: P(chi2_df > x) = p. */
	static const struct {
		unsigned df;
		double x, p;
	} t[] = {
		{1, 3.841459, 0.05},   {1, 6.634897, 0.01},   {1, 10.827566, 0.001},
		{2, 5.991465, 0.05},   {2, 13.815511, 0.001}, {3, 7.814728, 0.05},
		{3, 16.266236, 0.001}, {10, 18.307038, 0.05}, {10, 29.588298, 0.001},
		{50, 67.504807, 0.05}, {50, 86.660830, 0.001}, {100, 124.342113, 0.05},
		{100, 149.449252, 0.001},
	};
	for (size_t i = 0; i < ARRAY_LEN(t); i++)
		near(live_chi2_sf(t[i].x, t[i].df), t[i].p, 1e-5);
}

static void test_two_df_closed_form(void **state)
{
	(void)state;
	for (double x = 0.01; x < 200; x *= 1.7)
		near(live_chi2_sf(x, 2), exp(-x / 2), 1e-9);
}

static void test_edges(void **state)
{
	(void)state;
	assert_true(live_chi2_sf(0, 1) == 1.0);
	assert_true(live_chi2_sf(0, 5) == 1.0);
	/* Far in the tail: tiny but not negative, and monotone. */
	double a = live_chi2_sf(500, 3), b = live_chi2_sf(600, 3);
	assert_true(a > 0 && b >= 0 && b < a && a < 1e-100);
	/* Near the mean: about one half. */
	near(live_chi2_sf(99.334, 100), 0.5, 1e-3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_values),
		cmocka_unit_test(test_two_df_closed_form),
		cmocka_unit_test(test_edges),
	};
	return cmocka_run_group_tests_name("live", tests, NULL, NULL);
}
