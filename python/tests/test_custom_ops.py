"""mlufuse.load_custom_ops with the example library (examples/custom_ops/): an ONNX model with
custom-domain nodes compiled and run against NumPy's output, and the errors."""
import os

import numpy as np
import pytest

import mlufuse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.dirname(os.environ.get("MLUFUSE_LIBRARY", os.path.join(ROOT, "build", "libmlufuse.so")))
DECL = os.path.join(ROOT, "examples", "custom_ops", "example_ops.txt")
LIB = os.path.join(BUILD, "libmf_example_custom_ops.so")
MODELS = os.path.join(ROOT, "tests", "frontends", "onnx", "custom")


def test_model_with_custom_ops_runs():
    assert mlufuse.load_custom_ops(DECL, LIB) == 5
    m = mlufuse.compile(os.path.join(MODELS, "example_ops.onnx"))
    x = np.load(os.path.join(MODELS, "example_ops.in.npy"))
    want = np.load(os.path.join(MODELS, "example_ops.out.npy"))
    np.testing.assert_allclose(m(x), want, rtol=1e-4, atol=1e-6)


def test_errors():
    with pytest.raises(mlufuse.IOError, match="cannot open /nonexistent.so"):
        mlufuse.load_custom_ops(DECL, "/nonexistent.so")
    with pytest.raises(mlufuse.UnsupportedError, match="not_declared of domain 'com.example' is not a declared"):
        mlufuse.compile(os.path.join(MODELS, "undeclared.onnx"))
