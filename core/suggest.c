/* suggest.c - see suggest.h.
 *
 * The distance is the optimal-string-alignment form of Damerau-Levenshtein,
 * computed only on the band |i - j| <= SUGGEST_MAX_DISTANCE of the usual
 * dynamic-programming table: a cell outside the band is already farther than
 * the limit. The band has 2 * SUGGEST_MAX_DISTANCE + 1 cells per row, so the
 * cost is O(length) time and O(1) memory even for hostile, megabyte-long
 * strings, and nothing is allocated.
 */
#include "core/suggest.h"

#include <string.h>

#define SUGGEST_BAND (2 * SUGGEST_MAX_DISTANCE + 1)
#define SUGGEST_FAR  (SUGGEST_MAX_DISTANCE + 1)

/* Cell (i, j) of the table lives in row[i % 3][j - i + SUGGEST_MAX_DISTANCE]. */
static int band_get(int row[3][SUGGEST_BAND], size_t i, size_t j)
{
    long k = (long)j - (long)i + SUGGEST_MAX_DISTANCE;
    if (k < 0 || k >= SUGGEST_BAND) return SUGGEST_FAR;
    return row[i % 3][k];
}

static int min2(int a, int b)
{
    return a < b ? a : b;
}

/* Fills row i of the band; returns the smallest value in it. */
static int band_fill_row(int row[3][SUGGEST_BAND], const char *a, const char *b, size_t i,
                         size_t lb)
{
    int best = SUGGEST_FAR;
    for (int k = 0; k < SUGGEST_BAND; k++) {
        long jl = (long)i + k - SUGGEST_MAX_DISTANCE;
        int v = SUGGEST_FAR;
        if (jl >= 0 && (size_t)jl <= lb) {
            size_t j = (size_t)jl;
            if (i == 0 || j == 0) {
                v = (int)(i + j); /* one of them is 0: the other is the distance */
            } else {
                int cost = a[i - 1] != b[j - 1];
                v = min2(band_get(row, i - 1, j) + 1, band_get(row, i, j - 1) + 1);
                v = min2(v, band_get(row, i - 1, j - 1) + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    v = min2(v, band_get(row, i - 2, j - 2) + 1); /* swap of neighbours */
            }
            v = min2(v, SUGGEST_FAR);
        }
        row[i % 3][k] = v;
        best = min2(best, v);
    }
    return best;
}

static int distance_n(const char *a, size_t la, const char *b, size_t lb)
{
    if ((la > lb ? la - lb : lb - la) > SUGGEST_MAX_DISTANCE) return SUGGEST_FAR;
    int row[3][SUGGEST_BAND];
    for (size_t i = 0; i <= la; i++)
        if (band_fill_row(row, a, b, i, lb) >= SUGGEST_FAR) return SUGGEST_FAR;
    return band_get(row, la, lb);
}

int suggest_distance(const char *a, const char *b)
{
    return distance_n(a, strlen(a), b, strlen(b));
}

const char *suggest_closest(const char *s, const char *const *options, int n)
{
    if (!s) return NULL;
    const char *best = NULL;
    int best_d = SUGGEST_FAR;
    size_t ls = strlen(s);
    for (int i = 0; i < n; i++) {
        if (!options[i]) continue;
        size_t lo = strlen(options[i]);
        int d = distance_n(s, ls, options[i], lo);
        size_t longer = ls > lo ? ls : lo;
        if (d < best_d && (size_t)d < longer) {
            best = options[i];
            best_d = d;
        }
    }
    return best;
}
