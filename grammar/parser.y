/* parser.y: the grammar of the .tr language.
 *
 * It builds the AST and checks nothing that needs meaning: ports, addresses
 * and names are resolved by the semantic pass. Errors recover at the end of
 * the statement (newline, ';' or '}'), so one run reports many of them. */

%code requires {
#include "ast.h"
#include "util.h"
struct route_start {
	struct arena_mark mark;
	unsigned errors;
};
typedef void *yyscan_t;
}

%code provides {
int trc_yylex(TRC_YYSTYPE *yylval, TRC_YYLTYPE *yylloc, yyscan_t scanner);
}

%code {
#include <stdio.h>
#include <string.h>

#include "diag.h"
#include "lexstate.h"
#include "lexer.h"

#define YYLLOC_DEFAULT(cur, rhs, n)                                     \
	do {                                                            \
		if (n) {                                                \
			(cur).file = YYRHSLOC(rhs, 1).file;             \
			(cur).first_line = YYRHSLOC(rhs, 1).first_line; \
			(cur).first_column = YYRHSLOC(rhs, 1).first_column; \
			(cur).last_line = YYRHSLOC(rhs, n).last_line;   \
			(cur).last_column = YYRHSLOC(rhs, n).last_column; \
		} else {                                                \
			(cur).file = YYRHSLOC(rhs, 0).file;             \
			(cur).first_line = (cur).last_line = YYRHSLOC(rhs, 0).last_line; \
			(cur).first_column = (cur).last_column = YYRHSLOC(rhs, 0).last_column; \
		}                                                       \
	} while (0)

#define ST (trc_yyget_extra(scanner))
#define ARENA (ST->ctx->arena)

static struct ast_val *val_new(yyscan_t scanner, enum ast_val_kind kind,
			       struct loc loc, const char *text);
static struct ast_item *item_new(yyscan_t scanner, enum ast_item_kind kind,
				 struct loc loc);
static struct ast_stmt *stmt_new(yyscan_t scanner, enum ast_stmt_kind kind,
				 struct loc loc);
static struct ast_item *items_reverse(struct ast_item *list);
static struct ast_val *vals_reverse(struct ast_val *list);
static void yyerror(YYLTYPE *loc, yyscan_t scanner, const char *msg);
}

%define api.pure full
%define api.prefix {trc_yy}
%define api.location.type {struct loc}
%define parse.error custom
%define parse.lac full
%locations
%expect 0
%param {yyscan_t scanner}

%union {
	struct route_start start;
	const char *str;
	struct ast_val *val;
	struct ast_item *item;
	struct ast_stmt *stmt;
	int num;
}

%token END 0              "end of file"
%token NEWLINE            "newline"
%token <str> NAME         "name"
%token <str> VAR          "$name"
%token <str> NUMBER       "number"
%token <str> ADDR4        "IPv4 address"
%token <str> ADDR6        "IPv6 address"
%token <str> STRING       "string"
%token <str> DURATION     "duration"
%token BADCHAR            "invalid character"
/* The keywords: one token per line of compiler/keywords.def, declared
 * here in its order by tools/keywords.awk (the Makefile builds
 * build/parser.y from this file). */
@KEYWORD_TOKENS@

%type <str> name
%type <val> value addr host port number set set_elems set_elem opt_timeout
%type <item> items block item server_opts
%type <num> proto

%%

file:
	  %empty
	| file stmt
	;

stmt:
	  eos
	| K_INCLUDE STRING eos
		{ parse_include(ST->ctx, @1, $2, @2); }
	| K_DEFINE name '=' value eos
		{
			struct ast_stmt *s = stmt_new(scanner, AS_DEFINE, @1);
			s->name = $2;
			s->name_loc = @2;
			s->value = $4;
			parse_append(ST->ctx, s);
		}
	| K_POLICY K_FORWARD K_DROP eos
		{
			struct ast_stmt *s = stmt_new(scanner, AS_POLICY, @1);
			s->policy_loc = @3;
			parse_append(ST->ctx, s);
		}
	| K_POLICY K_FORWARD K_ACCEPT eos
		{
			struct ast_stmt *s = stmt_new(scanner, AS_POLICY, @1);
			s->accept = true;
			s->policy_loc = @3;
			parse_append(ST->ctx, s);
		}
	| K_DEFAULTS block
		{
			struct ast_stmt *s = stmt_new(scanner, AS_DEFAULTS, @1);
			s->items = $2;
			s->end = @2;
			parse_append(ST->ctx, s);
		}
	| K_ROUTE
		/* Where the route's AST starts, to free it once it is built. */
		{
			$<start>$.mark = arena_mark(ARENA);
			$<start>$.errors = ST->ctx->syntax_errors;
		}
	  name block
		{
			struct ast_stmt *s = stmt_new(scanner, AS_ROUTE, @1);
			s->name = $3;
			s->name_loc = @3;
			s->items = $4;
			s->end = @4;
			parse_route(ST->ctx, s, $<start>2.mark, $<start>2.errors,
				    yychar != TRC_YYEMPTY);
		}
	| error eos
		{ yyerrok; }
	| error block
		{ yyerrok; }
	;

eos:
	  NEWLINE
	| ';'
	;

/* Keywords are only reserved where they mean something: a route or a
 * define may be called "random". The alternatives after NAME are every
 * keyword of compiler/keywords.def, written by tools/keywords.awk. */
name:
	  NAME
@KEYWORD_NAMES@
	;

/* A define's value: an address, a network, a port or range, a number, a
 * duration, a set, or another define. */
value:
	  addr
	| number
	| number '-' number
		{ $$ = val_new(scanner, AV_RANGE, @$, NULL); $$->lo = $1; $$->hi = $3; }
	| DURATION
		{ $$ = val_new(scanner, AV_DURATION, @$, $1); }
	| set
	;

number:
	  NUMBER
		{ $$ = val_new(scanner, AV_NUMBER, @$, $1); }
	| VAR
		{ $$ = val_new(scanner, AV_VAR, @$, $1); }
	;

addr:
	  ADDR4
		{ $$ = val_new(scanner, AV_ADDR, @$, $1); }
	| ADDR4 '/' NUMBER
		{ $$ = val_new(scanner, AV_ADDR, @$, $1); $$->prefix = $3; $$->prefix_loc = @3; }
	| ADDR6
		{ $$ = val_new(scanner, AV_ADDR, @$, $1); $$->is6 = true; }
	| ADDR6 '/' NUMBER
		{ $$ = val_new(scanner, AV_ADDR, @$, $1); $$->is6 = true; $$->prefix = $3; $$->prefix_loc = @3; }
	;

set:
	  '{' nls set_elems nls '}'
		{ $$ = val_new(scanner, AV_SET, @$, NULL); $$->elems = vals_reverse($3); }
	| '{' nls set_elems ',' nls '}'
		{ $$ = val_new(scanner, AV_SET, @$, NULL); $$->elems = vals_reverse($3); }
	| '{' nls '}'
		{ $$ = val_new(scanner, AV_SET, @$, NULL); }
	;

/* Built in reverse, so that a set of 100,000 members costs no more than
 * its length; the set rule turns it around. */
set_elems:
	  set_elem
	| set_elems ',' nls set_elem
		{ $4->next = $1; $$ = $4; }
	;

set_elem:
	  addr
	| VAR
		{ $$ = val_new(scanner, AV_VAR, @$, $1); }
	| NUMBER
		/* Refused by the semantic pass, with a reason. */
		{ $$ = val_new(scanner, AV_NUMBER, @$, $1); }
	;

nls:
	  %empty
	| nls NEWLINE
	;

/* Items are built in reverse, like set members, and turned around here. */
block:
	  '{' items '}'
		{ $$ = items_reverse($2); }
	| '{' items item '}'
		{ $3->next = $2; $$ = items_reverse($3); }
	| '{' items error '}'
		{ $$ = items_reverse($2); yyerrok; }
	;

items:
	  %empty
		{ $$ = NULL; }
	| items eos
	| items item eos
		{ $2->next = $1; $$ = $2; }
	| items error eos
		{ $$ = $1; yyerrok; }
	;

item:
	  K_LISTEN proto host ':' port
		{
			$$ = item_new(scanner, AI_LISTEN, @1);
			$$->proto = $2; $$->proto_loc = @2; $$->host = $3; $$->port = $5;
			$$->end = @5;
		}
	| K_LISTEN proto host ':' port K_ON name
		{
			$$ = item_new(scanner, AI_LISTEN, @1);
			$$->proto = $2; $$->proto_loc = @2; $$->host = $3; $$->port = $5;
			$$->iface = $7; $$->iface_loc = @7; $$->end = @7;
		}
	| K_LISTEN proto host ':' port K_ON STRING
		{
			$$ = item_new(scanner, AI_LISTEN, @1);
			$$->proto = $2; $$->proto_loc = @2; $$->host = $3; $$->port = $5;
			$$->iface = $7; $$->iface_loc = @7; $$->end = @7;
		}
	| K_SERVER host server_opts
		{ $$ = $3; $$->loc = @1; $$->host = $2; $$->end = @$; }
	| K_SERVER host ':' port server_opts
		{ $$ = $5; $$->loc = @1; $$->host = $2; $$->port = $4; $$->end = @$; }
	| K_BALANCE K_RANDOM
		{ $$ = item_new(scanner, AI_BALANCE, @1); $$->balance = BALANCE_RANDOM; $$->end = @2; }
	| K_BALANCE K_ROUNDROBIN
		{ $$ = item_new(scanner, AI_BALANCE, @1); $$->balance = BALANCE_ROUNDROBIN; $$->end = @2; }
	| K_SNAT host
		{ $$ = item_new(scanner, AI_SNAT, @1); $$->snat = SNAT_ADDR; $$->addr = $2; $$->end = @2; }
	| K_SNAT host '-' host
		{ $$ = item_new(scanner, AI_SNAT, @1); $$->snat = SNAT_ADDR; $$->addr = $2; $$->addr_hi = $4; $$->end = @4; }
	| K_SNAT K_MASQUERADE
		{ $$ = item_new(scanner, AI_SNAT, @1); $$->snat = SNAT_MASQUERADE; $$->end = @2; }
	| K_SNAT K_NONE
		{ $$ = item_new(scanner, AI_SNAT, @1); $$->snat = SNAT_NONE; $$->end = @2; }
	| K_ALLOW K_FROM addr
		{ $$ = item_new(scanner, AI_ALLOW, @1); $$->addr = $3; $$->end = @3; }
	| K_ALLOW K_FROM VAR
		{
			$$ = item_new(scanner, AI_ALLOW, @1);
			$$->addr = val_new(scanner, AV_VAR, @3, $3); $$->end = @3;
		}
	| K_ALLOW K_FROM set
		{ $$ = item_new(scanner, AI_ALLOW, @1); $$->addr = $3; $$->end = @3; }
	| K_AFFINITY K_CLIENT_IP opt_timeout
		{ $$ = item_new(scanner, AI_AFFINITY, @1); $$->timeout = $3; $$->end = @$; }
	| K_COMMENT STRING
		{ $$ = item_new(scanner, AI_COMMENT, @1); $$->text = $2; $$->text_loc = @2; $$->end = @2; }
	;

proto:
	  K_TCP { $$ = PROTO_TCP; }
	| K_UDP { $$ = PROTO_UDP; }
	;

/* The address part of an endpoint. IPv6 takes brackets when a port
 * follows; the scanner would otherwise read the port as part of it. */
host:
	  addr
		/* A network parses, so that the semantic pass can say why it
		 * does not belong here. */
	| '[' ADDR6 ']'
		{ $$ = val_new(scanner, AV_ADDR, @2, $2); $$->is6 = true; $$->bracketed = true; }
	| VAR
		{ $$ = val_new(scanner, AV_VAR, @$, $1); }
	| '[' VAR ']'
		{ $$ = val_new(scanner, AV_VAR, @2, $2); }
	| '*'
		{ $$ = val_new(scanner, AV_ANY, @$, NULL); }
	;

port:
	  number
	| NUMBER '-' NUMBER
		{
			$$ = val_new(scanner, AV_RANGE, @$, NULL);
			$$->lo = val_new(scanner, AV_NUMBER, @1, $1);
			$$->hi = val_new(scanner, AV_NUMBER, @3, $3);
		}
	;

server_opts:
	  %empty
		{ $$ = item_new(scanner, AI_SERVER, @$); }
	| server_opts K_WEIGHT number
		{
			$$ = $1;
			if ($$->weight && !$$->twice) {
				$$->twice = "weight";
				$$->twice_loc = @2;
				$$->first_loc = $$->weight_loc;
			} else if (!$$->weight) {
				$$->weight = $3;
				$$->weight_loc = @2;
			}
		}
	| server_opts K_DRAIN
		{
			$$ = $1;
			if ($$->drain && !$$->twice) {
				$$->twice = "drain";
				$$->twice_loc = @2;
				$$->first_loc = $$->drain_loc;
			} else if (!$$->drain) {
				$$->drain = true;
				$$->drain_loc = @2;
			}
		}
	;

opt_timeout:
	  %empty
		{ $$ = NULL; }
	| K_TIMEOUT DURATION
		{ $$ = val_new(scanner, AV_DURATION, @2, $2); }
	| K_TIMEOUT VAR
		{ $$ = val_new(scanner, AV_VAR, @2, $2); }
	;

%%

static struct ast_val *val_new(yyscan_t scanner, enum ast_val_kind kind,
			       struct loc loc, const char *text)
{
	struct ast_val *v = ARENA_NEW(ARENA, struct ast_val);
	v->kind = kind;
	v->loc = loc;
	v->text = text;
	return v;
}

static struct ast_item *item_new(yyscan_t scanner, enum ast_item_kind kind,
				 struct loc loc)
{
	struct ast_item *it = ARENA_NEW(ARENA, struct ast_item);
	it->kind = kind;
	it->loc = loc;
	return it;
}

static struct ast_stmt *stmt_new(yyscan_t scanner, enum ast_stmt_kind kind,
				 struct loc loc)
{
	struct ast_stmt *s = ARENA_NEW(ARENA, struct ast_stmt);
	s->kind = kind;
	s->loc = loc;
	return s;
}

static struct ast_item *items_reverse(struct ast_item *list)
{
	struct ast_item *out = NULL;
	while (list) {
		struct ast_item *next = list->next;
		list->next = out;
		out = list;
		list = next;
	}
	return out;
}

static struct ast_val *vals_reverse(struct ast_val *list)
{
	struct ast_val *out = NULL;
	while (list) {
		struct ast_val *next = list->next;
		list->next = out;
		out = list;
		list = next;
	}
	return out;
}

static void yyerror(YYLTYPE *loc, yyscan_t scanner, const char *msg)
{
	parse_error(ST->ctx, *loc, "%s", msg);
}

/* Token names as users read them: keywords and punctuation quoted, kinds
 * of token ("number", "newline") plain. */
static void describe(struct buf *b, yysymbol_kind_t sym)
{
	const char *name = yysymbol_name(sym);
	size_t n = strlen(name);
	if (n >= 2 && name[0] == '"' && name[n - 1] == '"') {
		name++;
		n -= 2;
	}
	static const char *const kinds[] = {
		"end of file", "newline", "name", "$name", "number",
		"IPv4 address", "IPv6 address", "string", "duration",
		"invalid character",
	};
	for (size_t i = 0; i < ARRAY_LEN(kinds); i++) {
		if (strlen(kinds[i]) == n && strncmp(kinds[i], name, n) == 0) {
			if (strcmp(kinds[i], "$name") == 0)
				buf_puts(b, "'$name'");
			else if (strcmp(kinds[i], "IPv4 address") == 0 ||
				 strcmp(kinds[i], "IPv6 address") == 0)
				buf_printf(b, "an %.*s", (int)n, name);
			else if (strcmp(kinds[i], "end of file") == 0 ||
				 strcmp(kinds[i], "newline") == 0)
				buf_printf(b, "%.*s", (int)n, name);
			else
				buf_printf(b, "a %.*s", (int)n, name);
			return;
		}
	}
	if (name[0] == '\'')
		buf_add(b, name, n);
	else
		buf_printf(b, "'%.*s'", (int)n, name);
}

/* The bare spelling of a keyword symbol, or NULL: compiler/keywords.def
 * indexed by the parser's symbol numbers. */
static const char *keyword_of(yysymbol_kind_t sym)
{
	static const char *const spelling[YYNTOKENS] = {
#define KEYWORD(text, token) [YYSYMBOL_##token] = text,
#include "keywords.def"
#undef KEYWORD
	};
	if (sym < 0 || sym >= YYNTOKENS)
		return NULL;
	return spelling[sym];
}

static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner)
{
	struct lex_state *st = ST;
	yysymbol_kind_t found = yypcontext_token(ctx);
	struct loc loc = *yypcontext_location(ctx);

	/* A block left open: say so where it opens. */
	if (found == YYSYMBOL_YYEOF && st->nbraces > 0) {
		int i = st->nbraces <= LEX_MAX_BRACES ? st->nbraces - 1 : LEX_MAX_BRACES - 1;
		parse_error(st->ctx, st->braces[i], "unterminated block: this '{' is never closed");
		return 0;
	}
	if (found == YYSYMBOL_BADCHAR) {
		unsigned char c = (unsigned char)st->tok_text[0];
		if (c >= 0x21 && c < 0x7f)
			parse_error(st->ctx, loc, "unexpected character '%c'", c);
		else if (st->tok_len == 3 && memcmp(st->tok_text, SRC_UTF8_BOM, 3) == 0)
			/* Invisible: name it rather than print it. */
			parse_error(st->ctx, loc, "unexpected byte order mark (U+FEFF): one "
				   "is allowed only at the start of a file");
		else if (c >= 0x80)
			parse_error(st->ctx, loc, "unexpected character '%.*s'", st->tok_len,
				   st->tok_text);
		else
			parse_error(st->ctx, loc, "unexpected character 0x%02x", c);
		return 0;
	}

	enum { MAX_EXPECTED = 12 };
	yysymbol_kind_t expected[MAX_EXPECTED];
	int n = yypcontext_expected_tokens(ctx, expected, MAX_EXPECTED);

	struct buf msg;
	buf_init(&msg);
	bool after_colon = st->prev_token == ':';
	bool wants_number = false;
	for (int i = 0; i < n; i++)
		if (expected[i] == YYSYMBOL_NUMBER)
			wants_number = true;
	bool wants_colon = false;
	for (int i = 0; i < n; i++)
		if (strcmp(yysymbol_name(expected[i]), "':'") == 0)
			wants_colon = true;
	bool wants_stmt = false;
	for (int i = 0; i < n; i++)
		if (expected[i] == YYSYMBOL_K_ROUTE)
			wants_stmt = true;
	if (after_colon && wants_number) {
		buf_puts(&msg, "expected a port after ':'");
	} else if (wants_colon && st->prev_token == ADDR6) {
		/* The scanner took "2001:db8::1:80" as one address. */
		parse_error(st->ctx, st->prev_loc, "an IPv6 address followed by a port takes "
			   "brackets, as in [2001:db8::1]:80");
		buf_free(&msg);
		return 0;
	} else if (wants_stmt && (found == YYSYMBOL_K_LISTEN || found == YYSYMBOL_K_SERVER ||
				  found == YYSYMBOL_K_ALLOW || found == YYSYMBOL_K_COMMENT)) {
		/* An item where a statement belongs: a route's '{' is missing
		 * or its '}' came early. */
		parse_error(st->ctx, loc, "'%.*s' belongs inside a 'route NAME { ... }' block",
			   st->tok_len, st->tok_text);
		buf_free(&msg);
		return 0;
	} else if (wants_stmt && strcmp(yysymbol_name(found), "'}'") == 0) {
		parse_error(st->ctx, loc, "this '}' closes no block");
		buf_free(&msg);
		return 0;
	} else if (wants_stmt) {
		buf_puts(&msg, "expected a statement (include, define, defaults, "
			 "route or policy)");
	} else if (n == 0 || n > 8) {
		buf_puts(&msg, "unexpected ");
		goto done_found;
	} else {
		buf_puts(&msg, "expected ");
		for (int i = 0; i < n; i++) {
			if (i > 0)
				buf_puts(&msg, i == n - 1 ? " or " : ", ");
			describe(&msg, expected[i]);
		}
	}
	buf_puts(&msg, ", found ");
done_found:
	if (found == YYSYMBOL_NAME || found == YYSYMBOL_NUMBER ||
	    found == YYSYMBOL_ADDR4 || found == YYSYMBOL_ADDR6 ||
	    found == YYSYMBOL_VAR || found == YYSYMBOL_DURATION)
		buf_printf(&msg, "'%.*s'", st->tok_len, st->tok_text);
	else
		describe(&msg, found);

	/* A misspelt keyword: offer the nearest expected one. */
	if (found == YYSYMBOL_NAME || keyword_of(found)) {
		char word[70];
		int len = st->tok_len < 69 ? st->tok_len : 69;
		memcpy(word, st->tok_text, (size_t)len);
		word[len] = '\0';
		char best[32] = "";
		unsigned best_d = 3;
		for (int i = 0; i < n; i++) {
			const char *kw = keyword_of(expected[i]);
			if (!kw)
				continue;
			unsigned dist = levenshtein(word, kw);
			if (dist < best_d && dist * 3 <= strlen(kw)) {
				best_d = dist;
				snprintf(best, sizeof(best), "%s", kw);
			}
		}
		if (best[0])
			buf_printf(&msg, "; did you mean '%s'?", best);
	}
	parse_error(st->ctx, loc, "%s", buf_cstr(&msg));
	buf_free(&msg);
	return 0;
}
