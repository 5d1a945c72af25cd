/* fuzz_mfir.c — the .mfir parser on arbitrary text: a parse either fails with a message or
 * gives a graph that verifies and prints back to text that parses to the same text. */
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    mf_graph *g = NULL, *again = NULL;
    if (mf_graph_parse(text, "fuzz.mfir", &g) == MF_OK) {
        char *printed, *reprinted;
        if (mf_graph_verify(g) || mf_graph_print(g, 0, &printed))
            abort();
        if (mf_graph_parse(printed, "printed.mfir", &again) || mf_graph_print(again, 0, &reprinted))
            abort(); /* the printer wrote what the parser refuses */
        if (strcmp(printed, reprinted))
            abort(); /* print and parse do not round-trip */
        free(printed);
        free(reprinted);
        mf_graph_destroy(again);
        mf_graph_destroy(g);
    }
    free(text);
    return 0;
}
