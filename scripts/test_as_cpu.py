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
directory (build/test-cache-QEMU_CPU), so kernels for the real host are not reused.  The Python
package's tests run in an emulated python3 too (the library loads into it).  The fuzz
harnesses and the warm-cache fixture are skipped.  Prints a line a program and the cmocka
totals; exit status 1 when a program failed."""
import json
import os
import re
import shutil
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(sys.argv) > 1 else 2
    build = os.path.abspath(sys.argv[1])
    cpu = sys.argv[2] if len(sys.argv) > 2 else "Haswell-v4"
    only = set(sys.argv[3:])
    if not shutil.which("qemu-x86_64"):
        print("test_as_cpu: qemu-x86_64 not found (scripts/setup.sh qemu installs qemu-user)", file=sys.stderr)
        return 2
    listing = subprocess.run(["ctest", "--test-dir", build, "--show-only=json-v1"], capture_output=True, text=True)
    if listing.returncode:
        print(f"test_as_cpu: ctest cannot list the tests of {build}: {listing.stderr.strip()}", file=sys.stderr)
        return 2
    cache = os.path.join(build, "test-cache-" + cpu)
    passed = failed = programs = 0
    for t in json.loads(listing.stdout)["tests"]:
        name, cmd = t["name"], t.get("command") or []
        if only and name not in only:
            continue
        props = {p["name"]: p["value"] for p in t.get("properties", [])}
        if not cmd or not (cmd[0].startswith(build) or cmd[0] == "/usr/bin/python3") or "fuzz" in name:
            print(f"{name}: skipped (not a test program of the build)", flush=True)
            continue
        env = dict(os.environ)
        for kv in props.get("ENVIRONMENT", []):
            k, v = kv.split("=", 1)
            env[k] = v
        if "MLUFUSE_CACHE_DIR" in env:
            env["MLUFUSE_CACHE_DIR"] = cache
        env["MF_TEST_TIME_SCALE"] = "50"  # the tests' own hang guards, for emulated speed
        t0 = time.time()
        try:
            p = subprocess.run(["qemu-x86_64", "-cpu", cpu] + cmd, cwd=props.get("WORKING_DIRECTORY", build), env=env,
                               capture_output=True, text=True, timeout=4 * 3600)
            out, rc = p.stdout + p.stderr, p.returncode
        except subprocess.TimeoutExpired as e:
            out, rc = (e.stdout or b"").decode(errors="replace") + "\ntimed out", -1
        ok = sum(int(n) for n in re.findall(r"\[  PASSED  \] (\d+) test", out))
        bad = sum(int(n) for n in re.findall(r"\[  FAILED  \] (\d+) test", out))
        py = re.search(r"^(\d+ failed, )?(\d+) passed.* in [0-9.]+s", out, re.M)  # pytest -q's summary
        if py:
            ok += int(py.group(2))
            bad += int(py.group(1).split()[0]) if py.group(1) else 0
        if rc and not bad:
            bad = 1  # crashed or exited non-zero before its summary
        skips = [line.strip() for line in out.splitlines() if "skipped" in line and "TCG" not in line]
        print(f"{name}: {ok} passed, {bad} failed, {time.time() - t0:.0f} s" + (f"; {skips[-1][:160]}" if skips else ""),
              flush=True)
        if bad:
            log = os.path.join(build, f"{name}.{cpu}.log")
            with open(log, "w") as f:
                f.write(out)
            print(f"  output in {log}", flush=True)
        passed, failed, programs = passed + ok, failed + bad, programs + 1
    print(f"{programs} programs as {cpu}: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
