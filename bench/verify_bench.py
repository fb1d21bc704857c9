"""Benchmark: API key verification through HTTP on a real Hub, with /healthz as the peer.

Starts ``stk hub serve`` on loopback (SQLite store in a temporary folder, or ``--store URL``),
creates an operator, a project, an env and a key through the API, then drives
``POST /internal/apikeys/verify`` for ``--seconds`` from ``--concurrency`` keep-alive
connections of one asyncio client, and then ``GET /healthz`` the same way: the server's floor
for one request, measured in the same run. Prints verifications/s, p50/p99 latency and the ratio
verify/healthz. Target: >= 2000 verifications/s with p99 < 20 ms on a 2-core machine (client and
server share it). Not a test: it prints measurements and asserts nothing.

The client is a few lines of HTTP/1.1 over asyncio streams rather than httpx, so that it takes
as little of the machine as it can from the server it measures.

    python bench/verify_bench.py [--seconds 5] [--concurrency 16] [--store URL]
    python bench/verify_bench.py --login-storm [--no-throttle]

``--login-storm`` measures verification quiet, then again while another process runs 8
threads of wrong logins as fast as the Hub answers them, and prints the ratio (target >= 0.70).
``--no-throttle`` lifts the login throttle (huge buckets), so every attempt costs an argon2
verification: what the Hub's own login executor alone protects.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import re
import secrets
import socket
import statistics
import subprocess
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

STK = Path(sysconfig.get_path("scripts")) / "stk"
TOKEN = "bench-" + secrets.token_hex(16)
PASSWORD = "bench-pass-" + secrets.token_hex(8)
LENGTH = re.compile(rb"(?i)\r\ncontent-length:\s*(\d+)")


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    def report(self, label: str) -> float:
        ordered = sorted(self.latencies)
        rate = len(ordered) / self.seconds
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
        print(
            f"  {label:<28} {rate:8.0f}/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   "
            f"statuses {dict(sorted(self.statuses.items()))}"
        )
        return rate


async def _worker(port: int, request: bytes, start: float, end: float, result: Result) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while (now := time.perf_counter()) < end:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = LENGTH.search(head)
            await reader.readexactly(int(length.group(1)) if length else 0)
            if now >= start:  # after the warm-up
                result.latencies.append(time.perf_counter() - now)
                status = int(head[9:12])
                result.statuses[status] = result.statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _drive(port: int, request: bytes, seconds: float, concurrency: int) -> Result:
    result = Result(seconds=seconds)
    start = time.perf_counter() + 0.5
    end = start + seconds
    await asyncio.gather(*(_worker(port, request, start, end, result) for _ in range(concurrency)))
    return result


def drive(port: int, request: bytes, seconds: float, concurrency: int) -> Result:
    return asyncio.run(_drive(port, request, seconds, concurrency))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_hub(
    data: Path, store: str | None, settings: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STK_")}
    env |= settings or {}
    env |= {
        "STK_HUB_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "STK_BRIDGE_TOKENS": TOKEN,
    }
    store_args = ["--data-dir", str(data)] + (["--store", store] if store else [])
    subprocess.run(
        [
            str(STK),
            "hub",
            "create-operator",
            "--email",
            "bench@example.com",
            "--password-stdin",
            *store_args,
        ],
        input=PASSWORD + "\n",
        env=env,
        text=True,
        check=True,
        capture_output=True,
    )
    port = free_port()
    with open(data / "hub.log", "ab") as log:  # the Hub logs every request, as in production
        proc = subprocess.Popen(
            [str(STK), "hub", "serve", "--port", str(port), *store_args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, port, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("the hub did not start; see " + str(data / "hub.log"))


def make_key(url: str) -> str:
    with httpx.Client(base_url=url, timeout=30) as http:
        login = http.post(
            "/v1/auth/login", json={"email": "bench@example.com", "password": PASSWORD}
        )
        http.headers["Authorization"] = f"Bearer {login.json()['token']}"
        http.post("/v1/projects", json={"name": "bench"}).raise_for_status()
        http.post("/v1/projects/bench/envs", json={"name": "prod"}).raise_for_status()
        for i in range(20):  # a few other keys in the table, as in a real env
            http.post(
                "/v1/projects/bench/envs/prod/apikeys", json={"name": f"k{i}", "roles": ["a"]}
            ).raise_for_status()
        created = http.post(
            "/v1/projects/bench/envs/prod/apikeys", json={"name": "bench", "roles": ["service"]}
        )
        created.raise_for_status()
        return str(created.json()["apiKey"])


def _storm(url: str, threads: int, stop: Any, throttled: Any, out: Any) -> None:
    """In a process of its own (so its CPU is not the measuring client's): ``threads`` loops
    of wrong logins, each on its own keep-alive connection, until ``stop``; sets ``throttled``
    at the first 429 and puts the statuses seen."""
    statuses: dict[int, int] = {}
    guard = threading.Lock()

    def loop(i: int) -> None:
        body = {"email": f"storm{i}@example.com", "password": "wrong-password-x"}
        with httpx.Client(base_url=url, timeout=30) as http:
            while not stop.is_set():
                code = http.post("/v1/auth/login", json=body).status_code
                if code == 429:
                    throttled.set()
                with guard:
                    statuses[code] = statuses.get(code, 0) + 1

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put(statuses)


def login_storm(
    port: int, url: str, verify: bytes, seconds: float, concurrency: int, throttle: bool
) -> None:
    """Quiet; then from the storm's start (the addresses' burst of argon2 work being spent);
    then once the throttle refuses the storm (its steady state), each ``seconds`` long."""
    quiet = drive(port, verify, seconds, concurrency).report("verify, quiet")
    stop, throttled = multiprocessing.Event(), multiprocessing.Event()
    queue: Any = multiprocessing.Queue()
    storm = multiprocessing.Process(target=_storm, args=(url, 8, stop, throttled, queue))
    began = time.perf_counter()
    storm.start()
    first = drive(port, verify, seconds, concurrency).report("verify, storm starting")
    if throttle and throttled.wait(60):
        print(f"  the storm was first refused (429) {time.perf_counter() - began:.1f} s in")
        steady = drive(port, verify, seconds, concurrency).report("verify, storm throttled")
    else:
        steady = drive(port, verify, seconds, concurrency).report("verify, storm (no 429)")
    stop.set()
    statuses = queue.get(timeout=60)
    storm.join(30)
    print(
        f"  login storm: {sum(statuses.values())} attempts in {time.perf_counter() - began:.1f} s,"
        f" statuses {dict(sorted(statuses.items()))}"
    )
    print(
        f"  verify under storm / quiet: {steady / quiet:.2f} "
        f"{'throttled' if throttle else 'unthrottled'}, {first / quiet:.2f} "
        "while it starts   target: >= 0.70"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--store", help="a postgresql:// URL instead of the default SQLite store")
    parser.add_argument("--login-storm", action="store_true", help="verify under a login storm")
    parser.add_argument("--no-throttle", action="store_true", help="lift the login throttle")
    args = parser.parse_args()
    settings = {}
    if args.no_throttle:
        settings = {
            f"STK_HUB_LOGIN_{name}": "1000000000"
            for name in ("EMAIL_BURST", "EMAIL_PER_MIN", "ADDRESS_BURST", "ADDRESS_PER_MIN")
        }
    with tempfile.TemporaryDirectory() as tmp:
        proc, port, url = start_hub(Path(tmp), args.store, settings)
        try:
            key = make_key(url)
            body = json.dumps({"apiKey": key, "project": "bench", "env": "prod"}).encode()
            verify = (
                b"POST /internal/apikeys/verify HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
                b"Content-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            health = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            if args.login_storm:
                throttle = "off" if args.no_throttle else "on"
                print(
                    f"POST /internal/apikeys/verify, quiet and under a login storm (throttle "
                    f"{throttle}), {args.concurrency} connections, {args.seconds:g} s each, "
                    f"store {'postgresql' if args.store else 'sqlite'} ({os.cpu_count()} cores)"
                )
                login_storm(port, url, verify, args.seconds, args.concurrency, not args.no_throttle)
                return
            print(
                f"POST /internal/apikeys/verify vs GET /healthz, {args.concurrency} connections, "
                f"{args.seconds:g} s each, store {'postgresql' if args.store else 'sqlite'} "
                f"({os.cpu_count()} cores shared by client and server)"
            )
            v = drive(port, verify, args.seconds, args.concurrency).report("verify (valid key)")
            h = drive(port, health, args.seconds, args.concurrency).report("healthz (peer)")
            print(f"  verify / healthz: {v / h:.2f}   target: verify >= 2000/s, p99 < 20 ms")
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
