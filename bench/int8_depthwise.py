#!/usr/bin/env python3
"""int8_depthwise.py — mobilenet_v2 int8 against f32, and the depthwise layers' kernels, for
builds compared in interleaved rounds on a loaded machine (docs/benchmarks.md).

Each configuration (a label, an mlufuse binary, a model, an optional --cpu) runs in every
round, one after the other, one thread (core_number 1), MLUFUSE_TIER=full, its own warm
kernel cache.  Reported per configuration and round:
  - run CPU ms: the process CPU time of `run --bench LONG` minus that of `run --bench SHORT`,
    over LONG - SHORT runs (loading and warm-up cancel out; other processes' time does not
    count, preemption does not either);
  - kernel-min ms: the sum over the model's kernels of each kernel's fastest launch
    (--profile), the figure docs/quantization.md uses under load;
  - dw ms: that sum over the depthwise convolutions only (weights [C, 1, k, k]).

  python3 bench/int8_depthwise.py --rounds 3 \
      --config "int8 base=/tmp/base/build/mlufuse:/tmp/mb_int8.mfir" \
      --config "int8 new=build/mlufuse:/tmp/mb_int8.mfir" \
      --config "f32=build/mlufuse:../shared/models/mobilenet_v2/model.onnx" [--cpu haswell]
"""
import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile

DW = re.compile(r"conv2d\([^,]+\[\d+,(\d+),\d+,\d+\], [if]\d+\[(\d+),1,\d+,\d+\]")


def run(binary, model, cpu, nbench, profile, cache):
    env = dict(os.environ, MLUFUSE_TIER="full", MLUFUSE_CACHE_DIR=cache)
    cmd = ["nice", "-n", "19", binary, "run", model, "--random", "--bench", str(nbench)]
    if cpu:
        cmd += ["--cpu", cpu]
    if profile:
        cmd += ["--profile", profile]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def kernel_mins(profile):
    with open(profile) as f:
        d = json.load(f)
    events = d["traceEvents"] if isinstance(d, dict) else d
    best = {}
    for e in events:
        if e.get("cat") != "kernel":
            continue
        k = e["name"]
        if k not in best or e["dur"] < best[k][0]:
            best[k] = (e["dur"], e["args"].get("ops", ""))
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", action="append", required=True, help="LABEL=BINARY:MODEL")
    ap.add_argument("--cpu", default=None)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--short", type=int, default=5)
    ap.add_argument("--long", type=int, default=25)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="int8dw")
    configs = []
    for i, c in enumerate(args.config):
        label, rest = c.split("=", 1)
        binary, model = rest.split(":", 1)
        configs.append((label, binary, model, os.path.join(tmp, "cache%d" % i)))
    for label, binary, model, cache in configs:  # fill each cache once
        run(binary, model, args.cpu, 1, None, cache)
    print("load average at start: %.1f %.1f %.1f" % os.getloadavg())
    for r in range(args.rounds):
        for label, binary, model, cache in configs:
            prof = os.path.join(tmp, "p.json")
            t_short = run(binary, model, args.cpu, args.short, None, cache)
            t_long = run(binary, model, args.cpu, args.long, prof, cache)
            cpu_ms = 1000.0 * (t_long - t_short) / (args.long - args.short)
            mins = kernel_mins(prof)
            total = sum(v[0] for v in mins.values()) / 1000.0
            dw = {k: v[0] / 1000.0 for k, v in mins.items() if (m := DW.search(v[1])) and m.group(1) == m.group(2)}
            print("round %d %-10s run CPU %7.3f ms  kernel-min %7.3f ms  dw %6.3f ms (%d layers)  load %.1f"
                  % (r + 1, label, cpu_ms, total, sum(dw.values()), len(dw), os.getloadavg()[0]))
            if r == args.rounds - 1:
                for k, v in sorted(mins.items(), key=lambda kv: -kv[1][0]):
                    m = DW.search(v[1])
                    if m and m.group(1) == m.group(2):
                        print("    %-28s %7.3f ms  %s" % (k, v[0] / 1000.0, v[1][:90]))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
