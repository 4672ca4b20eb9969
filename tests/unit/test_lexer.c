/* test_lexer.c: the tokens of the language, and where they are. */
#include "unit.h"

#include "keywords.h"
#include "lexstate.h"
#include "lexer.h"

struct lexed {
	int tokens[64];
	const char *texts[64];
	struct loc locs[64];
	int n;
	struct diag_ctx *diag;
	struct arena *arena;
	struct src_set srcs;
};

static void lex(struct lexed *out, const char *text)
{
	memset(out, 0, sizeof(*out));
	out->arena = arena_new();
	out->diag = diag_new();
	src_set_init(&out->srcs);
	struct ast_file file = {0};
	struct parse_ctx pc = {.arena = out->arena, .diag = out->diag,
			       .srcs = &out->srcs, .out = &file};
	struct src_file *f = src_from_string(&out->srcs, "t.tr", text);
	struct lex_state st = {.ctx = &pc, .file = f, .line = 1, .col = 1};
	yyscan_t scanner;
	assert_int_equal(trc_yylex_init_extra(&st, &scanner), 0);
	YY_BUFFER_STATE b = trc_yy_scan_bytes(f->text, (int)f->len, scanner);
	YYSTYPE val;
	YYLTYPE loc;
	int tok;
	while ((tok = trc_yylex(&val, &loc, scanner)) != 0 && out->n < 64) {
		out->tokens[out->n] = tok;
		out->texts[out->n] = (tok == NAME || tok == VAR || tok == NUMBER ||
				      tok == ADDR4 || tok == ADDR6 || tok == STRING ||
				      tok == DURATION) ? val.str : NULL;
		out->locs[out->n] = loc;
		out->n++;
	}
	trc_yy_delete_buffer(b, scanner);
	trc_yylex_destroy(scanner);
}

static void lexed_free(struct lexed *l)
{
	arena_free(l->arena);
	diag_free(l->diag);
	src_set_free(&l->srcs);
}

static void test_endpoint(void **state)
{
	(void)state;
	struct lexed l;
	lex(&l, "server 10.0.0.2:1234 weight 2");
	int want[] = {K_SERVER, ADDR4, ':', NUMBER, K_WEIGHT, NUMBER};
	assert_int_equal(l.n, 6);
	for (int i = 0; i < 6; i++)
		assert_int_equal(l.tokens[i], want[i]);
	assert_string_equal(l.texts[1], "10.0.0.2");
	assert_string_equal(l.texts[3], "1234");
	assert_int_equal(l.locs[1].first_column, 8);
	assert_int_equal(l.locs[1].last_column, 15);
	lexed_free(&l);
}

static void test_vars_and_names(void **state)
{
	(void)state;
	struct lexed l;
	lex(&l, "listen tcp $public:$mongodb\nroute my-app_2 {");
	int want[] = {K_LISTEN, K_TCP, VAR, ':', VAR, NEWLINE, K_ROUTE, NAME, '{'};
	assert_int_equal(l.n, 9);
	for (int i = 0; i < 9; i++)
		assert_int_equal(l.tokens[i], want[i]);
	assert_string_equal(l.texts[2], "public");
	assert_string_equal(l.texts[4], "mongodb");
	assert_string_equal(l.texts[7], "my-app_2");
	assert_int_equal(l.locs[7].first_line, 2);
	assert_int_equal(l.locs[7].first_column, 7);
	lexed_free(&l);
}

static void test_ipv6_and_ranges(void **state)
{
	(void)state;
	struct lexed l;
	lex(&l, "[2001:db8::2]:1234 ::1 2001:db8::/64 8000-8080 3h 90s");
	int want[] = {'[', ADDR6, ']', ':', NUMBER, ADDR6, ADDR6, '/', NUMBER,
		      NUMBER, '-', NUMBER, DURATION, DURATION};
	assert_int_equal(l.n, 14);
	for (int i = 0; i < 14; i++)
		assert_int_equal(l.tokens[i], want[i]);
	assert_string_equal(l.texts[1], "2001:db8::2");
	assert_string_equal(l.texts[5], "::1");
	assert_string_equal(l.texts[12], "3h");
	lexed_free(&l);
}

static void test_keywords_only_whole(void **state)
{
	(void)state;
	struct lexed l;
	lex(&l, "client-ip client-ips routes random_x");
	int want[] = {K_CLIENT_IP, NAME, NAME, NAME};
	assert_int_equal(l.n, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(l.tokens[i], want[i]);
	lexed_free(&l);
}

/* Every keyword of keywords.def scans as its token, and its spelling
 * with a character more, less or changed scans as a name. */
static void test_every_keyword(void **state)
{
	(void)state;
	static const struct { const char *text; int token; } kws[] = {
#define KEYWORD(text, token) { text, token },
#include "keywords.def"
#undef KEYWORD
	};
	for (size_t i = 0; i < ARRAY_LEN(kws); i++) {
		char buf[KEYWORD_MAX_LEN + 2];
		size_t n = strlen(kws[i].text);
		assert_int_equal(keyword_token(kws[i].text, n), kws[i].token);
		assert_string_equal(keyword_name(kws[i].token), kws[i].text);
		struct lexed l;
		lex(&l, kws[i].text);
		assert_int_equal(l.n, 1);
		assert_int_equal(l.tokens[0], kws[i].token);
		lexed_free(&l);

		snprintf(buf, sizeof(buf), "%sx", kws[i].text);
		assert_int_equal(keyword_token(buf, n + 1), 0);
		assert_int_equal(keyword_token(kws[i].text, n - 1), 0);
		memcpy(buf, kws[i].text, n);
		buf[n - 1] = buf[n - 1] == 'X' ? 'Y' : 'X';
		assert_int_equal(keyword_token(buf, n), 0);
		lex(&l, buf);
		assert_int_equal(l.n, 1);
		assert_int_equal(l.tokens[0], NAME);
		lexed_free(&l);
	}
	assert_int_equal(keyword_token("", 0), 0);
	assert_null(keyword_name(NAME));
}

static void test_comments_and_strings(void **state)
{
	(void)state;
	struct lexed l;
	lex(&l, "comment \"a # b\" # not a token\n; include \"x.tr\"");
	int want[] = {K_COMMENT, STRING, NEWLINE, ';', K_INCLUDE, STRING};
	assert_int_equal(l.n, 6);
	for (int i = 0; i < 6; i++)
		assert_int_equal(l.tokens[i], want[i]);
	assert_string_equal(l.texts[1], "a # b");
	assert_string_equal(l.texts[5], "x.tr");
	assert_int_equal(diag_errors(l.diag), 0);
	lexed_free(&l);
}

static void test_unterminated_string(void **state)
{
	(void)state;
	struct lexed l;
	lex(&l, "comment \"open\nroute");
	assert_int_equal(diag_errors(l.diag), 1);
	assert_int_equal(l.tokens[1], STRING);
	assert_int_equal(l.tokens[2], NEWLINE);
	lexed_free(&l);
}

static void test_stray_bytes_are_tokens(void **state)
{
	(void)state;
	struct lexed l;
	lex(&l, "route @ \x01 \xc3\xa9");
	int want[] = {K_ROUTE, BADCHAR, BADCHAR, BADCHAR};
	assert_int_equal(l.n, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(l.tokens[i], want[i]);
	/* The two-byte character is one token, two columns wide. */
	assert_int_equal(l.locs[3].last_column - l.locs[3].first_column, 1);
	lexed_free(&l);
}

static void test_long_name(void **state)
{
	(void)state;
	char text[80];
	memset(text, 'n', 65);
	text[65] = '\0';
	struct lexed l;
	lex(&l, text);
	assert_int_equal(diag_errors(l.diag), 1);
	lexed_free(&l);
	text[64] = '\0';
	lex(&l, text);
	assert_int_equal(diag_errors(l.diag), 0);
	lexed_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_vars_and_names),
		cmocka_unit_test(test_ipv6_and_ranges),
		cmocka_unit_test(test_keywords_only_whole),
		cmocka_unit_test(test_every_keyword),
		cmocka_unit_test(test_comments_and_strings),
		cmocka_unit_test(test_unterminated_string),
		cmocka_unit_test(test_stray_bytes_are_tokens),
		cmocka_unit_test(test_long_name),
	};
	return cmocka_run_group_tests_name("lexer", tests, NULL, NULL);
}
