"""Helpers shared by the bench scripts (not tests: pytest's testpaths is tests/ only)."""

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(os.environ.get("BENCH_RESULTS", ROOT / "var" / "bench" / "results.jsonl"))


def record(section, name, value, unit, *, target=None, ok=None, ratio=None, note=""):
    """Append one figure to the results file that bench/report.py prints as the table."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    row = {"section": section, "name": name, "value": value, "unit": unit, "target": target, "ok": ok,
           "ratio": ratio, "note": note}
    with RESULTS.open("a") as fh:
        fh.write(json.dumps(row) + "\n")
    print(f"  {section} | {name}: {value} {unit}" + (f" (target {target}: {'OK' if ok else 'MISS'})" if target else ""),
          flush=True)


def start_gunicorn(*, wsgi, port, env, workers=4, cwd=ROOT, log=None):
    log = open(log or os.devnull, "w")
    proc = subprocess.Popen(
        ["gunicorn", wsgi, "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "30",
         "--log-level", "warning"],
        cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn {wsgi} exited with {proc.returncode} (log: {log.name})")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/nonexistent-bench-probe/", timeout=2)
        except urllib.error.HTTPError:
            return proc
        except OSError:
            time.sleep(0.2)
            continue
        return proc
    stop(proc)
    raise RuntimeError(f"gunicorn {wsgi} did not answer on port {port}")


def stop(proc):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # our own session: gunicorn master and its workers only
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def wrk(url, *, seconds, threads=2, connections=8, script=None):
    """Run wrk (bounded by --duration); return dict(rps, median_ms, requests, errors)."""
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s", "--latency"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 30).stdout
    def unit_ms(num, unit):
        return float(num) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
    m = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    reqs = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    if errs:
        errors += int(errs.group(1)) + int(errs.group(3)) + int(errs.group(4))
    return {"rps": float(rps.group(1)) if rps else 0.0, "median_ms": unit_ms(*m.groups()) if m else None,
            "requests": int(reqs.group(1)) if reqs else 0, "errors": errors, "raw": out}


def timeit(fn, *, repeat=7, number=1):
    """Median wall time of fn() in ms over `repeat` runs (after one warm-up)."""
    fn()
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t) * 1000 / number)
    samples.sort()
    return samples[len(samples) // 2]
