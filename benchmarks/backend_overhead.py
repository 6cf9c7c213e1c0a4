"""Cost of the backend's instrumentation, and the load generator's accuracy.

1. Two uvicorn processes of the same app, same flags, one with RV_INSTRUMENTATION=off (no
   metrics, spans, access logs); the instrumented one exports spans over OTLP/HTTP to a null
   receiver (accepts and discards, so serialisation and export are paid for) and writes its JSON
   lines to a file. A keep-alive HTTP client (raw asyncio streams, far cheaper than the servers)
   drives each in turn with a closed loop, alternating rounds; prints requests/s of each side and
   the ratio instrumented/plain (target >= 0.85), for two workloads: `reads` (the lightest
   path: a one-row SQLite lookup, so the worst case) and `mix` (rvlocal load's default mix).
2. `rvlocal load` at 200 rps for 10 s against the instrumented server: achieved/offered
   (target >= 0.98).

    .venv/bin/python benchmarks/backend_overhead.py --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from rvlocal import load

NULL_RECEIVER = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(instrumented: bool, workdir: Path, otlp_port: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    data = workdir / ("on" if instrumented else "off")
    data.mkdir()
    env = {**os.environ, "RV_DATA_DIR": str(data), "RV_INSTRUMENTATION": "on" if instrumented else "off",
           "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp_port}", "RV_OCR_MEDIAN_SECONDS": "0.01"}
    log = (data / "stdout.jsonl").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "rvlocal.backend.serve", "backend", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/health/liveness", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server did not start; see {data / 'stdout.jsonl'}")


def seed(url: str, n: int = 50) -> list[str]:
    ids = []
    for i in range(n):
        r = httpx.post(f"{url}/api/receipts", json={"merchant": f"M{i}", "amount": 10 + i, "currency": "USD"})
        ids.append(r.json()["id"])
    return ids


def requests_for(workload: str, ids: list[str]) -> list[bytes]:
    """Raw HTTP/1.1 requests, built once. `reads`: 70% single receipts, 30% pages of 20 (the
    lightest path, so the worst case for relative overhead). `mix`: rvlocal load's default mix
    (30% uploads with a 2 KB image, 50% reads, 20% lists)."""
    def get(path: str) -> bytes:
        return f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()

    reads = [get(f"/api/receipts/{i}") for i in ids[:35]] + [get("/api/receipts?page_size=20")] * 15
    if workload == "reads":
        return reads
    body = json.dumps({"merchant": "Bench Cafe", "amount": 12.5, "currency": "USD", "user_type": "business",
                       "image_base64": base64.b64encode(bytes(range(256)) * 8).decode()}).encode()
    upload = (b"POST /api/receipts HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
              + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    lists = [get("/api/receipts?page_size=20")] * 20
    return [upload] * 30 + reads[:35] + reads[:15] + lists


async def closed_loop(url: str, requests: list[bytes], seconds: float, connections: int) -> float:
    """Requests/s with `connections` keep-alive connections, each sending its next request
    as soon as the previous answer is read."""
    host, port = url.removeprefix("http://").split(":")
    done = 0
    stop = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, int(port))
        i = k
        while time.perf_counter() < stop:
            writer.write(requests[i % len(requests)])
            i += connections
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next(l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")))
            await reader.readexactly(length)
            done += 1
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(connections)))
    return done / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0, help="per measurement")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workload", choices=("reads", "mix"), nargs="+", default=["reads", "mix"])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        otlp_port = free_port()
        receiver = subprocess.Popen([sys.executable, "-c", NULL_RECEIVER, str(otlp_port)])
        servers = {mode: start_server(mode == "instrumented", Path(tmp), otlp_port)
                   for mode in ("plain", "instrumented")}
        try:
            ids = {mode: seed(url) for mode, (_proc, url) in servers.items()}
            for workload in args.workload:
                requests = {mode: requests_for(workload, ids[mode]) for mode in servers}
                for mode, (_proc, url) in servers.items():
                    asyncio.run(closed_loop(url, requests[mode], 1.0, args.connections))  # warm-up
                rates: dict[str, list[float]] = {"plain": [], "instrumented": []}
                for r in range(args.rounds):
                    order = ("plain", "instrumented") if r % 2 == 0 else ("instrumented", "plain")
                    for mode in order:
                        rate = asyncio.run(closed_loop(servers[mode][1], requests[mode], args.seconds,
                                                       args.connections))
                        rates[mode].append(rate)
                        print(f"{workload:>5} round {r + 1} {mode:>12}: {rate:8.0f} req/s", flush=True)
                plain, instrumented = statistics.median(rates["plain"]), statistics.median(rates["instrumented"])
                print(f"{workload:>5}: median plain {plain:.0f} req/s, instrumented {instrumented:.0f} req/s, "
                      f"ratio instrumented/plain = {instrumented / plain:.3f}  (target >= 0.85)\n", flush=True)

            plan = load.LoadPlan(servers["instrumented"][1], rps=200, duration_s=10,
                                 mix=load.Mix.parse(load.DEFAULT_MIX), seed=1)
            result = load.run_sync(plan)
            print(f"\nrvlocal load at 200 rps for 10 s: achieved {result.achieved_rps:.1f} rps, "
                  f"achieved/offered = {result.achieved_rps / plan.rps:.3f}  (target >= 0.98); "
                  f"p99 {result.percentile(99) * 1000:.1f} ms, errors {result.errors}")
        finally:
            for proc, _url in servers.values():
                proc.terminate()
                proc.wait(10)
            receiver.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
