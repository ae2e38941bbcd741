"""QMP latency under load: N clients poll query-status while the guest runs at full speed.

Reports the reply latency (p50, p99, max) and the guest's speed (MIPS, from the timebase, which
advances one tick per instruction) without clients and with them.

    python benchmarks/qmp_latency.py [--clients 10] [--interval 0.01] [--seconds 5]
                                     [--worker-python pypy3] [--engine interp]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from qmp.guests import SPIN, write_guest  # noqa: E402


class Client:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    @classmethod
    async def connect(cls, path: str) -> "Client":
        client = cls(await trio.open_unix_socket(path))
        await client.reply()                                    # greeting
        await client.execute("qmp_capabilities")
        return client

    async def reply(self) -> dict:
        while True:
            while b"\r\n" not in self.buffer:
                self.buffer += await self.stream.receive_some(1 << 16)
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            message = json.loads(line)
            if "event" not in message:
                return message

    async def execute(self, name: str, arguments: dict = None) -> dict:
        request = {"execute": name, **({"arguments": arguments} if arguments else {})}
        await self.stream.send_all(json.dumps(request).encode())
        return await self.reply()


async def timebase(client: Client) -> int:
    text = (await client.execute("human-monitor-command",
                                 {"command-line": "info registers"}))["return"]
    upper, lower = text.split("TB ")[1].split()[:2]
    return int(upper, 16) << 32 | int(lower, 16)


async def mips(client: Client, seconds: float) -> float:
    start, t0 = await timebase(client), time.monotonic()
    await trio.sleep(seconds)
    end, t1 = await timebase(client), time.monotonic()
    return (end - start) / (t1 - t0) / 1e6


async def poll(path: str, interval: float, until: float, latencies: list) -> None:
    client = await Client.connect(path)
    while time.monotonic() < until:
        t0 = time.perf_counter()
        reply = await client.execute("query-status")
        latencies.append(time.perf_counter() - t0)
        assert reply["return"]["status"] == "running"
        await trio.sleep(interval)
    await client.stream.aclose()


async def measure(path: str, clients: int, interval: float, seconds: float) -> dict:
    monitor = await Client.connect(path)
    await trio.sleep(1.0)                       # let the engine warm up
    idle = await mips(monitor, seconds)
    latencies: list = []
    async with trio.open_nursery() as nursery:
        until = time.monotonic() + seconds + 0.5
        for _ in range(clients):
            nursery.start_soon(poll, path, interval, until, latencies)
        loaded = await mips(monitor, seconds)
    latencies.sort()
    return {
        "requests": len(latencies),
        "p50_ms": 1e3 * statistics.median(latencies),
        "p99_ms": 1e3 * latencies[int(0.99 * (len(latencies) - 1))],
        "max_ms": 1e3 * latencies[-1],
        "mips_alone": idle,
        "mips_polled": loaded,
        "mips_drop_percent": 100 * (idle - loaded) / idle,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--interval", type=float, default=0.01,
                        help="seconds between one client's requests (0: back to back)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--worker-python", default=sys.executable)
    parser.add_argument("--engine", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kernel = write_guest(Path(tmp) / "spin.elf", SPIN)
        path = os.path.join(tmp, "qmp.sock")
        command = [sys.executable, "-m", "ppcd.cli", "run", "--kernel", str(kernel),
                   "--serial", "null", "--qmp", f"unix:{path}",
                   "--worker-python", args.worker_python]
        if args.engine:
            command += ["--engine", args.engine]
        daemon = subprocess.Popen(command, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        try:
            while not os.path.exists(path):
                time.sleep(0.05)
            result = trio.run(measure, path, args.clients, args.interval, args.seconds)
        finally:
            daemon.terminate()
            daemon.wait()
    result.update(clients=args.clients, interval=args.interval,
                  worker=Path(args.worker_python).name, engine=args.engine or "default")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
