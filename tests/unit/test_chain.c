/* test_chain.c: chain names fit iptables and never change meaning. */
#include "unit.h"

#include "chain.h"

static void test_short_names_are_prefixed(void **state)
{
	(void)state;
	char out[CHAIN_MAX_LEN + 1];
	chain_name("app", out);
	assert_string_equal(out, "TRC-app");
	chain_name("a-b_c", out);
	assert_string_equal(out, "TRC-a-b_c");
	/* 24 characters: exactly 28 with the prefix, kept whole. */
	chain_name("abcdefghijklmnopqrstuvwx", out);
	assert_string_equal(out, "TRC-abcdefghijklmnopqrstuvwx");
}

static void test_long_names_are_hashed(void **state)
{
	(void)state;
	char out[CHAIN_MAX_LEN + 1];
	chain_name("abcdefghijklmnopqrstuvwxy", out);
	assert_int_equal(strlen(out), CHAIN_MAX_LEN);
	/* FNV-1a 32 of the whole name (checked with an independent Python
	 * implementation); fixed so that chains never get renamed. */
	assert_string_equal(out, "TRC-abcdefghijklmno-7e661acc");
	char other[CHAIN_MAX_LEN + 1];
	chain_name("abcdefghijklmnopqrstuvwxz", other);
	assert_string_not_equal(out, other);
	assert_memory_equal(out, other, 20);
}

static void test_64_character_name(void **state)
{
	(void)state;
	char out[CHAIN_MAX_LEN + 1];
	char name[65];
	memset(name, 'x', 64);
	name[64] = '\0';
	chain_name(name, out);
	assert_int_equal(strlen(out), CHAIN_MAX_LEN);
	assert_memory_equal(out, "TRC-xxxxxxxxxxxxxxx-", 20);
}

static void test_fnv1a_vectors(void **state)
{
	(void)state;
	/* Published FNV-1a 32-bit test vectors. */
	assert_int_equal(fnv1a32(""), 0x811c9dc5u);
	assert_int_equal(fnv1a32("a"), 0xe40c292cu);
	assert_int_equal(fnv1a32("foobar"), 0xbf9cf968u);
}

/* A short name spelt like another's hashed chain name is refused. */
static void test_collision_is_an_error(void **state)
{
	(void)state;
	char hashed[CHAIN_MAX_LEN + 1];
	chain_name("abcdefghijklmnopqrstuvwxy", hashed);
	char text[512];
	snprintf(text, sizeof(text),
		 "route abcdefghijklmnopqrstuvwxy {\n listen tcp 192.0.2.1:80\n"
		 " server 198.51.100.2:80\n}\n"
		 "route %s {\n listen tcp 192.0.2.1:81\n server 198.51.100.2:80\n}\n",
		 hashed + strlen(CHAIN_PREFIX));
	struct unit_compile c;
	unit_compile(&c, text);
	assert_null(c.model);
	assert_non_null(strstr(c.diagnostics, "get the same chain name"));
	unit_compile_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_names_are_prefixed),
		cmocka_unit_test(test_long_names_are_hashed),
		cmocka_unit_test(test_64_character_name),
		cmocka_unit_test(test_fnv1a_vectors),
		cmocka_unit_test(test_collision_is_an_error),
	};
	return cmocka_run_group_tests_name("chain", tests, NULL, NULL);
}
