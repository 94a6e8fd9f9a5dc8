"""``work_dir`` on this machine, for the AutoGen-shaped executors: its life, and its mirror.

AutoGen's executors take ``work_dir`` (default: a temporary directory made by ``start()`` and
removed by ``stop()``) and the code's files appear there. The local executor runs the code in it
directly. The Docker sandbox mounts no host path (a bind mount would let the code plant symlinks
the host follows, and would need the path on the Docker host), so for it :class:`HostWorkDir`
mirrors: files of ``work_dir`` new or changed since the last run are copied into the sandbox
before the next one (:meth:`HostWorkDir.pending`), and what the run created, changed or deleted
is applied back (:meth:`HostWorkDir.apply`), each name checked to stay inside ``work_dir``.
A file deleted from ``work_dir`` between runs stays in the sandbox until ``restart()``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from stat import S_ISREG

from agent_streams.code_executor import CodeBlock, CodeResult, OutputFile
from agent_streams_executor.executors.base import filename_problem, parse_filename

__all__ = ["HostWorkDir"]

log = logging.getLogger(__name__)

Signature = tuple[int, int]


class HostWorkDir:
    """The user's ``work_dir``, or a temporary one that ``open()`` makes and ``close()`` removes.

    Args:
        path: the directory (created with its parents if missing), or None for a temporary one.
    """

    def __init__(self, path: Path | str | None) -> None:
        self._given = Path(path) if path is not None else None
        self._temporary: Path | None = None
        self._synced: dict[str, Signature] = {}

    @property
    def path(self) -> Path:
        """The directory; a temporary one exists only between ``open()`` and ``close()``."""
        if self._given is not None:
            return self._given
        if self._temporary is None:
            raise RuntimeError("the temporary work_dir exists only while the executor is started")
        return self._temporary

    def open(self) -> Path:
        if self._given is not None:
            self._given.mkdir(parents=True, exist_ok=True)
        elif self._temporary is None:
            self._temporary = Path(tempfile.mkdtemp(prefix="agent-streams-code-"))
        return self.path

    def close(self) -> None:
        temporary, self._temporary = self._temporary, None
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
        self._synced = {}

    def forget_sandbox(self) -> None:
        """The sandbox was replaced (empty): every file is copied in again before the next run."""
        self._synced = {}

    def pending(
        self, max_file_bytes: int, max_total_bytes: int
    ) -> tuple[dict[str, bytes], list[str]]:
        """Files new or changed since the sandbox last saw them, and notes on those left out.

        Only regular files are copied (symlinks are not followed); a file over
        ``max_file_bytes``, or past ``max_total_bytes`` in all, is left out with a note.
        """
        root = self.path
        files: dict[str, bytes] = {}
        notes: list[str] = []
        total = 0
        for name, signature in sorted(_snapshot(root).items()):
            if self._synced.get(name) == signature:
                continue
            size = signature[0]
            if size > max_file_bytes or total + size > max_total_bytes:
                notes.append(f"{name} ({size} bytes) was not copied into the sandbox: over the cap")
                continue
            try:
                files[name] = (root / name).read_bytes()
            except OSError as exc:
                notes.append(f"{name} could not be read for the sandbox: {exc.strerror}")
                continue
            total += size
            self._synced[name] = signature
        return files, notes

    def apply(
        self, result: CodeResult, blocks: Sequence[CodeBlock], sandbox_root: str, *, code: bool
    ) -> CodeResult:
        """Write what the run made into ``work_dir``; ``code_file`` becomes the path there.

        ``code``: also write the code file of the last block that ran (AutoGen leaves it in
        ``work_dir`` unless told to delete it); ``# filename:`` files always come back.
        """
        root = self.path.resolve()
        notes: list[str] = []
        for name in result.deleted:
            target = _inside(root, name)
            if target is not None and target.is_file():
                target.unlink()
            self._synced.pop(name, None)
        outputs = [*result.files, *result.code_files]
        code_file = _relative(result.code_file, sandbox_root)
        if code and code_file is not None:
            known = {item.name for item in outputs}
            outputs += [f for f in _code_file(code_file, blocks) if f.name not in known]
        for item in outputs:
            target = _inside(root, item.name)
            if target is None or item.content is None:
                notes.append(f"{item.name} was not copied to work_dir: {item.note or 'bad name'}")
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(item.content)
            stat = target.stat()
            self._synced[item.name] = (stat.st_size, stat.st_mtime_ns)
        return dataclasses.replace(
            result,
            code_file=str(root / code_file) if code_file is not None else result.code_file,
            notes=(*result.notes, *notes),
        )


def _snapshot(root: Path) -> dict[str, Signature]:
    files: dict[str, Signature] = {}
    for directory, subdirs, names in os.walk(root):  # os.walk does not follow symlinked dirs
        base = Path(directory)
        for name in names:
            path = base / name
            try:
                stat = path.lstat()
            except OSError:  # gone since the directory was listed
                continue
            if S_ISREG(stat.st_mode):  # symlinks are not followed
                files[path.relative_to(root).as_posix()] = (stat.st_size, stat.st_mtime_ns)
        subdirs.sort()
    return files


def _inside(root: Path, name: str) -> Path | None:
    """``root / name`` when the name is plain and stays inside ``root`` (symlinks resolved)."""
    if filename_problem(name) is not None:
        log.warning("the sandbox reported a file name outside the work dir: %r", name[:200])
        return None
    target = root / name
    if not target.parent.resolve().is_relative_to(root) or target.is_symlink():
        log.warning("not writing %r: it leads outside work_dir", name[:200])
        return None
    return target


def _relative(code_file: str | None, sandbox_root: str) -> str | None:
    if code_file is None:
        return None
    path = PurePosixPath(code_file)
    if path.is_absolute():
        if not path.is_relative_to(sandbox_root):
            return None
        path = path.relative_to(sandbox_root)
    return path.as_posix()


def _code_file(name: str, blocks: Sequence[CodeBlock]) -> list[OutputFile]:
    """The block saved as ``name`` (by ``# filename:`` or as ``tmp_code_<sha256>``), as a file."""
    for block in blocks:
        data = block.code.encode()
        digest = hashlib.sha256(data).hexdigest()
        if parse_filename(block.code) == name or name.startswith(f"tmp_code_{digest[:32]}."):
            return [OutputFile(name, len(data), digest, data)]
    return []
