#!/usr/bin/python3
"""graph_scaling.py — how the passes and module creation scale with a graph's size: generated
.mfir graphs of tiny tensors (f32[4], so no kernel costs anything) in shapes that have made a
pass quadratic or worse, timed through `mlufuse opt` and `mlufuse run --random --tier fast`
(the tier-0 plan, no LLVM) at N ops, doubling.  Prints seconds and the growth per doubling
(about 2 is linear; 4 quadratic).  docs/passes.md, "Scaling", has the figures.

    bench/graph_scaling.py [--sizes 1000,2000,4000,8000,16000] [--shapes a,b] [--timeout 120]
"""
import argparse
import os
import random
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T = "f32[4]"


def summed(lines, branches):
    """lines, then a chain of adds over the values %s0 .. %s{branches-1}"""
    prev = "%s0"
    for i in range(1, branches):
        lines.append(f"%a{i} = add({prev}, %s{i}) : {T}")
        prev = f"%a{i}"
    return lines, prev


def fanout_chainsum(n):
    """n/2 branches off the input, then a chain of adds over them (a breadth-first export)"""
    return summed([f"%s{i} = clamp(%x) {{min={i}}} : {T}" for i in range(n // 2)], n // 2)


def dense_dag(n):
    """each op reads the previous one and a random earlier one: values live long"""
    rnd, names, lines = random.Random(1), ["%x"], []
    for i in range(n):
        op = ("add", "mul", "maximum")[i % 3]
        lines.append(f"%d{i} = {op}({names[-1]}, {rnd.choice(names)}) : {T}")
        names.append(f"%d{i}")
    return lines, names[-1]


def identity_chain(n):
    """dropouts (identities at inference) between relus"""
    lines, prev = [], "%x"
    for i in range(n // 2):
        lines += [f"%r{i} = relu({prev}) : {T}", f"%i{i} = dropout(%r{i}) : {T}"]
        prev = f"%i{i}"
    return lines, prev


def cpu_fanout(n):
    """branches through an op without device code (sin), summed by a chain"""
    lines = []
    for i in range(n // 3):
        lines += [f"%u{i} = clamp(%x) {{min={i}}} : {T}", f"%s{i} = sin(%u{i}) : {T}"]
    return summed(lines, n // 3)


def chain(n):
    """the easy case"""
    lines, prev = [], "%x"
    for i in range(n):
        lines.append(f"%c{i} = {('relu', 'sigmoid', 'neg')[i % 3]}({prev}) : {T}")
        prev = f"%c{i}"
    return lines, prev


SHAPES = {f.__name__: f for f in (fanout_chainsum, dense_dag, identity_chain, cpu_fanout, chain)}


def timed(cmd, timeout):
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout,
                           env=dict(os.environ, MLUFUSE_CACHE="off"))
    except subprocess.TimeoutExpired:
        return None
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd)}: {r.stderr.decode().strip()}")
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,2000,4000,8000,16000")
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--mlufuse", default=os.path.join(ROOT, "build", "mlufuse"))
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    print(f"{'shape':16} {'what':5} " + " ".join(f"{n:>8}" for n in sizes) + "   growth per doubling (s)")
    with tempfile.TemporaryDirectory() as d:
        for name in a.shapes.split(","):
            for what in ("opt", "run"):
                times = []
                for n in sizes:
                    lines, ret = SHAPES[name](n)
                    path = os.path.join(d, f"{name}_{n}.mfir")
                    with open(path, "w") as f:
                        f.write("graph @g(%x: f32[4]) {\n" + "".join(f"  {s}\n" for s in lines) + f"  return {ret}\n}}\n")
                    cmd = [a.mlufuse, "opt", path] if what == "opt" else [a.mlufuse, "run", path, "--random", "--tier", "fast"]
                    t = None if times and times[-1] is None else timed(cmd, a.timeout)
                    times.append(t)
                cells = " ".join(f"{t:8.2f}" if t is not None else f"{'>' + str(int(a.timeout)):>8}" for t in times)
                growth = [f"{b / c:.1f}" for c, b in zip(times, times[1:]) if c and b and c > 0.05]
                print(f"{name:16} {what:5} {cells}   {' '.join(growth)}", flush=True)


if __name__ == "__main__":
    main()
