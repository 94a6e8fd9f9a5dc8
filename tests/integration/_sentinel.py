"""A Redis Sentinel deployment of real processes on loopback ports, for the failover tests.

One master, one replica and three sentinels (quorum 2), each a ``redis-server`` process (a
sentinel is ``redis-server sentinel.conf --sentinel``: Debian's redis-server package is all it
takes), in a temporary directory, stopped and removed at the end. The sentinels declare the
master down after ``DOWN_AFTER_MS`` of silence, so a failover takes a few seconds.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

MASTER = "agents-master"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SentinelDeployment:
    """The processes and their ports (see the module docstring)."""

    workdir: Path
    data_ports: list[int]
    sentinel_ports: list[int]
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """``redis+sentinel://`` URL of the master, as a service would be given it."""
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{MASTER}/0"

    def sentinel(self) -> redis.Redis:
        return redis.Redis(port=self.sentinel_ports[0], decode_responses=True)

    def master_port(self) -> int:
        with self.sentinel() as s:
            _host, port = s.sentinel_get_master_addr_by_name(MASTER)
        return int(port)

    def kill(self, port: int) -> None:
        """SIGKILL the data node on ``port``: no shutdown, no last flush."""
        proc = self.processes.pop(port)
        proc.kill()
        proc.wait(10)

    def wait_for_failover(self, old_port: int, timeout_s: float = 60) -> int:
        """Until the sentinels name another master than ``old_port`` and it takes writes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            port = self.master_port()
            if port != old_port:
                with redis.Redis(port=port) as r:
                    role = r.role()
                if role and role[0] in (b"master", "master"):
                    return port
            time.sleep(0.1)
        raise TimeoutError(f"no failover from {old_port} within {timeout_s} s")

    def stop(self) -> None:
        for proc in self.processes.values():
            proc.terminate()
        for proc in self.processes.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self.processes.clear()


def _start(binary: str, args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([binary, *args, "--logfile", str(log)])


def _wait(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    with redis.Redis(port=port) as probe:
        while True:
            try:
                probe.ping()
                return
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = log.read_text(errors="replace") if log.exists() else ""
                    pytest.fail(f"redis process on {port} did not start:\n{out[-2000:]}")
                time.sleep(0.02)


@contextmanager
def sentinel_deployment() -> Iterator[SentinelDeployment]:
    """Start the deployment; wait until the sentinels see the master and its replica."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "the Sentinel tests start redis-server processes: install it (apt redis-server)"
        )
    workdir = Path(tempfile.mkdtemp(prefix="agent-streams-sentinel-"))
    d = SentinelDeployment(workdir, [free_port(), free_port()], [free_port() for _ in range(3)])
    try:
        master, replica = d.data_ports
        for port in d.data_ports:
            node = workdir / str(port)
            node.mkdir()
            args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(node)]
            args += ["--save", "", "--appendonly", "no"]
            if port == replica:
                args += ["--replicaof", "127.0.0.1", str(master)]
            d.processes[port] = _start(binary, args, node / "redis.log")
            _wait(port, d.processes[port], node / "redis.log")
        for port in d.sentinel_ports:
            conf = workdir / f"sentinel-{port}.conf"  # sentinels rewrite it: a file of its own
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {workdir}\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {master} 2\n"
                f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}\n"
                f"sentinel parallel-syncs {MASTER} 1\n"
            )
            log = workdir / f"sentinel-{port}.log"
            d.processes[port] = _start(binary, [str(conf), "--sentinel"], log)
            _wait(port, d.processes[port], log)
        deadline = time.monotonic() + 30
        with d.sentinel() as s:
            while len(s.sentinel_slaves(MASTER)) < 1 or len(s.sentinel_sentinels(MASTER)) < 2:
                if time.monotonic() > deadline:
                    pytest.fail("the sentinels did not discover the replica and each other")
                time.sleep(0.1)
        yield d
    finally:
        d.stop()
        shutil.rmtree(workdir, ignore_errors=True)
