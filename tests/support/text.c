/* text.c — looking into text in tests (text.h). */
#include "text.h"

#include <string.h>

int tsupport_count(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}
