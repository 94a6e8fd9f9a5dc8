"""The sandbox containers: their locked-down spec, their start, their channel, their removal.

Lock-down, all by default: no network (``network_mode=none``), memory (swap included), CPU and
pids limits, read-only root, the work dir and /tmp as size- and inode-capped tmpfs mounts, a
non-root user, every capability dropped, no-new-privileges, no log driver (output goes only to
us), and the wall-clock timeout enforced here as well as inside (see ``channel.py``).

No container outlives its executor: it is created with ``StdinOnce`` and ``AutoRemove``, so when
the attach connection closes, for whatever reason (stop, crash, ``kill -9``), the runner reads
EOF, exits, and Docker removes the container. On top of that every container is labelled
(namespace, owner process, pool); ``start()`` removes stopped leftovers and those of a previous
process with the same host and pid, and ``aclose()`` force-removes everything of its pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import socket
import ssl
import time
import uuid
from collections.abc import Callable
from typing import Any

import docker
import requests
from docker.types import LogConfig, Ulimit

from agent_streams_executor.executors.base import SandboxLostError, SandboxStartError
from agent_streams_executor.executors.channel import Message, RunnerClient, close_quietly, encode
from agent_streams_executor.executors.runner import source
from agent_streams_executor.settings import ExecutorSettings

__all__ = [
    "DOCKER_ERRORS",
    "LABEL_POOL",
    "LABEL_SANDBOX",
    "SandboxContainer",
    "SandboxContainers",
    "connect",
    "container_spec",
]

log = logging.getLogger(__name__)

LABEL_SANDBOX = "agent-streams.sandbox"  # value: the namespace
LABEL_OWNER = "agent-streams.owner"  # host:pid of the executor process
LABEL_POOL = "agent-streams.pool"  # one executor pool (its final sweep)
LABEL_SESSION = "agent-streams.session"
DOCKER_ERRORS = (docker.errors.DockerException, requests.RequestException)


async def connect(settings: ExecutorSettings) -> docker.APIClient:
    """A Docker API client, once the engine answered and has the sandbox image."""
    try:
        client = await asyncio.to_thread(
            docker.from_env, timeout=int(settings.docker_api_timeout_s)
        )
    except DOCKER_ERRORS as exc:
        raise SandboxStartError(f"the Docker engine does not answer: {exc}") from exc
    api: docker.APIClient = client.api
    try:
        await asyncio.to_thread(api.inspect_image, settings.image)
    except BaseException as exc:
        api.close()
        if isinstance(exc, docker.errors.ImageNotFound):
            raise SandboxStartError(
                f"the sandbox image {settings.image} is missing: build it with `make images`"
            ) from exc
        if isinstance(exc, DOCKER_ERRORS):
            raise SandboxStartError(f"the Docker engine does not answer: {exc}") from exc
        raise
    return api


def container_spec(
    settings: ExecutorSettings, *, network: bool, labels: dict[str, str]
) -> dict[str, Any]:
    """``APIClient.create_container`` arguments for one sandbox (host config as a dict)."""
    uid, _, gid = settings.sandbox_user.partition(":")
    threads = str(max(1, math.ceil(settings.cpu_limit_cores)))
    config = {
        "workdir": settings.sandbox_workdir,
        "container": True,
        "make_dirs": ["/tmp/home"],
        "preload": settings.preload_modules,
        "preload_lazy": settings.preload_lazy_modules,
        "lazy_after_s": settings.preload_lazy_after_s,
        "idle_exit_s": settings.idle_timeout_s * 2 + 60,
    }
    host_config = {
        "network_mode": settings.network_name if network else "none",
        "mem_limit": f"{settings.memory_limit_mb}m",
        "memswap_limit": f"{settings.memory_limit_mb}m",  # no swap on top
        "nano_cpus": int(settings.cpu_limit_cores * 1e9),
        "pids_limit": settings.pids_limit,
        "read_only": True,
        "tmpfs": {
            settings.sandbox_workdir: f"rw,nosuid,nodev,size={settings.workdir_size_mb}m,"
            f"nr_inodes={settings.workdir_max_files},uid={uid},gid={gid or uid},mode=0700",
            "/tmp": f"rw,nosuid,nodev,size={settings.tmp_size_mb}m,mode=1777",
        },
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "auto_remove": True,
        "log_config": LogConfig(type="none"),
        "ulimits": [
            Ulimit(name="nofile", soft=settings.max_open_files, hard=settings.max_open_files),
            Ulimit(name="core", soft=0, hard=0),
        ],
    }
    return {
        "image": settings.image,
        "command": [settings.sandbox_python, "-c", source(), json.dumps(config)],
        "user": settings.sandbox_user,
        "working_dir": settings.sandbox_workdir,
        "hostname": "sandbox",
        "environment": {
            "HOME": "/tmp/home",
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": "/tmp/matplotlib",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONWARNINGS": settings.python_warnings,
            "OPENBLAS_NUM_THREADS": threads,
            "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
        },
        "labels": labels,
        "stdin_open": True,  # with detach=False this also sets StdinOnce: EOF when we go away
        "tty": False,
        "host_config": host_config,
    }


class _AttachChannel:
    """JSON lines to the runner's stdin; Docker's multiplexed stdout/stderr frames back."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, max_bytes: int
    ) -> None:
        self._reader, self._writer, self._max_bytes = reader, writer, max_bytes
        self._buffer, self._scanned = bytearray(), 0

    async def send(self, message: Message) -> None:
        try:
            self._writer.write(encode(message))
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            raise SandboxLostError(f"the sandbox's stdin is gone: {exc}") from exc

    async def receive(self) -> Message:
        while (end := self._buffer.find(b"\n", self._scanned)) < 0:
            self._scanned = len(self._buffer)
            try:
                header = await self._reader.readexactly(8)
                payload = await self._reader.readexactly(int.from_bytes(header[4:8], "big"))
            except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
                raise SandboxLostError("the sandbox exited") from exc
            if header[0] == 2:
                log.warning("sandbox runner stderr: %s", payload[:2000].decode(errors="replace"))
            else:
                self._buffer += payload
            if len(self._buffer) > self._max_bytes:
                raise SandboxLostError("the sandbox sent an oversized message")
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        self._scanned = 0
        message: Message = json.loads(line)
        return message

    async def close(self) -> None:
        await close_quietly(self._writer)


class SandboxContainer:
    """A started sandbox container and the client of its runner."""

    def __init__(
        self, containers: SandboxContainers, container_id: str, client: RunnerClient
    ) -> None:
        self._containers, self.container_id, self._client = containers, container_id, client

    @property
    def client(self) -> RunnerClient:
        return self._client

    async def destroy(self) -> None:
        await self._client.close()  # the runner reads EOF and exits, AutoRemove follows
        await self._containers.remove(self.container_id)


class SandboxContainers:
    """Starts and removes the sandbox containers of one executor pool."""

    def __init__(self, api: docker.APIClient, settings: ExecutorSettings, namespace: str) -> None:
        self.api, self.settings, self.namespace = api, settings, namespace
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.pool_id = uuid.uuid4().hex[:16]
        self._pending: set[asyncio.Task[None]] = set()

    async def launch(
        self, *, session: str, network: bool, name: str | None = None
    ) -> SandboxContainer:
        """A new container with its runner ready; never leaked, also when cancelled midway.

        ``name`` names the container (Docker's names are unique: a taken one is a start error).
        """
        labels = {
            LABEL_SANDBOX: self.namespace,
            LABEL_OWNER: self.owner,
            LABEL_POOL: self.pool_id,
            LABEL_SESSION: session[:200],
        }
        spec = container_spec(self.settings, network=network, labels=labels)
        if name is not None:
            spec["name"] = name
        created = asyncio.ensure_future(self._call(_create_started, self.api, spec))
        try:
            container_id, sock = await asyncio.shield(created)
        except asyncio.CancelledError:
            created.add_done_callback(self._remove_when_created)
            raise
        writer: asyncio.StreamWriter | None = None
        try:
            reader, writer = await asyncio.open_connection(sock=sock)
            client = RunnerClient(
                _AttachChannel(reader, writer, self._message_bytes()),
                grace_s=self.settings.timeout_grace_s,
            )
            ready = await client.wait_ready(self.settings.start_timeout_s)
        except BaseException as exc:
            if writer is not None:
                writer.close()  # closes the socket too, and no StreamWriter is left unclosed
            else:
                sock.close()
            await asyncio.shield(self.remove(container_id))
            if isinstance(exc, SandboxLostError):
                raise SandboxStartError(f"the sandbox did not start: {exc}") from exc
            raise
        log.info(
            "sandbox %s started for %s (preloaded %s)",
            container_id[:12],
            session,
            ready.get("preloaded"),
        )
        return SandboxContainer(self, container_id, client)

    async def remove(self, container_id: str) -> None:
        try:
            await self._call(self.api.remove_container, container_id, force=True)
        except docker.errors.NotFound:
            pass
        except DOCKER_ERRORS as exc:  # 409 "removal in progress" after AutoRemove, mostly
            log.debug("removing sandbox %s: %s", container_id[:12], exc)

    async def remove_orphans(self) -> int:
        """Stopped leftovers of this namespace, containers of a dead process of ours, and ones
        created but never started (a crash between create and start) once older than
        ``orphan_grace_s``: a younger one may be a sibling replica's spare, starting now."""
        listed = await self._call(
            self.api.containers, all=True, filters={"label": [f"{LABEL_SANDBOX}={self.namespace}"]}
        )
        stale = time.time() - self.settings.orphan_grace_s

        def orphaned(c: dict[str, Any]) -> bool:
            state = c.get("State")
            if c["Labels"].get(LABEL_OWNER) == self.owner or state in ("exited", "dead"):
                return True
            return state == "created" and c.get("Created", 0) <= stale

        orphans = [c["Id"] for c in listed if orphaned(c)]
        await asyncio.gather(*(self.remove(container_id) for container_id in orphans))
        return len(orphans)

    async def sweep(self) -> None:
        """Force-remove every container of this pool (the last step of ``aclose``)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        listed = await self._call(
            self.api.containers, all=True, filters={"label": [f"{LABEL_POOL}={self.pool_id}"]}
        )
        await asyncio.gather(*(self.remove(c["Id"]) for c in listed))

    def _message_bytes(self) -> int:
        return self.settings.run_limits(local=False).message_bytes()

    def _remove_when_created(self, created: asyncio.Future[tuple[str, socket.socket]]) -> None:
        if created.cancelled() or created.exception() is not None:
            return
        container_id, sock = created.result()
        sock.close()
        task = asyncio.ensure_future(self.remove(container_id))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A blocking SDK call in a thread, with the timeout enforced out here."""
        async with asyncio.timeout(self.settings.docker_api_timeout_s + 5):
            return await asyncio.to_thread(function, *args, **kwargs)


def _create_started(api: docker.APIClient, spec: dict[str, Any]) -> tuple[str, socket.socket]:
    """Create, attach (before start, so no output is missed) and start; remove on failure."""
    spec = {**spec, "host_config": api.create_host_config(**spec["host_config"])}
    try:
        container_id: str = api.create_container(**spec)["Id"]
    except DOCKER_ERRORS as exc:
        raise SandboxStartError(f"could not create a sandbox from {spec['image']}: {exc}") from exc
    try:
        raw = api.attach_socket(
            container_id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        )
        inner = getattr(raw, "_sock", raw)
        if not isinstance(inner, socket.socket) or isinstance(inner, ssl.SSLSocket):
            raise SandboxStartError(
                "the sandbox channel needs the Docker API on a unix or tcp socket (not TLS or ssh)"
            )
        sock = inner.dup()  # ours alone: the SDK's response objects may close theirs any time
        raw.close()
        inner.close()
        api.start(container_id)
        return container_id, sock
    except BaseException as exc:
        with contextlib.suppress(*DOCKER_ERRORS):
            api.remove_container(container_id, force=True)
        if isinstance(exc, DOCKER_ERRORS):
            raise SandboxStartError(f"could not start a sandbox: {exc}") from exc
        raise
