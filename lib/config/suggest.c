#include "config/suggest.h"

#include <string.h>
#include <strings.h>

#define SUGGEST_MAX_LEN 255
#define SUGGEST_FAR 1000

int ml_edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > SUGGEST_MAX_LEN || m > SUGGEST_MAX_LEN)
        return SUGGEST_FAR;
    /* Three rows of the optimal-string-alignment table: i-2, i-1 and i. */
    int rows[3][SUGGEST_MAX_LEN + 1];
    int *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= m; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int d = prev[j] + 1;                       /* deletion */
            if (cur[j - 1] + 1 < d) d = cur[j - 1] + 1;        /* insertion */
            if (prev[j - 1] + cost < d) d = prev[j - 1] + cost; /* substitution */
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < d)
                d = prev2[j - 2] + 1;                  /* transposition */
            cur[j] = d;
        }
        int *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[m];
}

const char *ml_suggest(const char *word, const char *const *candidates, int n)
{
    if (!word || !candidates)
        return NULL;
    int len = (int)strlen(word);
    int limit = len / 3 > 2 ? len / 3 : 2;
    if (limit > len - 1)
        limit = len - 1;
    const char *best = NULL;
    int best_d = SUGGEST_FAR;
    for (int i = 0; n < 0 ? candidates[i] != NULL : i < n; i++) {
        const char *c = candidates[i];
        if (!c)
            continue;
        if (strcasecmp(c, word) == 0)
            return c;
        int d = ml_edit_distance(word, c);
        if (d < best_d) {
            best_d = d;
            best = c;
        }
    }
    return best && best_d <= limit ? best : NULL;
}
