/* keywords.h: the keywords of the .tr language (keywords.def), for the
 * scanner and for diagnostics that name a keyword. */
#ifndef TRC_KEYWORDS_H
#define TRC_KEYWORDS_H

#include <stddef.h>

/* The longest spelling; checked by a static assertion in keywords.c. */
#define KEYWORD_MAX_LEN 16

/* The parser's token for the word s[0..n-1] when it is a keyword, else 0.
 * The scanner matches every word as a name and asks here. */
int keyword_token(const char *s, size_t n);

/* The spelling of a keyword token (K_LISTEN: "listen"), or NULL. */
const char *keyword_name(int token);

#endif
