/* cmd_opt.c — `mlufuse opt MODEL`, the fusion debugging tool: runs the pass pipeline (or
 * the passes named) on an .mfir or ONNX model and shows what came of it — the graph after
 * any pass, Graphviz clusters per MLU subgraph, why each edge between subgraphs was not
 * fused, per-pass statistics and the memory plan, or all of it as JSON.  Public API only. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlufuse/mlufuse.h"
#include "int_arg.h"
#include "tools.h"

typedef struct opt_cmd {
    const char *model, *passes, *print_after, *dot, *output;
    int fusion, print_all, explain, stats, json, verify, list;
    int64_t batch;
    size_t fold_limit;
    FILE *print_to; /* where --print-after goes: stdout, or stderr under --json */
} opt_cmd;

static const char usage[] =
    "usage: mlufuse opt MODEL [options]\n"
    "Runs graph passes on an mlufuse IR (.mfir) or ONNX (.onnx) model and shows how it\n"
    "fuses into MLU subgraphs.  With none of --explain, --stats, --json, --dot and -o, the\n"
    "resulting graph is printed (constants of more than 16 elements as opaque).\n"
    "      --passes A,B,C        run these passes in order (default: the pipeline that\n"
    "                            modules run; --list-passes names them all)\n"
    "      --list-passes         the passes, one a line, and exit\n"
    "      --load-pass LIB.so    load a library of passes of your own (it exports\n"
    "                            mlufuse_register_passes; see mlufuse_passes.h); repeatable\n"
    "      --custom-ops DECL.txt:LIB.so  load custom ops: their declarations and the\n"
    "                            library that implements them (repeatable)\n"
    "      --no-fusion           every MLU op its own subgraph (as DISABLE_MLU_FUSION=1)\n"
    "      --fold-limit BYTES    largest result constant folding computes (default and 0:\n"
    "                            1048576)\n"
    "      --batch N             batch size (dim 0 of every input; ONNX only)\n"
    "      --print-after-all     print the graph after every pass\n"
    "      --print-after=PASS    print the graph after each run of PASS\n"
    "      --dot FILE            write Graphviz: one cluster per subgraph, CPU ops in grey\n"
    "      --explain             the subgraphs, and for every edge between two of them (or a\n"
    "                            subgraph and a CPU op) the rule that kept them apart\n"
    "      --stats               nodes and time per pass, subgraph sizes, planned memory\n"
    "      --json                one JSON object: nodes, subgraphs, cpu_ops, peak_bytes,\n"
    "                            naive_bytes, subgraph_sizes, passes, unfused_edges\n"
    "  -o, --output FILE         write the resulting graph as .mfir (constants whole)\n"
    "      --verify              verify the IR after every pass (as DEBUG=1)\n"
    "  -h, --help                this text\n"
    "Exit status: 0 ok, 1 bad input (unreadable or invalid model, unknown pass), 2 usage or\n"
    "internal error.\n";

static void list_passes(void)
{
    printf("default pipeline: %s\n", mf_opt_default_pipeline());
    for (int i = 0; i < mf_opt_num_passes(); i++) {
        const char *summary;
        const char *name = mf_opt_pass_name(i, &summary);
        printf("  %-16s %s\n", name, summary);
    }
}

static int parse_args(int argc, char **argv, opt_cmd *o)
{
    static const struct option longopts[] = {
        {"passes", required_argument, 0, 'p'},  {"list-passes", no_argument, 0, 'L'},
        {"no-fusion", no_argument, 0, 'n'},     {"fold-limit", required_argument, 0, 'F'},
        {"batch", required_argument, 0, 'b'},   {"print-after-all", no_argument, 0, 'P'},
        {"print-after", required_argument, 0, 'a'}, {"dot", required_argument, 0, 'd'},
        {"explain", no_argument, 0, 'x'},       {"stats", no_argument, 0, 's'},
        {"json", no_argument, 0, 'j'},          {"output", required_argument, 0, 'o'},
        {"verify", no_argument, 0, 'V'},        {"help", no_argument, 0, 'h'},
        {"load-pass", required_argument, 0, 'l'}, {"custom-ops", required_argument, 0, 'U'},
        {0, 0, 0, 0},
    };
    *o = (opt_cmd){.fusion = -1};
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1;) {
        char *end = NULL;
        bool bad = false; /* a numeric flag that is no such number (int_arg.h) */
        long long ll = 0;
        unsigned long long u = 0;
        switch (c) {
        case 'p': o->passes = optarg; break;
        case 'L': o->list = 1; break;
        case 'l':
            if (mf_pass_load(optarg))
                return mf_tool_fail(1, "opt: --load-pass: %s", mf_last_error());
            break;
        case 'U': {
            int rc = mf_tool_custom_ops("opt", optarg);
            if (rc)
                return rc;
            break;
        }
        case 'n': o->fusion = 0; break;
        case 'F': bad = !tool_u64_arg(optarg, &u), o->fold_limit = u; break;
        case 'b': bad = !tool_ll_arg(optarg, &ll) || ll < 0, o->batch = ll; break;
        case 'P': o->print_all = 1; break;
        case 'a': o->print_after = optarg; break;
        case 'd': o->dot = optarg; break;
        case 'x': o->explain = 1; break;
        case 's': o->stats = 1; break;
        case 'j': o->json = 1; break;
        case 'o': o->output = optarg; break;
        case 'V': o->verify = 1; break;
        case 'h': fputs(usage, stdout); return -1;
        default: fputs(usage, stderr); return 2;
        }
        if (bad || (end && (*end || !*optarg || *optarg == '-')))
            return mf_tool_fail(2, "opt: bad number '%s'", optarg);
    }
    if (o->list) { /* after every --load-pass, so their passes are listed too */
        list_passes();
        return -1;
    }
    if (optind != argc - 1) {
        fputs(usage, stderr);
        return mf_tool_fail(2, "opt: expected one MODEL, got %d", argc - optind);
    }
    o->model = argv[optind];
    if (o->batch < 0)
        return mf_tool_fail(2, "opt: --batch must not be negative");
    if (o->print_after) {
        bool known = false;
        for (int i = 0; i < mf_opt_num_passes(); i++)
            known |= !strcmp(mf_opt_pass_name(i, NULL), o->print_after);
        if (!known)
            return mf_tool_fail(2, "opt: --print-after names no pass: '%s' (see --list-passes)", o->print_after);
    }
    o->print_to = o->json ? stderr : stdout;
    return 0;
}

static void print_after(const char *pass, const mf_graph *g, void *ctx)
{
    const opt_cmd *o = ctx;
    if (!o->print_all && (!o->print_after || strcmp(o->print_after, pass)))
        return;
    char *text;
    if (mf_graph_print(g, 1, &text)) {
        fprintf(o->print_to, "# after %s: (could not print: %s)\n", pass, mf_last_error());
        return;
    }
    fprintf(o->print_to, "# after %s: %d nodes\n%s", pass, mf_graph_num_nodes(g), text);
    free(text);
}

/* Nodes per MLU subgraph, for --stats and --json; *n subgraphs. */
static int *subgraph_sizes(const mf_graph *g, int nsub)
{
    int *size = calloc((size_t)nsub + 1, sizeof *size);
    for (int i = 0; size && i < mf_graph_num_nodes(g); i++) {
        int s = mf_graph_node_subgraph(g, i);
        if (s >= 0 && s < nsub)
            size[s]++;
    }
    return size;
}

static void print_bytes(size_t b)
{
    if (b >= (size_t)1 << 20)
        printf("%.2f MiB", (double)b / (1 << 20));
    else
        printf("%.1f KiB", (double)b / 1024);
}

static void print_stats(const mf_graph *g, const mf_opt_result *r)
{
    mf_opt_summary s = mf_opt_result_summary(r);
    int width = 10; /* the longest pass name's */
    for (int i = 0; i < mf_opt_result_num_passes(r); i++) {
        int len = (int)strlen(mf_opt_result_pass(r, i)->name);
        width = len > width ? len : width;
    }
    printf("%-*s %12s %6s %8s %9s\n", width, "pass", "nodes before", "after", "changes", "ms");
    for (int i = 0; i < mf_opt_result_num_passes(r); i++) {
        const mf_opt_pass_stats *p = mf_opt_result_pass(r, i);
        printf("%-*s %12d %6d %8d %9.3f\n", width, p->name, p->nodes_before, p->nodes_after, p->changes, p->ms);
    }
    printf("pipeline: %.3f ms, %d nodes after\n", s.ms, s.nodes);
    if (s.segmented) {
        int *size = subgraph_sizes(g, s.subgraphs);
        printf("subgraphs: %d MLU, %d CPU ops, %d unfused edges; nodes per subgraph:", s.subgraphs, s.cpu_ops,
               s.unfused_edges);
        if (s.subgraphs <= 24) {
            for (int i = 0; size && i < s.subgraphs; i++)
                printf(" %d", size[i]);
        } else { /* many: how many subgraphs of each size, largest first */
            int most = 0;
            for (int i = 0; size && i < s.subgraphs; i++)
                most = size[i] > most ? size[i] : most;
            for (int n = most; size && n > 0; n--) {
                int count = 0;
                for (int i = 0; i < s.subgraphs; i++)
                    count += size[i] == n;
                if (count)
                    printf(" %d (x%d)", n, count);
            }
        }
        printf("\n");
        free(size);
    }
    if (s.planned) {
        printf("memory plan: %d buffers, peak ", s.buffers);
        print_bytes(s.peak_bytes);
        printf(" with reuse, ");
        print_bytes(s.naive_bytes);
        printf(" as one buffer per value (%.2f)\n", s.naive_bytes ? (double)s.peak_bytes / (double)s.naive_bytes : 1.0);
        printf("boundary copies per run: %d device -> host, %d host -> device\n", s.to_host, s.to_device);
    }
}

static void json_edge(const mf_opt_edge *e)
{
    printf("{\"from\": ");
    mf_tool_json_str(stdout, e->from);
    printf(", \"from_op\": \"%s\", \"from_subgraph\": %d, \"to\": ", e->from_op, e->from_subgraph);
    mf_tool_json_str(stdout, e->to);
    printf(", \"to_op\": \"%s\", \"to_subgraph\": %d, \"reason\": \"%s\", \"text\": ", e->to_op,
           e->to_subgraph, e->reason);
    mf_tool_json_str(stdout, e->text);
    printf("}");
}

static void print_json(const opt_cmd *o, const mf_graph *g, const mf_opt_result *r)
{
    mf_opt_summary s = mf_opt_result_summary(r);
    printf("{\"model\": ");
    mf_tool_json_str(stdout, o->model);
    printf(", \"pipeline\": ");
    mf_tool_json_str(stdout, o->passes ? o->passes : mf_opt_default_pipeline());
    printf(", \"nodes\": %d", s.nodes);
    if (s.segmented)
        printf(", \"subgraphs\": %d, \"cpu_ops\": %d", s.subgraphs, s.cpu_ops);
    else
        printf(", \"subgraphs\": null, \"cpu_ops\": null");
    if (s.planned)
        printf(", \"peak_bytes\": %zu, \"naive_bytes\": %zu, \"buffers\": %d, \"copies_to_host\": %d, "
               "\"copies_to_device\": %d", s.peak_bytes, s.naive_bytes, s.buffers, s.to_host, s.to_device);
    else
        printf(", \"peak_bytes\": null, \"naive_bytes\": null, \"buffers\": null, \"copies_to_host\": null, "
               "\"copies_to_device\": null");
    printf(", \"ms\": %.3f, \"subgraph_sizes\": [", s.ms);
    int *size = s.segmented ? subgraph_sizes(g, s.subgraphs) : NULL;
    for (int i = 0; size && i < s.subgraphs; i++)
        printf("%s%d", i ? ", " : "", size[i]);
    free(size);
    printf("], \"passes\": [");
    for (int i = 0; i < mf_opt_result_num_passes(r); i++) {
        const mf_opt_pass_stats *p = mf_opt_result_pass(r, i);
        printf("%s{\"name\": \"%s\", \"nodes_before\": %d, \"nodes_after\": %d, \"changes\": %d, \"ms\": %.3f}",
               i ? ", " : "", p->name, p->nodes_before, p->nodes_after, p->changes, p->ms);
    }
    printf("], \"unfused_edges\": [");
    for (int i = 0; i < mf_opt_result_num_edges(r); i++) {
        printf("%s", i ? ", " : "");
        json_edge(mf_opt_result_edge(r, i));
    }
    printf("]}\n");
}

/* Writes g's text (.mfir, or Graphviz) to path; 0 or an exit code. */
static int write_text(const char *path, const char *what, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return mf_tool_fail(1, "opt: cannot write %s %s", what, path);
    bool ok = fputs(text, f) >= 0;
    ok = fclose(f) == 0 && ok;
    return ok ? 0 : mf_tool_fail(1, "opt: writing %s %s failed", what, path);
}

static int report(const opt_cmd *o, const mf_graph *g, const mf_opt_result *r)
{
    char *text = NULL;
    int rc = 0;
    if (o->dot) {
        if (!mf_opt_result_summary(r).segmented)
            return mf_tool_fail(1, "opt: --dot needs the segment pass in the pipeline");
        if (mf_graph_dot(g, &text))
            return mf_tool_fail(2, "opt: %s", mf_last_error());
        rc = write_text(o->dot, "Graphviz file", text);
        free(text);
    }
    if (!rc && o->output) {
        if (mf_graph_print(g, 0, &text))
            return mf_tool_fail(2, "opt: %s", mf_last_error());
        rc = write_text(o->output, "graph", text);
        free(text);
    }
    if (rc)
        return rc;
    if (o->json) {
        print_json(o, g, r);
        return 0;
    }
    if (o->explain) {
        if (!mf_opt_result_summary(r).segmented)
            return mf_tool_fail(1, "opt: --explain needs the segment pass in the pipeline");
        fputs(mf_opt_result_explain(r), stdout);
    }
    if (o->stats)
        print_stats(g, r);
    if (!o->explain && !o->stats && !o->dot && !o->output && !o->print_all && !o->print_after) {
        if (mf_graph_print(g, 1, &text))
            return mf_tool_fail(2, "opt: %s", mf_last_error());
        fputs(text, stdout);
        free(text);
    }
    return 0;
}

int mf_cmd_opt(int argc, char **argv)
{
    opt_cmd o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    mf_graph *g;
    if (mf_tool_load_model(o.model, o.batch, &g))
        return mf_tool_fail(1, "opt: %s", mf_last_error());
    mf_opt_options oo = mf_opt_default_options();
    oo.passes = o.passes;
    oo.fusion = o.fusion;
    oo.fold_limit = o.fold_limit;
    oo.verify = o.verify;
    oo.after_pass = print_after;
    oo.ctx = &o;
    mf_opt_result *r = NULL;
    mf_status s = mf_graph_optimize(g, &oo, &r);
    if (s)
        rc = mf_tool_fail(s == MF_ERR_INTERNAL || s == MF_ERR_NOMEM ? 2 : 1, "opt: %s: %s", o.model, mf_last_error());
    else
        rc = report(&o, g, r);
    mf_opt_result_free(r);
    mf_graph_destroy(g);
    return rc;
}
