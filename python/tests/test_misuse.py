"""A Python user's mistakes that crashed the interpreter, read freed memory or went wrong in
silence (an audit): each raises an mlufuse error with a message, or does the right thing."""
import numpy as np
import pytest

import mlufuse
from mlufuse import ops


def test_calibration_sets_must_hold_one_array_an_input(models):
    # a set of one array for a two-input model read past the array in C (a segfault)
    two = mlufuse.Graph.parse("graph @two(%x: f32[4], %w: f32[4]) {\n  %y = add(%x, %w) : f32[4]\n  return %y\n}\n")
    one = np.ones(4, np.float32)
    with pytest.raises(mlufuse.InvalidError, match="calibration set 0 has 1 arrays; the model takes 2 inputs"):
        mlufuse.quantize(two, [one])
    with pytest.raises(mlufuse.InvalidError, match="has 2 arrays; the model takes 1"):
        mlufuse.quantize(f"{models}/mnist_net/model.onnx", [(np.ones((1, 1, 28, 28), np.float32),) * 2])


def test_array_likes_are_copied_in_element_order():
    a = np.arange(6, dtype=np.float32)
    np.testing.assert_array_equal(mlufuse.tensor(memoryview(a[::-1])).numpy(), a[::-1])  # was a segfault

    class Transposed:
        def __array__(self, dtype=None, copy=None):
            return np.arange(6, dtype=np.float32).reshape(2, 3).T

    np.testing.assert_array_equal(mlufuse.tensor(Transposed()).numpy(), np.arange(6).reshape(2, 3).T)


def test_a_view_outlives_close():
    t = mlufuse.tensor(np.arange(4, dtype=np.float32))
    v = t.numpy()
    t.close()
    other = mlufuse.tensor(np.full(4, 7, np.float32))  # the freed memory's next owner, once
    np.testing.assert_array_equal(v, [0, 1, 2, 3])
    other.close()


def test_a_queue_is_not_closed_inside_its_block():
    q = mlufuse.Queue()
    with q:
        with pytest.raises(mlufuse.InvalidError, match="inside its own with-block"):
            q.close()
        ops.relu(mlufuse.tensor(np.ones(3, np.float32)).to("mlu:0"))
    q.close()


def test_bad_trace_outputs_end_the_trace():
    x = mlufuse.tensor(np.ones((1, 3, 4, 4), np.float32))
    with pytest.raises(mlufuse.InvalidError, match="the tensor was closed"):
        with mlufuse.trace(x) as tr:
            y = ops.relu(x)
            y.close()
            tr.outputs = [y]
    with mlufuse.trace(x) as tr:  # was "a trace is already active on this thread"
        tr.outputs = [ops.relu(x)]
    assert tr.graph.num_outputs == 1


@pytest.mark.parametrize("call", [
    lambda x, m: ops.reshape(x, [2**64 + 24]),
    lambda x, m: ops.transpose(x, 0, 2**32 + 1),
    lambda x, m: ops.softmax(x, 2**40),
    lambda x, m: ops.permute(x, [0, 1, 2**33]),
    lambda x, m: mlufuse.set_device(2**32),
    lambda x, m: mlufuse.tensor(np.ones(2, np.float32), 2**32),
    lambda x, m: mlufuse.Graph.load(f"{m}/mnist_net/model.onnx", batch=2**64 + 3),
    lambda x, m: mlufuse.compile(f"{m}/mnist_net/model.onnx", core_number=2**32 + 4),
    lambda x, m: ops.transpose(x, 0, np.int64(2**32 + 1)),  # numpy ints reach ctypes by __index__
    lambda x, m: mlufuse.genoff(f"{m}/mnist_net/model.onnx", "/nonexistent/m.mfo", core_number=2**32 + 4),
    lambda x, m: mlufuse.load_offline("/nonexistent/m.mfo", core_number=2**32 + 4),
])
def test_ints_past_the_c_types_are_refused(call, models):
    # ctypes wrapped them: 2**64 + 24 reshaped to 24, core_number 2**32 + 4 compiled for 4
    x = mlufuse.tensor(np.ones((2, 3, 4), np.float32))
    with pytest.raises(mlufuse.InvalidError, match="out of range"):
        call(x, models)


def test_negative_batch_and_a_closed_graph(models):
    with pytest.raises(mlufuse.InvalidError, match="batch must be 0"):
        mlufuse.Graph.load(f"{models}/mnist_net/model.onnx", batch=-5)
    g = mlufuse.Graph.load(f"{models}/mnist_net/model.onnx")
    m = mlufuse.compile(g)
    g.close()  # the module keeps what it needs
    assert m(np.ones((1, 1, 28, 28), np.float32)).shape == (1, 10)


def test_genoff_meta_lines_cannot_make_others(models, tmp_path):
    for meta in ({"a": "1\nb=2"}, {"c=d": "e"}, {"": "x"}):
        with pytest.raises(mlufuse.InvalidError, match="meta: key"):
            mlufuse.genoff(f"{models}/mnist_net/model.onnx", str(tmp_path / "m.mfo"), meta=meta)
