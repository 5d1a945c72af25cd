#!/usr/bin/python3
"""Writes a QDQ-format int8 copy of an f32 ONNX model, as onnxruntime's static quantizer
(QuantFormat.QDQ, per-channel weights, activations fused) would, for benchmarking mlufuse's
import of quantized models (docs/quantization.md, "Quantized ONNX models"):

    /usr/bin/python3 bench/make_qdq_model.py ../shared/models/resnet18/model.onnx -o /tmp/r18_qdq.onnx \\
        [--calib 8] [--seed 1]

Calibration: the f32 model is run here, by a small numpy interpreter of the ops of the shared
classifiers (Conv, Relu, Clip, Add, MaxPool, GlobalAveragePool, Flatten, Gemm, LogSoftmax),
on --calib seeded uniform [0, 1) inputs, recording each tensor's range (onnx 1.12 has no
evaluator and onnxruntime is not a Debian package).  Then:
- activations: uint8, per tensor, range widened to hold 0 (scale = range / 255); a
  QuantizeLinear + DequantizeLinear pair after the model input and after every Relu, Clip,
  Add, Conv or Gemm whose output is not fed to an activation alone; MaxPool and Flatten
  outputs take their input's parameters;
- weights: int8 symmetric per output channel (scale = max|w| / 127), DequantizeLinear with
  axis 0; biases int32 with scale x_scale * w_scale.
The model's output stays f32 (a DequantizeLinear at the end). Benchmarks, not tests."""
import argparse

import numpy as np
import onnx
from numpy.lib.stride_tricks import sliding_window_view
from onnx import helper, numpy_helper


def attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def conv(x, w, b, node):
    g = attr(node, "group", 1)
    s = attr(node, "strides", [1, 1])
    d = attr(node, "dilations", [1, 1])
    p = attr(node, "pads", [0, 0, 0, 0])
    n, c, _, _ = x.shape
    k, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])))
    win = sliding_window_view(xp, ((kh - 1) * d[0] + 1, (kw - 1) * d[1] + 1), axis=(2, 3))
    win = win[:, :, ::s[0], ::s[1], ::d[0], ::d[1]]  # n, c, oh, ow, kh, kw
    oh, ow = win.shape[2], win.shape[3]
    win = win.reshape(n, g, cg, oh, ow, kh, kw)
    y = np.einsum("ngchwij,gocij->ngohw", win, w.reshape(g, k // g, cg, kh, kw), optimize=True)
    y = y.reshape(n, k, oh, ow)
    return y + b.reshape(1, -1, 1, 1) if b is not None else y


def run(model, x):
    """Every tensor of the model on input x (a dict name -> array)."""
    env = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    env[model.graph.input[0].name] = x
    for node in model.graph.node:
        i = [env[n] if n else None for n in node.input]
        op = node.op_type
        if op == "Constant":
            y = numpy_helper.to_array(attr(node, "value", None))
        elif op == "Conv":
            y = conv(i[0], i[1], i[2] if len(i) > 2 else None, node)
        elif op == "Relu":
            y = np.maximum(i[0], 0)
        elif op == "Clip":
            y = np.clip(i[0], i[1], i[2])
        elif op == "Add":
            y = i[0] + i[1]
        elif op == "MaxPool":
            k, s = attr(node, "kernel_shape", None), attr(node, "strides", [1, 1])
            p = attr(node, "pads", [0, 0, 0, 0])
            xp = np.pad(i[0], ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])), constant_values=-np.inf)
            y = sliding_window_view(xp, k, axis=(2, 3))[:, :, ::s[0], ::s[1]].max(axis=(4, 5))
        elif op == "GlobalAveragePool":
            y = i[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Flatten":
            y = i[0].reshape(i[0].shape[0], -1)
        elif op == "Gemm":
            w = i[1].T if attr(node, "transB", 0) else i[1]
            y = i[0] @ w + (i[2] if len(i) > 2 else 0)
        elif op == "LogSoftmax":
            z = i[0] - i[0].max(axis=-1, keepdims=True)
            y = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        else:
            raise SystemExit("make_qdq_model.py: no interpreter for " + op)
        env[node.output[0]] = np.asarray(y, np.float32)
    return env


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--calib", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    model = onnx.load(a.model)
    g = model.graph
    inp = g.input[0]
    shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    rng = np.random.default_rng(a.seed)
    lo, hi = {}, {}
    for _ in range(a.calib):
        for name, v in run(model, rng.uniform(0, 1, shape).astype(np.float32)).items():
            if v.dtype == np.float32:
                lo[name] = min(lo.get(name, 0.0), float(v.min()))
                hi[name] = max(hi.get(name, 0.0), float(v.max()))
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    consumers = {}
    for node in g.node:
        for n in node.input:
            consumers.setdefault(n, []).append(node)
    params, new_inits, nodes = {}, [], []

    def add_init(name, arr):
        new_inits.append(numpy_helper.from_array(np.asarray(arr), name))

    def qparams(t):
        scale = max(hi[t] - lo[t], 1e-8) / 255
        zp = int(np.clip(np.rint(-lo[t] / scale), 0, 255))
        return np.float32(scale), np.uint8(zp)

    def qdq(t, p=None):
        """Q + DQ of tensor t (its own parameters, or p's); returns the dequantized name."""
        p = params[p][2] if p in params else t  # the initializers' prefix
        if p not in params:
            params[p] = qparams(p) + (p,)
            add_init(p + "_scale", params[p][0])
            add_init(p + "_zp", params[p][1])
        params[t] = params[p]
        nodes.append(helper.make_node("QuantizeLinear", [t, p + "_scale", p + "_zp"], [t + "_q"]))
        nodes.append(helper.make_node("DequantizeLinear", [t + "_q", p + "_scale", p + "_zp"], [t + "_dq"]))
        return t + "_dq"

    rename = {inp.name: qdq(inp.name)}
    for node in g.node:
        ins = [rename.get(n, n) for n in node.input]
        if node.op_type in ("Conv", "Gemm") and node.input[1] in inits:
            w = inits[node.input[1]]
            if node.op_type == "Gemm" and not attr(node, "transB", 0):
                raise SystemExit("make_qdq_model.py: Gemm without transB")
            c = w.shape[0]
            ws = np.maximum(np.abs(w).reshape(c, -1).max(1), 1e-12).astype(np.float32) / 127
            wq = np.clip(np.rint(w / ws.reshape([-1] + [1] * (w.ndim - 1))), -127, 127).astype(np.int8)
            wn = node.input[1]
            add_init(wn + "_q", wq), add_init(wn + "_s", ws), add_init(wn + "_z", np.zeros(c, np.int8))
            nodes.append(helper.make_node("DequantizeLinear", [wn + "_q", wn + "_s", wn + "_z"], [wn + "_dq"], axis=0))
            ins[1] = wn + "_dq"
            if len(node.input) > 2 and node.input[2]:
                bn = node.input[2]
                bs = (params[node.input[0]][0] * ws).astype(np.float32)
                bq = np.rint(inits[bn] / bs).astype(np.int32)
                add_init(bn + "_q", bq), add_init(bn + "_s", bs), add_init(bn + "_z", np.zeros(c, np.int32))
                nodes.append(helper.make_node("DequantizeLinear", [bn + "_q", bn + "_s", bn + "_z"], [bn + "_dq"],
                                              axis=0))
                ins[2] = bn + "_dq"
        copy = helper.make_node(node.op_type, ins, list(node.output), name=node.name)
        copy.attribute.extend(node.attribute)
        nodes.append(copy)
        out = node.output[0]
        users = consumers.get(out, [])
        fused_later = len(users) == 1 and users[0].op_type in ("Relu", "Clip")
        if node.op_type in ("MaxPool", "Flatten"):
            rename[out] = qdq(out, node.input[0])
        elif node.op_type in ("Relu", "Clip", "Add", "Conv", "Gemm", "GlobalAveragePool") and not fused_later:
            rename[out] = qdq(out)
    for o in g.output:  # the outputs stay f32: the last DequantizeLinear's result under the output's name
        if o.name in rename:
            nodes.append(helper.make_node("Identity", [rename[o.name]], [o.name + "_f32"]))
            o.name = o.name + "_f32"
    keep = [t for t in g.initializer if t.name not in {n.input[1] for n in g.node if n.op_type in ("Conv", "Gemm")}
            and t.name not in {n.input[2] for n in g.node if n.op_type in ("Conv", "Gemm") and len(n.input) > 2}]
    qg = helper.make_graph(nodes, g.name + "_qdq", list(g.input), list(g.output), keep + new_inits)
    qm = helper.make_model(qg, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_qdq_model.py")
    qm.ir_version = model.ir_version
    onnx.checker.check_model(qm)
    onnx.save(qm, a.output)
    print("%s: %d nodes, %d quantized tensors" % (a.output, len(nodes), len(params)))


if __name__ == "__main__":
    main()
