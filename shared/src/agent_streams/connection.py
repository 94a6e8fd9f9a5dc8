"""Redis connections from a URL, a Sentinel-managed master included.

Every process connects through here (the runtime's pool, the client and so the CLI), so that
one URL setting (``AGENT_STREAMS_REDIS_URL``) reaches any Redis a deployment runs::

    redis://[user:password@]host:port/db                one server (rediss:// over TLS)
    unix:///path/to/redis.sock?db=0                     one server on a Unix socket
    redis+sentinel://[user:password@]host:port[,host:port...]/master-name[/db]
        [?sentinel_username=...&sentinel_password=...]  the master Redis Sentinel names
    rediss+sentinel://...                               the same, TLS to master and replicas

With Sentinel, the URL lists the *sentinels*; the user and password are the data nodes' (the
services' ACL users, as with one server); ``sentinel_username`` / ``sentinel_password`` are the
sentinels' own, when they require auth. A connection asks the sentinels for the master's address
when it connects, and a connection to a master that was demoted (``READONLY`` on a write) is
dropped, so the next command reconnects to the new master: after a failover the runtime's usual
retries (with back-off) find it. What a failover can lose is Redis' own matter: writes the old
master acknowledged but had not replicated yet (RELIABILITY.md).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.connection import SSLConnection
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection
from redis.exceptions import ConnectionError

__all__ = [
    "SentinelTarget",
    "connection_pool",
    "is_sentinel_url",
    "parse_sentinel_url",
    "redis_client",
]

_SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}
DEFAULT_SENTINEL_PORT = 26379


@dataclass(frozen=True, slots=True)
class SentinelTarget:
    """A ``redis+sentinel://`` URL, parsed (see the module docstring)."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None
    ssl: bool = False


def is_sentinel_url(url: str) -> bool:
    return url.split("://", 1)[0].lower() in _SENTINEL_SCHEMES


def parse_sentinel_url(url: str) -> SentinelTarget:
    """Parse ``url``; ValueError naming what is wrong (the URL's password is never shown)."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in _SENTINEL_SCHEMES:
        raise ValueError(f"not a Sentinel URL (scheme {scheme!r})")
    # urlsplit rejects several host:port pairs in its netloc: split them off by hand
    userinfo, _, hosts_and_path = rest.rpartition("@")
    hosts, _, path_and_query = hosts_and_path.partition("/")
    parts = urlsplit(f"x://h/{path_and_query}")
    sentinels = []
    for item in filter(None, hosts.split(",")):
        host, _, port = item.rpartition(":") if ":" in item else (item, "", "")
        try:
            sentinels.append((host, int(port) if port else DEFAULT_SENTINEL_PORT))
        except ValueError:
            raise ValueError(f"Sentinel URL: bad port in {item!r}") from None
    if not sentinels:
        raise ValueError("Sentinel URL: no sentinel host:port")
    segments = [s for s in parts.path.split("/") if s]
    if not segments or len(segments) > 2:
        raise ValueError("Sentinel URL: the path must be /master-name or /master-name/db")
    try:
        db = int(segments[1]) if len(segments) == 2 else 0
    except ValueError:
        raise ValueError(f"Sentinel URL: the database {segments[1]!r} is not a number") from None
    user, _, password = userinfo.partition(":") if userinfo else ("", "", "")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return SentinelTarget(
        sentinels=tuple(sentinels),
        master=unquote(segments[0]),
        db=db,
        username=unquote(user) or None,
        password=unquote(password) or None,
        sentinel_username=query.get("sentinel_username"),
        sentinel_password=query.get("sentinel_password"),
        ssl=_SENTINEL_SCHEMES[scheme.lower()],
    )


class _MasterConnection(SentinelManagedConnection):
    """Asks the sentinels for the master's address on every (re)connect.

    redis-py's Sentinel connection does so in ``connect()`` only, but a connection that was
    dropped reconnects through ``connect_check_health()`` when it next sends (the runtime's
    kept connections do, see ``streams.fastpath``): that would retry the old master forever.
    """

    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if not self.is_connected and self.connection_pool.is_master:
            self.host, self.port = await self.connection_pool.get_master_address()
        await super().connect_check_health(check_health, retry_socket_connect)


class _MasterSSLConnection(_MasterConnection, SSLConnection):
    pass


class _OwnedSentinelPool(SentinelConnectionPool):
    """A Sentinel pool that closes its sentinel connections when it is closed (``aclose``;
    not in ``disconnect``, which it also runs when the master changes)."""

    closed = False

    async def get_master_address(self) -> tuple[str, int]:
        """The master's address, one sentinel query at a time: redis-py's discovery reorders
        its list of sentinel clients without a lock, and concurrent queries (every dropped
        connection reconnecting at once after a failover) could drop a client from the list,
        which then was never closed."""
        if self.closed:  # asking the sentinels now would reopen their closed clients
            raise ConnectionError("the connection pool is closed")
        lock = self.__dict__.setdefault("_discovery", asyncio.Lock())
        async with lock:
            address: tuple[str, int] = await super().get_master_address()  # type: ignore[no-untyped-call]
        return address

    async def aclose(self) -> None:
        self.closed = True
        try:
            await super().aclose()
        finally:
            await self.sentinel_manager.aclose()


def connection_pool(url: str, **options: Any) -> aioredis.ConnectionPool:
    """A connection pool for ``url`` with redis-py ``options`` (``protocol``, timeouts...)."""
    if not is_sentinel_url(url):
        return aioredis.ConnectionPool.from_url(url, **options)
    target = parse_sentinel_url(url)
    sentinel_options: dict[str, Any] = {
        k: v for k, v in options.items() if k.startswith("socket_") or k == "protocol"
    }
    # One connection per sentinel, its commands in turn: the queries are rare and short
    # (a master address per reconnect), and a pool of them leaked connections when a query
    # was cancelled mid-way (a service stopping during a failover).
    sentinel_options["single_connection_client"] = True
    if target.sentinel_username:
        sentinel_options["username"] = target.sentinel_username
    if target.sentinel_password:
        sentinel_options["password"] = target.sentinel_password
    # redis-py's sentinel module has no type annotations
    manager = Sentinel(list(target.sentinels), sentinel_kwargs=sentinel_options)  # type: ignore[no-untyped-call]
    return _OwnedSentinelPool(  # type: ignore[no-untyped-call]
        target.master,
        manager,
        db=target.db,
        username=target.username,
        password=target.password,
        connection_class=_MasterSSLConnection if target.ssl else _MasterConnection,
        **options,
    )


def redis_client(url: str, **options: Any) -> aioredis.Redis:
    """A client owning its pool (``aclose()`` closes both) for ``url``; see ``connection_pool``."""
    return aioredis.Redis.from_pool(connection_pool(url, **options))
