#include "core/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define ML_ALIGN 64
/* A header in front of every aligned block remembers the size for the live-byte count.
 * It is ML_ALIGN bytes so the block after it stays aligned. */
typedef struct {
    size_t bytes;
} block_header;

static atomic_uint_fast64_t n_allocations;
static atomic_uint_fast64_t n_frees;
static atomic_uint_fast64_t n_bytes_live;

void *ml_malloc(size_t bytes)
{
    void *block = NULL;
    if (posix_memalign(&block, ML_ALIGN, ML_ALIGN + (bytes ? bytes : 1)) != 0) {
        ml_error(ML_ENOMEM, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    ((block_header *)block)->bytes = bytes;
    atomic_fetch_add(&n_allocations, 1);
    atomic_fetch_add(&n_bytes_live, bytes);
    return (char *)block + ML_ALIGN;
}

void *ml_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) {
        ml_error(ML_ENOMEM, "allocation of %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    void *p = ml_malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *ml_realloc(void *ptr, size_t bytes)
{
    if (!ptr)
        return ml_malloc(bytes);
    size_t old = ((block_header *)((char *)ptr - ML_ALIGN))->bytes;
    void *p = ml_malloc(bytes);
    if (!p)
        return NULL;
    memcpy(p, ptr, old < bytes ? old : bytes);
    ml_free(ptr);
    return p;
}

void ml_free(void *ptr)
{
    if (!ptr)
        return;
    void *block = (char *)ptr - ML_ALIGN;
    atomic_fetch_add(&n_frees, 1);
    atomic_fetch_sub(&n_bytes_live, ((block_header *)block)->bytes);
    free(block);
}

char *ml_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = ml_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

int ml_append_line(char **text, const char *line)
{
    size_t old = *text ? strlen(*text) : 0;
    size_t add = strlen(line);
    int newline = add == 0 || line[add - 1] != '\n';
    char *p = ml_realloc(*text, old + add + (size_t)newline + 1);
    if (!p)
        return -1;
    memcpy(p + old, line, add);
    if (newline)
        p[old + add++] = '\n';
    p[old + add] = '\0';
    *text = p;
    return 0;
}

ml_alloc_stats ml_alloc_stats_get(void)
{
    ml_alloc_stats s = {atomic_load(&n_allocations), atomic_load(&n_frees),
                        atomic_load(&n_bytes_live)};
    return s;
}
