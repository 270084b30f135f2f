/* The library's host allocator.  Every allocation of libml goes through these,
 * so tests can count them (a compiled function must allocate nothing per call)
 * and a failing allocation becomes ML_ENOMEM with a message. */
#ifndef ML_CORE_ALLOC_H
#define ML_CORE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

/* 64-byte aligned, so tensor data suits AVX-512 loads. Returns NULL and sets the error. */
void *ml_malloc(size_t bytes);
void *ml_calloc(size_t count, size_t size);
void *ml_realloc(void *ptr, size_t bytes); /* not aligned beyond malloc's guarantee */
void ml_free(void *ptr);
char *ml_strdup(const char *s);
/* Appends line to the ml_malloc'ed text *text (NULL: empty), adding a newline
 * when line has none (provenance: one command a line).  0, or -1 out of memory
 * (*text then as it was). */
int ml_append_line(char **text, const char *line);

typedef struct {
    uint64_t allocations; /* calls of ml_malloc/ml_calloc/ml_realloc since start */
    uint64_t frees;
    uint64_t bytes_live;  /* bytes allocated through ml_malloc/ml_calloc not yet freed */
} ml_alloc_stats;

ml_alloc_stats ml_alloc_stats_get(void);

#endif
