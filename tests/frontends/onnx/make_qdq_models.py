#!/usr/bin/python3
"""Writes the quantized ONNX models of tests/frontends/test_onnx_qdq.c into onnx/qdq/: each
NAME.onnx with NAME.in.npy and NAME.out.npy, the output computed here with numpy following
ONNX's definitions (quantize: saturate(rint(x / scale) + zero_point); dequantize:
(q - zero_point) * scale; the integer ops accumulate in int32).  Run once; the files are
committed and the test needs no Python:  /usr/bin/python3 tests/frontends/onnx/make_qdq_models.py"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "qdq")
rng = np.random.default_rng(13)


def quantize(x, scale, zp, dtype, axis=None):
    info = np.iinfo(dtype)
    if axis is not None:
        shape = [1] * x.ndim
        shape[axis] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    q = np.rint(x.astype(np.float32) / scale) + zp.astype(np.float32)
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q, scale, zp, axis=None):
    if axis is not None:
        shape = [1] * q.ndim
        shape[axis] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    return ((q.astype(np.int32) - zp.astype(np.int32)) * scale).astype(np.float32)


def conv2d(x, w, b=None, pad=1):
    """NCHW, stride 1, the same pad on every side; float64 accumulation."""
    n, c, h, wd = x.shape
    k, _, kh, kw = w.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
    y = np.zeros((n, k, oh, ow))
    for i in range(kh):
        for j in range(kw):
            y += np.einsum("nchw,kc->nkhw", xp[:, :, i:i + oh, j:j + ow], w[:, :, i, j].astype(np.float64))
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def init(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


def save(name, nodes, inputs, outputs, inits, x, y):
    g = helper.make_graph(nodes, name, inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_qdq_models.py")
    m.ir_version = 7
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, name + ".onnx"))
    np.save(os.path.join(OUT, name + ".in.npy"), x)
    np.save(os.path.join(OUT, name + ".out.npy"), y)


def qdq_conv_uint8():
    """QDQ format: uint8 activations (per tensor), int8 weights per output channel, Conv +
    Relu between DequantizeLinear and QuantizeLinear, as onnxruntime's quantizer writes."""
    x = rng.uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32)
    w = rng.uniform(-0.5, 0.5, (4, 3, 3, 3)).astype(np.float32)
    b = rng.uniform(-0.1, 0.1, 4).astype(np.float32)
    xs, xz = np.float32(2 / 255), np.uint8(128)
    ws = (np.abs(w).reshape(4, -1).max(1) / 127).astype(np.float32)
    wq = quantize(w, ws, np.zeros(4, np.int8), np.int8, axis=0)
    ys, yz = np.float32(0.02), np.uint8(0)
    xd = dequantize(quantize(x, xs, xz, np.uint8), xs, xz)
    wd = dequantize(wq, ws, np.zeros(4, np.int8), axis=0)
    y = np.maximum(conv2d(xd, wd, b), 0).astype(np.float32)
    out = dequantize(quantize(y, ys, yz, np.uint8), ys, yz)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
        helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"], axis=0),
        helper.make_node("Conv", ["xd", "wd", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("QuantizeLinear", ["r", "ys", "yz"], ["yq"]),
        helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"]),
    ]
    inits = [init("xs", xs), init("xz", xz), init("wq", wq), init("ws", ws), init("wz", np.zeros(4, np.int8)),
             init("b", b), init("ys", ys), init("yz", yz)]
    save("qdq_conv_uint8", nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
         [helper.make_tensor_value_info("y", TensorProto.FLOAT, out.shape)], inits, x, out)


def qdq_matmul_int8():
    """QDQ with int8 everywhere (symmetric activations with a zero point, per-tensor weights)."""
    x = rng.uniform(-2, 2, (4, 16)).astype(np.float32)
    w = rng.uniform(-1, 1, (16, 8)).astype(np.float32)
    xs, xz = np.float32(4 / 255), np.int8(-3)
    ws, wz = np.float32(1 / 127), np.int8(0)
    ys, yz = np.float32(0.05), np.int8(5)
    wq = quantize(w, ws, wz, np.int8)
    xd = dequantize(quantize(x, xs, xz, np.int8), xs, xz)
    y = (xd.astype(np.float64) @ dequantize(wq, ws, wz).astype(np.float64)).astype(np.float32)
    out = dequantize(quantize(y, ys, yz, np.int8), ys, yz)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
        helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"]),
        helper.make_node("MatMul", ["xd", "wd"], ["m"]),
        helper.make_node("QuantizeLinear", ["m", "ys", "yz"], ["yq"]),
        helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"]),
    ]
    inits = [init("xs", xs), init("xz", xz), init("wq", wq), init("ws", ws), init("wz", wz), init("ys", ys),
             init("yz", yz)]
    save("qdq_matmul_int8", nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
         [helper.make_tensor_value_info("y", TensorProto.FLOAT, out.shape)], inits, x, out)


def qlinear_conv_uint8():
    """QLinearConv: uint8 input and output, int8 weights per channel, an int32 bias."""
    xq = rng.integers(0, 256, (1, 4, 6, 6)).astype(np.uint8)
    wq = rng.integers(-127, 128, (6, 4, 3, 3)).astype(np.int8)
    xs, xz = np.float32(0.01), np.uint8(120)
    ws = rng.uniform(0.002, 0.01, 6).astype(np.float32)
    wz = np.zeros(6, np.int8)
    bq = rng.integers(-2000, 2000, 6).astype(np.int32)
    ys, yz = np.float32(0.05), np.uint8(100)
    acc = conv2d(xq.astype(np.int32) - int(xz), wq.astype(np.int32), bq)
    mult = (xs * ws / ys).astype(np.float32).reshape(1, -1, 1, 1)
    out = np.clip(np.rint(acc * mult) + int(yz), 0, 255).astype(np.uint8)
    nodes = [helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"],
                              pads=[1, 1, 1, 1])]
    inits = [init("xs", xs), init("xz", xz), init("w", wq), init("ws", ws), init("wz", wz), init("ys", ys),
             init("yz", yz), init("b", bq)]
    save("qlinear_conv_uint8", nodes, [helper.make_tensor_value_info("x", TensorProto.UINT8, xq.shape)],
         [helper.make_tensor_value_info("y", TensorProto.UINT8, out.shape)], inits, xq, out)


def matmul_integer_uint8():
    """MatMulInteger: uint8 a with a zero point, uint8 b with per-column zero points; int32 out."""
    a = rng.integers(0, 256, (3, 5)).astype(np.uint8)
    b = rng.integers(0, 256, (5, 4)).astype(np.uint8)
    az, bz = np.uint8(12), rng.integers(0, 256, 4).astype(np.uint8)
    out = ((a.astype(np.int32) - int(az)) @ (b.astype(np.int32) - bz.astype(np.int32))).astype(np.int32)
    nodes = [helper.make_node("MatMulInteger", ["a", "b", "az", "bz"], ["y"])]
    inits = [init("b", b), init("az", az), init("bz", bz)]
    save("matmul_integer_uint8", nodes, [helper.make_tensor_value_info("a", TensorProto.UINT8, a.shape)],
         [helper.make_tensor_value_info("y", TensorProto.INT32, out.shape)], inits, a, out)


def qdq(name, t, scale, zp):
    """Q and DQ nodes of tensor t: the dequantized tensor is t + "d"."""
    return [helper.make_node("QuantizeLinear", [t, scale, zp], [t + "q"]),
            helper.make_node("DequantizeLinear", [t + "q", scale, zp], [t + "d"])]


def qdq_residual_uint8():
    """A residual block in the QDQ format as onnxruntime's quantizer writes it after fusing
    activations: Conv + Relu, Conv, Add + Relu, MaxPool and Flatten (with their input's
    parameters), Gemm (transB, per-channel weights) and an int32 bias per conv."""
    x = rng.uniform(0, 1, (1, 4, 6, 6)).astype(np.float32)
    ws = [rng.uniform(-0.4, 0.4, (4, 4, 3, 3)).astype(np.float32) for _ in range(2)]
    fc = rng.uniform(-0.3, 0.3, (5, 36)).astype(np.float32)
    scales = {"x": 1 / 255, "a": 0.012, "b": 0.015, "s": 0.02, "y": 0.03}
    zps = {"x": 0, "a": 0, "b": 128, "s": 0, "y": 120}
    inits, nodes, dq = [], [], {}
    for t in scales:
        inits += [init(t + "_s", np.float32(scales[t])), init(t + "_z", np.uint8(zps[t]))]
        dq[t] = lambda v, t=t: dequantize(quantize(v, np.float32(scales[t]), np.uint8(zps[t]), np.uint8),
                                           np.float32(scales[t]), np.uint8(zps[t]))
    wd = []
    for i, (w, axis_w) in enumerate([(ws[0], 0), (ws[1], 0), (fc, 0)]):
        c = w.shape[0]
        sc = (np.abs(w).reshape(c, -1).max(1) / 127).astype(np.float32)
        wq = quantize(w, sc, np.zeros(c, np.int8), np.int8, axis=0)
        inits += [init("w%d" % i, wq), init("w%d_s" % i, sc), init("w%d_z" % i, np.zeros(c, np.int8))]
        nodes.append(helper.make_node("DequantizeLinear", ["w%d" % i, "w%d_s" % i, "w%d_z" % i], ["w%dd" % i],
                                      axis=0))
        wd.append(dequantize(wq, sc, np.zeros(c, np.int8), axis=0))
    biases = []
    for i, sx in enumerate(["x", "a"]):
        bs = (np.float32(scales[sx]) * np.abs(ws[i]).reshape(4, -1).max(1) / 127).astype(np.float32)
        bq = rng.integers(-300, 300, 4).astype(np.int32)
        inits += [init("b%d" % i, bq), init("b%d_s" % i, bs), init("b%d_z" % i, np.zeros(4, np.int32))]
        nodes.append(helper.make_node("DequantizeLinear", ["b%d" % i, "b%d_s" % i, "b%d_z" % i], ["b%dd" % i],
                                      axis=0))
        biases.append((bq * bs).astype(np.float32))
    nodes += qdq("x", "x", "x_s", "x_z")
    nodes += [helper.make_node("Conv", ["xd", "w0d", "b0d"], ["c0"], pads=[1, 1, 1, 1]),
              helper.make_node("Relu", ["c0"], ["a"])]
    nodes += qdq("a", "a", "a_s", "a_z")
    nodes.append(helper.make_node("Conv", ["ad", "w1d", "b1d"], ["b"], pads=[1, 1, 1, 1]))
    nodes += qdq("b", "b", "b_s", "b_z")
    nodes += [helper.make_node("Add", ["bd", "ad"], ["sum"]), helper.make_node("Relu", ["sum"], ["s"])]
    nodes += qdq("s", "s", "s_s", "s_z")
    nodes.append(helper.make_node("MaxPool", ["sd"], ["p"], kernel_shape=[2, 2], strides=[2, 2]))
    nodes += qdq("p", "p", "s_s", "s_z")
    nodes.append(helper.make_node("Flatten", ["pd"], ["f"]))
    nodes += qdq("f", "f", "s_s", "s_z")
    nodes.append(helper.make_node("Gemm", ["fd", "w2d"], ["y"], transB=1))
    nodes += qdq("y", "y", "y_s", "y_z")
    a = dq["a"](np.maximum(conv2d(dq["x"](x), wd[0], biases[0]), 0).astype(np.float32))
    b = dq["b"](conv2d(a, wd[1], biases[1]).astype(np.float32))
    s = dq["s"](np.maximum(b + a, 0).astype(np.float32))
    p = s.reshape(1, 4, 3, 2, 3, 2).max(axis=(3, 5)).reshape(1, 36)
    out = dq["y"]((p.astype(np.float64) @ wd[2].T.astype(np.float64)).astype(np.float32))
    save("qdq_residual_uint8", nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
         [helper.make_tensor_value_info("yd", TensorProto.FLOAT, out.shape)], inits, x, out)


def qlinear_matmul_int8():
    """QLinearMatMul: int8 a and y with zero points, int8 b with per-column scales."""
    a = rng.integers(-128, 128, (2, 3, 8)).astype(np.int8)
    b = rng.integers(-127, 128, (8, 6)).astype(np.int8)
    as_, az = np.float32(0.02), np.int8(-4)
    bs, bz = rng.uniform(0.005, 0.02, 6).astype(np.float32), np.zeros(6, np.int8)
    ys, yz = np.float32(0.1), np.int8(3)
    acc = (a.astype(np.int32) - int(az)) @ b.astype(np.int32)
    out = np.clip(np.rint(acc * (as_ * bs / ys).astype(np.float32)) + int(yz), -128, 127).astype(np.int8)
    nodes = [helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"])]
    inits = [init("as", as_), init("az", az), init("b", b), init("bs", bs), init("bz", bz), init("ys", ys),
             init("yz", yz)]
    save("qlinear_matmul_int8", nodes, [helper.make_tensor_value_info("a", TensorProto.INT8, a.shape)],
         [helper.make_tensor_value_info("y", TensorProto.INT8, out.shape)], inits, a, out)


def conv_integer_uint8():
    """ConvInteger: uint8 x with a zero point, int8 weights; the int32 accumulator."""
    x = rng.integers(0, 256, (1, 3, 5, 5)).astype(np.uint8)
    w = rng.integers(-128, 128, (2, 3, 3, 3)).astype(np.int8)
    xz = np.uint8(131)
    out = conv2d(x.astype(np.int32) - int(xz), w.astype(np.int32)).astype(np.int32)
    nodes = [helper.make_node("ConvInteger", ["x", "w", "xz"], ["y"], pads=[1, 1, 1, 1])]
    inits = [init("w", w), init("xz", xz)]
    save("conv_integer_uint8", nodes, [helper.make_tensor_value_info("x", TensorProto.UINT8, x.shape)],
         [helper.make_tensor_value_info("y", TensorProto.INT32, out.shape)], inits, x, out)


def conv_general(x, w, stride, pad, group):
    """NCHW grouped conv, int64 accumulation (exact)."""
    n, c, h, wd = x.shape
    k, cg, kh, kw = w.shape
    xp = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    y = np.zeros((n, k, oh, ow), np.int64)
    kg = k // group
    for g in range(group):
        xs = xp[:, g * cg:(g + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                win = xs[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
                y[:, g * kg:(g + 1) * kg] += np.einsum("nchw,kc->nkhw", win, w[g * kg:(g + 1) * kg, :, i, j].astype(np.int64))
    return y


def conv_integer_dw_dynamic():
    """Depthwise ConvInteger (stride 2), uint8 x and uint8 weights with per-channel zero points,
    then Cast + Mul as dynamic quantization writes it: exact in f32."""
    c = 8
    x = rng.integers(0, 256, (1, c, 9, 9)).astype(np.uint8)
    wz = rng.integers(100, 156, c).astype(np.uint8)
    w = (wz.reshape(c, 1, 1, 1).astype(np.int32) + rng.integers(-100, 100, (c, 1, 3, 3))).astype(np.uint8)
    xz, scale = np.uint8(97), np.float32(0.0123)
    acc = conv_general(x.astype(np.int64) - int(xz), w.astype(np.int64) - wz.reshape(c, 1, 1, 1).astype(np.int64), 2, 1, c)
    out = (acc.astype(np.int32).astype(np.float32) * scale).astype(np.float32)
    nodes = [helper.make_node("ConvInteger", ["x", "w", "xz", "wz"], ["acc"], pads=[1, 1, 1, 1], strides=[2, 2], group=c),
             helper.make_node("Cast", ["acc"], ["accf"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["accf", "s"], ["y"])]
    inits = [init("w", w), init("xz", xz), init("wz", wz), init("s", scale)]
    save("conv_integer_dw_dynamic", nodes, [helper.make_tensor_value_info("x", TensorProto.UINT8, x.shape)],
         [helper.make_tensor_value_info("y", TensorProto.FLOAT, out.shape)], inits, x, out)


def conv_integer_group_int8():
    """ConvInteger with 2 groups, stride 2, int8 x with a zero point, int8 weights."""
    x = rng.integers(-128, 128, (2, 6, 7, 7)).astype(np.int8)
    w = rng.integers(-128, 128, (4, 3, 3, 3)).astype(np.int8)
    xz = np.int8(-5)
    out = conv_general(x.astype(np.int64) - int(xz), w, 2, 1, 2).astype(np.int32)
    nodes = [helper.make_node("ConvInteger", ["x", "w", "xz"], ["y"], pads=[1, 1, 1, 1], strides=[2, 2], group=2)]
    inits = [init("w", w), init("xz", xz)]
    save("conv_integer_group_int8", nodes, [helper.make_tensor_value_info("x", TensorProto.INT8, x.shape)],
         [helper.make_tensor_value_info("y", TensorProto.INT32, out.shape)], inits, x, out)


def matmul_integer_big():
    """MatMulInteger of int8 [2, 3, 1500] by int8 [1500, 20]: sums past 2^24, which f32 would
    round, exact in int32."""
    a = rng.integers(100, 128, (2, 3, 1500)).astype(np.int8)
    b = rng.integers(100, 128, (1500, 20)).astype(np.int8)
    b[:, 3] = -b[:, 3]
    az = np.int8(-3)
    out = ((a.astype(np.int64) - int(az)) @ b.astype(np.int64)).astype(np.int32)
    assert np.abs(out).max() > 2 ** 24
    nodes = [helper.make_node("MatMulInteger", ["a", "b", "az"], ["y"])]
    inits = [init("b", b), init("az", az)]
    save("matmul_integer_big", nodes, [helper.make_tensor_value_info("a", TensorProto.INT8, a.shape)],
         [helper.make_tensor_value_info("y", TensorProto.INT32, out.shape)], inits, a, out)


def qdq_matmul_two_uint8():
    """QDQ MatMul of two activations (x and its transpose, uint8, other parameters): qmatmul."""
    x = rng.integers(0, 256, (2, 4, 6)).astype(np.uint8)
    sa, za, sb, zb, sy, zy = np.float32(0.02), np.uint8(120), np.float32(0.03), np.uint8(131), np.float32(0.4), np.uint8(128)
    da = dequantize(x, sa, za)
    db = dequantize(x.transpose(0, 2, 1), sb, zb)
    out = quantize(np.matmul(da, db), sy, zy, np.uint8)
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 2, 1]),
             helper.make_node("DequantizeLinear", ["x", "sa", "za"], ["da"]),
             helper.make_node("DequantizeLinear", ["xt", "sb", "zb"], ["db"]),
             helper.make_node("MatMul", ["da", "db"], ["m"]),
             helper.make_node("QuantizeLinear", ["m", "sy", "zy"], ["y"])]
    inits = [init("sa", sa), init("za", za), init("sb", sb), init("zb", zb), init("sy", sy), init("zy", zy)]
    save("qdq_matmul_two_uint8", nodes, [helper.make_tensor_value_info("x", TensorProto.UINT8, x.shape)],
         [helper.make_tensor_value_info("y", TensorProto.UINT8, out.shape)], inits, x, out)


def qlinear_matmul_two_int8():
    """QLinearMatMul of two activations (int8 x and its transpose): qmatmul."""
    x = rng.integers(-128, 128, (3, 5, 7)).astype(np.int8)
    sa, za, sb, zb, sy, zy = np.float32(0.05), np.int8(-3), np.float32(0.05), np.int8(-3), np.float32(2.0), np.int8(7)
    acc = np.matmul(x.astype(np.int32) - int(za), x.transpose(0, 2, 1).astype(np.int32) - int(zb))
    out = np.clip(np.rint(acc.astype(np.float32) * (sa * sb / sy)) + int(zy), -128, 127).astype(np.int8)
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 2, 1]),
             helper.make_node("QLinearMatMul", ["x", "sa", "za", "xt", "sb", "zb", "sy", "zy"], ["y"])]
    inits = [init("sa", sa), init("za", za), init("sb", sb), init("zb", zb), init("sy", sy), init("zy", zy)]
    save("qlinear_matmul_two_int8", nodes, [helper.make_tensor_value_info("x", TensorProto.INT8, x.shape)],
         [helper.make_tensor_value_info("y", TensorProto.INT8, out.shape)], inits, x, out)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    qdq_conv_uint8()
    qdq_matmul_int8()
    qlinear_conv_uint8()
    matmul_integer_uint8()
    qdq_residual_uint8()
    qlinear_matmul_int8()
    conv_integer_uint8()
    conv_integer_dw_dynamic()
    conv_integer_group_int8()
    matmul_integer_big()
    qdq_matmul_two_uint8()
    qlinear_matmul_two_int8()
