"""Files between this machine and a deployment: input files up, artifacts down.

Up: a local file becomes an ``InputFile`` of a task, inline (base64) up to
``INLINE_FILE_BYTES`` so the task stays one small entry, else stored as a blob in the
``ArtifactStore`` and referenced by digest. Down: a result's ``ArtifactRef`` s are fetched from
the store (which checks each blob's sha256) and written under ``out_dir/<session>/``; a name
that would leave that folder (absolute, ``..``, a symlink on the way) is refused, and every
artifact that cannot be saved is reported, never silently skipped.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from .artifacts import ArtifactStore
from .exceptions import ArtifactError, ClientError
from .keys import validate_name
from .messages import ArtifactRef, InputFile

__all__ = ["INLINE_FILE_BYTES", "MAX_FILE_BYTES", "input_file", "save_artifacts"]

INLINE_FILE_BYTES = 48 * 1024
"""Input files up to this size travel inside the TaskRequest; larger ones become blobs."""
MAX_FILE_BYTES = 256 * 1024 * 1024
"""The client refuses bigger input files (the executor applies its own, usually lower, cap)."""


async def input_file(store: ArtifactStore, path: Path) -> InputFile:
    """Read ``path`` and turn it into an ``InputFile`` (inline, or uploaded as a blob)."""
    data = await asyncio.to_thread(_read, path)
    try:
        if len(data) <= INLINE_FILE_BYTES:
            return InputFile(name=path.name, content_b64=base64.b64encode(data).decode())
        return InputFile(name=path.name, digest=await store.put_blob(data))
    except ValidationError as exc:
        reason = "; ".join(str(e["msg"]) for e in exc.errors(include_url=False))
        raise ClientError(f"input file {path}: {reason}") from None


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ClientError(f"input file {path} is {size} bytes, over {MAX_FILE_BYTES}")
        return path.read_bytes()
    except OSError as exc:
        raise ClientError(f"cannot read input file {path}: {exc.strerror or exc}") from None


async def save_artifacts(
    store: ArtifactStore, refs: Iterable[ArtifactRef], out_dir: Path, session: str
) -> list[Path]:
    """Write each artifact to ``out_dir/<session>/<name>``; returns the paths written.

    Raises:
        ArtifactError: after saving all it could, when some were not saved (over the size
            cap, expired, not matching their digest, or an unsafe name).
    """
    base = out_dir / validate_name(session, "session id")
    saved: list[Path] = []
    problems: list[str] = []
    for ref in refs:
        target = _confined(base, ref.name)
        if target is None:
            problems.append(f"{ref.name!r}: unsafe name, not saved")
            continue
        if not ref.stored:
            problems.append(f"{ref.name}: not stored ({ref.note or 'over the size cap'})")
            continue
        data = await store.get(ref.digest)
        if data is None:
            problems.append(
                f"{ref.name}: blob {ref.digest[:12]} is gone (expired) or does not match "
                "its sha256; not saved"
            )
            continue
        try:
            await asyncio.to_thread(_write_atomic, target, data)
        except OSError as exc:
            raise ClientError(f"cannot write {target}: {exc.strerror or exc}") from None
        saved.append(target)
    if problems:
        raise ArtifactError(problems, saved)
    return saved


def _confined(base: Path, name: str) -> Path | None:
    """``base/name`` if ``name`` is a plain relative path that stays inside ``base``."""
    if not name or "\\" in name or "\x00" in name:
        return None
    path = PurePosixPath(name)
    if path.is_absolute() or any(p in ("..", ".") for p in path.parts):
        return None
    target = base.joinpath(*path.parts)
    if not target.resolve().is_relative_to(base.resolve()):
        return None  # a symlink in the way
    return target


def _write_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    tmp.write_bytes(data)
    tmp.replace(target)
