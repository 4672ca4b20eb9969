/* lexstate.h: what the scanner and the parser share for one file. */
#ifndef TRC_LEXSTATE_H
#define TRC_LEXSTATE_H

#include "parse.h"
#include "parser.h"

/* flex's bison bridge names the types without the parser's prefix. */
#ifndef YYSTYPE
#define YYSTYPE TRC_YYSTYPE
#endif
#ifndef YYLTYPE
#define YYLTYPE TRC_YYLTYPE
#endif

#define LEX_MAX_BRACES 64

struct lex_state {
	struct parse_ctx *ctx;
	struct src_file *file;
	int line, col;
	/* Open braces, so that an unclosed one is reported where it opens. */
	struct loc braces[LEX_MAX_BRACES];
	int nbraces;
	/* The last token's text, for "found 'x'" in syntax errors. */
	const char *tok_text;
	int tok_len;
	int prev_token, cur_token;
	struct loc prev_loc, cur_loc;
};

#endif
