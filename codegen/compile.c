/* compile.c — one subgraph to object code: a fresh LLVM context and target machine per
 * call (so compiles run in parallel), the kernel's ABI wrapper around a noalias body that
 * the lowerings fill, the default<O3> pipeline, and emission of a PIC object (or, for
 * tests and debugging, assembly text). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "cg_internal.h"

static atomic_ulong kernel_counter;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A name unique across processes too (objects from the disk cache share one JIT with
 * freshly compiled ones): a hash of the subgraph's ops and shapes, the pid, a counter. */
static void kernel_name(const mf_graph *g, char *buf, size_t cap)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < g->nvalues; i++) {
        const mf_value *v = g->values[i];
        h = (h ^ (uint64_t)(v->producer ? v->producer->op + 1 : 0)) * 1099511628211ull;
        for (int d = 0; d < v->type.rank; d++)
            h = (h ^ (uint64_t)v->type.shape[d]) * 1099511628211ull;
    }
    unsigned long n = atomic_fetch_add(&kernel_counter, 1);
    const char *op = g->nnodes ? mf_op_get(g->nodes[0]->op)->name : "empty";
    for (int i = 0, best = 0; i < g->nnodes; i++) { /* the core names the kernel, for profiles */
        mf_op_kind k = mf_op_get(g->nodes[i]->op)->kind;
        int weight = k == MF_KIND_ANCHOR ? 2 : k == MF_KIND_REDUCTION;
        if (weight > best)
            best = weight, op = mf_op_get(g->nodes[i]->op)->name;
    }
    snprintf(buf, cap, "mf_k_%.20s_%016llx_%x_%lu", op, (unsigned long long)h, (unsigned)getpid(), n);
}

/* The target machine of opt's target (NULL: the host) and the shape kernels are cut to. */
static mf_status make_tm(const mf_cg_options *opt, LLVMTargetMachineRef *tm, mf_cg_target_shape *shape)
{
    mf_cg_target host;
    const mf_cg_target *t = opt ? opt->target : NULL;
    mf_status s = mf_cg_target_init(t ? t->cpu : NULL, &host); /* also initializes LLVM's target */
    if (s)
        return s;
    if (!t)
        t = &host;
    /* a caller's shape wins (tests ask for the scalar path); a zeroed one is derived */
    *shape = t->shape.lanes > 0 && t->shape.vregs > 0 ? t->shape : host.shape;
    LLVMTargetRef target;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(t->triple, &target, &err)) {
        s = mf_error(MF_ERR_UNSUPPORTED, "LLVM target %s: %s", t->triple, err);
        LLVMDisposeMessage(err);
        return s;
    }
    *tm = LLVMCreateTargetMachine(target, t->triple, t->cpu, t->features,
                                  LLVMCodeGenLevelAggressive, LLVMRelocPIC, LLVMCodeModelDefault);
    if (!*tm)
        return mf_error(MF_ERR_UNSUPPORTED, "LLVM cannot target cpu '%s'", t->cpu);
    return MF_OK;
}

/* Vectors as wide as the shape's, for LLVM's vectorizers too (skylake-avx512 would
 * otherwise prefer ymm) and legal in the backend for the lowerings' explicit vectors. */
static void add_width_attrs(mf_cg_ctx *c, LLVMValueRef f)
{
    if (c->vw < 4)
        return;
    char bits[16];
    int n = snprintf(bits, sizeof bits, "%d", c->vw * 32);
    static const char *const names[2] = {"prefer-vector-width", "min-legal-vector-width"};
    for (int i = 0; i < 2; i++)
        LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
                                LLVMCreateStringAttribute(c->C, names[i], (unsigned)strlen(names[i]), bits,
                                                          (unsigned)n));
}

static void add_noalias(mf_cg_ctx *c, LLVMValueRef f, unsigned idx)
{
    unsigned k = LLVMGetEnumAttributeKindForName("noalias", 7);
    LLVMAddAttributeAtIndex(f, idx, LLVMCreateEnumAttribute(c->C, k, 0));
}

/* The body: void body(ptr noalias x nptr, i64 part, i64 nparts). */
static void make_body(mf_cg_ctx *c, int nptr)
{
    LLVMTypeRef *pt = malloc(sizeof *pt * (size_t)(nptr + 2));
    for (int i = 0; i < nptr; i++)
        pt[i] = c->ptr;
    pt[nptr] = c->i64;
    pt[nptr + 1] = c->i64;
    LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(c->C), pt, (unsigned)nptr + 2, 0);
    free(pt);
    c->body = LLVMAddFunction(c->M, "mf_body", fty);
    LLVMSetLinkage(c->body, LLVMInternalLinkage);
    for (int i = 0; i < nptr; i++)
        add_noalias(c, c->body, (unsigned)i + 1);
    add_width_attrs(c, c->body);
    c->part = LLVMGetParam(c->body, (unsigned)nptr);
    c->nparts = LLVMGetParam(c->body, (unsigned)nptr + 1);
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(c->C, c->body, "entry");
    LLVMPositionBuilderAtEnd(c->B, entry);
    int nout = c->g->noutputs;
    for (int i = 0; i < nout; i++)
        c->out_ptr[i] = LLVMGetParam(c->body, (unsigned)i);
    for (int i = 0; i < c->g->ninputs; i++)
        c->in_ptr[i] = LLVMGetParam(c->body, (unsigned)(nout + i));
}

/* The exported ABI function: loads args[i] and calls the body. */
static void make_wrapper(mf_cg_ctx *c, const char *name, int nptr)
{
    LLVMTypeRef pt[3] = {c->ptr, c->i64, c->i64};
    LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(c->C), pt, 3, 0);
    LLVMValueRef f = LLVMAddFunction(c->M, name, fty);
    add_width_attrs(c, f);
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(c->C, f, "entry");
    LLVMPositionBuilderAtEnd(c->B, entry);
    LLVMValueRef *av = malloc(sizeof *av * (size_t)(nptr + 2));
    LLVMValueRef args = LLVMGetParam(f, 0);
    for (int i = 0; i < nptr; i++) {
        LLVMValueRef idx = mf_cg_i64(c, i);
        LLVMValueRef slot = LLVMBuildGEP2(c->B, c->ptr, args, &idx, 1, "");
        av[i] = LLVMBuildLoad2(c->B, c->ptr, slot, "");
    }
    av[nptr] = LLVMGetParam(f, 1);
    av[nptr + 1] = LLVMGetParam(f, 2);
    LLVMBuildCall2(c->B, LLVMGlobalGetValueType(c->body), c->body, av, (unsigned)nptr + 2, "");
    LLVMBuildRetVoid(c->B);
    free(av);
}

static void ctx_init(mf_cg_ctx *c, const mf_graph *g)
{
    memset(c, 0, sizeof *c);
    c->g = g;
    c->C = LLVMContextCreate();
    c->M = LLVMModuleCreateWithNameInContext("mf_kernel", c->C);
    c->B = LLVMCreateBuilderInContext(c->C);
    c->f32 = LLVMFloatTypeInContext(c->C);
    c->i64 = LLVMInt64TypeInContext(c->C);
    c->i32 = LLVMInt32TypeInContext(c->C);
    c->i1 = LLVMInt1TypeInContext(c->C);
    c->ptr = LLVMPointerTypeInContext(c->C, 0);
    c->out_ptr = calloc((size_t)g->noutputs + 1, sizeof *c->out_ptr);
    c->in_ptr = calloc((size_t)g->ninputs + 1, sizeof *c->in_ptr);
}

static void ctx_free(mf_cg_ctx *c)
{
    free(c->out_ptr);
    free(c->in_ptr);
    if (c->B)
        LLVMDisposeBuilder(c->B);
    if (c->M)
        LLVMDisposeModule(c->M);
    if (c->C)
        LLVMContextDispose(c->C);
}

static mf_status check_graph(const mf_graph *g)
{
    for (int i = 0; i < g->nvalues; i++) {
        const mf_value *v = g->values[i];
        bool i32_sum = v->type.dtype == MF_I32 && v->producer && mf_node_has_mlu_code(v->producer);
        if (!mf_dtype_has_mlu_code(v->type.dtype) && !i32_sum) /* the list segmentation reads */
            return mf_error(MF_ERR_UNSUPPORTED, "codegen: value %%%s is %s; only f32 is lowered (and i8 by the int8 ops, f16 by casts and views)",
                            v->name ? v->name : "?", mf_dtype_name(v->type.dtype));
        if (v->is_const)
            return mf_error(MF_ERR_UNSUPPORTED,
                            "codegen: constant %%%s inside a subgraph (pass it as an input)",
                            v->name ? v->name : "?");
    }
    if (g->noutputs < 1)
        return mf_error(MF_ERR_INVALID, "codegen: subgraph has no outputs");
    if (g->nnodes > MF_CG_MAX_NODES) /* the evaluator recurses once per op of a chain */
        return mf_error(MF_ERR_UNSUPPORTED, "codegen: a subgraph of %d ops; at most %d fit one kernel",
                        g->nnodes, MF_CG_MAX_NODES);
    return MF_OK;
}

static bool outputs_empty(const mf_graph *g)
{
    for (int i = 0; i < g->noutputs; i++)
        if (mf_type_numel(&g->outputs[i]->type) != 0)
            return false;
    return true;
}

/* Whether LLVM's loop unrollers run on g's kernel.  The engines unroll what they want
 * themselves (register tiles, taps, a depthwise conv's few sweeps, the output-channel
 * engine's kernel rows); LLVM's unrollers, weighing every loop of a large kernel, took 30 %
 * of the optimization time (resnet18's 7x7 stem 215 -> 107 ms to compile, its cold compile
 * median 712 -> 627 ms) and, with those few loops unrolled by hand, made no f32 kernel
 * faster (mobilenet_v2's haswell kernels in the blocked layout ran 25 % faster without).  The
 * int8 convolutions keep them (their window copies ran 3-6 % slower without), and so do the
 * int8 matmuls, whose packing loops are copies of the same kind (not measured without).  The
 * vectorizer's interleaving is its own option and stays. */
static bool llvm_unrolls(const mf_graph *g)
{
    for (int i = 0; i < g->nnodes; i++) {
        mf_op op = g->nodes[i]->op;
        if (op == MF_OP_QCONV2D || op == MF_OP_QMATMUL || op == MF_OP_QLINEAR)
            return true;
    }
    return false;
}

/* Lowers g into c's module as the kernel `name` and optimizes it; out gets the time of
 * each phase. */
static mf_status build_module(mf_cg_ctx *c, const mf_graph *g, LLVMTargetMachineRef tm,
                              int opt_level, const char *name, mf_cg_object *out)
{
    double t0 = now_ms();
    char *triple = LLVMGetTargetMachineTriple(tm);
    LLVMSetTarget(c->M, triple);
    LLVMDisposeMessage(triple);
    LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
    LLVMSetModuleDataLayout(c->M, dl);
    LLVMDisposeTargetData(dl);

    int nptr = g->noutputs + g->ninputs;
    make_body(c, nptr);
    /* A subgraph whose outputs are all empty has nothing to compute: its kernel returns at
     * once (a lowered loop over zero elements would be undefined and optimized away). */
    mf_status s = outputs_empty(g) ? MF_OK : mf_cg_lower(c);
    if (s)
        return s;
    LLVMBuildRetVoid(c->B);
    if (c->scratch_bytes)
        return mf_error(MF_ERR_INTERNAL, "codegen: scratch is not wired");
    make_wrapper(c, name, nptr);

    char *msg = NULL;
    if (LLVMVerifyModule(c->M, LLVMReturnStatusAction, &msg)) {
        s = mf_error(MF_ERR_INTERNAL, "codegen: invalid IR for %s: %.400s", name, msg);
        LLVMDisposeMessage(msg);
        return s;
    }
    LLVMDisposeMessage(msg);
    double t1 = now_ms();
    out->build_ms = t1 - t0;
    char pipeline[32];
    snprintf(pipeline, sizeof pipeline, "default<O%d>", opt_level);
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopUnrolling(po, llvm_unrolls(g));
    LLVMErrorRef err = LLVMRunPasses(c->M, pipeline, tm, po);
    LLVMDisposePassBuilderOptions(po);
    out->optimize_ms = now_ms() - t1;
    if (err) {
        char *em = LLVMGetErrorMessage(err);
        s = mf_error(MF_ERR_INTERNAL, "codegen: passes failed: %s", em);
        LLVMDisposeErrorMessage(em);
        return s;
    }
    return MF_OK;
}

static mf_status emit(mf_cg_ctx *c, LLVMTargetMachineRef tm, LLVMCodeGenFileType kind,
                      LLVMMemoryBufferRef *buf)
{
    char *msg = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, c->M, kind, &msg, buf)) {
        mf_status s = mf_error(MF_ERR_INTERNAL, "codegen: emission failed: %s", msg);
        LLVMDisposeMessage(msg);
        return s;
    }
    return MF_OK;
}

/* Whether sub's kernel is an int8 one, cut to mf_cg_int8_shape: it has i8 values and no
 * f32 conv2d or matmul, whose weights the pack-weights pass blocked for the target's own
 * shape (mf_cg_conv_weight_block). */
static bool int8_kernel(const mf_graph *sub)
{
    bool i8 = false;
    for (int i = 0; i < sub->nvalues; i++)
        i8 |= sub->values[i]->type.dtype == MF_I8;
    for (int i = 0; i < sub->nnodes; i++)
        if (sub->nodes[i]->op == MF_OP_CONV2D || sub->nodes[i]->op == MF_OP_MATMUL)
            return false;
    return i8;
}

static mf_status compile_to(const mf_graph *sub, const mf_cg_options *opt,
                            LLVMCodeGenFileType kind, mf_cg_object *out)
{
    if (!sub || !out)
        return mf_error(MF_ERR_INVALID, "mf_cg_compile: NULL argument");
    memset(out, 0, sizeof *out);
    mf_status s = check_graph(sub);
    if (s)
        return s;
    double t0 = now_ms();
    LLVMTargetMachineRef tm = NULL;
    mf_cg_target_shape shape;
    s = make_tm(opt, &tm, &shape);
    if (s)
        return s;
    int level = opt && opt->opt_level >= 0 && opt->opt_level <= 3 ? opt->opt_level : 3;
    mf_cg_ctx c;
    ctx_init(&c, sub);
    c.shape = int8_kernel(sub) ? mf_cg_int8_shape(&shape) : shape;
    c.vw = c.shape.lanes; /* 1: the scalar path, <1 x float> in the engines */
    c.core_number = opt && opt->core_number > 0 ? opt->core_number : 16;
    kernel_name(sub, out->symbol, sizeof out->symbol);
    LLVMMemoryBufferRef buf = NULL;
    s = build_module(&c, sub, tm, level, out->symbol, out);
    double t_emit = now_ms();
    if (!s)
        s = emit(&c, tm, kind, &buf);
    out->emit_ms = now_ms() - t_emit;
    if (!s) {
        out->size = LLVMGetBufferSize(buf);
        out->data = malloc(out->size + 1);
        if (!out->data) {
            s = mf_error(MF_ERR_NOMEM, "codegen: out of memory for a %zu-byte object", out->size);
        } else {
            memcpy(out->data, LLVMGetBufferStart(buf), out->size);
            ((char *)out->data)[out->size] = 0;
        }
        LLVMDisposeMemoryBuffer(buf);
    }
    out->scratch_bytes = c.scratch_bytes;
    ctx_free(&c);
    LLVMDisposeTargetMachine(tm);
    out->compile_ms = now_ms() - t0;
    if (s)
        mf_cg_object_free(out);
    return s;
}

mf_status mf_cg_compile(const mf_graph *sub, const mf_cg_options *opt, mf_cg_object *out)
{
    return compile_to(sub, opt, LLVMObjectFile, out);
}

mf_status mf_cg_compile_asm(const mf_graph *sub, const mf_cg_options *opt, char **text)
{
    mf_cg_object o;
    mf_status s = compile_to(sub, opt, LLVMAssemblyFile, &o);
    *text = s ? NULL : o.data;
    return s;
}

void mf_cg_object_free(mf_cg_object *obj)
{
    if (!obj)
        return;
    free(obj->data);
    obj->data = NULL;
    obj->size = 0;
}
