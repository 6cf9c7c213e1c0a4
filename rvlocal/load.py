"""An open-loop load generator for the local backend.

Requests leave at fixed times (i / rps after the start), whatever the server does: a slow
server gets the same offered load and its slowness shows as latency, not as a lower rate.
Latency is measured from each request's scheduled time, so a generator that falls behind
cannot hide it (no coordinated omission). Bounded in requests and time, and only to addresses
of this machine.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import random
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlsplit

import httpx

from rvlocal.errors import RvlocalError

KINDS = ("uploads", "reads", "lists")
DEFAULT_MIX = "uploads=0.3,reads=0.5,lists=0.2"
MAX_RPS = 1000
MAX_DURATION_S = 3600
MAX_REQUESTS = 1_000_000
REQUEST_TIMEOUT_S = 10.0
MAX_IN_FLIGHT = 512
MERCHANTS = ("Corner Cafe", "Hardware Co", "City Taxi", "Grocer & Sons", "Office Supplies Ltd",
             "Airport Parking", "Hotel Central", "Book Nook")


@dataclass(frozen=True)
class Mix:
    uploads: float
    reads: float
    lists: float

    @classmethod
    def parse(cls, text: str) -> "Mix":
        weights: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = part.partition("=")
            if not sep or name not in KINDS:
                raise RvlocalError(f"--mix part {part!r} is not KIND=SHARE",
                                   f"Kinds are {', '.join(KINDS)}; e.g. --mix {DEFAULT_MIX}")
            try:
                weights[name] = float(value)
            except ValueError:
                raise RvlocalError(f"--mix share {value!r} for {name} is not a number",
                                   f"e.g. --mix {DEFAULT_MIX}") from None
            if weights[name] < 0:
                raise RvlocalError(f"--mix share for {name} is negative", f"e.g. --mix {DEFAULT_MIX}")
        total = sum(weights.values())
        if abs(total - 1.0) > 1e-6:
            raise RvlocalError(f"--mix shares add up to {total:g}, not 1", f"e.g. --mix {DEFAULT_MIX}")
        return cls(*(weights.get(k, 0.0) for k in KINDS))

    def pick(self, rng: random.Random) -> str:
        return rng.choices(KINDS, weights=(self.uploads, self.reads, self.lists))[0]


@dataclass(frozen=True)
class LoadPlan:
    url: str
    rps: float
    duration_s: float
    mix: Mix
    max_requests: int = 100_000
    seed: int | None = None

    @property
    def total(self) -> int:
        return int(round(self.rps * self.duration_s))

    def validate(self) -> "LoadPlan":
        if not 0 < self.rps <= MAX_RPS:
            raise RvlocalError(f"--rps {self.rps:g} is out of range", f"Use more than 0 and at most {MAX_RPS}.")
        if not 0 < self.duration_s <= MAX_DURATION_S:
            raise RvlocalError(f"--duration of {self.duration_s:g}s is out of range",
                               f"Use at most {MAX_DURATION_S // 60}m.")
        if not 0 < self.max_requests <= MAX_REQUESTS:
            raise RvlocalError(f"--max-requests {self.max_requests} is out of range",
                               f"Use 1 to {MAX_REQUESTS}.")
        if self.total > self.max_requests:
            raise RvlocalError(
                f"{self.rps:g} rps for {self.duration_s:g}s is {self.total} requests, over the bound of {self.max_requests}",
                "Lower --rps or --duration, or raise --max-requests.")
        if self.total < 1:
            raise RvlocalError("that plan sends no request", "Raise --rps or --duration.")
        require_local(self.url)
        return self


@dataclass
class LoadResult:
    planned: int
    sent: int = 0
    completed: int = 0
    transport_errors: int = 0
    skipped_in_flight_cap: int = 0
    elapsed_s: float = 0.0
    schedule_lag_max_s: float = 0.0
    max_in_flight: int = 0
    statuses: Counter = field(default_factory=Counter)
    by_kind: Counter = field(default_factory=Counter)
    latencies_s: list[float] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if code >= 500)

    @property
    def errors(self) -> int:
        """5xx answers plus requests that got no answer."""
        return self.server_errors + self.transport_errors

    @property
    def achieved_rps(self) -> float:
        return self.completed / self.elapsed_s if self.elapsed_s else 0.0

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the latencies, in seconds."""
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))]


def require_local(url: str) -> None:
    """Refuse any target that is not this machine."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RvlocalError(f"{url!r} is not an http(s) URL", "e.g. --target http://127.0.0.1:8000")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 80, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise RvlocalError(f"cannot resolve {parts.hostname}: {exc}", "Target 127.0.0.1.") from None
    remote = sorted({i[4][0] for i in infos if not ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback})
    if remote:
        raise RvlocalError(
            f"rvlocal load only targets this machine; {parts.hostname} resolves to {', '.join(remote)}",
            "Point it at the local stack (the default) or another 127.0.0.1 port.")


class _Traffic:
    """What each request sends; reads pick ids this run created (a list when none exists yet)."""

    def __init__(self, mix: Mix, rng: random.Random) -> None:
        self.mix, self.rng, self.ids = mix, rng, []

    def request(self) -> tuple[str, str, str, dict | None]:
        kind = self.mix.pick(self.rng)
        if kind == "reads" and not self.ids:
            kind = "lists"
        if kind == "uploads":
            image = self.rng.randbytes(self.rng.randint(512, 4096))
            body = {"merchant": self.rng.choice(MERCHANTS),
                    "amount": round(self.rng.lognormvariate(3.0, 1.0), 2),
                    "currency": self.rng.choice(("USD", "EUR", "GBP")),
                    "user_type": "business" if self.rng.random() < 0.3 else "individual",
                    "image_base64": base64.b64encode(image).decode()}
            return kind, "POST", "/api/receipts", body
        if kind == "reads":
            return kind, "GET", f"/api/receipts/{self.rng.choice(self.ids)}", None
        return kind, "GET", f"/api/receipts?page={self.rng.randint(1, 3)}&page_size=20", None


Progress = Callable[[LoadResult], None]


async def run(plan: LoadPlan, on_progress: Progress = lambda r: None,
              clock: Callable[[], float] = time.perf_counter,
              stop: Callable[[], bool] = lambda: False) -> LoadResult:
    """Send the plan; `stop()` returning True ends it early (what has been sent completes)."""
    plan.validate()
    result = LoadResult(planned=plan.total)
    traffic = _Traffic(plan.mix, random.Random(plan.seed))
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=64)
    in_flight: set[asyncio.Task] = set()

    async with httpx.AsyncClient(base_url=plan.url, timeout=REQUEST_TIMEOUT_S, limits=limits) as client:
        async def one(scheduled: float, kind: str, method: str, path: str, body: dict | None) -> None:
            try:
                response = await client.request(method, path, json=body)
            except httpx.HTTPError:
                result.transport_errors += 1
                return
            result.completed += 1
            result.latencies_s.append(clock() - scheduled)
            result.statuses[response.status_code] += 1
            result.by_kind[kind] += 1
            if kind == "uploads" and response.status_code == 202:
                traffic.ids.append(response.json()["id"])

        async def report() -> None:
            while True:
                await asyncio.sleep(0.25)
                on_progress(result)

        reporter = asyncio.create_task(report())
        start = clock()
        try:
            for i in range(plan.total):
                if stop():
                    break
                scheduled = start + i / plan.rps
                delay = scheduled - clock()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    result.schedule_lag_max_s = max(result.schedule_lag_max_s, -delay)
                if len(in_flight) >= MAX_IN_FLIGHT:
                    result.skipped_in_flight_cap += 1  # open loop: skip, never wait
                    continue
                task = asyncio.create_task(one(scheduled, *traffic.request()))
                result.sent += 1
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                result.max_in_flight = max(result.max_in_flight, len(in_flight))
            if in_flight:
                await asyncio.wait(in_flight, timeout=REQUEST_TIMEOUT_S + 1)
        finally:
            reporter.cancel()
            for task in in_flight:
                task.cancel()
        result.elapsed_s = clock() - start
        on_progress(result)
    return result


def run_sync(plan: LoadPlan, on_progress: Progress = lambda r: None,
             stop: Callable[[], bool] = lambda: False) -> LoadResult:
    return asyncio.run(run(plan, on_progress, stop=stop))
