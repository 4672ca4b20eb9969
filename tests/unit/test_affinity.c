/* test_affinity.c: the client-ip affinity table of the plan (plan.c,
 * affinity_table): exact quotas, consistency when servers come and go,
 * independence from the order of the server list. */
#include "unit.h"

#include "plan.h"

/* The server address of each slot, for comparing tables across files. */
struct table {
	char addr[PLAN_AFF_SLOTS][64];
	unsigned count[16];
};

static void route_table(const char *text, struct table *t)
{
	struct unit_compile c;
	unit_compile_target(&c, "t.tr", text, NULL, PLAN_NFT);
	assert_non_null(c.plan);
	const struct plan_route *pr = &c.plan->routes[0];
	assert_non_null(pr->aff);
	assert_int_equal(pr->slots, PLAN_AFF_SLOTS);
	memset(t, 0, sizeof(*t));
	for (unsigned s = 0; s < PLAN_AFF_SLOTS; s++) {
		const struct m_server *sv = &pr->r->servers[pr->aff[s]];
		assert_false(sv->drain);
		model_server_str(sv, t->addr[s]);
		t->count[pr->aff[s]]++;
	}
	unit_compile_free(&c);
}

/* The fraction of slots whose server differs, in thousandths. */
static unsigned moved_permille(const struct table *a, const struct table *b)
{
	unsigned moved = 0;
	for (unsigned s = 0; s < PLAN_AFF_SLOTS; s++)
		moved += strcmp(a->addr[s], b->addr[s]) != 0;
	return moved * 1000 / PLAN_AFF_SLOTS;
}

static void servers_text(char *out, size_t n, const unsigned *weights, size_t count,
			 const char *extra)
{
	int len = snprintf(out, n, "route r {\n listen tcp 192.0.2.1:80\n affinity client-ip\n");
	for (size_t i = 0; i < count; i++)
		len += snprintf(out + len, n - (size_t)len,
				" server 198.51.100.%zu:80 weight %u\n", 10 + i, weights[i]);
	snprintf(out + len, n - (size_t)len, "%s}\n", extra);
}

/* Each server holds its weight's share of the 128 slots, to one slot. */
static void test_quotas_follow_weights(void **state)
{
	(void)state;
	static const unsigned sets[][8] = {
		{1, 1, 1}, {2, 1}, {1, 799}, {5, 3, 2, 7, 1, 9, 4, 6}, {1000, 1, 1, 1},
		{3, 3, 3, 3, 3, 3, 3}, {9, 1},
	};
	static const size_t lens[] = {3, 2, 2, 8, 4, 7, 2};
	for (size_t k = 0; k < ARRAY_LEN(sets); k++) {
		char text[2048];
		servers_text(text, sizeof(text), sets[k], lens[k], "");
		struct table t;
		route_table(text, &t);
		unsigned total = 0;
		for (size_t i = 0; i < lens[k]; i++)
			total += sets[k][i];
		/* Every server gets a slot, however light; the slots given so
		 * are taken from the heaviest. */
		double bumped = 0;
		for (size_t i = 0; i < lens[k]; i++)
			if ((double)PLAN_AFF_SLOTS * sets[k][i] / total < 1.0)
				bumped += 1.0;
		for (size_t i = 0; i < lens[k]; i++) {
			double want = (double)PLAN_AFF_SLOTS * sets[k][i] / total;
			assert_true(t.count[i] >= 1);
			assert_true(t.count[i] < want + 1.0 + bumped);
			assert_true(t.count[i] > want - 1.0 - bumped);
		}
	}
}

/* Adding one server to n moves about 1/(n+1) of the slots, all of them to
 * the new server; removing it moves them back. */
static void test_adding_a_server_moves_its_share(void **state)
{
	(void)state;
	static const unsigned w[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
	static const unsigned mixed[9] = {3, 1, 2, 5, 1, 4, 2, 1, 3};
	const unsigned *sets[] = {w, mixed};
	for (size_t k = 0; k < ARRAY_LEN(sets); k++) {
		for (size_t n = 2; n <= 8; n++) {
			char before[2048], after[2048];
			servers_text(before, sizeof(before), sets[k], n, "");
			servers_text(after, sizeof(after), sets[k], n + 1, "");
			struct table a, b;
			route_table(before, &a);
			route_table(after, &b);
			unsigned total = 0;
			for (size_t i = 0; i <= n; i++)
				total += sets[k][i];
			unsigned share = 1000 * sets[k][n] / total;
			unsigned moved = moved_permille(&a, &b);
			if (getenv("TRC_AFFINITY_STATS"))
				printf("n=%zu+1 %s: moved %u/1000, the new server's share %u/1000\n",
				       n, k ? "mixed" : "equal", moved, share);
			/* The new server's share, plus 5 % of slack. */
			assert_true(moved <= share + 50);
			assert_true(moved >= share - 10);
		}
	}
}

/* A drained server gives its slots to the others; nobody else moves. */
static void test_draining_moves_only_its_clients(void **state)
{
	(void)state;
	static const char *const fmt = "route r {\n listen tcp 192.0.2.1:80\n affinity client-ip\n"
		" server 198.51.100.10:80\n server 198.51.100.11:80%s\n"
		" server 198.51.100.12:80\n server 198.51.100.13:80\n}\n";
	char text[512];
	struct table a, b;
	snprintf(text, sizeof(text), fmt, "");
	route_table(text, &a);
	snprintf(text, sizeof(text), fmt, " drain");
	route_table(text, &b);
	unsigned moved = 0;
	for (unsigned s = 0; s < PLAN_AFF_SLOTS; s++) {
		if (strcmp(a.addr[s], b.addr[s]) == 0)
			continue;
		assert_string_equal(a.addr[s], "198.51.100.11:80");
		moved++;
	}
	assert_int_equal(moved, a.count[1]);
	assert_int_equal(b.count[1], 0);
}

/* The list's order is not the table's: a server added in front moves only
 * the clients it takes. */
static void test_order_of_servers_does_not_matter(void **state)
{
	(void)state;
	struct table a, b;
	route_table("route r {\n listen tcp 192.0.2.1:80\n affinity client-ip\n"
		    " server 198.51.100.2:80 weight 2\n server 198.51.100.3:80\n"
		    " server 198.51.100.4:80 weight 3\n}\n", &a);
	route_table("route r {\n listen tcp 192.0.2.1:80\n affinity client-ip\n"
		    " server 198.51.100.4:80 weight 3\n server 198.51.100.2:80 weight 2\n"
		    " server 198.51.100.3:80\n}\n", &b);
	assert_int_equal(moved_permille(&a, &b), 0);
	/* Ports do not count: mqtt and mqtt-tls agree on every client. */
	route_table("route r {\n listen tcp 192.0.2.1:8883\n affinity client-ip\n"
		    " server 198.51.100.2:8883 weight 2\n server 198.51.100.3:8883\n"
		    " server 198.51.100.4:8883 weight 3\n}\n", &b);
	for (unsigned s = 0; s < PLAN_AFF_SLOTS; s++)
		assert_int_equal(strncmp(a.addr[s], b.addr[s], strlen("198.51.100.2")), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quotas_follow_weights),
		cmocka_unit_test(test_adding_a_server_moves_its_share),
		cmocka_unit_test(test_draining_moves_only_its_clients),
		cmocka_unit_test(test_order_of_servers_does_not_matter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
