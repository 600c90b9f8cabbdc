/* suggest.c - "did you mean" for the caller's own names (trellis.h): the
 * suggester the graph loader uses for keys, kinds and node ids. */
#include "api/api.h"
#include "core/suggest.h"

TRL_API const char *trl_suggest(const char *s, const char *const *names, int n)
{
    return names && n > 0 ? suggest_closest(s, names, n) : NULL;
}
