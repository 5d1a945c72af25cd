"""The README's Python quick start (the seed's MNIST example), step by step: build the
network's weights, trace it on mlu:0, compile with a core number, run, compare."""
import numpy as np

import mlufuse
from mlufuse import ops


def test_mnist_quick_start():
    rng = np.random.default_rng(0)
    w1 = (rng.standard_normal((8, 1, 3, 3)) * 0.3).astype(np.float32)
    w2 = (rng.standard_normal((10, 8 * 13 * 13)) * 0.01).astype(np.float32)

    def net(x):
        y = ops.max_pool2d(ops.relu(ops.conv2d(x, w1)), 2)
        return ops.log_softmax(ops.linear(ops.flatten(y), w2), dim=1)

    images = rng.random((4, 1, 28, 28), dtype=np.float32)
    x = mlufuse.tensor(images).to(mlufuse.mlu_device(0))  # the seed's .to(ct.mlu_device())
    eager = net(x).numpy()  # layer by layer
    with mlufuse.trace(x) as tr:
        tr.outputs = [net(x)]
    mlufuse.set_core_number(4)
    try:
        model = mlufuse.compile(tr.graph)  # fused, 4 partitions per kernel
    finally:
        mlufuse.set_core_number(1)
    fused = model(images)
    np.testing.assert_allclose(fused, eager, rtol=1e-4, atol=1e-5)
    assert fused.shape == (4, 10) and np.allclose(np.exp(fused).sum(1), 1, atol=1e-5)
