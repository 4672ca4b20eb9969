/* keywords.c: the lookup of the keywords of keywords.def.
 *
 * The scanner matches a word once, as a name, and asks keyword_token
 * whether it is a keyword. The lookup is a switch on the word's length and
 * first character, written from keywords.def by tools/keywords.awk into
 * build/keywords-lookup.h, so that a word is compared with at most one or
 * two keywords (a linear scan of the list made the scanner 18% slower). */
#include <string.h>

#include "keywords.h"
#include "parser.h"
#include "util.h"

struct keyword {
	const char *text;
	int token;
};

static const struct keyword keywords[] = {
#define KEYWORD(text, token) { text, token },
#include "keywords.def"
#undef KEYWORD
};

#define KEYWORD(text, token)                                              \
	_Static_assert(sizeof(text) - 1 <= KEYWORD_MAX_LEN,               \
		       "keyword " text " is longer than KEYWORD_MAX_LEN"); \
	_Static_assert(sizeof(text) > 1, "an empty keyword");
#include "keywords.def"
#undef KEYWORD

int keyword_token(const char *s, size_t n)
{
#include "keywords-lookup.h"
}

const char *keyword_name(int token)
{
	for (size_t i = 0; i < ARRAY_LEN(keywords); i++)
		if (keywords[i].token == token)
			return keywords[i].text;
	return NULL;
}
