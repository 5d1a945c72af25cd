#!/usr/bin/env python3
"""test_as_cpu.py BUILD_DIR [QEMU_CPU] [TEST ...] — runs the test programs of a build as if on
another x86-64 CPU: each under qemu-user (`qemu-x86_64 -cpu QEMU_CPU`, default Haswell-v4:
AVX2 + FMA, no AVX-512), one at a time, with the environment and working directory ctest
gives it.  The CPU the programs see (cpuid) is qemu's model, so LLVM's host CPU, the engines'
vector width and every "can this host run it" check are that CPU's: `make test-avx2` on an
AVX-512 machine checks that `make test` would pass on an AVX2 one.  Emulated, the programs
run some 20-50x slower (about two hours for the whole suite on two cores).

Limits: a program a test starts (the mlufuse tool of the end-to-end tests) runs natively,
since qemu-user does not follow exec; the end-to-end programs get their own kernel cache
directory (build/test-cache-QEMU_CPU), so kernels for the real host are not reused.  The fuzz
harnesses and the warm-cache fixture are skipped, and so are the Python package's tests: qemu
7.2 crashes in numpy's own AVX2 gathers (`vpgatherdd` in np.maximum, seen with gdb on the
guest's core file) before any mlufuse code runs.  qemu-user ignores madvise, so the programs
run with MF_TEST_EMULATED=1 (test_caching_allocator then does not read its huge-page advice
back).  Prints a line a program and the cmocka
totals; exit status 1 when a program failed."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time


def run_emulated(cmd, cwd, env):
    """Output and exit status of cmd under qemu; on a timeout the whole process group goes."""
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=4 * 3600)
        return out + err, p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return out + err + "\ntimed out after 4 hours", -1


def summary(out, rc):
    """(passed, failed) from cmocka's and pytest -q's summaries; a program that exited
    non-zero without a failure counted failed once (it crashed before its summary)."""
    ok = sum(int(n) for n in re.findall(r"\[  PASSED  \] (\d+) test", out))
    bad = sum(int(n) for n in re.findall(r"\[  FAILED  \] (\d+) test", out))
    py = re.search(r"^(\d+ failed, )?(\d+) passed.* in [0-9.]+s", out, re.M)
    if py:
        ok += int(py.group(2))
        bad += int(py.group(1).split()[0]) if py.group(1) else 0
    return ok, bad + (1 if rc and not bad else 0)


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(sys.argv) > 1 else 2
    build = os.path.realpath(sys.argv[1])
    cpu = sys.argv[2] if len(sys.argv) > 2 else "Haswell-v4"
    only = set(sys.argv[3:])
    if not shutil.which("qemu-x86_64"):
        print("test_as_cpu: qemu-x86_64 not found (scripts/setup.sh qemu installs qemu-user)",
              file=sys.stderr)
        return 2
    listing = subprocess.run(["ctest", "--test-dir", build, "--show-only=json-v1"],
                             capture_output=True, text=True)
    if listing.returncode:
        print(f"test_as_cpu: ctest cannot list the tests of {build}: {listing.stderr.strip()}",
              file=sys.stderr)
        return 2
    tests = json.loads(listing.stdout)["tests"]
    unknown = only - {t["name"] for t in tests}
    if unknown:
        print(f"test_as_cpu: no such test in {build}: {' '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    cache = os.path.join(build, "test-cache-" + cpu)
    passed = failed = programs = 0
    for t in tests:
        name, cmd = t["name"], t.get("command") or []
        if only and name not in only:
            continue
        props = {p["name"]: p["value"] for p in t.get("properties", [])}
        exe = os.path.realpath(cmd[0]) if cmd else ""
        if not exe.startswith(build + os.sep) or "fuzz" in name:
            why = "numpy's AVX2 gathers crash under qemu" if name == "python" else \
                "not a test program of the build"
            print(f"{name}: skipped ({why})", flush=True)
            continue
        env = dict(os.environ)
        for kv in props.get("ENVIRONMENT", []):
            k, v = kv.split("=", 1)
            env[k] = v
        if "MLUFUSE_CACHE_DIR" in env:
            env["MLUFUSE_CACHE_DIR"] = cache
        env["MF_TEST_TIME_SCALE"] = "50"  # the tests' own hang guards, for emulated speed
        env["MF_TEST_EMULATED"] = "1"
        t0 = time.time()
        out, rc = run_emulated(["qemu-x86_64", "-cpu", cpu] + cmd,
                               props.get("WORKING_DIRECTORY", build), env)
        ok, bad = summary(out, rc)
        skips = [line.strip() for line in out.splitlines()
                 if "skipped" in line and "TCG" not in line]
        print(f"{name}: {ok} passed, {bad} failed, {time.time() - t0:.0f} s"
              + (f"; {skips[-1][:160]}" if skips else ""), flush=True)
        if bad:
            log = os.path.join(build, f"{name}.{cpu}.log")
            with open(log, "w") as f:
                f.write(out)
            print(f"  output in {log}", flush=True)
        passed, failed, programs = passed + ok, failed + bad, programs + 1
    print(f"{programs} programs as {cpu}: {passed} passed, {failed} failed", flush=True)
    if not programs:
        print("test_as_cpu: no test program ran", file=sys.stderr)
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
