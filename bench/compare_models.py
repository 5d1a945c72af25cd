"""The project's headline comparison: mlufuse against PyTorch and ONNX Runtime on every model
folder under a models root (default ../shared/models), all timed in the same run.

    python3 bench/compare_models.py [--models DIR] [--only A,B] [--runs N] [--rounds N]
                                    [--build DIR] [--cpu NAME] [--skip-peers]

For each model (model.onnx + input.npy + output.npy) it runs `mlufuse run --bench N --json`
at batch 1 and 8 with core_number 1 (one core) and 4 (partitions spread over both cores),
checking the output against output.npy at batch 1; then ../shared/bench/peers.py (PyTorch
eager and TorchScript-frozen, 1 and 2 threads, batch 1 and 8; needs Debian's python3-torch and
python3-torchvision, run with /usr/bin/python3) and ../shared/bench/ort_bench.js (ONNX Runtime,
batch 1; onnxruntime-node is installed into /tmp/ortnpm from npm when missing, as its header
says).  It prints one table of median latencies and the ratio of each peer to mlufuse
(> 1: mlufuse is faster).  --rounds N times mlufuse and the peers alternately N times: on a
machine whose speed drifts (a VM's neighbours) a single pair can land in different phases,
so each row then gives the median of its per-round medians and the ratio the median of the
per-round ratios (each peer against mlufuse of the same round), with their range.  --cpu NAME times mlufuse's code for that LLVM CPU (e.g. haswell
on an AVX-512 host); the last table gives each model's GFLOP/s on one core and its fraction
of that target's fp32 FMA peak, measured in the same run (mlufuse run --profile-summary
with MLUFUSE_CACHE=off, which measures the machine's limits in that process).
Benchmarks, not tests: figures depend on the machine and its load.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(ROOT, "..", "shared")


def model_dirs(root):
    return sorted(os.path.join(root, d) for d in os.listdir(root)
                  if os.path.isfile(os.path.join(root, d, "model.onnx")))


def mlufuse_rows(build, d, runs, cpu):
    rows = []
    name = os.path.basename(d)
    for batch in (1, 8):
        for cores, threads in ((1, 1), (4, 2)):
            cmd = [os.path.join(build, "mlufuse"), "run", os.path.join(d, "model.onnx"), "--bench", str(runs),
                   "--json", "--core-number", str(cores),
                   "--min-time", "0.5"] + (["--cpu", cpu] if cpu else [])
            if batch == 1:
                cmd += ["-i", os.path.join(d, "input.npy"), "--expect", os.path.join(d, "output.npy")]
            else:
                cmd += ["--random", "--batch", str(batch)]
            env = dict(os.environ, MLUFUSE_CACHE="off")  # compile times are cold ones
            p = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if p.returncode not in (0, 1) or not p.stdout.strip():
                print(f"# {name} b{batch}: mlufuse failed: {p.stderr.strip()[:300]}", file=sys.stderr)
                continue
            r = json.loads(p.stdout)
            rows.append(dict(model=name, batch=batch, threads=threads, peer="mlufuse", median_ms=r["median_ms"],
                             match=r.get("match"), compile_ms=r["compile_ms"]))
    return rows


def peak_row(build, d, runs, cpu):
    """One core, batch 1: the model's GFLOP/s and its fraction of the target's FMA peak."""
    cmd = [os.path.join(build, "mlufuse"), "run", os.path.join(d, "model.onnx"), "--random", "--bench", str(runs),
           "--json", "--profile-summary"] + (["--cpu", cpu] if cpu else [])
    # without the disk cache the profile's machine limits are measured in this process, after
    # its runs, not read from machine-limits.txt (which may be hours old, at another clock)
    p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, MLUFUSE_CACHE="off"))
    if p.returncode != 0 or not p.stdout.strip():
        return None
    prof = json.loads(p.stdout)["profile"]
    kernels = [s for s in prof["subgraphs"] if s.get("kind") == "kernel"]
    if not kernels or not prof["ms_per_run"]:
        return None
    peak = kernels[0]["target_peak_gflops_per_core"]
    gflops = prof["gflop_per_run"] / (prof["ms_per_run"] / 1e3)
    return dict(model=os.path.basename(d), lanes=kernels[0]["target_lanes"], gflop=prof["gflop_per_run"],
                ms=prof["ms_per_run"], gflops=gflops, peak=peak, fraction=gflops / peak if peak else 0)


FAILED_PEERS = set()  # a peer script that failed once (PyTorch missing, say) is not run again


def peer_rows(cmd, cwd):
    if cmd[1] in FAILED_PEERS:
        return []
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    try:
        p = subprocess.run(cmd + ["--json", path], cwd=cwd, capture_output=True, text=True)
        if p.returncode != 0:
            print(f"# {' '.join(cmd[:2])} failed: {(p.stderr or p.stdout).strip()[-400:]}", file=sys.stderr)
            FAILED_PEERS.add(cmd[1])
            return []
        with open(path) as f:
            rows = json.load(f)["rows"]
    finally:
        os.unlink(path)
    return [dict(model=r["model"], batch=r.get("batch", 1), threads=r["threads"], peer=r["peer"],
                 median_ms=r["median_ms"]) for r in rows]


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return (xs[n // 2] + xs[(n - 1) // 2]) / 2


def print_table(rounds):
    """One row per (model, batch, threads, peer): the median of its rounds' medians and, for a
    peer, the median (and with several rounds the range) of its ratios to mlufuse's median of
    the same round."""
    key = lambda r: (r["model"], r["batch"], r["threads"])
    per = {}  # (model, batch, threads, peer) -> rows, one a round that has it
    ratios = {}
    for rows in rounds:
        ours = {key(r): r for r in rows if r["peer"] == "mlufuse"}
        for r in rows:
            per.setdefault(key(r) + (r["peer"],), []).append(r)
            us = ours.get(key(r))
            if us and r["peer"] != "mlufuse":
                ratios.setdefault(key(r) + (r["peer"],), []).append(r["median_ms"] / us["median_ms"])
    print(f"{'model':18s} {'batch':>5s} {'thr':>3s} {'peer':22s} {'median ms':>10s} {'peer/mlufuse':>13s}")
    for k in sorted(per, key=lambda k: (k[0], k[1], k[2], k[3] != "mlufuse", k[3])):
        rs = per[k]
        ms = median([r["median_ms"] for r in rs])
        rat = ratios.get(k)
        ratio = f"{median(rat):13.2f}" if rat else " " * 13
        extra = ""
        if rat and len(rat) > 1:
            extra = f"  ({min(rat):.2f}-{max(rat):.2f} over {len(rat)} rounds)"
        if k[3] == "mlufuse":
            r = rs[0]
            match = [x["match"] for x in rs if x["match"] is not None]
            extra = f"  compile {r['compile_ms']:.0f} ms" + ("" if not match else f", matches PyTorch: {all(match)}")
        print(f"{k[0]:18s} {k[1]:5d} {k[2]:3d} {k[3]:22s} {ms:10.3f} {ratio}{extra}")


def ensure_ort():
    if os.path.isdir("/tmp/ortnpm/node_modules/onnxruntime-node"):
        return True
    os.makedirs("/tmp/ortnpm", exist_ok=True)
    env = dict(os.environ, ONNXRUNTIME_NODE_INSTALL="skip")
    p = subprocess.run(["npm", "install", "onnxruntime-node"], cwd="/tmp/ortnpm", env=env, capture_output=True, text=True)
    return p.returncode == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=os.path.join(SHARED, "models"))
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=1, help="time mlufuse and the peers alternately N times")
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--cpu", help="LLVM CPU name mlufuse generates code for (default: this machine's)")
    ap.add_argument("--only", help="comma-separated model folder names")
    a = ap.parse_args()
    dirs = model_dirs(a.models)
    if a.only:
        dirs = [d for d in dirs if os.path.basename(d) in a.only.split(",")]
    if a.rounds < 1:
        ap.error("--rounds must be at least 1")
    have_ort = not a.skip_peers and ensure_ort()
    bench = os.path.join(SHARED, "bench")
    rounds = []
    for r in range(a.rounds):
        if a.rounds > 1:
            print(f"# round {r + 1} of {a.rounds}", file=sys.stderr, flush=True)
        rows = []
        # model by model, so that a model's peers run right after mlufuse did (alternately,
        # with --rounds); the peers' scripts take a list of folders, here one
        groups = [[d] for d in dirs] if a.rounds > 1 else [dirs]
        for group in groups:
            for d in group:
                rows += mlufuse_rows(a.build, d, a.runs, a.cpu)
            if not a.skip_peers:
                rows += peer_rows(["/usr/bin/python3", os.path.join(bench, "peers.py"), "--runs", str(a.runs),
                                   "--min-time", "0.5"] + group, bench)
                if have_ort:
                    rows += peer_rows(["node", os.path.join(bench, "ort_bench.js"), "--runs", str(a.runs),
                                       "--min-time", "0.5"] + group, bench)
        rounds.append(rows)
    print_table(rounds)
    print(f"\nmlufuse, one core, batch 1, code for {a.cpu or 'this machine'}: GFLOP/s against the target's "
          "fp32 FMA peak (measured now)")
    for d in dirs:
        r = peak_row(a.build, d, a.runs, a.cpu)
        if r and r["gflop"] > 0.01:
            print(f"{r['model']:18s} {r['gflop']:7.3f} GFLOP in {r['ms']:8.3f} ms = {r['gflops']:6.1f} GFLOP/s, "
                  f"{100 * r['fraction']:5.1f} % of {r['peak']:.1f} ({r['lanes']} lanes)")


if __name__ == "__main__":
    main()
