"""Generates the ONNX models with custom-domain nodes of tests/frontends/onnx/custom/ with
Debian's python3-onnx and NumPy (no torch); the generated files are committed.

    /usr/bin/python3 tests/frontends/onnx/make_custom_op_models.py

custom/example_ops.onnx + .in.npy + .out.npy   Mul -> com.example example_swish (beta) ->
    example_minmax (two outputs) -> Sub -> example_scale_shift (ONNX attribute alpha is its
    scale, relu an int) -> Sigmoid; the expected output computed here with NumPy
custom/undeclared.onnx                         a com.example node no declaration names
custom/bad_attr.onnx, custom/unknown_attr.onnx  example_swish with beta a string; with an
    attribute gamma its declaration does not read
The ops are those of examples/custom_ops/example_ops.txt.  Fixed seeds: re-running gives
identical files.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "custom")
OPSETS = [helper.make_opsetid("", 13), helper.make_opsetid("com.example", 1)]


def save(model, name):
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, name + ".onnx"))


def example_ops():
    rng = np.random.default_rng(7)
    x = rng.uniform(-2, 2, (2, 3, 4)).astype(np.float32)
    w = rng.uniform(0.5, 1.5, (4,)).astype(np.float32)
    b = rng.uniform(-0.5, 0.5, (3, 1)).astype(np.float32)
    nodes = [
        helper.make_node("Mul", ["x", "w"], ["m"], name="mul"),
        helper.make_node("example_swish", ["m"], ["s"], name="swish", domain="com.example", beta=0.75),
        helper.make_node("example_minmax", ["s", "b"], ["lo", "hi"], name="minmax", domain="com.example"),
        helper.make_node("Sub", ["hi", "lo"], ["d"], name="sub"),
        helper.make_node("example_scale_shift", ["d"], ["t"], name="scale_shift", domain="com.example",
                         alpha=-1.5, shift=0.25, relu=1),
        helper.make_node("Sigmoid", ["t"], ["y"], name="sigmoid"),
    ]
    graph = helper.make_graph(
        nodes, "custom_example_ops",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 4])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    save(helper.make_model(graph, opset_imports=OPSETS, producer_name="make_custom_op_models.py"), "example_ops")
    m = x * w
    s = m / (1 + np.exp(-0.75 * m))
    lo, hi = np.minimum(s, b), np.maximum(s, b)
    t = np.maximum((hi - lo) * -1.5 + 0.25, 0)
    y = 1 / (1 + np.exp(-t))
    np.save(os.path.join(HERE, "example_ops.in.npy"), x)
    np.save(os.path.join(HERE, "example_ops.out.npy"), y.astype(np.float32))


def undeclared():
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("not_declared", ["r"], ["y"], name="mystery", domain="com.example")]
    graph = helper.make_graph(nodes, "undeclared",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])])
    save(helper.make_model(graph, opset_imports=OPSETS, producer_name="make_custom_op_models.py"), "undeclared")


def bad_attrs():
    for name, attrs in (("bad_attr", {"beta": "fast"}), ("unknown_attr", {"gamma": 1.0})):
        nodes = [helper.make_node("example_swish", ["x"], ["y"], name="swish", domain="com.example", **attrs)]
        graph = helper.make_graph(nodes, name,
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])])
        save(helper.make_model(graph, opset_imports=OPSETS, producer_name="make_custom_op_models.py"), name)


if __name__ == "__main__":
    os.makedirs(HERE, exist_ok=True)
    example_ops()
    undeclared()
    bad_attrs()
