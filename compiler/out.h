/* out.h: writing the result, all or nothing. */
#ifndef TRC_OUT_H
#define TRC_OUT_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* Output to a path, all or nothing: a temporary file in the same
 * directory, fsync, then rename(2) over the path. A device or FIFO is
 * written in place, "-" is standard output. */
struct out_file {
	int fd;
	char *tmp;            /* the temporary file, or NULL */
	char *final;          /* where it goes */
	const char *path;     /* as given, for messages */
};

/* Opens the destination and makes b write to it as it fills. */
bool out_begin(struct out_file *o, const char *path, struct buf *b, char *err,
	       size_t errlen);
/* Writes the rest of b, then puts the file in place. On failure nothing is
 * left behind and path is untouched. */
bool out_commit(struct out_file *o, struct buf *b, char *err, size_t errlen);
/* Gives up: removes the temporary file. */
void out_abort(struct out_file *o);

/* out_begin and out_commit of a whole buffer at once. */
bool out_write(const char *path, struct buf *b, char *err, size_t errlen);

#endif
