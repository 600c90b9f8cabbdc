/* json_text.c - the text of error messages about a JSON file: JSON pointers
 * (RFC 6901) and short, printable renderings of the values and strings a file
 * holds. Everything here writes into a caller's fixed buffer and truncates, so
 * a hostile file (a megabyte-long key) cannot make a message grow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/loader.h"

#define JTEXT_QUOTE_MAX 60 /* bytes of a string shown before "..." */

/* Appends s to out[0..n) at *len, truncating. */
static void append(char *out, size_t n, size_t *len, const char *s)
{
    size_t k = strlen(s);
    if (*len + 1 >= n) return;
    if (k > n - 1 - *len) k = n - 1 - *len;
    memcpy(out + *len, s, k);
    *len += k;
    out[*len] = '\0';
}

/* A control character as a JSON escape; NULL for any other byte. */
static const char *control_escape(unsigned char c, char buf[8])
{
    switch (c) {
    case '\n':
        return "\\n";
    case '\t':
        return "\\t";
    case '\r':
        return "\\r";
    default:
        break;
    }
    if (c >= 0x20 && c != 0x7f) return NULL;
    snprintf(buf, 8, "\\u%04x", c);
    return buf;
}

/* Parent pointer, "/", and the key with "~" as "~0" and "/" as "~1" (RFC
 * 6901). A control character, which the standard leaves raw, is shown as a
 * JSON escape so that an error stays on one line. */
void jtext_path_key(char *out, const char *parent, const char *key)
{
    char tmp[GRAPH_PATH_MAX], esc[8];
    size_t len = 0;
    tmp[0] = '\0';
    append(tmp, sizeof tmp, &len, parent);
    append(tmp, sizeof tmp, &len, "/");
    for (const unsigned char *p = (const unsigned char *)key; *p && len + 1 < sizeof tmp; p++) {
        char one[2] = {(char)*p, '\0'};
        const char *piece = control_escape(*p, esc);
        if (*p == '~') piece = "~0";
        if (*p == '/') piece = "~1";
        append(tmp, sizeof tmp, &len, piece ? piece : one);
    }
    memcpy(out, tmp, len + 1);
}

/* Length of s cut to at most max bytes without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t k = strnlen(s, max + 1);
    if (k <= max) return k;
    k = max;
    while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80) k--;
    return k;
}

/* s in double quotes, JSON-escaped, cut after JTEXT_QUOTE_MAX bytes with "...". */
void jtext_quote(char *out, size_t n, const char *s)
{
    size_t len = 0, keep = utf8_cut(s, JTEXT_QUOTE_MAX);
    char esc[8];
    out[0] = '\0';
    append(out, n, &len, "\"");
    for (size_t i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)s[i];
        char one[2] = {(char)c, '\0'};
        const char *piece = control_escape(c, esc);
        if (c == '"') piece = "\\\"";
        if (c == '\\') piece = "\\\\";
        append(out, n, &len, piece ? piece : one);
    }
    append(out, n, &len, s[keep] ? "...\"" : "\"");
}

/* The shortest %g form that reads back as x; an integral value keeps a ".0"
 * so that 10.0 is not shown as the integer 10. */
void jtext_real(char *out, size_t n, double x)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, x);
        if (strtod(out, NULL) == x) break;
    }
    if (!strpbrk(out, ".eEni")) {
        size_t len = strlen(out);
        append(out, n, &len, ".0");
    }
}

/* A JSON value as a message shows it after "got ". */
void jtext_describe(char *out, size_t n, const json_t *v)
{
    char q[JTEXT_QUOTE_MAX * 6 + 8];
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        snprintf(out, n, "an object");
        break;
    case JSON_ARRAY:
        snprintf(out, n, "an array");
        break;
    case JSON_STRING:
        jtext_quote(q, sizeof q, json_string_value(v));
        snprintf(out, n, "the string %s", q);
        break;
    case JSON_INTEGER:
        snprintf(out, n, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        jtext_real(out, n, json_real_value(v));
        break;
    case JSON_TRUE:
        snprintf(out, n, "true");
        break;
    case JSON_FALSE:
        snprintf(out, n, "false");
        break;
    default:
        snprintf(out, n, "null");
    }
}

/* "a, b, c". */
void jtext_join(char *out, size_t n, const char *const *names, int count)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < count; i++) {
        if (i > 0) append(out, n, &len, ", ");
        append(out, n, &len, names[i]);
    }
}

/* Bytes in the UTF-8 sequence starting at s, or 0 if it is not a valid one. */
static size_t utf8_sequence(const unsigned char *s)
{
    size_t n = s[0] < 0x80                   ? 1
               : s[0] >= 0xc2 && s[0] < 0xe0 ? 2
               : (s[0] & 0xf0) == 0xe0       ? 3
               : s[0] >= 0xf0 && s[0] < 0xf5 ? 4
                                             : 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return n;
}

/* s with control characters as JSON escapes and bytes that are not UTF-8 as
 * \xHH: text taken from a file (jansson's "near ..." excerpt) made safe to
 * print on one line. */
void jtext_sanitize(char *out, size_t n, const char *s)
{
    size_t len = 0;
    char esc[8];
    out[0] = '\0';
    for (const unsigned char *p = (const unsigned char *)s; *p && len + 1 < n;) {
        size_t k = utf8_sequence(p);
        const char *piece = k == 1 ? control_escape(*p, esc) : NULL;
        if (k == 0) {
            snprintf(esc, sizeof esc, "\\x%02x", *p);
            piece = esc;
            k = 1;
        }
        if (piece) {
            append(out, n, &len, piece);
        } else if (len + k < n) {
            memcpy(out + len, p, k);
            len += k;
            out[len] = '\0';
        } else {
            break;
        }
        p += k;
    }
}
