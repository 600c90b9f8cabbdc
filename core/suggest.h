/* suggest.h - "did you mean": the closest of a list of known names.
 *
 * Used wherever a name from a file is looked up in a fixed or known set (keys,
 * node kinds, activations, node ids, command names), so a typo gets a hint
 * instead of only a refusal.
 */
#ifndef TRELLIS_SUGGEST_H
#define TRELLIS_SUGGEST_H

/* Largest edit distance that still counts as a typo. */
#define SUGGEST_MAX_DISTANCE 2

/* The option closest to s by Damerau-Levenshtein distance (optimal string
 * alignment: insert, delete, substitute, swap two neighbours), if that
 * distance is at most SUGGEST_MAX_DISTANCE and smaller than the longer of the
 * two strings (so "x" does not suggest "dt": a name that shares nothing is not
 * a typo); the first of equally close options; NULL when none qualifies or s is
 * NULL. NULL entries of options are skipped. Returns a pointer borrowed from
 * options. Runs in O(len) per option, whatever the lengths. */
const char *suggest_closest(const char *s, const char *const *options, int n);

/* The bounded distance itself: the optimal-string-alignment distance of a and
 * b, or SUGGEST_MAX_DISTANCE + 1 if it is larger. */
int suggest_distance(const char *a, const char *b);

#endif
