"""Generates the small ONNX test models of tests/frontends/onnx/ with Debian's python3-torch
and python3-onnx; the generated files are committed, so `make test` never needs torch.

    /usr/bin/python3 tests/frontends/onnx/make_onnx_tests.py

ops/<name>.onnx + <name>.in.npy + <name>.out.npy   one model per supported op pattern
bad/<name>.onnx                                    models the importer must reject clearly
Weights and inputs come from fixed seeds: re-running gives identical files.
"""
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))


class Fn(nn.Module):
    def __init__(self, fn, *mods):
        super().__init__()
        self.fn = fn
        self.mods = nn.ModuleList(mods)

    def forward(self, x):
        return self.fn(x, *self.mods)


def export(name, model, shape, opset=13):
    torch.manual_seed(0)
    model.eval()
    for p in model.parameters():
        with torch.no_grad():
            p.copy_(torch.rand_like(p) - 0.5)
    for b in (b for b in model.buffers() if b.is_floating_point()):
        with torch.no_grad():
            b.copy_(torch.rand_like(b) + 0.5)  # positive running_var
    x = torch.rand(*shape) * 2 - 0.5
    with torch.no_grad():
        y = model(x)
    d = os.path.join(HERE, "ops")
    os.makedirs(d, exist_ok=True)
    torch.onnx.export(model, x, os.path.join(d, name + ".onnx"), opset_version=opset,
                      do_constant_folding=False, input_names=["x"], output_names=["y"])
    np.save(os.path.join(d, name + ".in.npy"), x.numpy())
    np.save(os.path.join(d, name + ".out.npy"), y.numpy())


def ops():
    c = lambda *a, **k: nn.Conv2d(*a, **k)
    export("conv_basic", c(3, 4, 3), (1, 3, 7, 7))
    export("conv_stride_pad", c(3, 6, 3, stride=2, padding=1), (2, 3, 9, 8))
    export("conv_dilation_nobias", c(4, 4, 3, dilation=2, padding=2, bias=False), (1, 4, 9, 9))
    export("conv_groups", c(4, 8, 3, groups=2, padding=1), (1, 4, 6, 6))
    export("conv_depthwise", c(6, 6, 3, groups=6, padding=1), (1, 6, 5, 5), opset=11)
    export("gemm_linear", nn.Linear(12, 5), (3, 12))
    export("matmul_batched", Fn(lambda x: torch.matmul(x, x.transpose(1, 2))), (2, 3, 4))
    export("add_broadcast", Fn(lambda x: x + torch.arange(5.0)), (2, 3, 5))
    export("sub_mul_div", Fn(lambda x: (x - 0.5) * x / (x.abs() + 1)), (2, 8))
    export("relu", Fn(lambda x: F.relu(x)), (2, 8))
    export("clip_relu6", Fn(lambda x: F.relu6(x * 8)), (2, 8))
    export("clip_hardtanh_opset11", Fn(lambda x: F.hardtanh(x, -0.25, 0.5)), (2, 8), opset=11)
    export("leaky_relu", Fn(lambda x: F.leaky_relu(x, 0.2)), (2, 8))
    export("sigmoid_tanh", Fn(lambda x: torch.sigmoid(x) * torch.tanh(x)), (2, 8))
    export("hardsigmoid", Fn(lambda x: F.hardsigmoid(x * 6)), (2, 8), opset=14)
    export("hardswish", Fn(lambda x: F.hardswish(x * 6)), (2, 8), opset=14)
    export("exp_log_sqrt", Fn(lambda x: torch.log(torch.exp(x) + 1) + torch.sqrt(x.abs())), (2, 8))
    export("neg_abs", Fn(lambda x: -x.abs()), (2, 8))
    export("batchnorm", nn.BatchNorm2d(4), (2, 4, 3, 3))
    export("maxpool_ceil", nn.MaxPool2d(3, 2, padding=1, ceil_mode=True), (1, 2, 8, 8))
    export("avgpool_pad", nn.AvgPool2d(3, 2, padding=1), (1, 2, 7, 7))
    export("avgpool_nopad_count", nn.AvgPool2d(3, 2, padding=1, count_include_pad=False), (1, 2, 7, 7))
    export("global_avgpool", nn.AdaptiveAvgPool2d(1), (2, 3, 5, 5))
    export("flatten", nn.Flatten(), (2, 3, 2, 2))
    export("reshape_view", Fn(lambda x: x.view(x.size(0), -1) * 2), (2, 3, 4))
    export("transpose", Fn(lambda x: x.permute(0, 2, 1) + 1), (2, 3, 4))
    export("concat", Fn(lambda x: torch.cat([x, x * 2], dim=1)), (2, 3, 4))
    export("softmax", nn.Softmax(dim=-1), (2, 3, 5))
    export("softmax_dim1", nn.Softmax(dim=1), (2, 3, 5))
    export("log_softmax", nn.LogSoftmax(dim=-1), (2, 7))
    export("reduce_mean", Fn(lambda x: x.mean(dim=(2, 3), keepdim=True)), (2, 3, 4, 4))
    export("reduce_sum", Fn(lambda x: x.sum(dim=1)), (2, 3, 4))
    export("resize_nearest", Fn(lambda x: F.interpolate(x, scale_factor=2, mode="nearest")), (1, 2, 3, 3))
    export("dropout_identity", Fn(lambda x, d: d(x) + 1, nn.Dropout(0.5)), (2, 4))
    export("pow_const", Fn(lambda x: torch.pow(x.abs() + 0.5, 2.5)), (2, 6))
    export("slice_steps", Fn(lambda x: x[:, 1:5:2, -3:] * 1), (2, 6, 4))
    export("split_sizes", Fn(lambda x: torch.cat([t * (i + 1) for i, t in enumerate(torch.split(x, [1, 3, 2], dim=1))], 1)),
           (2, 6, 3))
    export("split_sizes_opset11", Fn(lambda x: torch.cat([t * (i + 1) for i, t in enumerate(torch.split(x, 2, dim=2))], 2)),
           (2, 3, 6), opset=11)
    export("conv_transpose", nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
           (1, 4, 5, 5))
    export("pad_reflect_free", Fn(lambda x: F.pad(x, (1, 2, 0, 1), value=0.25)), (1, 2, 3, 3))
    export("mixed_opset17", Fn(lambda x, c1, bn: F.relu(bn(c1(x))).mean(dim=(2, 3)),
                               nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)), (1, 3, 6, 6), opset=17)


def save_bad(name, model):
    d = os.path.join(HERE, "bad")
    os.makedirs(d, exist_ok=True)
    onnx.save(model, os.path.join(d, name + ".onnx"))


def graph(nodes, inputs, outputs, inits=()):
    return helper.make_graph(nodes, "g", inputs, outputs, list(inits))


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def bad():
    x, y = vi("x", [1, 3, 4, 4]), vi("y", None)
    w = helper.make_tensor("w", TensorProto.FLOAT, [2, 3, 1, 1], np.ones(6, np.float32))
    op13 = [helper.make_opsetid("", 13)]
    save_bad("unsupported_ops", helper.make_model(graph([
        helper.make_node("Relu", ["x"], ["a"], name="relu0"),
        helper.make_node("FooBar", ["a"], ["b"], name="foo1"),
        helper.make_node("Erf", ["b"], ["c"], name="erf2"),
        helper.make_node("FooBar", ["c"], ["y"], name="foo3")], [x], [y]), opset_imports=op13))
    save_bad("opset_22", helper.make_model(graph([helper.make_node("Relu", ["x"], ["y"])], [x], [y]),
                                          opset_imports=[helper.make_opsetid("", 22)]))
    save_bad("symbolic_batch", helper.make_model(graph([helper.make_node("Relu", ["x"], ["y"])],
                                                       [vi("x", ["N", 3])], [y]), opset_imports=op13))
    save_bad("asymmetric_pads", helper.make_model(graph([
        helper.make_node("Conv", ["x", "w"], ["y"], name="conv0", pads=[0, 0, 1, 1])], [x], [y], [w]),
        opset_imports=op13))
    save_bad("undefined_input", helper.make_model(graph([
        helper.make_node("Add", ["x", "ghost"], ["y"], name="add0")], [x], [y]), opset_imports=op13))
    save_bad("missing_output", helper.make_model(graph([
        helper.make_node("Relu", ["x"], ["a"], name="relu0")], [x], [vi("nowhere", None)]),
        opset_imports=op13))
    # dims say 6 floats, raw_data holds 5
    short = helper.make_tensor("w", TensorProto.FLOAT, [2, 3, 1, 1], np.ones(6, np.float32))
    del short.float_data[:]
    short.raw_data = np.ones(5, np.float32).tobytes()
    save_bad("short_initializer", helper.make_model(graph([
        helper.make_node("Conv", ["x", "w"], ["y"], name="conv0")], [x], [y], [short]), opset_imports=op13))
    save_bad("shape_mismatch", helper.make_model(graph([
        helper.make_node("Add", ["x", "z"], ["y"], name="add0")], [x, vi("z", [1, 3, 5, 5])], [y]),
        opset_imports=op13))
    save_bad("dynamic_reshape", helper.make_model(graph([
        helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape0")],
        [x, helper.make_tensor_value_info("s", TensorProto.INT64, [2])], [y]), opset_imports=op13))


def long_concat():
    """A Concat of 90 inputs (ssdlite's heads), more than the concat op takes at once."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])
    save_bad("concat90", helper.make_model(graph([
        helper.make_node("Relu", ["x"], ["r"], name="relu0"),
        helper.make_node("Concat", ["x", "r"] * 45, ["y"], name="concat1", axis=1)], [x], [vi("y", None)]),
        opset_imports=[helper.make_opsetid("", 13)]))


if __name__ == "__main__":
    ops()
    bad()
    long_concat()
