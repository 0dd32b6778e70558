"""Load-test the web API on loopback: p50/p99 latency and requests/s of ``/api/plan`` and ``/api/serve``.

Starts a real uvicorn server on 127.0.0.1 (ephemeral port), warms each endpoint up, then sends a bounded
number of requests from a few client threads (closed loop: each thread sends its next request when the
previous answer arrives). Bounded: ``--requests`` per endpoint and ``--max-seconds`` per endpoint.
Not a test; run with ``python benchmarks/bench_web.py`` (prints a table and one JSON line).
``/api/plan`` projects ``examples/chatbot.yaml`` with Monte Carlo off (``samples=0``) and, separately,
with 1000 samples.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "web"))

from conftest import LiveServer  # noqa: E402

SERVE_BODY = {"model": "llama-3.1-8b", "gpu": "h100-sxm", "batch": "32"}


def _load(url: str, method: str, path: str, kwargs: dict[str, object], n: int, threads: int, cap_s: float):
    """Send ``n`` requests with ``threads`` clients; return (latencies_s, wall_s, errors)."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(n))
    deadline = time.perf_counter() + cap_s

    def worker() -> None:
        nonlocal errors
        with httpx.Client(base_url=url, timeout=60) as c:
            while time.perf_counter() < deadline:
                with lock:
                    if next(counter, None) is None:
                        return
                start = time.perf_counter()
                r = c.request(method, path, **kwargs)  # type: ignore[arg-type]
                took = time.perf_counter() - start
                with lock:
                    latencies.append(took)
                    errors += r.status_code != 200

    start = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return latencies, time.perf_counter() - start, errors


def _quantile(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per endpoint")
    parser.add_argument("--threads", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time cap per endpoint")
    args = parser.parse_args()
    scenario = (ROOT / "examples" / "chatbot.yaml").read_text(encoding="utf-8")
    yaml_headers = {"content-type": "application/yaml"}
    cases = [
        ("/api/serve", "POST", "/api/serve", {"json": SERVE_BODY}),
        ("/api/plan (no MC)", "POST", "/api/plan?samples=0", {"content": scenario, "headers": yaml_headers}),
        (
            "/api/plan (1000 MC)",
            "POST",
            "/api/plan?samples=1000",
            {"content": scenario, "headers": yaml_headers},
        ),
    ]
    results = []
    with LiveServer() as server:
        for name, method, path, kwargs in cases:
            _load(server.url, method, path, kwargs, 5, 1, args.max_seconds)  # warm-up
            lat, wall, errors = _load(
                server.url, method, path, kwargs, args.requests, args.threads, args.max_seconds
            )
            results.append(
                {
                    "endpoint": name,
                    "requests": len(lat),
                    "errors": errors,
                    "threads": args.threads,
                    "p50_ms": round(_quantile(lat, 50) * 1e3, 2),
                    "p99_ms": round(_quantile(lat, 99) * 1e3, 2),
                    "requests_per_s": round(len(lat) / wall, 1),
                }
            )
    print(f"{'endpoint':<22}{'requests':>9}{'errors':>7}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>8}")
    for r in results:
        print(
            f"{r['endpoint']:<22}{r['requests']:>9}{r['errors']:>7}{r['p50_ms']:>9}{r['p99_ms']:>9}"
            f"{r['requests_per_s']:>8}"
        )
    print(json.dumps({"bench": "web", "results": results}))


if __name__ == "__main__":
    main()
