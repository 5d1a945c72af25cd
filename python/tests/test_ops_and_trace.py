"""Layer-by-layer ops against NumPy, and a traced network compiled into a module that equals
the reference interpreter, called on arrays and on Tensors."""
import numpy as np
import pytest

import mlufuse
from mlufuse import ops


def conv2d_ref(x, w, b, pad):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
    y = np.zeros((n, o, oh, ow), np.float64)
    for i in range(kh):
        for j in range(kw):
            y += np.einsum("nchw,oc->nohw", xp[:, :, i:i + oh, j:j + ow], w[:, :, i, j])
    return (y + b[None, :, None, None]).astype(np.float32)


rng = np.random.default_rng(1)
X = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
W = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
B = rng.standard_normal(4).astype(np.float32)


def test_ops_match_numpy_on_the_mlu():
    x = mlufuse.tensor(X, device="mlu:0")
    y = ops.conv2d(x, W, B, padding=1)
    assert y.device == "mlu:0"
    np.testing.assert_allclose(y.numpy(), conv2d_ref(X, W, B, 1), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ops.relu(x).numpy(), np.maximum(X, 0))
    s = ops.softmax(x, dim=1).numpy()
    np.testing.assert_allclose(s, np.exp(X) / np.exp(X).sum(1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(ops.mean(x, dim=(2, 3)).numpy(), X.mean((2, 3)), rtol=1e-5)
    pool = np.max([X[:, :, i:i + 7:2, j:j + 7:2] for i in range(3) for j in range(3)], axis=0)
    np.testing.assert_array_equal(ops.max_pool2d(x, 3, 2).numpy(), pool)
    assert ops.flatten(x).shape == (2, 243)
    np.testing.assert_allclose(ops.hardtanh(x, -0.5, 0.5).numpy(), np.clip(X, -0.5, 0.5))
    np.testing.assert_allclose(ops.add_scalar(ops.mul_scalar(x, 2), 1).numpy(), X * 2 + 1, rtol=1e-6)
    np.testing.assert_array_equal(ops.dropout(x, 0.3).numpy(), X)
    np.testing.assert_array_equal(ops.upsample_nearest2d(x, 2).numpy(), X.repeat(2, 2).repeat(2, 3))
    assert ops.permute(x, (0, 2, 3, 1)).shape == (2, 9, 9, 3)


def trace_net():
    x = mlufuse.tensor(X, device="mlu:0")
    with mlufuse.trace(x) as tr:
        y = ops.relu(ops.conv2d(x, W, B, padding=1))
        y = ops.linear(ops.flatten(ops.adaptive_avg_pool2d(y, 1)), rng.standard_normal((5, 4)).astype(np.float32))
        tr.outputs = [ops.softmax(y, -1)]
    return x, tr.graph


def test_traced_network_compiles_and_matches_the_interpreter():
    x, g = trace_net()
    assert g.num_inputs == 1 and g.num_outputs == 1 and g.num_nodes >= 5
    want = g.interpret(x)[0].numpy()
    for cores in (1, 4):
        m = mlufuse.compile(g, core_number=cores)
        np.testing.assert_allclose(m(X), want, rtol=1e-4, atol=1e-6)  # arrays in, arrays out
        np.testing.assert_array_equal(m(X), m(X))  # the prepared path of a shape seen before
        np.testing.assert_allclose(m(X[:1].copy()), want[:1], rtol=1e-4, atol=1e-6)  # a new batch
        t = m(x)  # Tensors in, Tensors out
        assert isinstance(t, mlufuse.Tensor) and t.device == "mlu:0"
        np.testing.assert_allclose(t.numpy(), want, rtol=1e-4, atol=1e-6)
    m = mlufuse.compile(g, fusion=False)
    np.testing.assert_allclose(m(X), want, rtol=1e-4, atol=1e-6)


def test_module_arguments_are_checked():
    _, g = trace_net()
    m = mlufuse.compile(g)
    with pytest.raises(mlufuse.InvalidError, match="takes 1 inputs"):
        m(X, X)
    with pytest.raises(mlufuse.ShapeError):
        m(np.zeros((2, 3, 9), np.float32))
    with pytest.raises(mlufuse.DtypeError):
        m(X.astype(np.float64))
    with pytest.raises(mlufuse.InvalidError, match="core_number"):
        mlufuse.set_core_number(3)
    with pytest.raises(mlufuse.InvalidError):
        mlufuse.compile(g, cpu="not-a-cpu")
    m.close()
    with pytest.raises(mlufuse.InvalidError, match="closed"):
        m(X)


def test_trace_needs_outputs():
    x = mlufuse.tensor(X)
    with pytest.raises(mlufuse.InvalidError, match="tr.outputs"):
        with mlufuse.trace(x):
            ops.relu(x)
    with mlufuse.trace(x) as tr:  # a failed trace left nothing behind
        tr.outputs = ops.relu(x)
    assert tr.graph.num_nodes == 1


def test_shared_models_match(models):
    for name in ("mnist_net", "resnet18"):
        m = mlufuse.compile(f"{models}/{name}/model.onnx", core_number=4)
        y = m(np.load(f"{models}/{name}/input.npy"))
        want = np.load(f"{models}/{name}/output.npy")
        assert np.abs(y - want).max() <= 1e-3 * np.abs(want).max()


def test_bad_model_files_raise(tmp_path):
    bad = tmp_path / "bad.mfir"
    bad.write_text("graph @g(%x: f32[2]) {\n  %y = frobnicate(%x)\n}\n")
    with pytest.raises(mlufuse.ParseError, match="bad.mfir:2"):
        mlufuse.compile(str(bad))
    with pytest.raises(mlufuse.Error):
        mlufuse.compile(str(tmp_path / "missing.onnx"))
