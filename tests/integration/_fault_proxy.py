"""FaultProxy: a real TCP proxy between a runtime and Redis that drops connections on cue.

Not a test double: every byte goes to the real Redis over a real connection. A rule names a
Redis command (and optionally bytes the write must contain, e.g. a reply stream's name); when a
client write carries that command, the proxy aborts the client's connection and its upstream
without forwarding the write, so the command never reaches Redis and the client sees the
connection drop, as it would when Redis restarts or the network blips. ``times`` rules fire
that many times and then let the command through.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from urllib.parse import urlparse

__all__ = ["DropRule", "FaultProxy"]

# A RESP array's first element: the command name (what redis-py and hiredis send).
_COMMAND = re.compile(rb"\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n")


@dataclass
class DropRule:
    """Drop the connection of the next ``times`` writes carrying ``command`` (and ``contains``)."""

    command: str
    times: int
    contains: bytes = b""
    dropped: int = 0
    fired: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once every planned drop happened."""

    def matches(self, names: list[str], chunk: bytes) -> bool:
        return (
            self.dropped < self.times
            and self.command in names
            and (not self.contains or self.contains in chunk)
        )


class FaultProxy:
    """Listens on a free loopback port and forwards to ``upstream_url``'s Redis."""

    def __init__(self, upstream_url: str) -> None:
        parsed = urlparse(upstream_url)
        self._host = parsed.hostname or "127.0.0.1"
        self._port = parsed.port or 6379
        self._upstream_url = upstream_url
        self._rules: list[DropRule] = []
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self.url = ""

    async def start(self) -> str:
        """Start listening; returns the Redis URL that goes through the proxy."""
        self._server = await asyncio.start_server(self._on_client, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        parsed = urlparse(self._upstream_url)
        netloc = f"127.0.0.1:{port}"
        if parsed.username or parsed.password:
            netloc = f"{parsed.username or ''}:{parsed.password or ''}@{netloc}"
        self.url = parsed._replace(netloc=netloc).geturl()
        return self.url

    def drop(self, command: str, *, times: int, contains: bytes = b"") -> DropRule:
        rule = DropRule(command.upper(), times, contains)
        self._rules.append(rule)
        return rule

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._pipes:
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
        except OSError:
            writer.transport.abort()
            return
        aborted = asyncio.Event()

        def abort() -> None:
            aborted.set()
            writer.transport.abort()
            up_writer.transport.abort()

        async def upstream() -> None:
            while data := await reader.read(65536):
                names = [m.upper().decode() for m in _COMMAND.findall(data)]
                for rule in self._rules:
                    if rule.matches(names, data):
                        rule.dropped += 1
                        if rule.dropped >= rule.times:
                            rule.fired.set()
                        abort()
                        return
                up_writer.write(data)
                await up_writer.drain()
            abort()

        async def downstream() -> None:
            while data := await up_reader.read(65536):
                writer.write(data)
                await writer.drain()
            abort()

        tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
        self._pipes.update(tasks)
        for task in tasks:
            task.add_done_callback(self._pipes.discard)
        # A pipe ends with the connection (reset by a peer, or by a rule): nothing to report.
        await asyncio.gather(*tasks, return_exceptions=True)
        abort()
