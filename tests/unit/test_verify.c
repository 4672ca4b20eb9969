/* test_verify.c: the unified diff of --verify: the exact text diff(1)
 * prints for small cases, and, for many random ones, a diff that patches
 * the old text into the new. */
#include "unit.h"

#include "verify.h"

static char *diff_of(const char *a, const char *b)
{
	struct buf out;
	buf_init(&out);
	if (!verify_diff(a, strlen(a), b, strlen(b), "old", "new", &out)) {
		buf_free(&out);
		return NULL;
	}
	char *s = xstrdup(buf_cstr(&out));
	buf_free(&out);
	return s;
}

static void expect(const char *a, const char *b, const char *hunks)
{
	char *d = diff_of(a, b);
	assert_non_null(d);
	char *want = xmalloc(strlen(hunks) + 32);
	sprintf(want, "--- old\n+++ new\n%s", hunks);
	assert_string_equal(d, want);
	free(want);
	free(d);
}

static void test_equal_gives_nothing(void **state)
{
	(void)state;
	assert_null(diff_of("", ""));
	assert_null(diff_of("a\nb\n", "a\nb\n"));
	assert_null(diff_of("no newline", "no newline"));
}

/* The expected texts are what GNU diff -u prints. */
static void test_two_hunks(void **state)
{
	(void)state;
	expect("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\n",
	       "a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\nL\nm\nn\n",
	       "@@ -1,5 +1,5 @@\n a\n-b\n+B\n c\n d\n e\n"
	       "@@ -9,5 +9,6 @@\n i\n j\n k\n-l\n+L\n m\n+n\n");
}

static void test_close_changes_join(void **state)
{
	(void)state;
	expect("a\nb\nc\nd\ne\nf\ng\nh\ni\n", "a\nX\nc\nd\ne\nf\ng\nh\nY\n",
	       "@@ -1,9 +1,9 @@\n a\n-b\n+X\n c\n d\n e\n f\n g\n h\n-i\n+Y\n");
}

static void test_missing_newline(void **state)
{
	(void)state;
	expect("x\ny", "x\ny\n",
	       "@@ -1,2 +1,2 @@\n x\n-y\n\\ No newline at end of file\n+y\n");
}

static void test_empty_sides(void **state)
{
	(void)state;
	expect("", "x\ny\n", "@@ -0,0 +1,2 @@\n+x\n+y\n");
	expect("x\ny\n", "", "@@ -1,2 +0,0 @@\n-x\n-y\n");
}

static void test_one_probability_changed(void **state)
{
	(void)state;
	expect("*nat\n-A X --probability 0.50000000001\n-A X\nCOMMIT\n",
	       "*nat\n-A X --probability 0.50000000000\n-A X\nCOMMIT\n",
	       "@@ -1,4 +1,4 @@\n *nat\n--A X --probability 0.50000000001\n"
	       "+-A X --probability 0.50000000000\n -A X\n COMMIT\n");
}

/* ---- applying a diff -------------------------------------------------- */

struct lines {
	char **v;
	size_t n;
};

static struct lines split_lines(const char *s)
{
	struct lines l = {xmalloc(xmul(strlen(s) + 1, sizeof(char *))), 0};
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) + 1 : strlen(s);
		l.v[l.n] = xmalloc(len + 1);
		memcpy(l.v[l.n], s, len);
		l.v[l.n][len] = '\0';
		l.n++;
		s += len;
	}
	return l;
}

static void free_lines(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* Applies a unified diff to a, checking every context and removed line. */
static char *apply(const char *a, const char *diff)
{
	struct lines old = split_lines(a), d = split_lines(diff);
	struct buf out;
	buf_init(&out);
	size_t pos = 0, i = 2;
	assert_true(d.n >= 3);
	while (i < d.n) {
		long s1, c1 = 1, s2, c2 = 1;
		const char *h = d.v[i++];
		assert_int_equal(strncmp(h, "@@ -", 4), 0);
		char *p;
		s1 = strtol(h + 4, &p, 10);
		if (*p == ',')
			c1 = strtol(p + 1, &p, 10);
		assert_int_equal(strncmp(p, " +", 2), 0);
		s2 = strtol(p + 2, &p, 10);
		if (*p == ',')
			c2 = strtol(p + 1, &p, 10);
		(void)s2;
		size_t start = c1 ? (size_t)s1 - 1 : (size_t)s1;
		assert_true(start >= pos);
		for (; pos < start; pos++)
			buf_puts(&out, old.v[pos]);
		long seen1 = 0, seen2 = 0;
		while (i < d.n && d.v[i][0] != '@') {
			char mark = d.v[i][0];
			const char *text = d.v[i] + 1;
			char line[4096];
			snprintf(line, sizeof(line), "%s", text);
			/* "\ No newline" takes the newline off the line before. */
			if (i + 1 < d.n && d.v[i + 1][0] == '\\')
				line[strlen(line) - 1] = '\0';
			if (mark == ' ' || mark == '-') {
				assert_true(pos < old.n);
				assert_string_equal(old.v[pos], line);
				pos++;
				seen1++;
			}
			if (mark == ' ' || mark == '+') {
				buf_puts(&out, line);
				seen2++;
			}
			i += (i + 1 < d.n && d.v[i + 1][0] == '\\') ? 2 : 1;
		}
		assert_int_equal(seen1, c1);
		assert_int_equal(seen2, c2);
	}
	for (; pos < old.n; pos++)
		buf_puts(&out, old.v[pos]);
	char *res = xstrdup(buf_cstr(&out));
	buf_free(&out);
	free_lines(&old);
	free_lines(&d);
	return res;
}

static char *random_text(unsigned *seed, size_t maxlines, int alphabet)
{
	struct buf b;
	buf_init(&b);
	size_t n = (size_t)rand_r(seed) % (maxlines + 1);
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "line %d\n", rand_r(seed) % alphabet);
	if (n && rand_r(seed) % 8 == 0)
		b.len--;  /* no newline at the end */
	char *s = xstrdup(buf_cstr(&b));
	buf_free(&b);
	return s;
}

static void test_random_diffs_apply(void **state)
{
	(void)state;
	unsigned seed = 12345;
	for (int k = 0; k < 3000; k++) {
		char *a = random_text(&seed, 40, 1 + k % 9);
		char *b = random_text(&seed, 40, 1 + k % 9);
		char *d = diff_of(a, b);
		if (strcmp(a, b) == 0) {
			assert_null(d);
		} else {
			assert_non_null(d);
			char *got = apply(a, d);
			assert_string_equal(got, b);
			free(got);
		}
		free(d);
		free(a);
		free(b);
	}
}

/* Past the edit limit the middle is replaced whole: still a correct diff. */
static void test_many_changes_still_apply(void **state)
{
	(void)state;
	struct buf a, b;
	buf_init(&a);
	buf_init(&b);
	for (int i = 0; i < 6000; i++) {
		buf_printf(&a, "%d\n", i);
		buf_printf(&b, "%d\n", i % 3 ? i : -i - 1);
	}
	char *d = diff_of(buf_cstr(&a), buf_cstr(&b));
	assert_non_null(d);
	char *got = apply(buf_cstr(&a), d);
	assert_string_equal(got, buf_cstr(&b));
	free(got);
	free(d);
	buf_free(&a);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equal_gives_nothing),
		cmocka_unit_test(test_two_hunks),
		cmocka_unit_test(test_close_changes_join),
		cmocka_unit_test(test_missing_newline),
		cmocka_unit_test(test_empty_sides),
		cmocka_unit_test(test_one_probability_changed),
		cmocka_unit_test(test_random_diffs_apply),
		cmocka_unit_test(test_many_changes_still_apply),
	};
	return cmocka_run_group_tests_name("verify", tests, NULL, NULL);
}
