/* cmd_genoff.c — `mlufuse genoff MODEL -o FILE.mfo`: the seed's genoff.  Compiles an ONNX or
 * .mfir model for a batch size, a core number and one or more CPU levels and writes the
 * offline model file that `mlufuse-offline` runs with the runtime alone; the input format
 * and the pre- and post-processing a runner applies are recorded in it (docs/mfo.md). */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlufuse/mlufuse.h"
#include "mlufuse/mlufuse_offline.h"
#include "int_arg.h"
#include "offline/settings.h"
#include "tools.h"

static const char usage[] =
    "usage: mlufuse genoff MODEL -o FILE.mfo [options]\n"
    "Compiles an ONNX (.onnx) or mlufuse IR (.mfir) model into an offline model file.\n"
    "  -o, --output FILE.mfo        the file to write\n"
    "      --batch-size N           dim 0 of every input (ONNX; default: the model's)\n"
    "      --core-number 1|4|16     partitions per kernel launch (default 1)\n"
    "      --cpu LIST               LLVM CPU names, one code level each; \"host\" is this\n"
    "                               machine (default host,x86-64-v3)\n"
    "      --input-format F         rgb, rgba, argb or bgr (the seed's 0, 1, 2 too): the\n"
    "                               channel order of raw images (default rgb)\n"
    "      --mean a,b,c --std x,y,z per-channel normalization: (pixel*scale - mean) / std\n"
    "      --scale S                pixel scale (default 1/255)\n"
    "      --resize HxW             resize images to HxW first (default: the input's size)\n"
    "      --postprocess P          none, softmax-topk or yolo (recorded for the runner)\n"
    "      --topk K                 softmax-topk: how many classes to print (default 5)\n"
    "      --anchors LIST --strides LIST --conf-threshold T --nms-threshold T\n"
    "                               yolo: the decoding parameters\n"
    "      --custom-ops DECL.txt:LIB.so  load custom ops to read the model with; a model\n"
    "                               that still calls one is refused (an .mfo file\n"
    "                               holds no custom ops: run it with mlufuse run)\n"
    "  -h, --help                   this text\n";

int mf_cmd_genoff(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},      {"batch-size", required_argument, 0, 'b'},
        {"core-number", required_argument, 0, 'c'}, {"cpu", required_argument, 0, 'C'},
        {"input-format", required_argument, 0, 'f'}, {"mean", required_argument, 0, 'M'},
        {"std", required_argument, 0, 'S'},         {"scale", required_argument, 0, 's'},
        {"resize", required_argument, 0, 'r'},      {"postprocess", required_argument, 0, 'p'},
        {"topk", required_argument, 0, 'k'},        {"anchors", required_argument, 0, 'a'},
        {"strides", required_argument, 0, 't'},     {"conf-threshold", required_argument, 0, 'T'},
        {"nms-threshold", required_argument, 0, 'N'}, {"help", no_argument, 0, 'h'},
        {"custom-ops", required_argument, 0, 'U'},
        {0, 0, 0, 0},
    };
    const char *out = NULL, *cpus = NULL, *fmt = "rgb", *post = "none";
    long long batch = 0;
    int core_number = 1;
    char meta[4096] = "";
    size_t n = 0;
    optind = 1;
    for (int c, idx = 0; (c = getopt_long(argc, argv, "o:h", longopts, &idx)) != -1;) {
        char *end = NULL;
        bool bad = false; /* an int flag that is no int (tool_int_arg) */
        const char *key = NULL;
        switch (c) {
        case 'o': out = optarg; break;
        case 'b': bad = !tool_ll_arg(optarg, &batch); break;
        case 'c': bad = !tool_int_arg(optarg, &core_number); break;
        case 'C': cpus = optarg; break;
        case 'f':
            if (!(fmt = offline_input_format(optarg)))
                return mf_tool_fail(2, "genoff: --input-format must be rgb, rgba, argb or bgr (0, 1, 2), not '%s'", optarg);
            break;
        case 'M': key = "mean"; break;
        case 'S': key = "std"; break;
        case 's': key = "scale"; break;
        case 'a': key = "anchors"; break;
        case 't': key = "strides"; break;
        case 'T': key = "conf_threshold"; break;
        case 'N': key = "nms_threshold"; break;
        case 'k': key = "topk"; break;
        case 'r': key = "resize"; break;
        case 'p': {
            char why[160];
            if (offline_setting_check("postprocess", optarg, why, sizeof why))
                return mf_tool_fail(2, "genoff: --postprocess %s, not '%s'", why, optarg);
            post = optarg;
            break;
        }
        case 'U': {
            int rc = mf_tool_custom_ops("genoff", optarg);
            if (rc)
                return rc;
            break;
        }
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
        if (bad || (end && *end))
            return mf_tool_fail(2, "genoff: bad number '%s'", optarg);
        if (key) { /* the runner refuses what the settings table does, so genoff does too */
            char why[160];
            if (offline_setting_check(key, optarg, why, sizeof why))
                return mf_tool_fail(2, "genoff: --%s %s, not '%s'", longopts[idx].name, why, optarg);
            n += (size_t)snprintf(meta + n, sizeof meta - n, "%s=%s\n", key, optarg);
        }
        if (n >= sizeof meta)
            return mf_tool_fail(2, "genoff: too many options");
    }
    if (optind != argc - 1 || !out) {
        fputs(usage, stderr);
        return mf_tool_fail(2, "genoff: expected one MODEL and -o FILE.mfo");
    }
    if (batch < 0 || (core_number != 1 && core_number != 4 && core_number != 16))
        return mf_tool_fail(2, "genoff: --batch-size must be positive and --core-number 1, 4 or 16");
    n += (size_t)snprintf(meta + n, sizeof meta - n, "input_format=%s\npostprocess=%s\n", fmt, post);
    if (n >= sizeof meta)
        return mf_tool_fail(2, "genoff: too many options");
    mf_graph *g;
    mf_status s = mf_tool_load_model(argv[optind], batch, &g);
    if (s)
        return mf_tool_fail(1, "%s", mf_last_error());
    mf_genoff_options o = {core_number, cpus, meta};
    s = mf_genoff(g, &o, out);
    mf_graph_destroy(g);
    if (s)
        return mf_tool_fail(1, "%s", mf_last_error());
    return 0;
}
