"""Run every benchmark and merge their figures into bench/results.json.

Each benchmark is its own script (scripts/bench_*.py) run in its own process, so that its peak
memory is its own; each writes bench/<name>.json. Usage: python scripts/bench.py [name ...]
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
ORDER = ("extraction", "graph", "qa", "compositional", "mentions", "reliability", "serving", "monitor", "aws")


def main(names: list[str]) -> int:
    """Run the named benchmarks (all by default) and write the merged JSON; returns an exit code."""
    names = names or list(ORDER)
    failed = []
    for name in names:
        script = ROOT / "scripts" / f"bench_{name}.py"
        print(f"== bench {name}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=ROOT)
        print(f"== bench {name}: exit {code} after {time.perf_counter() - started:.0f} s", file=sys.stderr)
        if code != 0:
            failed.append(name)
    import torch

    merged = {
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "platform": platform.platform(),
        },
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    for name in ORDER:
        path = BENCH / f"{name}.json"
        merged[name] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    (BENCH / "results.json").write_text(json.dumps(merged, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(merged, ensure_ascii=False, indent=2))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
