"""Around a module from Python: quantize to int8 after calibration, genoff a .mfo file and run
it with load_offline; the results stay near the f32 model's."""
import numpy as np
import pytest

import mlufuse


def test_quantize_mnist_stays_near_f32(models):
    path = f"{models}/mnist_net/model.onnx"
    x = np.load(f"{models}/mnist_net/input.npy")
    rng = np.random.default_rng(3)
    calib = [rng.random(x.shape, dtype=np.float32) for _ in range(8)]
    q = mlufuse.quantize(path, calib, per_channel=True)
    assert "qconv2d" in q.text()
    f32 = mlufuse.compile(path)(x)
    got = mlufuse.compile(q)(x)
    assert np.linalg.norm(got - f32) <= 0.05 * np.linalg.norm(f32)
    with pytest.raises(mlufuse.InvalidError, match="method"):
        mlufuse.quantize(path, calib, method="median")
    assert "w_pair_max" not in q.text()


def test_quantize_options_reach_the_library(models):
    """The options struct matches mlufuse_quant.h's: ubsw_pairs (limited weight pairs for
    AVX2's vpmaddubsw, per layer within ubsw_max_error; 0: every layer but those AVX2 runs as
    f32 Winograd, mnist_net's conv2) and the fields after it (method, percentile) land where
    the library reads them."""
    path = f"{models}/mnist_net/model.onnx"
    x = np.load(f"{models}/mnist_net/input.npy")
    rng = np.random.default_rng(4)
    calib = [rng.random(x.shape, dtype=np.float32) for _ in range(8)]
    q = mlufuse.quantize(path, calib, per_channel=True, ubsw_pairs=True, ubsw_max_error=0,
                         method="percentile", percentile=99.9)
    assert q.text().count("w_pair_max=128") == 1
    f32 = mlufuse.compile(path)(x)
    got = mlufuse.compile(q)(x)
    assert np.linalg.norm(got - f32) <= 0.05 * np.linalg.norm(f32)
    with pytest.raises(mlufuse.InvalidError, match="percentile"):
        mlufuse.quantize(path, calib, method="percentile", percentile=20)


def test_genoff_and_load_offline(models, tmp_path):
    path = f"{models}/mnist_net/model.onnx"
    x = np.load(f"{models}/mnist_net/input.npy")
    mfo = tmp_path / "mnist.mfo"
    mlufuse.genoff(path, str(mfo), core_number=4, meta={"input_format": "rgb"})
    m = mlufuse.load_offline(str(mfo))
    assert m.meta("input_format") == "rgb" and m.level
    want = np.load(f"{models}/mnist_net/output.npy")
    assert np.abs(m(x) - want).max() <= 1e-3 * np.abs(want).max()
    (tmp_path / "bad.mfo").write_bytes(b"not an offline model")
    with pytest.raises(mlufuse.Error):
        mlufuse.load_offline(str(tmp_path / "bad.mfo"))
