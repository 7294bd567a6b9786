"""Print bench/run's results (var/bench/results.jsonl) as one table, with targets, ratios and OK/MISS."""

import json
import os
import platform
import sys
from pathlib import Path

path = Path(os.environ.get("BENCH_RESULTS", Path(__file__).resolve().parent.parent / "var" / "bench" / "results.jsonl"))
rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
cpu = "?"
try:
    cpu = next(row.split(":", 1)[1].strip() for row in open("/proc/cpuinfo") if row.startswith("model name"))
except (OSError, StopIteration):
    pass
mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
print(f"\nMachine: {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, {platform.system()} {platform.release()}, "
      f"Python {platform.python_version()}")
load = os.getloadavg()
print(f"Load average at the end of the run: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min; other work on "
      f"the machine competes with the benchmark for the {os.cpu_count()} cores)")
w = max(len(r["name"]) for r in rows)
print(f"\n{'section':<11}{'figure':<{w + 2}}{'value':>20} {'unit':<9}{'ratio':>6}  {'target':<30}result")
print("-" * (w + 86))
misses = 0
for r in rows:
    result = "" if r["ok"] is None else ("OK" if r["ok"] else "MISS")
    misses += result == "MISS"
    ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
    print(f"{r['section']:<11}{r['name']:<{w + 2}}{r['value']:>20} {r['unit']:<9}{ratio:>6}  "
          f"{r['target'] or '':<30}{result}")
    if r["note"]:
        print(f"{'':<13}  note: {r['note']}")
targets = sum(r["ok"] is not None for r in rows)
print(f"\n{targets - misses}/{targets} targets met.")
sys.exit(0)
