/* Reading a file, raw or gzip-compressed, for the importers (internal to lib/data).
 *
 * Compression is recognised by its magic number, not by the file name; path "-"
 * reads standard input, named "<stdin>" in messages. */
#ifndef ML_DATA_GZIN_H
#define ML_DATA_GZIN_H

#include <stddef.h>
#include <zlib.h>

#include "core/error.h"

typedef struct {
    gzFile gz;
    const char *name; /* for messages: the path, or "<stdin>" for "-" */
} ml_gzin;

/* The name of path in messages: "<stdin>" for "-", else path itself. */
const char *ml_gzin_display(const char *path);

/* Opens path (a directory fails with "cannot open: Is a directory") with a
 * zlib buffer of `buffer` bytes. */
ml_status ml_gzin_open(const char *path, unsigned buffer, ml_gzin *f);

/* Reads up to n bytes; *got receives how many came (fewer: end of data, a
 * truncated gzip stream included).  Read errors and damaged compressed data fail. */
ml_status ml_gzin_read(ml_gzin *f, void *buf, size_t n, size_t *got);

/* Closes f (also one whose open failed). */
void ml_gzin_close(ml_gzin *f);

#endif
