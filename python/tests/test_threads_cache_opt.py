"""Threads, queues, the kernel cache and the fusion report from Python."""
import ctypes
import threading

import numpy as np
import pytest

import mlufuse
from mlufuse._lib import lib


def test_two_threads_run_two_modules_at_once(models):
    m1 = mlufuse.compile(f"{models}/mnist_net/model.onnx")
    m2 = mlufuse.compile(f"{models}/elementwise_chain/model.onnx")
    cases = [(m1, np.load(f"{models}/mnist_net/input.npy"), np.load(f"{models}/mnist_net/output.npy")),
             (m2, np.load(f"{models}/elementwise_chain/input.npy"), np.load(f"{models}/elementwise_chain/output.npy"))]
    errors = []

    def work(m, x, want):
        try:
            for _ in range(20):
                got = m(x)
                if np.abs(got - want).max() > 1e-3 * np.abs(want).max():
                    errors.append("mismatch")
        except Exception as e:  # reported below, not lost in the thread
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=c) for c in cases for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_calls_release_the_gil():
    """A host function on a queue needs the GIL (it is Python); queue.synchronize() waits for
    it in C.  Holding the GIL there would deadlock: the wait must release it."""
    q = mlufuse.Queue(0)
    release = threading.Event()
    ran = []

    @ctypes.CFUNCTYPE(None, ctypes.c_void_p)
    def host_fn(ctx):
        release.wait(30)
        ran.append(True)

    assert lib.mf_queue_enqueue_host(q._h, ctypes.cast(host_fn, ctypes.c_void_p), None) == 0
    t = threading.Thread(target=q.synchronize)
    t.start()
    release.set()  # runs only if the synchronizing thread let go of the GIL
    t.join(60)
    assert not t.is_alive() and ran == [True]
    q.close()


def test_queue_as_current_queue():
    with mlufuse.Queue(0) as q:
        y = mlufuse.ops.relu(mlufuse.tensor(np.array([-1, 2], np.float32), device="mlu:0"))
        q.synchronize()
    np.testing.assert_array_equal(y.numpy(), [0, 2])


def test_cache_and_opt(models, tmp_path):
    m = mlufuse.compile(f"{models}/mnist_net/model.onnx")
    m(np.load(f"{models}/mnist_net/input.npy"))
    s = mlufuse.cache.stats()
    assert s["hits"] + s["misses"] > 0
    assert isinstance(mlufuse.cache.ls(), list)
    assert mlufuse.cache.ls(str(tmp_path)) == []
    r = mlufuse.opt(f"{models}/resnet18/model.onnx", explain=True)
    assert r["summary"]["subgraphs"] > 10 and r["summary"]["segmented"] == 1
    assert [p["name"] for p in r["passes"]][:2] == ["dce", "simplify"]
    assert r["edges"] and all(e["reason"] for e in r["edges"])
    assert "subgraph" in r["explanation"]
    assert r["graph"].num_nodes == r["summary"]["nodes"]


def test_winograd_levels_agree():
    # 0: direct, 1: Winograd within its memory limit, 2: whatever the memory; same results
    rng = np.random.default_rng(3)
    w = rng.uniform(-0.5, 0.5, (16, 16, 3, 3)).astype(np.float32)
    x = mlufuse.tensor(rng.uniform(-1, 1, (1, 16, 20, 20)).astype(np.float32), device="mlu:0")
    with mlufuse.trace(x) as tr:
        tr.outputs = [mlufuse.ops.conv2d(x, w, None, padding=1)]
    ys = [mlufuse.compile(tr.graph, winograd=level)(x).numpy() for level in (0, 1, 2)]
    for y in ys[1:]:
        assert np.max(np.abs(y - ys[0])) <= 3e-3 * np.max(np.abs(ys[0]))
    with pytest.raises(mlufuse.InvalidError, match="winograd 3"):
        mlufuse.compile(tr.graph, winograd=3)
    with pytest.raises(mlufuse.InvalidError, match="out of range"):
        mlufuse.compile(tr.graph, winograd=2**32 + 1)
