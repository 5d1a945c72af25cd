/* json.h — a small strict JSON parser for tests that read what the project writes (Chrome
 * traces, --json reports): the whole text must be one value (RFC 8259 grammar, strings with
 * escapes, no trailing commas), parsed into a tree of nodes.  Objects keep their members in
 * order; lookups are linear. */
#ifndef MF_TEST_JSON_H
#define MF_TEST_JSON_H

#include <stddef.h>

typedef enum tjson_type { TJSON_NULL, TJSON_BOOL, TJSON_NUMBER, TJSON_STRING, TJSON_ARRAY, TJSON_OBJECT } tjson_type;

typedef struct tjson {
    tjson_type type;
    double num;           /* numbers; bools as 0/1 */
    char *str;            /* strings (escapes decoded, \u kept only for ASCII) */
    struct tjson **items; /* arrays and objects: the values */
    char **keys;          /* objects: the member names */
    int n;
} tjson;

/* The tree of text, or NULL when it is not valid JSON (then *err, if given, says where). */
tjson *tjson_parse(const char *text, char *err, size_t cap);
void tjson_free(tjson *v);
/* The member `key` of an object, or NULL. */
const tjson *tjson_get(const tjson *obj, const char *key);
/* The member's string, or NULL when absent or not a string. */
const char *tjson_str(const tjson *obj, const char *key);
/* The member's number, or `dflt` when absent or not a number. */
double tjson_num(const tjson *obj, const char *key, double dflt);

#endif
