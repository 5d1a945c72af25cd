"""Where a run on two threads loses time, from `mlufuse run --profile` traces.

    mlufuse run MODEL --random --core-number 4 --bench 200 --tier full --profile c4.json
    mlufuse run MODEL --random --core-number 1 --bench 200 --tier full --profile c1.json
    python3 bench/thread_split.py c4.json [--one c1.json] [--top 20]

At core_number 4 on two threads the core pool runs the first half of each launch on the
submitting thread (core 0, thread A) and the second on the worker (core 1, thread B): their
home runs, in partitions that may be cut finer or run as one (runtime/core_pool.c); each
partition is on the track of the core that ran it.  Per run (medians over the runs after the
first 3): the run's time and its kernels' sum; the pool's costs per launch summed over the run
(launch to its first partition, last partition to the kernel's end, the gaps between a
thread's partitions); and the waiting at kernel ends (|thread A's end - thread B's end|
summed: half of it is what equal halves would save).  Per kernel (10th percentiles over the
runs): the kernel's wall time, each thread's busy time and first partition, and with --one,
half the one-core kernel time and the loss (2-thread time less that half).  A partition
whose thread reads what the other core wrote (a line another core
holds modified costs about 3 times one from this core's L2 or L3 on the Intel Xeon host,
docs/benchmarks.md 2026-12-04 h60) is slower than the other partition of its thread, which
then finds the lines the first one's reads brought in.  The gaps include the profiler's own
cost (each event is appended under one mutex, runtime/profiler.c): compare them with a
--core-number 4 run under `taskset -c 0`.  Benchmarks, not tests.
"""
import argparse
import sys
import bisect
import collections
import json
import statistics

WARMUP = 3


def pct(values, q=0.1):
    v = sorted(values)
    return v[int(q * (len(v) - 1))] if v else 0.0


def load(path):
    """The trace's runs, kernels and each kernel's partitions; a clear error (exit 1) for a
    file that cannot be read or is not a Chrome trace of `mlufuse run --profile`."""
    try:
        with open(path) as f:
            d = json.load(f)
        ev = d["traceEvents"] if isinstance(d, dict) else d
        runs = sorted((e for e in ev if e.get("cat") == "run"), key=lambda e: e["ts"])[WARMUP:]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        sys.stderr.write("thread_split.py: %s: not a readable --profile trace (%s)\n" % (path, e))
        raise SystemExit(1)
    if not runs:
        raise SystemExit("%s: no runs after the first %d (use --bench)" % (path, WARMUP))
    cores = {}
    for e in ev:
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            words = str(e.get("args", {}).get("name", "")).split()
            if len(words) == 3 and words[1] == "core" and words[2].isdigit():
                cores[e["tid"]] = int(words[2])
    t0 = runs[0]["ts"]
    kernels = sorted((e for e in ev if e.get("cat") == "kernel" and e["ts"] >= t0), key=lambda e: e["ts"])
    starts = [k["ts"] for k in kernels]
    parts = [[] for _ in kernels]
    for e in ev:
        if e.get("cat") != "partition" or e["ts"] < t0:
            continue
        i = bisect.bisect_right(starts, e["ts"] + 0.001) - 1
        if i >= 0 and e["name"] == kernels[i]["name"]:
            e["core"] = cores.get(e["tid"], -1)
            parts[i].append(e)
    return runs, kernels, parts


def subgraph(k):
    words = k["name"].split()
    return int(words[1]) if len(words) > 1 and words[1].isdigit() else k["name"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trace", help="--profile trace of a --core-number 4 run")
    ap.add_argument("--one", help="--profile trace of the same model at --core-number 1")
    ap.add_argument("--top", type=int, default=20, help="kernels listed, by loss or time")
    a = ap.parse_args()
    runs, kernels, parts = load(a.trace)
    n = len(runs)
    pre, post, gap, skew = [], [], [], []
    per = collections.defaultdict(lambda: {"k": [], "first": ([], []), "ab": []})
    for k, ps in zip(kernels, parts):
        sg = subgraph(k)
        per[sg]["k"].append(k["dur"])
        on = {c: sorted((p for p in ps if p["core"] == c), key=lambda p: p["ts"]) for c in (0, 1)}
        if not on[0] or not on[1] or len(ps) != len(on[0]) + len(on[1]):
            continue  # a launch not split over exactly cores 0 and 1
        end = lambda q: q["ts"] + q["dur"]
        pre.append(min(p["ts"] for p in ps) - k["ts"])
        post.append(k["ts"] + k["dur"] - max(end(p) for p in ps))
        gap.append(max(sum(b["ts"] - end(a) for a, b in zip(on[c], on[c][1:])) for c in (0, 1)))
        skew.append(abs(end(on[0][-1]) - end(on[1][-1])))
        per[sg]["ab"].append(tuple(sum(p["dur"] for p in on[c]) for c in (0, 1)))
        for c in (0, 1):
            per[sg]["first"][c].append(on[c][0]["dur"])
    med = lambda xs: statistics.median(r["dur"] for r in xs)
    ksum = sum(k["dur"] for k in kernels) / n
    print("%s: %d runs, median %.1f us, kernels %.1f us a run (%d launches)" %
          (a.trace, n, med(runs), ksum, len(kernels) // n))
    print("  per run, us: launch -> first partition %.1f, last partition -> kernel end %.1f, "
          "between a thread's partitions %.1f; waiting at kernel ends %.1f" %
          (sum(pre) / n, sum(post) / n, sum(gap) / n, sum(skew) / n))
    one = {}
    if a.one:
        _, k1, _ = load(a.one)
        d1 = collections.defaultdict(list)
        for k in k1:
            d1[subgraph(k)].append(k["dur"])
        one = {sg: pct(v) for sg, v in d1.items()}
    rows = []
    for sg, d in per.items():
        kt = pct(d["k"])
        pt = [pct(d["first"][c]) for c in (0, 1)]
        a_busy = pct([x for x, _ in d["ab"]]) if d["ab"] else 0.0
        b_busy = pct([y for _, y in d["ab"]]) if d["ab"] else 0.0
        half = one[sg] / 2 if sg in one else None
        rows.append((kt - half if half is not None else kt, sg, kt, pt, a_busy, b_busy, half))
    rows.sort(key=lambda r: -r[0])
    print("  subgraph  2-thread  first partition A B  thread A  thread B" +
          ("  1-core/2   loss" if one else ""))
    for loss, sg, kt, pt, ab, bb, half in rows[:a.top]:
        line = "  %8s  %8.1f  %-19s  %8.1f  %8.1f" % (sg, kt, " ".join("%7.1f" % x for x in pt), ab, bb)
        if half is not None:
            line += "  %8.1f  %5.1f" % (half, loss)
        print(line)
    if one:
        print("  sum of losses %.1f us (kernels at 10th percentiles)" % sum(r[0] for r in rows))


if __name__ == "__main__":
    main()
