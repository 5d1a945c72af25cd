/* text.h — looking into text in tests (tool output, assembly, SVG). */
#ifndef MF_TEST_TEXT_H
#define MF_TEST_TEXT_H

/* How many times `what` (non-empty) occurs in text, occurrences not overlapping. */
int tsupport_count(const char *text, const char *what);

#endif
