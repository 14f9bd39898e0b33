"""The delivery proof's own overhead against the waits it must make: `verify --delivery` on the demo at speed 0.

One demo install, then RUNS proofs. While each runs, this process watches the simulated world itself over its
loopback APIs (every 10 ms: the registry's manifest of query-api:<sha>, the Freight with that digest, beta's
Promotion of it) and notes when each link became true there; the proof's output lines are timestamped as they
arrive. Per run: the world's chain time (start → beta's Promotion Succeeded), the proof's wall time, and the
overhead = wall − chain (process start-up, unlock, polling latency). Medians of RUNS.

Usage: python -m bench.delivery [RUNS]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.common import EXE, compile_package


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_") and k != "PYTHON_KEYRING_BACKEND"}
    out.update({"STONKS_SIM_SPEED": "0", "PYTHONUNBUFFERED": "1"})
    return out


def one(state: Path, sha: str) -> dict[str, float]:
    world = json.loads((state / "demo" / "world.json").read_text())
    ports = world["ports"]
    registry, kube = f"http://127.0.0.1:{ports['registry']}", f"http://127.0.0.1:{ports['kube']}"
    before = {f["object"]["metadata"]["name"] for f in world["kube"]["objects"] if f["plural"] == "freights"}
    seen: dict[str, float] = {}
    lines: dict[str, float] = {}
    t0 = time.perf_counter()
    proc = subprocess.Popen([EXE, "--state-dir", str(state), "--demo", "verify", "--delivery"], env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            for link in ("pipeline", "image", "freight", "beta", "beta-app"):
                if line.startswith(f"PASS {link}:") and link not in lines:
                    lines[link] = time.perf_counter() - t0

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    headers = {"Authorization": "Bearer sim-kube-token"}
    digest = ""
    with httpx.Client(timeout=2) as http:
        while proc.poll() is None and "beta" not in seen:
            try:
                if "image" not in seen:
                    r = http.head(f"{registry}/v2/stonks-oracle/query-api/manifests/{sha}")
                    if r.status_code == 200 and r.headers.get("Docker-Content-Digest") != getattr(one, "last", ""):
                        digest = r.headers["Docker-Content-Digest"]
                        one.last = digest  # type: ignore[attr-defined]
                        seen["image"] = time.perf_counter() - t0
                if "image" in seen and "freight" not in seen:
                    items = http.get(f"{kube}/apis/kargo.akuity.io/v1alpha1/namespaces/stonks-oracle/freights",
                                     headers=headers).json().get("items", [])
                    mine = [f for f in items if f["metadata"]["name"] not in before
                            and any(i.get("digest") == digest for i in f.get("images") or [])]
                    if mine:
                        seen["freight"], freight = time.perf_counter() - t0, mine[0]["metadata"]["name"]
                if "freight" in seen:
                    promos = http.get(f"{kube}/apis/kargo.akuity.io/v1alpha1/namespaces/stonks-oracle/promotions",
                                      headers=headers).json().get("items", [])
                    if any(p["spec"].get("freight") == freight and (p.get("status") or {}).get("phase") ==
                           "Succeeded" for p in promos):
                        seen["beta"] = time.perf_counter() - t0
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.01)
    proc.wait(timeout=300)
    reader.join(timeout=5)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or "beta" not in seen:
        raise RuntimeError(f"the proof failed (exit {proc.returncode}); world saw {seen}, proof printed {lines}")
    return {"wall": wall, "chain": seen["beta"], "overhead": wall - seen["beta"],
            **{f"lag {k}": lines[k] - seen[k] for k in ("image", "freight", "beta") if k in lines}}


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    compile_package()
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as tmp:
        state = Path(tmp)
        subprocess.run([EXE, "--state-dir", str(state), "--demo", "install", "--yes", "--quiet"], env=env(),
                       check=True, capture_output=True)
        sha = subprocess.run(["git", "-C", str(state / "demo" / "stonks-oracle"), "rev-parse", "main"],
                             capture_output=True, text=True, check=True).stdout.strip()
        results = [one(state, sha) for _ in range(runs)]
    print(f"verify --delivery on the demo at speed 0, {runs} runs (medians):")
    for key in results[0]:
        values = [r[key] for r in results if key in r]
        print(f"  {key:<14} {statistics.median(values):6.2f} s   (runs: {', '.join(f'{v:.2f}' for v in values)})")


if __name__ == "__main__":
    main()
