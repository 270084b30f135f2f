/* "Did you mean ...?": the nearest of a list of names to a misspelt word.
 *
 * Used for unknown keys, parameters and component names, so every such error
 * can say "(did you mean 'learning_rate'?)". */
#ifndef ML_CONFIG_SUGGEST_H
#define ML_CONFIG_SUGGEST_H

/* The Damerau-Levenshtein distance (optimal string alignment: insertions,
 * deletions, substitutions and swaps of two neighbours each cost 1) between a
 * and b, counted in bytes.  Strings longer than 255 bytes give a large value
 * (1000) instead of their distance. */
int ml_edit_distance(const char *a, const char *b);

/* The candidate nearest to word, or NULL when none is close enough: a
 * candidate is close enough when its distance d satisfies
 * d <= max(2, strlen(word) / 3) and d < strlen(word) (so a one- or two-letter
 * word is never "corrected" into an unrelated short name).  A candidate equal
 * to word ignoring case always wins.  Ties go to the earlier candidate.
 * n < 0: candidates is NULL-terminated.  NULL entries are skipped.  Returns
 * one of the candidates (borrowed), never a copy; allocates nothing. */
const char *ml_suggest(const char *word, const char *const *candidates, int n);

#endif
