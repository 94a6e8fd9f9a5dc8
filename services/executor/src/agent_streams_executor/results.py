"""From an executor's :class:`CodeResult` to the contract's :class:`ExecutionResult`.

Files the run made are stored in the :class:`ArtifactStore` (content-addressed, capped) and
referenced by digest; a file the sandbox already held back (over a cap) becomes a ref with
``stored=False`` and its note. Notes of the run (a full work dir, files not returned) are
appended to the output, where the model and the user both see them.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent_streams.artifacts import ArtifactStore
from agent_streams.messages import ArtifactRef, ExecutionResult
from agent_streams_executor.executors.base import CodeResult, OutputFile

__all__ = ["artifact_refs", "to_execution_result"]


async def artifact_refs(store: ArtifactStore, files: Sequence[OutputFile]) -> list[ArtifactRef]:
    """Store the files that came with content (within the store's caps); refs in order."""
    stored = iter(
        await store.put_run([(f.name, f.content) for f in files if f.content is not None])
    )
    return [
        next(stored)
        if f.content is not None
        else store.unstored(f.name, f.size, f.sha256, f.note or "not stored")
        for f in files
    ]


def to_execution_result(
    result: CodeResult, *, turn: int, request_id: str, artifacts: Sequence[ArtifactRef]
) -> ExecutionResult:
    notes = "".join(f"\nNote: {note}" for note in result.notes if note not in result.output)
    return ExecutionResult(
        turn=turn,
        request_id=request_id,
        exit_code=result.exit_code,
        output=result.output + notes,
        stdout=result.stdout,
        stderr=result.stderr,
        timed_out=result.timed_out,
        cancelled=result.cancelled,
        duration_s=max(0.0, result.duration_s),
        artifacts=list(artifacts),
    )
