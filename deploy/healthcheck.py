#!/usr/bin/env python3
"""Container healthcheck of the agent-streams services (``agent-streams-healthcheck`` in the
service image; compose runs it every few seconds in every replica).

A service has no HTTP port to probe, so healthy means what the service needs to work:

1. a process in this container (the service: the probe has not connected yet) holds an
   ESTABLISHED TCP connection to the Redis of its URL, read from ``/proc/net/tcp`` and
   ``/proc/net/tcp6`` of the container's network namespace;
2. that Redis answers a PING from here with the same URL, credentials included (``AUTH`` with
   the URL's user and password; ``rediss://`` over TLS).

A service that lost Redis (and is retrying with backoff), or never connected, is unhealthy; so is
one whose credentials Redis refuses. Why not ask Redis for the service's consumers instead:
Redis before 7.2 creates a consumer only when it is first handed an entry, so an idle replica
would look dead, and ``CLIENT LIST`` needs an ACL permission the services should not have.

With a ``redis+sentinel://`` URL, the sentinels are asked for the current master first, and
the two checks apply to it (so after a failover a service still on the old master is unhealthy).

The URL follows the services' rule (``RuntimeSettings.redis_url``): ``AGENT_STREAMS_REDIS_URL``,
else ``REDIS_URL``, else ``redis://127.0.0.1:6379/0``. Standard library only: importing the
agent_streams package would cost half a second of CPU per probe, per replica.

Exit status 0 (healthy) or 1, with one line saying why: ``docker inspect`` shows it.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_URL = "redis://127.0.0.1:6379/0"
_ESTABLISHED = "01"
_TIMEOUT_S = 3.0


def redis_url(environ: dict[str, str] | os._Environ[str] = os.environ) -> str:
    """The URL the services use, by the same rule as ``RuntimeSettings``."""
    return environ.get("AGENT_STREAMS_REDIS_URL") or environ.get("REDIS_URL") or DEFAULT_URL


def decode_address(hex_address: str) -> tuple[str, int]:
    """``0100007F:18EB`` (as the kernel prints it) -> ("127.0.0.1", 6379)."""
    hex_ip, hex_port = hex_address.split(":")
    raw = bytes.fromhex(hex_ip)
    # Each 32-bit word is printed in host byte order (little-endian on x86 and arm64).
    words = [raw[i : i + 4][::-1] for i in range(0, len(raw), 4)]
    ip = ipaddress.ip_address(b"".join(words))
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip), int(hex_port, 16)


def established_peers(proc_net: Path = Path("/proc/net")) -> set[tuple[str, int]]:
    """Remote (ip, port) of every ESTABLISHED TCP connection in this network namespace."""
    peers: set[tuple[str, int]] = set()
    for name in ("tcp", "tcp6"):
        try:
            lines = (proc_net / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == _ESTABLISHED:
                peers.add(decode_address(fields[2]))
    return peers


def _command(*args: str) -> bytes:
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def ping(url: str, timeout_s: float = _TIMEOUT_S) -> str | None:
    """None when Redis at ``url`` answers PING (after AUTH when the URL has a password)."""
    parts = urlsplit(url)
    try:
        if parts.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout_s)
            sock.connect(parts.path)
        else:
            sock = socket.create_connection(
                (parts.hostname or "127.0.0.1", parts.port or 6379), timeout=timeout_s
            )
            if parts.scheme == "rediss":
                import ssl  # only here: it is the slowest import of this probe

                context = ssl.create_default_context()
                if parse_qs(parts.query).get("ssl_cert_reqs") == ["none"]:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                sock = context.wrap_socket(sock, server_hostname=parts.hostname)
    except OSError as exc:
        return f"cannot connect to Redis: {exc}"
    with sock, sock.makefile("rb") as replies:
        try:
            if parts.password is not None:
                user = unquote(parts.username or "default")
                sock.sendall(_command("AUTH", user, unquote(parts.password)))
                answer = replies.readline().strip()
                if not answer.startswith(b"+OK"):
                    return f"Redis refused the credentials: {answer[:200].decode(errors='replace')}"
            sock.sendall(_command("PING"))
            answer = replies.readline().strip()
        except OSError as exc:
            return f"Redis does not answer: {exc}"
    if answer != b"+PONG":
        return f"Redis answered PING with {answer[:200].decode(errors='replace')!r}"
    return None


def _bulk(replies: Any) -> str:
    """One RESP bulk string from ``replies`` (``$3\\r\\nabc\\r\\n``)."""
    header = replies.readline().strip()
    if not header.startswith(b"$"):
        raise OSError(f"unexpected reply {header[:100]!r}")
    return str(replies.readline().strip().decode())


def master_url(url: str, timeout_s: float = _TIMEOUT_S) -> str:
    """For a ``redis+sentinel://`` URL (agent_streams.connection): the current master's
    ``redis://`` URL with the same credentials and database, asked of each sentinel in turn
    (sentinels that require a password of their own are not supported here)."""
    scheme, _, rest = url.partition("://")
    userinfo, _, hosts_and_path = rest.rpartition("@")
    hosts, _, path = hosts_and_path.partition("/")
    segments = [s for s in path.split("?", 1)[0].split("/") if s]
    if not segments:
        raise OSError("the Sentinel URL names no master")
    db = segments[1] if len(segments) > 1 else "0"
    errors = []
    for item in filter(None, hosts.split(",")):
        host, _, port = item.rpartition(":") if ":" in item else (item, "", "")
        try:
            with socket.create_connection((host, int(port or 26379)), timeout=timeout_s) as sock:
                sock.sendall(_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", unquote(segments[0])))
                with sock.makefile("rb") as replies:
                    if replies.readline().strip() != b"*2":
                        raise OSError("the sentinel knows no such master")
                    ip, master_port = _bulk(replies), _bulk(replies)
        except OSError as exc:
            errors.append(f"{item}: {exc}")
            continue
        tls = "rediss" if scheme.lower().startswith("rediss") else "redis"
        auth = f"{userinfo}@" if userinfo else ""
        return f"{tls}://{auth}{ip}:{master_port}/{db}"
    raise OSError("no sentinel named the master: " + "; ".join(errors))


def check(url: str, proc_net: Path = Path("/proc/net")) -> str | None:
    """None when healthy, else the reason (see the module docstring)."""
    if url.split("://", 1)[0].lower().endswith("+sentinel"):
        try:
            url = master_url(url)
        except OSError as exc:
            return f"cannot find the master through Sentinel: {exc}"
    parts = urlsplit(url)
    if parts.scheme != "unix":
        port = parts.port or 6379
        try:
            infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            return f"cannot resolve the Redis host: {exc}"
        ips = {str(info[4][0]) for info in infos}
        # Before the probe connects: any connection found is the service's own.
        if not any(ip in ips and p == port for ip, p in established_peers(proc_net)):
            return "no process in this container is connected to Redis"
    return ping(url)


def main() -> int:
    try:
        problem = check(redis_url())
    except Exception as exc:  # a probe answers with one line, never a traceback
        problem = f"{type(exc).__name__}: {exc}"
    print(problem or "healthy")
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main())
