#!/usr/bin/env python3
"""Cold start of every shared model and YOLOv3-tiny: time to first inference and to full speed
against ONNX Runtime's session creation + first run, measured in the same run.

    bench/cold_start.py [--build build] [--models DIR] [--reps N] [--only a,b] [--ort-threads 1]

Per model, with mlufuse run ... --json (times from the command's start, model loading included;
the process start itself, mostly loading libLLVM, is measured apart as `mlufuse run --help`):
  cold auto   empty cache folder, --tier auto: first answer (tier 0) and full speed (tier-up done)
  cores-1     the same with the background compile on one thread fewer than the cores, all of
              normal priority (MLUFUSE_COMPILE_THREADS; the default before it used every core)
  cold full   empty cache folder, --tier full: today's compile-everything-first
  warm        the cache cold full left, --tier auto: tier 1 from the first run on its saved plan
              (the same model and batch: no pass, no kernel loaded); "saved" says it was
  warm, no plan  the same with MLUFUSE_PLAN_CACHE=off: passes, then every kernel from the disk
              cache (the warm start before saved plans served the same batch)
  fast        --tier fast: tier 0 only, no LLVM compile
  new batch   in the warm process (batch 1 on tier 1), --new-batch 2: the first run of batch 2
              in the same module (slices of batch 1's plan when the graph keeps its rows apart)
  new process warm cache for batch 1 (kernels and the saved plan), a new process at --batch 2:
              module creation + first run; its tier and slices (slices of batch 1's saved plan)
  again       one more process at batch 2 after that one (which saved its own plan): its own plan
  no plan     the same with MLUFUSE_PLAN_CACHE=off (the path before the plan cache), on a copy of
              the same cache folder
  ORT         bench/ort_cold.js: InferenceSession.create + first run (node start excluded)
Medians over --reps runs.  Prints a Markdown table (docs/benchmarks.md) and, with --json, the rows.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run_json(exe, args, cache_dir, plan_cache="on", threads=None):
    env = dict(os.environ, MLUFUSE_CACHE_DIR=cache_dir, MLUFUSE_PLAN_CACHE=plan_cache)
    env.pop("MLUFUSE_CACHE", None)
    env.pop("MLUFUSE_TIER", None)
    env.pop("MLUFUSE_COMPILE_THREADS", None)
    if threads:
        env["MLUFUSE_COMPILE_THREADS"] = str(threads)
    out = subprocess.run([exe, "run"] + args + ["--json"], env=env, capture_output=True, text=True)
    if out.returncode not in (0, 1) or not out.stdout.strip():
        raise RuntimeError(f"mlufuse run {' '.join(args)}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def process_start_ms(exe):
    t = time.perf_counter()
    subprocess.run([exe, "run", "--help"], capture_output=True)
    return (time.perf_counter() - t) * 1e3


def measure_model(exe, mdir, ort_threads):
    model = os.path.join(mdir, "model.onnx")
    io = ["-i", os.path.join(mdir, "input.npy"), "--expect", os.path.join(mdir, "output.npy")]
    row = {}
    with tempfile.TemporaryDirectory() as cold, tempfile.TemporaryDirectory() as full, \
            tempfile.TemporaryDirectory() as batch1:
        with tempfile.TemporaryDirectory() as before:  # the background compile's old thread count
            b = run_json(exe, [model] + io + ["--tier", "auto"], before, threads=max(1, (os.cpu_count() or 1) - 1))
            row["auto_full_before_ms"] = b["full_speed_ms"]
        a = run_json(exe, [model] + io + ["--tier", "auto"], cold)
        row["auto_first_ms"], row["auto_full_ms"] = a["first_output_ms"], a["full_speed_ms"]
        row["auto_first_tier"], row["auto_match"] = a["first_run_tier"], a.get("match")
        f = run_json(exe, [model] + io + ["--tier", "full"], full)
        row["full_ms"], row["full_match"] = f["first_output_ms"], f.get("match")
        shutil.copytree(full, batch1, dirs_exist_ok=True)  # batch 1's kernels and plan only
        try:  # a model whose graph fixes the batch (a reshape to 1) cannot take batch 2
            w = run_json(exe, [model] + io + ["--tier", "auto", "--new-batch", "2"], full)
            row["newb_ms"], row["newb_slices"] = w["new_batch_ms"], w["new_batch_slices"]
        except RuntimeError:
            w = run_json(exe, [model] + io + ["--tier", "auto"], full)
            row["newb_ms"], row["newb_slices"] = float("nan"), "-"
        row["warm_ms"], row["warm_tier"] = w["first_output_ms"], tier_label(w)
        n = run_json(exe, [model] + io + ["--tier", "auto"], full, "off")
        row["warm_noplan_ms"], row["warm_noplan_tier"] = n["first_output_ms"], tier_label(n)
        for key, plans, again in (("batch2", "on", True), ("noplan", "off", False)):
            with tempfile.TemporaryDirectory() as copy:  # each on batch 1's cache only
                shutil.copytree(batch1, copy, dirs_exist_ok=True)
                runs = (key, "again") if again else (key,)
                for k in runs:
                    try:  # a model whose graph fixes the batch (a reshape to 1) cannot take batch 2
                        b = run_json(exe, [model, "--random", "--batch", "2", "--tier", "auto"], copy, plans)
                        row[k + "_ms"], row[k + "_tier"] = b["first_run_ms"], tier_label(b)
                    except RuntimeError:
                        row[k + "_ms"], row[k + "_tier"] = float("nan"), "-"
        s = run_json(exe, [model] + io + ["--tier", "fast"], cold)
        row["fast_ms"], row["fast_match"] = s["first_output_ms"], s.get("match")
    ort = subprocess.run(["node", os.path.join(HERE, "ort_cold.js"), "--threads", str(ort_threads), mdir],
                         capture_output=True, text=True)
    if ort.returncode == 0:
        o = json.loads(ort.stdout.strip().splitlines()[-1])
        row["ort_session_ms"], row["ort_first_run_ms"], row["ort_ms"] = o["session_ms"], o["first_run_ms"], o["total_ms"]
    else:
        row["ort_ms"] = None
    return row


def tier_label(r):
    """tier/slices of a run's first answer, with "s" when its plan was a saved one."""
    return f"{r['first_run_tier']}/{r.get('first_run_slices', 1)}{'s' if r.get('first_run_saved_plan') else ''}"


def label(v):
    """A tier or slice count as the table shows it: 1, not the 1.0 a median of ints gives."""
    return str(int(v)) if isinstance(v, float) and v == v else str(v)


def median_rows(rows):
    out = {}
    for k in rows[0]:
        vals = [r[k] for r in rows if isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool)]
        out[k] = statistics.median(vals) if vals and len(vals) == len(rows) else rows[-1][k]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--models", default=os.path.join(ROOT, "..", "shared", "models"))
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--only", default="")
    ap.add_argument("--ort-threads", type=int, default=1)
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    exe = os.path.join(a.build, "mlufuse")
    names = sorted(d for d in os.listdir(a.models) if os.path.exists(os.path.join(a.models, d, "model.onnx")))
    if a.only:
        names = [n for n in names if n in a.only.split(",")]
    with open("/proc/cpuinfo") as f:
        cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    start = process_start_ms(exe)
    print(f"CPU: {cpu}, {os.cpu_count()} cores; load average before: {os.getloadavg()[0]:.1f}; "
          f"mlufuse process start (run --help): {start:.0f} ms, not included below; reps: {a.reps}")
    print()
    print("| model | cold auto: first answer (tier) | cold auto: full speed | the same, cores-1 compile threads "
          "| cold full (before) | warm (tier/slices, s: saved plan) | warm, plan cache off "
          "| fast (tier 0 only) | new batch 2 (slices) | new process at batch 2 (tier/slices) "
          "| the same, plan cache off | again at batch 2 | ORT session + first run | cold auto / ORT |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    results = {}
    for n in names:
        r = median_rows([measure_model(exe, os.path.join(a.models, n), a.ort_threads) for _ in range(a.reps)])
        results[n] = r
        ort = r.get("ort_ms")
        ratio = f"{r['auto_first_ms'] / ort:.2f}x" if ort else "-"
        ort_s = f"{ort:.0f} ms ({r['ort_session_ms']:.0f} + {r['ort_first_run_ms']:.0f})" if ort else "n/a"
        match = "" if r["auto_match"] in (True, None) else " MISMATCH"
        print(f"| {n} | {r['auto_first_ms']:.0f} ms ({label(r['auto_first_tier'])}){match} | {r['auto_full_ms']:.0f} ms "
              f"| {r['auto_full_before_ms']:.0f} ms "
              f"| {r['full_ms']:.0f} ms | {r['warm_ms']:.0f} ms ({r['warm_tier']}) "
              f"| {r['warm_noplan_ms']:.0f} ms ({r['warm_noplan_tier']}) | {r['fast_ms']:.0f} ms "
              f"| {r['newb_ms']:.0f} ms ({label(r['newb_slices'])}) | {r['batch2_ms']:.0f} ms ({r['batch2_tier']}) "
              f"| {r['noplan_ms']:.0f} ms ({r['noplan_tier']}) | {r['again_ms']:.0f} ms ({r['again_tier']}) "
              f"| {ort_s} | {ratio} |", flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"cpu": cpu, "process_start_ms": start, "models": results}, f, indent=1)


if __name__ == "__main__":
    main()
