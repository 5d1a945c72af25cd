#!/usr/bin/python3
"""Writes attention.onnx beside this script: one two-head self-attention block, the model of
tests/module/test_quantize_matmul.c.  x [1, 16, 32] -> q, k, v = x Wq, x Wk, x Wv (MatMul by
constants) -> heads [1, 2, 16, 16] -> softmax(q k^T / 4) v (MatMul of two activations, twice)
-> heads joined -> out = . Wo.  Seeded; run once, the small file is committed and the test
needs no Python:  /usr/bin/python3 tests/module/onnx/make_attention_model.py"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEQ, DIM, HEADS = 16, 32, 2
HD = DIM // HEADS
rng = np.random.default_rng(53)


def weight(name):
    w = (rng.standard_normal((DIM, DIM)) / np.sqrt(DIM)).astype(np.float32)
    return numpy_helper.from_array(w, name)


def main():
    inits = [weight(n) for n in ("Wq", "Wk", "Wv", "Wo")]
    inits.append(numpy_helper.from_array(np.array([1, SEQ, HEADS, HD], np.int64), "split_shape"))
    inits.append(numpy_helper.from_array(np.array([1, SEQ, DIM], np.int64), "join_shape"))
    inits.append(numpy_helper.from_array(np.array(1.0 / np.sqrt(HD), np.float32), "inv_sqrt_d"))
    nodes = []
    for p in ("q", "k", "v"):
        nodes.append(helper.make_node("MatMul", ["x", "W" + p], [p]))
        nodes.append(helper.make_node("Reshape", [p, "split_shape"], [p + "4"]))
    nodes.append(helper.make_node("Transpose", ["q4"], ["qh"], perm=[0, 2, 1, 3]))
    nodes.append(helper.make_node("Transpose", ["k4"], ["kt"], perm=[0, 2, 3, 1]))
    nodes.append(helper.make_node("Transpose", ["v4"], ["vh"], perm=[0, 2, 1, 3]))
    nodes.append(helper.make_node("MatMul", ["qh", "kt"], ["scores"]))
    nodes.append(helper.make_node("Mul", ["scores", "inv_sqrt_d"], ["scaled"]))
    nodes.append(helper.make_node("Softmax", ["scaled"], ["attn"], axis=-1))
    nodes.append(helper.make_node("MatMul", ["attn", "vh"], ["ctx"]))
    nodes.append(helper.make_node("Transpose", ["ctx"], ["ctx_t"], perm=[0, 2, 1, 3]))
    nodes.append(helper.make_node("Reshape", ["ctx_t", "join_shape"], ["joined"]))
    nodes.append(helper.make_node("MatMul", ["joined", "Wo"], ["y"]))
    graph = helper.make_graph(
        nodes, "attention",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, SEQ, DIM])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, SEQ, DIM])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="mlufuse")
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(os.path.dirname(os.path.abspath(__file__)), "attention.onnx"))


if __name__ == "__main__":
    main()
