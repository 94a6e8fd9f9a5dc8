"""deploy/ports.py (``make ports``, run by ``make up``): a taken Redis port is replaced by a free
one in .env, a free or the stack's own port is kept, the environment wins. Real sockets: a
listener on 127.0.0.1 stands in for the machine's own Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "ports.py"


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP listener on a kernel-picked 127.0.0.1 port: 'another Redis' holding it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_ports(env_file: Path, default: int, *extra: str, env: dict[str, str] | None = None) -> str:
    base = {k: v for k, v in os.environ.items() if k != "REDIS_PORT"}
    args = ["REDIS_PORT", "--default", str(default), "--env-file", str(env_file), *extra]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        check=True,
        timeout=30,
    )
    return done.stdout


def env_lines(env_file: Path) -> list[str]:
    return [line for line in env_file.read_text().splitlines() if line.startswith("REDIS_PORT")]


def test_a_taken_port_is_replaced_by_a_free_one_and_written(tmp_path: Path, listener: int) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("REDIS_CLIENT_PASSWORD=secret\n")
    env_file.chmod(0o600)

    out = run_ports(env_file, listener)

    (line,) = env_lines(env_file)
    chosen = int(line.split("=", 1)[1])
    assert chosen != listener
    assert "taken by another process" in out
    assert f"REDIS_PORT={chosen}" in out
    # the other lines and the file's mode (it holds passwords) are kept
    assert "REDIS_CLIENT_PASSWORD=secret" in env_file.read_text()
    assert env_file.stat().st_mode & 0o777 == 0o600
    # the chosen port can be bound: a listener there works
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", chosen))


def test_a_taken_port_in_env_file_is_replaced(tmp_path: Path, listener: int) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"REDIS_PORT={listener}\n")

    run_ports(env_file, 6379)

    (line,) = env_lines(env_file)
    assert line != f"REDIS_PORT={listener}"


def test_a_free_port_is_kept(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    port = free_port()

    out = run_ports(env_file, port)

    assert env_lines(env_file) == [f"REDIS_PORT={port}"]
    assert "free" in out


def test_the_stacks_own_port_is_kept(tmp_path: Path, listener: int) -> None:
    """A second `make up`: the stack's Redis holds the port, which is no conflict."""
    env_file = tmp_path / ".env"
    env_file.write_text(f"REDIS_PORT={listener}\n")

    out = run_ports(env_file, 6379, "--current", f"127.0.0.1:{listener}")

    assert env_lines(env_file) == [f"REDIS_PORT={listener}"]
    assert "this stack" in out


def test_the_environment_wins_and_nothing_is_written(tmp_path: Path, listener: int) -> None:
    env_file = tmp_path / ".env"

    out = run_ports(env_file, listener, env={"REDIS_PORT": str(listener)})

    assert not env_file.exists()
    assert "from the environment" in out


def test_an_empty_value_means_a_random_port_and_is_kept(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("REDIS_PORT=\n")

    run_ports(env_file, 6379)

    assert env_lines(env_file) == ["REDIS_PORT="]
