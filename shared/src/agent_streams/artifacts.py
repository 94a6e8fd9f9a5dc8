"""Artifacts and input files: bytes stored content-addressed in Redis, referenced by digest.

A file's bytes live at ``Keys.blob(sha256)`` with a TTL; messages carry only an
:class:`~agent_streams.messages.ArtifactRef` (name, size, media type, digest). The same bytes
are stored once however often they are put (a put refreshes the TTL). Used by the Executor
(files the code made) and by clients (input files up, artifacts down).

Caps: one file may hold at most ``max_file_bytes``, one run at most ``max_run_bytes`` in all.
A file over a cap is still reported, as a ref with ``stored=False`` and a ``note`` saying
which cap, never silently dropped. Problems with input files are returned as data, for the
Executor to answer with a clear result instead of running code without its inputs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
from collections.abc import Iterable, Sequence

import redis.asyncio as aioredis

from .keys import Keys
from .messages import ArtifactRef, InputFile

__all__ = ["ArtifactStore", "media_type_of"]

_MiB = 2**20


def media_type_of(name: str) -> str:
    """The media type guessed from a file name, ``application/octet-stream`` when unknown."""
    return mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"


class ArtifactStore:
    """Content-addressed blobs in Redis, with a TTL and size caps.

    Args:
        redis: the connection (bytes responses: ``decode_responses=False``).
        keys: the namespace's key layout.
        ttl_s: how long a blob lives after its last put.
        max_file_bytes: the largest file stored.
        max_run_bytes: the most stored by one :meth:`put_run` call.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        *,
        ttl_s: int = 86_400,
        max_file_bytes: int = 10 * _MiB,
        max_run_bytes: int = 25 * _MiB,
    ) -> None:
        self.redis, self.keys = redis, keys
        self.ttl_s, self.max_file_bytes, self.max_run_bytes = ttl_s, max_file_bytes, max_run_bytes

    async def put(self, name: str, data: bytes, *, media_type: str | None = None) -> ArtifactRef:
        """Store one file (if within ``max_file_bytes``) and return its ref."""
        return (await self.put_run([(name, data)], media_types={name: media_type}))[0]

    async def put_run(
        self,
        files: Iterable[tuple[str, bytes]],
        *,
        media_types: dict[str, str | None] | None = None,
    ) -> list[ArtifactRef]:
        """Store the files of one run in order, within the per-file and per-run caps."""
        refs: list[ArtifactRef] = []
        budget = self.max_run_bytes
        for name, data in files:
            digest = hashlib.sha256(data).hexdigest()
            media_type = (media_types or {}).get(name) or media_type_of(name)
            if len(data) > self.max_file_bytes:
                note = f"not stored: {len(data)} bytes is over the {self.max_file_bytes}-byte cap"
            elif len(data) > budget:
                note = f"not stored: the run's {self.max_run_bytes}-byte artifact cap was used up"
            else:
                await self.put_blob(data, digest=digest)
                budget -= len(data)
                refs.append(
                    ArtifactRef(name=name, size=len(data), media_type=media_type, digest=digest)
                )
                continue
            refs.append(self.unstored(name, len(data), digest, note, media_type=media_type))
        return refs

    @staticmethod
    def unstored(
        name: str, size: int, digest: str, note: str, *, media_type: str | None = None
    ) -> ArtifactRef:
        """The ref of a file that was not stored (over a cap): reported, with why."""
        return ArtifactRef(
            name=name,
            size=size,
            media_type=media_type or media_type_of(name),
            digest=digest,
            stored=False,
            note=note,
        )

    async def put_blob(self, data: bytes, *, digest: str | None = None) -> str:
        """Store bytes under their sha256 (refreshing the TTL if already there); the digest."""
        digest = digest or hashlib.sha256(data).hexdigest()
        key = self.keys.blob(digest)
        if not await self.redis.expire(key, self.ttl_s):  # already there: only the TTL moves
            await self.redis.set(key, data, ex=self.ttl_s)
        return digest

    async def get(self, digest: str) -> bytes | None:
        """The bytes stored under ``digest``; None when missing (expired) or not matching it."""
        data = await self.redis.get(self.keys.blob(digest))
        if data is None:
            return None
        raw = data if isinstance(data, bytes) else str(data).encode()
        return raw if hashlib.sha256(raw).hexdigest() == digest else None

    async def get_many(self, digests: Sequence[str]) -> list[bytes | None]:
        """As :meth:`get` for several digests, in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for digest in digests:
                pipe.get(self.keys.blob(digest))
            found = await pipe.execute()
        out: list[bytes | None] = []
        for digest, data in zip(digests, found, strict=True):
            raw = data if data is None or isinstance(data, bytes) else str(data).encode()
            intact = raw is not None and hashlib.sha256(raw).hexdigest() == digest
            out.append(raw if intact else None)
        return out

    async def input_file(self, name: str, data: bytes) -> InputFile:
        """Upload ``data`` and return the :class:`InputFile` that brings it into a task."""
        if len(data) > self.max_file_bytes:
            raise ValueError(f"input file {name} is {len(data)} bytes, over {self.max_file_bytes}")
        return InputFile(name=name, digest=await self.put_blob(data))

    async def materialise(self, files: Sequence[InputFile]) -> tuple[dict[str, bytes], list[str]]:
        """The bytes of a task's input files by name, and the problems (missing, bad, too big).

        ``content_b64`` wins over ``digest``; when both are given they must agree.
        """
        contents: dict[str, bytes] = {}
        problems: list[str] = []
        total = 0
        for item in files:
            data, problem = await self._content(item)
            if data is not None and len(data) > self.max_file_bytes:
                problem = f"{len(data)} bytes is over the {self.max_file_bytes}-byte cap"
                data = None
            elif data is not None and total + len(data) > self.max_run_bytes:
                problem = f"the task's {self.max_run_bytes}-byte input cap is used up"
                data = None
            if data is None:
                problems.append(f"input file {item.name}: {problem}")
                continue
            total += len(data)
            contents[item.name] = data
        return contents, problems

    async def _content(self, item: InputFile) -> tuple[bytes | None, str]:
        if item.content_b64 is not None:
            try:
                data = base64.b64decode(item.content_b64, validate=True)
            except (binascii.Error, ValueError):
                return None, "content_b64 is not valid base64"
            if item.digest is not None and hashlib.sha256(data).hexdigest() != item.digest:
                return None, "content_b64 does not match its digest"
            return data, ""
        if item.digest is not None:
            stored = await self.get(item.digest)
            if stored is None:
                return None, f"no stored blob {item.digest[:12]} (never uploaded, or expired)"
            return stored, ""
        return None, "neither content_b64 nor digest was given"
