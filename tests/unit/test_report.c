/* test_report.c: the header's "Compiled with" line: one order whatever
 * the order of the options, values in one form whatever their spacing, and
 * words quoted so that no word, however hostile, ends the comment line. */
#include "unit.h"

#include "report.h"

#define SRC                                                        \
	"define public = 192.0.2.1\n"                              \
	"define web = { 198.51.100.2, 198.51.100.3 }\n"            \
	"define ports = 8000-8009\n"                               \
	"route web {\n listen tcp $public:80\n server $web:80\n}\n" \
	"route batch {\n listen tcp $public:$ports\n server 198.51.100.9\n}\n"

struct run {
	struct compile comp;
	struct diag_ctx *diag;
};

/* Compiles SRC (named input) with the -D overrides and option words. */
static void run(struct run *r, const char *input, const char *const *defines,
		size_t ndefines, const char *const *options, size_t noptions,
		enum plan_target t)
{
	r->diag = diag_new();
	struct compile_opts o = {.target = t, .input = input, .text = SRC,
				 .defines = defines, .ndefines = ndefines,
				 .options = options, .noptions = noptions};
	assert_int_equal(compile_run(&r->comp, &o, r->diag), COMPILE_OK);
}

static char *line_of(const struct plan *p)
{
	struct buf b;
	buf_init(&b);
	report_command_line(p, &b);
	char *s = xstrdup(buf_cstr(&b));
	buf_free(&b);
	return s;
}

static void done(struct run *r)
{
	compile_free(&r->comp);
	diag_free(r->diag);
}

/* -D by name, values written back in one form; a text compile names "-". */
static void test_defines_sorted_and_canonical(void **state)
{
	(void)state;
	static const char *const a[] = {"web= {198.51.100.7 ,198.51.100.8,}",
					"ports=9000 - 9009", "public=192.0.2.9"};
	static const char *const b[] = {"public=192.0.2.9", "ports=9000-9009",
					"web={ 198.51.100.7, 198.51.100.8 }"};
	struct run ra, rb;
	run(&ra, "t.tr", a, 3, NULL, 0, PLAN_NFT);
	run(&rb, "t.tr", b, 3, NULL, 0, PLAN_NFT);
	char *la = line_of(ra.comp.plan), *lb = line_of(rb.comp.plan);
	assert_string_equal(la, "tcproutec -t nft -D ports=9000-9009 -D public=192.0.2.9 "
			    "-D 'web={ 198.51.100.7, 198.51.100.8 }' -");
	assert_string_equal(la, lb);
	/* What each replaced, for --explain. */
	const struct model *m = ra.comp.model;
	assert_int_equal(m->noverrides, 3);
	assert_string_equal(m->overrides[2].name, "web");
	assert_string_equal(m->overrides[2].replaced, "{ 198.51.100.2, 198.51.100.3 }");
	assert_int_equal(m->overrides[2].replaced_loc.first_line, 2);
	assert_string_equal(m->overrides[0].replaced, "8000-8009");
	free(la);
	free(lb);
	done(&ra);
	done(&rb);
}

/* Option words are quoted for a shell; a control character, which the
 * option parser refuses, would still not end the line. */
static void test_hostile_words_stay_on_the_line(void **state)
{
	(void)state;
	static const char *const opts[] = {"--x", "it's", "a\nb\rc\033[2J", "", "$(id)"};
	struct run r;
	run(&r, "t.tr", NULL, 0, opts, 5, PLAN_IPTABLES);
	char *l = line_of(r.comp.plan);
	assert_string_equal(l, "tcproutec -t iptables --x 'it'\\''s' 'a?b?c?[2J' '' "
			    "'$(id)' -");
	assert_null(strpbrk(l, "\n\r\033"));
	/* The header: one line of it, then the forward policy. */
	struct buf out;
	buf_init(&out);
	report_header(r.comp.plan, 4, &out, "# ");
	const char *h = buf_cstr(&out);
	const char *nl = strchr(h, '\n');
	assert_non_null(nl);
	assert_memory_equal(nl + 1, "# Compiled with: ", 17);
	nl = strchr(nl + 1, '\n');
	assert_non_null(nl);
	assert_memory_equal(nl + 1, "# forward policy: ", 18);
	buf_free(&out);
	free(l);
	done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defines_sorted_and_canonical),
		cmocka_unit_test(test_hostile_words_stay_on_the_line),
	};
	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
