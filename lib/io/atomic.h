/* Atomic output files for text and images (PNG, CSV, TSV): everything that is
 * not HDF5 (io/h5.h does the same for HDF5 files).
 *
 * ml_atomic_open(path) creates a temporary file beside the target
 * (".NAME.tmp.PID.N" in the same directory, created exclusively) and gives a
 * stdio stream on it; ml_atomic_commit() flushes, fsyncs and renames it into
 * place.  A failure at any step, or ml_atomic_abort(), removes the temporary:
 * nothing is ever left under the final name, and an existing file of that
 * name stays untouched until the rename replaces it whole.  A directory that
 * does not exist or cannot be written fails at open, before any work.
 *
 * Path "-" writes to standard output instead (shown as "<stdout>" in
 * messages): commit flushes it, abort leaves what was written.
 *
 *     ml_atomic_file *a;
 *     FILE *fp;
 *     ML_TRY(ml_atomic_open(path, &a, &fp));
 *     fprintf(fp, "...");
 *     return ml_atomic_commit(a);          // frees a, success or not
 */
#ifndef ML_IO_ATOMIC_H
#define ML_IO_ATOMIC_H

#include <stdio.h>

#include "core/error.h"

typedef struct ml_atomic_file ml_atomic_file;

/* Starts writing path; *stream receives the stream to write (owned by the
 * handle: do not fclose it).  Errors (ML_EIO): "out/plot.png: cannot create:
 * No such file or directory", "out: cannot create: Is a directory". */
ml_status ml_atomic_open(const char *path, ml_atomic_file **handle, FILE **stream);

/* Flushes, fsyncs, closes and renames into place (a write error that stdio
 * kept until now is reported here).  Frees the handle whatever happens; on
 * failure the temporary is removed.  NULL is ML_EINVAL. */
ml_status ml_atomic_commit(ml_atomic_file *handle);

/* Closes and removes the temporary, frees the handle.  NULL is a no-op. */
void ml_atomic_abort(ml_atomic_file *handle);

/* The name for messages: the path, or "<stdout>"; borrowed from the handle. */
const char *ml_atomic_name(const ml_atomic_file *handle);

#endif
