"""A session's files in Redis, so that any Executor replica can take the session's next turn.

Why: a session's work dir lives in one sandbox of one replica, and consumer groups give no
affinity: the next turn may run on another replica, or on this one after its sandbox was
reaped or lost. Each must see the files the earlier turns left and the task's input files (the
assistant sends those with the first request only).

Decision: a per-session *file manifest* in Redis, and sandboxes brought up to it on demand. The
bytes are the content-addressed blobs the executor stores anyway (every changed file is an
artifact; input files are blobs; the code of ``# filename:`` blocks is stored the same way), so
nothing is stored twice and no sandbox is ever copied. The manifest is the hash
``Keys.state("executor", session, "files")``::

    <path>        "<sha256> <size>"            the bytes are the blob Keys.blob(<sha256>)
    <path>        "<sha256> <size> unstored"   over a cap: only the sandbox that made it has it
    /generation   +1 on every change (no path in the work dir starts with "/")

with the artifacts' TTL (``EXECUTOR_ARTIFACT_TTL_S``), refreshed on every turn. Each sandbox's
:class:`~agent_streams_executor.executors.session.WorkdirState` remembers which generation its
work dir reflects and which manifest digests it holds. One turn (:class:`FilesTurn`):

1. Before the run, in the pipeline that already SETs the running mark: HGET the generation and
   EXPIRE the manifest. No extra round trip.
2. Right before the blocks run, on the sandbox that runs them: if its state has that
   generation, nothing to do (the common case: same replica, warm sandbox). Otherwise (a new
   sandbox: the session's first turn here, after a reap, a lost sandbox; or a warm sandbox that
   another replica overtook) HGETALL, write the files whose digests differ from the state
   (blobs by pipelined GETs, batches of at most the per-run cap), delete the ones the state
   holds and the manifest no longer has. Then the request's input files.
3. After the run, in the pipeline that already DELs the running mark: HSET the input files,
   saved code files and changed files, HDEL the deleted ones, HINCRBY the generation, EXPIRE.
   A turn that changed nothing writes nothing. The sandbox's state takes the new generation.

No transaction: the runtime hands a session's messages to one handler at a time across
replicas, so a manifest has one writer at a time. Should another writer still slip in (a lock
lost to a stall), the generation HINCRBY returns is not the one expected and the sandbox
resyncs in full next turn.

What cannot carry over is said in the result's output, never dropped silently: a file over the
per-file or per-run cap (when it is made, and when another sandbox cannot have it), a blob that
expired, changed files past the per-run count, deletions past the runner's report limit. Files
carry over, processes and anything outside the work dir do not. Limits: if the manifest itself
is gone (Redis lost its data, or the session sat idle past the TTL) the next turn starts from
what its sandbox holds; a redelivered request whose first run finished but whose result was not
stored runs again on the files that run left.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio.client import Pipeline

from agent_streams.artifacts import ArtifactStore
from agent_streams.messages import ArtifactRef
from agent_streams_executor.executors.base import CodeResult, ExecutorError
from agent_streams_executor.executors.session import WorkdirState, WorkdirWriter

__all__ = ["GENERATION", "FileEntry", "FilesTurn", "Manifest", "SessionFiles"]

GENERATION = "/generation"
"""The manifest's generation field (not a path: every path in the work dir is relative)."""


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of the manifest: its digest and size, and whether its bytes are stored."""

    digest: str
    size: int
    stored: bool = True

    def encode(self) -> str:
        return f"{self.digest} {self.size}" + ("" if self.stored else " unstored")

    @classmethod
    def decode(cls, raw: bytes | str) -> FileEntry | None:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        parts = text.split()
        if len(parts) not in (2, 3) or len(parts[0]) != 64 or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), stored=len(parts) == 2)


@dataclass(frozen=True, slots=True)
class Manifest:
    """A session's manifest as read: generation 0 and no files when there is none."""

    generation: int
    files: dict[str, FileEntry]


class SessionFiles:
    """The file manifests of one namespace's sessions, over the artifact store's blobs.

    Args:
        artifacts: where the bytes are (its TTL and caps apply to the manifest too).
        agent_type: the executor's agent type (the manifest is its per-session state).
    """

    def __init__(self, artifacts: ArtifactStore, agent_type: str = "executor") -> None:
        self.artifacts = artifacts
        self.agent_type = agent_type

    def key(self, session: str) -> str:
        return self.artifacts.keys.state(self.agent_type, session, "files")

    async def load(self, session: str) -> Manifest:
        raw: dict[Any, Any] = await self.artifacts.redis.hgetall(self.key(session))
        generation, files = 0, {}
        for field, value in raw.items():
            name = field.decode("utf-8", "replace") if isinstance(field, bytes) else str(field)
            if name == GENERATION:
                generation = _int(value)
            elif (entry := FileEntry.decode(value)) is not None:
                files[name] = entry
        return Manifest(generation, files)

    async def turn(self, session: str, inputs: Mapping[str, bytes]) -> FilesTurn:
        """A turn of ``session`` bringing ``inputs`` (their blobs are stored, TTL refreshed)."""
        entries = {}
        for name, data in inputs.items():
            digest = await self.artifacts.put_blob(data)
            entries[name] = (FileEntry(digest, len(data)), data)
        return FilesTurn(self, session, entries)


class FilesTurn:
    """One turn's view of the manifest: read, sync a sandbox (a ``WorkdirSync``), record."""

    def __init__(
        self, files: SessionFiles, session: str, inputs: Mapping[str, tuple[FileEntry, bytes]]
    ) -> None:
        self._files, self.session, self._inputs = files, session, dict(inputs)
        self.generation = 0
        """The manifest's generation when the turn began (0: there is none)."""
        self.notes: list[str] = []
        """What this turn's record could not carry over, for the result."""
        self._state: WorkdirState | None = None
        self._recorded: dict[str, FileEntry] = {}
        self._deleted: list[str] = []

    # 1. before the run -------------------------------------------------------------------

    def queue_read(self, pipe: Pipeline) -> Callable[[Sequence[Any]], None]:
        """Queue the generation's read (and the manifest's TTL refresh) on ``pipe``; call the
        returned function with the pipeline's replies."""
        at, key = len(pipe), self._files.key(self.session)
        pipe.hget(key, GENERATION)
        pipe.expire(key, self._files.artifacts.ttl_s)

        def read(replies: Sequence[Any]) -> None:
            self.generation = _int(replies[at])

        return read

    # 2. right before the blocks run, on their sandbox --------------------------------------

    async def __call__(self, state: WorkdirState, write: WorkdirWriter) -> list[str]:
        self._state = state
        notes: list[str] = []
        if self.generation == 0:  # no manifest: nothing to bring, keep what the sandbox has
            state.generation = 0
        elif state.generation != self.generation:
            manifest = await self._files.load(self.session)
            notes += await self._restore(state, manifest, write)
        if self._inputs:
            errors, _ = await write({n: d for n, (_, d) in self._inputs.items()}, ())
            if errors:
                raise ExecutorError("could not write input files: " + "; ".join(errors))
            state.files.update({n: e.digest for n, (e, _) in self._inputs.items()})
        return notes

    async def _restore(
        self, state: WorkdirState, manifest: Manifest, write: WorkdirWriter
    ) -> list[str]:
        wanted = {
            name: entry
            for name, entry in sorted(manifest.files.items())
            if state.files.get(name) != entry.digest and name not in self._inputs
        }
        gone = [n for n in state.files if n not in manifest.files and n not in self._inputs]
        unstored = [n for n, e in wanted.items() if not e.stored]
        for name in unstored:
            state.files[name] = wanted.pop(name).digest  # cannot be had: said once per sandbox
        expired: list[str] = []
        errors: list[str] = []
        complete = True
        for batch in _batches(wanted, self._files.artifacts.max_run_bytes):
            found = await self._files.artifacts.get_many([wanted[n].digest for n in batch])
            contents = {n: data for n, data in zip(batch, found, strict=True) if data is not None}
            expired += [n for n in batch if n not in contents]
            batch_errors, failed = await write(contents, gone)
            errors += batch_errors
            complete = complete and not failed
            # expired ones too: they cannot be had either, and are said once per sandbox
            state.files.update({n: wanted[n].digest for n in batch if n not in failed})
            for name in gone:
                if name not in failed:
                    state.files.pop(name, None)
            gone = []
        if gone:  # nothing to write, only deletions
            errors, failed = await write({}, gone)
            complete = not failed
            for name in gone:
                if name not in failed:
                    state.files.pop(name, None)
        state.generation = manifest.generation if complete else None  # else: again next turn
        notes = []
        if unstored:
            notes.append(
                f"not brought into this sandbox from an earlier turn of this session: "
                f"{_names(unstored)} (over a size cap, kept only by the sandbox that made it)"
            )
        if expired:
            notes.append(
                f"not brought into this sandbox from an earlier turn of this session: "
                f"{_names(expired)} (the stored copy expired)"
            )
        if errors:
            notes.append("restoring the session's files failed for " + "; ".join(errors[:10]))
        return notes

    # 3. after the run ----------------------------------------------------------------------

    def queue_record(
        self, pipe: Pipeline, result: CodeResult, refs: Sequence[ArtifactRef]
    ) -> Callable[[Sequence[Any]], None]:
        """Queue the run's changes to the manifest on ``pipe`` (nothing when there are none);
        call the returned function with the pipeline's replies."""
        store = self._files.artifacts
        entries = {name: entry for name, (entry, _) in self._inputs.items()}
        unstored: list[str] = []
        for code in result.code_files:
            if code.content is not None and code.size <= store.max_file_bytes:
                pipe.set(store.keys.blob(code.sha256), code.content, ex=store.ttl_s)
                entries[code.name] = FileEntry(code.sha256, code.size)
            else:
                entries[code.name] = FileEntry(code.sha256, code.size, stored=False)
                unstored.append(code.name)
        for ref in refs:
            entries[ref.name] = FileEntry(ref.digest, ref.size, ref.stored)
            if not ref.stored:
                unstored.append(ref.name)
        deleted = [name for name in result.deleted if name != GENERATION]
        for name in deleted:
            entries.pop(name, None)
        self._recorded, self._deleted = entries, deleted
        if unstored:
            self.notes.append(
                f"{_names(unstored)} is over a size cap and was not stored: it stays in this "
                "sandbox only, so a later turn on another executor replica, or after this "
                "sandbox is reaped, will not have it"
            )
        if not entries and not deleted:
            return lambda replies: None
        key = self._files.key(self.session)
        if entries:
            pipe.hset(key, mapping={name: entry.encode() for name, entry in entries.items()})
        if deleted:
            pipe.hdel(key, *deleted)
        at = len(pipe)
        pipe.hincrby(key, GENERATION, 1)
        pipe.expire(key, store.ttl_s)

        def recorded(replies: Sequence[Any]) -> None:
            self._recorded_as(_int(replies[at]))

        return recorded

    def _recorded_as(self, generation: int) -> None:
        state = self._state
        if state is None:
            return
        state.files.update({name: entry.digest for name, entry in self._recorded.items()})
        for name in self._deleted:
            state.files.pop(name, None)
        in_step = state.generation == self.generation and generation == self.generation + 1
        state.generation = generation if in_step else None  # else: resync in full next turn


def _batches(wanted: Mapping[str, FileEntry], max_bytes: int) -> list[list[str]]:
    """Names in batches of at most ``max_bytes`` (a larger file is a batch of its own)."""
    batches: list[list[str]] = []
    size = 0
    for name, entry in wanted.items():
        if not batches or size + entry.size > max_bytes:
            batches.append([])
            size = 0
        batches[-1].append(name)
        size += entry.size
    return batches


def _names(names: Sequence[str], shown: int = 8) -> str:
    listed = ", ".join(names[:shown])
    return listed if len(names) <= shown else f"{listed} and {len(names) - shown} more"


def _int(raw: object) -> int:
    try:
        return int(raw.decode() if isinstance(raw, bytes) else str(raw)) if raw is not None else 0
    except ValueError:
        return 0
