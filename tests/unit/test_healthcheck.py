"""deploy/healthcheck.py: /proc/net/tcp{,6} parsing, the URL rule, PING against a real Redis."""

from __future__ import annotations

import importlib.util
import socket
import threading
from pathlib import Path
from types import ModuleType

import pytest

from agent_streams.streams.settings import RuntimeSettings


def _load() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "deploy" / "healthcheck.py"
    spec = importlib.util.spec_from_file_location("agent_streams_healthcheck", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hc = _load()

TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0B00007F:A4F3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 030012AC:C2D6 020012AC:18EB 01 00000000:00000000 02:000A7B5C 00000000 10002        0 2 1
   2: 030012AC:C2D8 020012AC:18EB 06 00000000:00000000 03:00000B3C 00000000     0        0 0 3
"""
TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue
   0: 0000000000000000FFFF0000030012AC:9A10 0000000000000000FFFF0000040012AC:18EB 01 0000:0000
   1: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:D431 01 0000:0000
"""


def test_decode_ipv4_and_ipv6_as_the_kernel_prints_them() -> None:
    assert hc.decode_address("020012AC:18EB") == ("172.18.0.2", 6379)
    assert hc.decode_address("0100007F:1F90") == ("127.0.0.1", 8080)
    assert hc.decode_address("00000000000000000000000001000000:1F90") == ("::1", 8080)
    # an IPv4 peer of an IPv6 socket is reported as the IPv4 address
    assert hc.decode_address("0000000000000000FFFF0000040012AC:18EB") == ("172.18.0.4", 6379)


def test_only_established_connections_count(tmp_path: Path) -> None:
    (tmp_path / "tcp").write_text(TCP)
    (tmp_path / "tcp6").write_text(TCP6)
    assert hc.established_peers(tmp_path) == {
        ("172.18.0.2", 6379),
        ("172.18.0.4", 6379),
        ("::1", 54321),
    }


def test_missing_proc_files_mean_no_peers(tmp_path: Path) -> None:
    assert hc.established_peers(tmp_path) == set()


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"REDIS_URL": "redis://a:1/0"},
        {"AGENT_STREAMS_REDIS_URL": "redis://b:2/0", "REDIS_URL": "redis://a:1/0"},
    ],
)
def test_url_rule_is_the_services_rule(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AGENT_STREAMS_REDIS_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert hc.redis_url(env) == RuntimeSettings().redis_url


def test_ping_a_server_that_is_not_redis_is_unhealthy() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]

        def answer() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(100)
                conn.sendall(b"-ERR unknown command\r\n")

        thread = threading.Thread(target=answer)
        thread.start()
        problem = hc.ping(f"redis://127.0.0.1:{port}/0", timeout_s=2)
        thread.join()
    assert problem is not None
    assert "PING" in problem


@pytest.mark.redis
def test_ping_and_check_against_real_redis(redis_url: str, tmp_path: Path) -> None:
    assert hc.ping(redis_url) is None
    # No connection of "the service" in this fake /proc: unhealthy, and says why.
    (tmp_path / "tcp").write_text(TCP.splitlines()[0] + "\n")
    assert "no process" in (hc.check(redis_url, proc_net=tmp_path) or "")
