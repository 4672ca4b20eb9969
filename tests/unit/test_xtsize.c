/* test_xtsize.c: the kernel size of an iptables file under iptables-legacy
 * (xtsize.c), against what the kernel itself reported (IPT_SO_GET_INFO,
 * field size) for the same text, loaded with iptables-legacy-restore
 * (ip6tables-legacy-restore) 1.8.9 on Linux 6.18 x86_64; a 20,000-app
 * PaaS file (tests/gen-paas.py) matched too, 140,575,792 bytes. */
#include "unit.h"

#include "xtsize.h"

static const char head[] = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n"
			   ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n";

/* The nat table of head, chain TRC-x, ten copies of rule. */
static uint64_t ten(const char *rule, size_t cut)
{
	struct buf b;
	buf_init(&b);
	buf_puts(&b, head);
	buf_puts(&b, ":TRC-x - [0:0]\n");
	for (int i = 0; i < 10; i++)
		buf_printf(&b, "%s\n", rule);
	buf_puts(&b, "COMMIT\n");
	struct xtsize x;
	xtsize_init(&x, 4);
	/* Fed in pieces of `cut` bytes: lines cut anywhere read the same. */
	for (size_t at = 0; at < b.len; at += cut)
		xtsize_feed(&x, b.data + at, b.len - at < cut ? b.len - at : cut);
	buf_free(&b);
	assert_int_equal(x.unknown, 0);
	assert_string_equal(x.big, "nat");
	return x.big_size;
}

static void test_builtin_chains(void **state)
{
	(void)state;
	struct xtsize x;
	xtsize_init(&x, 4);
	xtsize_feed(&x, head, sizeof(head) - 1);
	xtsize_feed(&x, "COMMIT\n", 7);
	assert_int_equal(x.big_size, 784);
}

static void test_rules_as_the_kernel_counts_them(void **state)
{
	(void)state;
	static const struct {
		const char *rule;
		uint64_t kernel;
	} cases[] = {
		{"-A TRC-x -m comment --comment \"a: route x\" -j CONNMARK --set-xmark "
		 "0xc50000/0xff0000", 5592},
		{"-A TRC-x -p tcp -m comment --comment \"a: route x\" -m statistic --mode random "
		 "--probability 0.33333333349 -j DNAT --to-destination 10.0.0.31:5672", 6472},
		{"-A TRC-x -p tcp -m comment --comment \"a: route x\" -j DNAT --to-destination "
		 "10.0.0.33:5672", 5912},
		{"-A PREROUTING -d 192.168.1.1/32 -p tcp -m tcp --dport 5672 -m comment --comment "
		 "\"a: route x\" -j TRC-x", 5992},
		{"-A POSTROUTING -m connmark --mark 0x810000/0xff0000 -m comment --comment "
		 "\"a: snat masquerade\" -j MASQUERADE", 6152},
		{"-A POSTROUTING -m connmark --mark 0x820000/0xff0000 -m comment --comment "
		 "\"a: snat 10.0.0.1\" -j SNAT --to-source 10.0.0.1", 6152},
		{"-A TRC-x -m comment --comment \"a: route x\" -j HMARK --hmark-src-prefix 32 "
		 "--hmark-dst-prefix 0 --hmark-sport-mask 0x0000 --hmark-dport-mask 0x0000 "
		 "--hmark-proto-mask 0x00 --hmark-rnd 0x74726331 --hmark-mod 128 --hmark-offset 0",
		 6072},
		{"-A TRC-x -m comment --comment \"a: route x\" -m mark --mark 0x0/0x7e -j TRC-x",
		 5992},
		{"-A TRC-x -s 10.0.0.0/8 -m comment --comment \"a: route x\" -j RETURN", 5512},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		assert_int_equal(ten(cases[i].rule, 1 << 20), cases[i].kernel);
		assert_int_equal(ten(cases[i].rule, 7), cases[i].kernel);
	}
}

/* A comment is the user's text: what looks like a match in it is none. */
static void test_comment_text_is_no_match(void **state)
{
	(void)state;
	assert_int_equal(ten("-A TRC-x -m comment --comment \"a: route x: -m statistic "
			     "-j DNAT \\\" -m mark\" -j CONNMARK --set-xmark 0xc50000/0xff0000",
			     1 << 20), 5592);
}

static void test_filter_table(void **state)
{
	(void)state;
	static const char text[] =
		"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
		":TRC-x - [0:0]\n"
		"-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "
		"\"a: replies\" -j ACCEPT\n"
		"-A TRC-x -d 10.0.0.31/32 -p tcp -m tcp --dport 5672 -m conntrack --ctstate NEW "
		"-m conntrack ! --ctstate DNAT -m comment --comment \"a: route amqp\" -j DROP\n"
		"COMMIT\n";
	struct xtsize x;
	xtsize_init(&x, 4);
	xtsize_feed(&x, text, sizeof(text) - 1);
	/* 960 for the chains (measured), 640 and 888 for the rules (measured
	 * as ten of each: 7360 - 960, 9840 - 960, over ten). */
	assert_int_equal(x.big_size, 960 + 640 + 888);
	assert_string_equal(x.big, "filter");
}

/* Whole golden files, v4 and v6 (run from the repository root). */
static void test_golden_files(void **state)
{
	(void)state;
	static const struct {
		const char *path;
		int family;
		const char *table;
		uint64_t kernel;
	} cases[] = {
		{"tests/golden/examples/iot-gateway.v4", 4, "nat", 19592},
		{"tests/golden/ipv6-basic.v6", 6, "nat", 5192},
		{"tests/golden/dual-stack-mix.v6", 6, "nat", 7792},
		{"tests/golden/snat-range.v6", 6, "nat", 4600},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		FILE *f = fopen(cases[i].path, "rb");
		assert_non_null(f);
		struct xtsize x;
		xtsize_init(&x, cases[i].family);
		char chunk[4096];
		size_t n;
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			xtsize_feed(&x, chunk, n);
		fclose(f);
		assert_int_equal(x.unknown, 0);
		assert_string_equal(x.big, cases[i].table);
		assert_int_equal(x.big_size, cases[i].kernel);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin_chains),
		cmocka_unit_test(test_rules_as_the_kernel_counts_them),
		cmocka_unit_test(test_comment_text_is_no_match),
		cmocka_unit_test(test_filter_table),
		cmocka_unit_test(test_golden_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
