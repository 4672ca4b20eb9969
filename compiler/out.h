/* out.h: writing the result, all or nothing. */
#ifndef TRC_OUT_H
#define TRC_OUT_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* Writes b to path atomically: a temporary file in the same directory,
 * fsync, then rename(2) over path. On failure returns false with a message
 * in err (and no temporary file left); path is untouched. "-" is stdout. */
bool out_write(const char *path, const struct buf *b, char *err, size_t errlen);

#endif
