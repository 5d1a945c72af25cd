#!/usr/bin/python3
"""make_staged.py — small exported models whose shapes depend on their data, for the staged
runs of mf_onnx_program (test_onnx_staged): an SSD-style head that thresholds its scores
(NonZero) and runs batched NMS on computed boxes (opsets 11, 13 and 17; the opset 13 one with
a threshold nothing passes, so its outputs are empty), and a scripted module whose If takes
a computed condition and whose Loop runs a computed number of times.  Random weights, nothing
downloaded; needs Debian's python3-torch, python3-torchvision and python3-onnx.  Writes
tests/models/staged/NAME/{model.onnx, input_K.npy, output_K.npy}.

    /usr/bin/python3 tests/models/make_staged.py
"""
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_exports  # noqa: E402  (SsdPost and export)

make_exports.OUT = os.path.join(HERE, "staged")


class SsdStrict(make_exports.SsdPost):
    """SsdPost with a threshold no score reaches: every output is empty."""

    def forward(self, img):
        f = self.body(img)
        conf = self.conf(f).permute(0, 2, 3, 1).reshape(-1, self.nc).softmax(-1)
        loc = self.loc(f).permute(0, 2, 3, 1).reshape(-1, 4)
        boxes = torch.cat([self.anchors[:, :2] + loc[:, :2], self.anchors[:, 2:]], 1)
        scores, labels = conf[:, 1:].max(1)
        keep = torch.nonzero(scores > 1.5).squeeze(1)
        return boxes[keep], scores[keep], labels[keep]


class IfLoop(nn.Module):
    """If on a computed condition, and a Loop whose trip count is a computed count."""

    def forward(self, x):
        n = int((x > 0.5).sum())
        y = x * 2.0
        if bool(x.sum() > 0):
            y = y + 1.0
        else:
            y = y - 1.0
        acc = torch.zeros_like(x)
        for i in range(n):
            acc = acc + y * float(i)
        return acc, y[y > 1.0]


def hostile():
    """Malformed or runaway control flow, each refused with a clear error: bad/NAME.onnx."""
    import onnx
    from onnx import TensorProto as T, helper as h
    d = os.path.join(HERE, "staged", "bad")
    os.makedirs(d, exist_ok=True)
    x = h.make_tensor_value_info("x", T.FLOAT, [2])
    y = h.make_tensor_value_info("y", T.FLOAT, [2])

    def const(name, dtype, vals, dims=()):
        return h.make_node("Constant", [], [name], value=h.make_tensor(name + "_v", dtype, list(dims), vals))

    def body(n_in, cond_out="c_in"):
        ins = [h.make_tensor_value_info("i", T.INT64, []), h.make_tensor_value_info("c_in", T.BOOL, [])]
        ins += [h.make_tensor_value_info(f"v{k}", T.FLOAT, [2]) for k in range(n_in - 2)]
        nodes = [h.make_node("Identity", [cond_out], ["c_out"])]
        outs = [h.make_tensor_value_info("c_out", T.BOOL, [])]
        if n_in > 2:
            nodes.append(h.make_node("Add", ["v0", "v0"], ["v_out"]))
            outs.append(h.make_tensor_value_info("v_out", T.FLOAT, [2]))
        return h.make_graph(nodes, "body", ins, outs)

    then_g = h.make_graph([h.make_node("Identity", ["x"], ["t"])], "then", [],
                          [h.make_tensor_value_info("t", T.FLOAT, [2])])
    models = {
        # If without an else_branch, taken.
        "if_no_branch": ([const("c", T.BOOL, [False]), h.make_node("If", ["c"], ["y"], then_branch=then_g)], [x]),
        # If on a condition of three elements.
        "if_cond_shape": ([const("c", T.BOOL, [True, False, True], [3]),
                           h.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=then_g)], [x]),
        # Loop of a billion iterations.
        "loop_huge": ([const("m", T.INT64, [10**9]), const("c", T.BOOL, [True]),
                       h.make_node("Loop", ["m", "c", "x"], ["y"], body=body(3))], [x]),
        # Loop whose body takes two inputs for one carried value.
        "loop_arity": ([const("m", T.INT64, [2]), const("c", T.BOOL, [True]),
                        h.make_node("Loop", ["m", "c", "x"], ["y"], body=body(2))], [x]),
        # Loops of 4096 iterations nested in one of 4096.
        "loop_nested": ([const("m", T.INT64, [4096]), const("c", T.BOOL, [True]),
                         h.make_node("Loop", ["m", "c", "x"], ["y"], body=h.make_graph(
                             [h.make_node("Loop", ["m", "c", "v0"], ["v_out"], body=body(3)),
                              h.make_node("Identity", ["c_in"], ["c_out"])], "outer",
                             body(3).input, [h.make_tensor_value_info("c_out", T.BOOL, []),
                                             h.make_tensor_value_info("v_out", T.FLOAT, [2])]))], [x]),
        # A while loop whose condition stays true.
        "loop_forever": ([const("c", T.BOOL, [True]), h.make_node("Loop", ["", "c", "x"], ["y"], body=body(3))], [x]),
    }
    for name, (nodes, inputs) in models.items():
        g = h.make_graph(nodes, name, inputs, [y])
        m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)])
        onnx.save(m, os.path.join(d, name + ".onnx"))


def main():
    for opset in (11, 17):
        torch.manual_seed(4)
        make_exports.export(f"ssd_post_op{opset}", make_exports.SsdPost(), [torch.randn(1, 3, 32, 32)], opset)
    torch.manual_seed(4)
    make_exports.export("ssd_empty_op13", SsdStrict(), [torch.randn(1, 3, 32, 32)], 13)
    torch.manual_seed(5)
    make_exports.export("if_loop_op13", torch.jit.script(IfLoop()), [torch.rand(2, 3)], 13)
    hostile()


if __name__ == "__main__":
    main()
