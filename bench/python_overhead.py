"""What a module call costs from Python above C: the same call (array in, array out) timed in
bench_module_call (C) and through mlufuse.Module.__call__ on a NumPy array, on a tiny model
(where the overhead shows) and on resnet18 (the 2 % target), in the same run.

    /usr/bin/python3 bench/python_overhead.py [--build DIR] [--calls N]
Benchmarks, not tests: figures depend on the machine and its load."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TINY = "graph @tiny(%0: f32[1,16]) {\n  %1 = relu(%0) : f32[1,16]\n  return %1\n}\n"


def python_median_us(model, calls):
    import numpy as np
    import mlufuse
    m = mlufuse.compile(model)
    dt, shape = m.graph.input_type(0)
    x = np.random.default_rng(1).random(shape, dtype=np.float32)
    times = []
    for i in range(calls + calls // 10 + 1):
        t0 = time.perf_counter()
        m(x)
        if i > calls // 10:
            times.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--calls", type=int, default=3000)
    a = ap.parse_args()
    os.environ.setdefault("MLUFUSE_LIBRARY", os.path.join(a.build, "libmlufuse.so.0"))
    sys.path.insert(0, os.path.join(ROOT, "python"))
    with tempfile.NamedTemporaryFile("w", suffix=".mfir", delete=False) as f:
        f.write(TINY)
    resnet = os.path.join(ROOT, "..", "shared", "models", "resnet18", "model.onnx")
    for name, model, calls in (("tiny relu f32[1,16]", f.name, a.calls), ("resnet18", resnet, 30)):
        c = json.loads(subprocess.run([os.path.join(a.build, "bench_module_call"), model, str(calls)],
                                      capture_output=True, text=True, check=True).stdout)["median_us"]
        p = python_median_us(model, calls)
        print(f"{name:22s} C {c:10.1f} us   Python {p:10.1f} us   above C {p - c:8.1f} us ({(p / c - 1) * 100:+.1f} %)")
    os.unlink(f.name)


if __name__ == "__main__":
    main()
