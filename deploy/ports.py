"""Pick the host port a compose service publishes on 127.0.0.1 (``make up``, ``make ports``).

    python3 deploy/ports.py REDIS_PORT --default 6379 --current "$(docker compose port redis 6379)"

A new user's machine may already run its own Redis on 6379 (or anything else on a default
port); compose would then die with Docker's "address already in use". This picks the port
before compose starts, writes it to the env file compose reads (``.env``), and prints it:

1. ``NAME`` set in the environment (``REDIS_PORT=6380 make up``): the user chose; used as is,
   nothing written. Empty means a random port, as in docker-compose.yml.
2. Else the env file's ``NAME=`` line, or ``--default``.
3. That port is kept when it is free, or when it is this stack's own (``--current``: what
   ``docker compose port`` answers while the stack runs; a second ``make up`` finds its own
   Redis on the port, which is no conflict).
4. Else the first free port after it (up to 100 above), else one the kernel picks; written to
   the env file, and said why.

Free means a TCP listener can bind 127.0.0.1:PORT with SO_REUSEADDR, as the engine's proxy
does; a process listening on 0.0.0.0 or 127.0.0.1 makes the bind fail. The port can still be
taken between this check and compose's start (another process racing for it): compose then
fails as before, and a rerun picks again.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sys
from pathlib import Path

SEARCH_SPAN = 100


def is_free(port: int) -> bool:
    """Whether a listener could bind 127.0.0.1:``port`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def kernel_port() -> int:
    """A free port the kernel picks (its ephemeral range)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def first_free(start: int) -> int:
    """The first free port above ``start`` (within SEARCH_SPAN), else a kernel-picked one."""
    for port in range(start + 1, min(start + SEARCH_SPAN, 65535) + 1):
        if is_free(port):
            return port
    return kernel_port()


def read_env_value(env_file: Path, name: str) -> str | None:
    """The value of the last ``name=`` line of ``env_file`` (None: no such line)."""
    if not env_file.exists():
        return None
    value = None
    for line in env_file.read_text().splitlines():
        if line.startswith(f"{name}="):
            value = line.split("=", 1)[1].strip()
    return value


def write_env_value(env_file: Path, name: str, value: str) -> None:
    """Set ``name=value`` in ``env_file``: every earlier ``name=`` line replaced by one."""
    lines = env_file.read_text().splitlines() if env_file.exists() else []
    pattern = re.compile(rf"^{re.escape(name)}=")
    kept = [line for line in lines if not pattern.match(line)]
    kept.append(f"{name}={value}")
    tmp = env_file.with_name(env_file.name + ".tmp")
    tmp.write_text("\n".join(kept) + "\n")
    if env_file.exists():
        os.chmod(tmp, env_file.stat().st_mode & 0o777)  # .env holds passwords: keep its mode
    tmp.replace(env_file)


def current_port(published: str) -> int | None:
    """The port of ``docker compose port`` output (``127.0.0.1:6380``); None when not running."""
    match = re.search(r":(\d+)\s*$", published.strip())
    return int(match.group(1)) if match else None


def pick(name: str, default: int, env_file: Path, published: str) -> tuple[str, str]:
    """The value for ``name`` and a one-line account of the choice (see the module docstring)."""
    if name in os.environ:
        value = os.environ[name]
        return value, f"{name}={value or '(random)'}: from the environment, used as is"
    configured = read_env_value(env_file, name)
    if configured == "":
        return "", f"{name} empty in {env_file}: a random free port"
    wanted = int(configured) if configured else default
    source = env_file if configured else "the default"
    if current_port(published) == wanted:
        return str(wanted), f"{name}={wanted} ({source}): in use by this stack already, kept"
    if is_free(wanted):
        return str(wanted), f"{name}={wanted} ({source}): free"
    chosen = first_free(wanted)
    return str(chosen), (
        f"{name}={chosen}: 127.0.0.1:{wanted} ({source}) is taken by another process "
        f"(another Redis?), so this stack publishes on {chosen}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("name", help="the compose variable, e.g. REDIS_PORT")
    parser.add_argument("--default", type=int, required=True, help="docker-compose.yml's default")
    parser.add_argument("--env-file", type=Path, default=Path(".env"), help="default: .env")
    parser.add_argument(
        "--current", default="", help="`docker compose port SERVICE PORT` output, if running"
    )
    args = parser.parse_args(argv)
    try:
        value, why = pick(args.name, args.default, args.env_file, args.current)
    except ValueError as exc:
        print(f"ports.py: {args.name} in {args.env_file}: not a port: {exc}", file=sys.stderr)
        return 2
    if args.name not in os.environ and read_env_value(args.env_file, args.name) != value:
        write_env_value(args.env_file, args.name, value)
        why += f"; written to {args.env_file}"
    print(why)
    return 0


if __name__ == "__main__":
    sys.exit(main())
