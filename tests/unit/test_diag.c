/* test_diag.c: the GNU form, carets, sorting, notes, the cap, -W. */
#include "unit.h"

static void test_caret_under_token(void **state)
{
	(void)state;
	struct unit_compile c;
	unit_compile(&c, "route r {\n\tlisten tcp 192.0.2.1:70000\n server 198.51.100.2:80\n}\n");
	assert_string_equal(c.diagnostics,
		"t.tr:2:23: error: port 70000 is out of range (1-65535)\n"
		"    2 | \tlisten tcp 192.0.2.1:70000\n"
		"      | \t                     ^~~~~\n"
		"tcproutec: 1 error\n");
	unit_compile_free(&c);
}

static void test_sorted_with_notes(void **state)
{
	(void)state;
	struct unit_compile c;
	unit_compile(&c, "define a = 1\nroute r {\n listen tcp 192.0.2.1:$a\n server 198.51.100.2:80\n}\n"
			 "define a = 2\nroute r {\n listen tcp 192.0.2.1:81\n server 198.51.100.2:80\n}\n");
	assert_string_equal(c.diagnostics,
		"t.tr:6:8: error: 'a' is already defined\n"
		"    6 | define a = 2\n"
		"      |        ^\n"
		"t.tr:1:8: note: 'a' is first defined here\n"
		"    1 | define a = 1\n"
		"      |        ^\n"
		"t.tr:7:7: error: route 'r' is already defined\n"
		"    7 | route r {\n"
		"      |       ^\n"
		"t.tr:2:7: note: the first route 'r' is here\n"
		"    2 | route r {\n"
		"      |       ^\n"
		"tcproutec: 2 errors\n");
	unit_compile_free(&c);
}

static void test_cap_at_20(void **state)
{
	(void)state;
	struct buf text;
	buf_init(&text);
	for (int i = 0; i < 25; i++)
		buf_printf(&text, "route r%d {\n listen tcp 192.0.2.1:%d\n server 198.51.100.2:0\n}\n",
			   i, 100 + i);
	struct unit_compile c;
	unit_compile(&c, buf_cstr(&text));
	buf_free(&text);
	size_t n = 0;
	for (const char *p = c.diagnostics; (p = strstr(p, ": error: ")); p++)
		n++;
	assert_int_equal(n, 20);
	assert_non_null(strstr(c.diagnostics, "tcproutec: 5 more errors not shown\n"
				      "tcproutec: 25 errors\n"));
	unit_compile_free(&c);
}

static void test_warning_named_and_werror(void **state)
{
	(void)state;
	struct unit_compile c;
	unit_compile(&c, "define spare = 80\nroute r {\n listen tcp 192.0.2.1:80\n server 198.51.100.2:80\n}\n");
	assert_non_null(c.output);
	assert_non_null(strstr(c.diagnostics,
		"t.tr:1:8: warning: 'spare' is defined but never used [-Wunused-define]\n"));
	unit_compile_free(&c);

	struct diag_ctx *d = diag_new();
	diag_set_werror(d, true);
	diag_warning(d, W_UNUSED_DEFINE, (struct loc){0}, "x");
	assert_int_equal(diag_errors(d), 1);
	diag_free(d);

	d = diag_new();
	assert_true(diag_set_warning(d, "unused-define", false));
	assert_false(diag_set_warning(d, "no-such-warning", false));
	diag_warning(d, W_UNUSED_DEFINE, (struct loc){0}, "x");
	diag_note(d, (struct loc){0}, "dropped with its warning");
	assert_int_equal(diag_warnings(d), 0);
	char *out;
	size_t len;
	FILE *mem = open_memstream(&out, &len);
	diag_print(d, mem, false);
	fclose(mem);
	assert_string_equal(out, "");
	free(out);
	diag_free(d);
}

/* The gutter is as wide as the widest line number of the diagnostic and
 * its notes (five at the least, as gcc), so that the bars line up; each
 * diagnostic has its own (the warning keeps five). */
static void test_gutter_fits_six_digits(void **state)
{
	(void)state;
	struct buf text;
	buf_init(&text);
	buf_puts(&text, "define a = 1\n");
	for (int i = 2; i < 123456; i++)
		buf_putc(&text, '\n');
	buf_puts(&text, "define a = 2\n");
	struct unit_compile c;
	unit_compile(&c, buf_cstr(&text));
	buf_free(&text);
	assert_string_equal(c.diagnostics,
		"t.tr:1:8: warning: 'a' is defined but never used [-Wunused-define]\n"
		"    1 | define a = 1\n"
		"      |        ^\n"
		"t.tr:123456:8: error: 'a' is already defined\n"
		"123456 | define a = 2\n"
		"       |        ^\n"
		"t.tr:1:8: note: 'a' is first defined here\n"
		"     1 | define a = 1\n"
		"       |        ^\n"
		"tcproutec: 1 error, 1 warning\n");
	unit_compile_free(&c);
}

/* Control bytes in a message never reach the terminal. */
static void test_messages_are_sanitized(void **state)
{
	(void)state;
	struct diag_ctx *d = diag_new();
	diag_error(d, (struct loc){0}, "bad \033[31m name\x07");
	char *out;
	size_t len;
	FILE *mem = open_memstream(&out, &len);
	diag_print(d, mem, false);
	fclose(mem);
	assert_string_equal(out, "tcproutec: error: bad ?[31m name?\ntcproutec: 1 error\n");
	free(out);
	diag_free(d);
}

static void test_color(void **state)
{
	(void)state;
	struct diag_ctx *d = diag_new();
	diag_error(d, (struct loc){0}, "x");
	char *out;
	size_t len;
	FILE *mem = open_memstream(&out, &len);
	diag_print(d, mem, true);
	fclose(mem);
	assert_non_null(strstr(out, "\033[1;31merror:\033[0m x"));
	free(out);
	diag_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caret_under_token),
		cmocka_unit_test(test_sorted_with_notes),
		cmocka_unit_test(test_cap_at_20),
		cmocka_unit_test(test_gutter_fits_six_digits),
		cmocka_unit_test(test_warning_named_and_werror),
		cmocka_unit_test(test_messages_are_sanitized),
		cmocka_unit_test(test_color),
	};
	return cmocka_run_group_tests_name("diag", tests, NULL, NULL);
}
