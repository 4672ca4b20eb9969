/* test_include.c: include search order, read-once, cycles, bad targets. */
#include "unit.h"

#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void put(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *path_of(const char *name)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/trc-unit-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/lib", dir);
	mkdir(sub, 0755);
	snprintf(sub, sizeof(sub), "%s/other", dir);
	mkdir(sub, 0755);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char route[] = "route r {\n listen tcp 192.0.2.1:80\n server $be:80\n}\n";

static void test_next_to_includer_first(void **state)
{
	(void)state;
	put("main.tr", "include \"be.tr\"\nroute r {\n listen tcp 192.0.2.1:80\n server $be:80\n}\n");
	put("be.tr", "define be = 198.51.100.2\n");
	put("lib/be.tr", "define be = 198.51.100.9\n");
	char libdir[128];
	snprintf(libdir, sizeof(libdir), "%s/lib", dir);
	const char *dirs[] = {libdir, NULL};
	struct unit_compile c;
	unit_compile_file(&c, path_of("main.tr"), NULL, dirs);
	assert_non_null(c.output);
	assert_non_null(strstr(c.output, "198.51.100.2:80"));
	unit_compile_free(&c);
	(void)route;
}

static void test_search_dirs_in_order(void **state)
{
	(void)state;
	put("main2.tr", "include \"only.tr\"\nroute r {\n listen tcp 192.0.2.1:80\n server $be:80\n}\n");
	put("other/only.tr", "define be = 198.51.100.7\n");
	put("lib/only.tr", "define be = 198.51.100.8\n");
	char a[128], b[128];
	snprintf(a, sizeof(a), "%s/other", dir);
	snprintf(b, sizeof(b), "%s/lib", dir);
	const char *dirs[] = {a, b, NULL};
	struct unit_compile c;
	unit_compile_file(&c, path_of("main2.tr"), NULL, dirs);
	assert_non_null(c.output);
	assert_non_null(strstr(c.output, "198.51.100.7:80"));
	unit_compile_free(&c);
}

static void test_included_twice_read_once(void **state)
{
	(void)state;
	put("twice.tr", "include \"d.tr\"\ninclude \"d.tr\"\ninclude \"e.tr\"\n"
			"route r {\n listen tcp 192.0.2.1:80\n server $be:80\n}\n");
	put("d.tr", "define be = 198.51.100.2\n");
	put("e.tr", "include \"d.tr\"\n");
	struct unit_compile c;
	unit_compile_file(&c, path_of("twice.tr"), NULL, NULL);
	/* Read twice, d.tr would define be twice: an error. */
	assert_string_equal(c.diagnostics, "");
	assert_non_null(c.output);
	unit_compile_free(&c);
}

static void test_cycle_shows_chain(void **state)
{
	(void)state;
	put("a.tr", "include \"b.tr\"\n");
	put("b.tr", "include \"a.tr\"\n");
	struct unit_compile c;
	unit_compile_file(&c, path_of("a.tr"), NULL, NULL);
	assert_null(c.model);
	char want[512];
	snprintf(want, sizeof(want), "include cycle: %s/a.tr -> %s/b.tr -> %s/a.tr",
		 dir, dir, dir);
	assert_non_null(strstr(c.diagnostics, want));
	assert_non_null(strstr(c.diagnostics, "In file included from "));
	unit_compile_free(&c);
}

static void test_not_found_lists_dirs(void **state)
{
	(void)state;
	put("nf.tr", "include \"nowhere.tr\"\n");
	const char *dirs[] = {"/nonexistent-trc", NULL};
	struct unit_compile c;
	unit_compile_file(&c, path_of("nf.tr"), NULL, dirs);
	assert_null(c.model);
	assert_non_null(strstr(c.diagnostics, "cannot find include file \"nowhere.tr\""));
	assert_non_null(strstr(c.diagnostics, "/nonexistent-trc"));
	assert_non_null(strstr(c.diagnostics, ":1:9: error:"));
	unit_compile_free(&c);
}

static void test_directory_is_refused(void **state)
{
	(void)state;
	put("dir.tr", "include \"lib\"\n");
	struct unit_compile c;
	unit_compile_file(&c, path_of("dir.tr"), NULL, NULL);
	assert_null(c.model);
	assert_non_null(strstr(c.diagnostics, "not a regular file"));
	unit_compile_free(&c);
}

static void test_error_in_included_file(void **state)
{
	(void)state;
	put("top.tr", "# top\ninclude \"bad.tr\"\n");
	put("bad.tr", "define p = 70000\nroute r {\n listen tcp 192.0.2.1:$p\n server 198.51.100.2:80\n}\n");
	struct unit_compile c;
	unit_compile_file(&c, path_of("top.tr"), NULL, NULL);
	assert_null(c.model);
	char want[512];
	snprintf(want, sizeof(want), "In file included from %s/top.tr:2:1:\n"
		 "%s/bad.tr:1:12: error: port 70000 is out of range (1-65535)\n", dir, dir);
	assert_non_null(strstr(c.diagnostics, want));
	unit_compile_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_to_includer_first),
		cmocka_unit_test(test_search_dirs_in_order),
		cmocka_unit_test(test_included_twice_read_once),
		cmocka_unit_test(test_cycle_shows_chain),
		cmocka_unit_test(test_not_found_lists_dirs),
		cmocka_unit_test(test_directory_is_refused),
		cmocka_unit_test(test_error_in_included_file),
	};
	return cmocka_run_group_tests_name("include", tests, setup, teardown);
}
