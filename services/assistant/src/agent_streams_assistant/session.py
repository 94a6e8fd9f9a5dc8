"""A session's state: what any Assistant replica needs to take the next turn.

The conversation history and a small status record live in a :class:`SessionStore` (Redis in
the service, memory in unit tests and the quickstart), never only in the process: a replica
killed mid-task loses nothing, and the next message of the session may go to any replica.

Turn bookkeeping that makes handlers safe to re-run (delivery is at-least-once):

* ``awaiting_turn`` is the turn whose ``ExecutionResult`` is expected. A result for any other
  turn is stale (a redelivery, or a late answer) and is ignored.
* a session with ``awaiting_turn is None`` that has not ended owes a model turn (or, when
  ``decided`` is set, the ending a reply already decided): whichever message arrives next (a
  redelivered ``TaskRequest``, a stale result) does it. So a crash between saving and calling
  the model, or between saving the answer and recording the ending, never strands a session.
* what a turn publishes is saved in the state (the *outbox*) before it is published, with
  message ids derived from the task id and the turn, and cleared after: a crash between saving
  and publishing is repaired by the next delivery, and a repeat is recognisable downstream.
* the ending is written once (``finish`` is first-writer-wins) together with whether it has been
  announced, so that a deadline swept by one replica and a completion on another cannot both
  end the task, and an ending whose announcer died is announced by the next one who looks.

Deadlines are a sorted set (session -> epoch seconds) that every replica sweeps; ``claim_due``
hands each due session to exactly one sweeper for a lease, so a sweeper that dies mid-way is
covered by the next sweep after the lease.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from agent_streams.messages import (
    ArtifactRef,
    AssistantTurn,
    ExecutionOptions,
    ExecutionRequest,
    InputFile,
    TaskResult,
    TaskStatus,
    TokenUsage,
)

from .models import LLMMessage

__all__ = ["Ending", "MemorySessionStore", "ScriptRun", "SessionState", "SessionStore"]


class ScriptRun(BaseModel):
    """A script already run in the session: its turn and the error it ended with (None: ran)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    turn: int
    error: str | None = None
    line: str | None = None
    """The script's line that raised, when known."""
    answer: str | None = None
    """The task's ``@name[value]`` answers its run printed, when it printed every one."""


class SessionState(BaseModel):
    """The status of one session's task (the history is stored beside it)."""

    model_config = ConfigDict(extra="forbid")

    task_id: str
    """Message id of the ``TaskRequest``: the prefix of every id this task publishes."""
    max_turns: int
    deadline: float
    """Epoch seconds after which the task ends as ``deadline``."""
    timeout_s: float
    options: ExecutionOptions = ExecutionOptions()
    pending_files: list[InputFile] = []
    """Input files not sent yet: they go with the first ``ExecutionRequest``."""
    prompt: str = ""
    """The task as the user wrote it: its answer requirements are restated after each run."""
    input_names: list[str] = []
    """Names of the task's input files."""
    turn: int = 0
    """Model replies so far."""
    awaiting_turn: int | None = None
    usage: TokenUsage = TokenUsage()
    artifacts: list[ArtifactRef] = []
    last_reply: str = ""
    last_exit_code: int | None = None
    last_error: str | None = None
    """The last line of the previous failure, to notice a model repeating its mistake."""
    printed: list[str] = []
    """``@name[value]`` answers that successful runs printed, oldest first (``answer_form``)."""
    scripts: dict[str, ScriptRun] = {}
    """Scripts run so far, by ``repair.fingerprint``: a repeat is answered without a run."""
    pushed_back: bool = False
    """An answer given before any code ran on the input files was refused once already."""
    echo_refused: bool = False
    """A reply that only repeated the instructions was refused once already."""
    heard: str = ""
    """The instructions of the last execution feedback (without the run's output)."""
    stuck: int = 0
    """Replies in a row that made no progress (a repeated script, the same error again)."""
    running_script: str | None = None
    """The fingerprint of the script whose result is awaited."""
    votes: list[str] = []
    """Answers printed by independent scripts, oldest first (``AssistantConfig.answer_votes``)."""
    sampling: int = 0
    """Independent scripts asked for since the first answer; while > 0 and undecided, the
    next reply is written from the task alone."""
    answer: str | None = None
    """The answer that goes with ``decided`` when it is not the model's last reply (the
    requested ``@name[value]`` forms a run printed, see ``AssistantConfig``)."""
    decided: TaskStatus | None = None
    """How the task ends, once a reply decided it (``completed``), until the ending is recorded."""
    why: str | None = None
    """The error text that goes with ``decided``."""
    outbox_events: list[AssistantTurn] = []
    outbox_request: ExecutionRequest | None = None

    @property
    def has_outbox(self) -> bool:
        return bool(self.outbox_events) or self.outbox_request is not None

    def add_artifacts(self, new: Sequence[ArtifactRef]) -> None:
        """Keep one entry per file name, the latest version winning."""
        by_name = {a.name: a for a in self.artifacts}
        for artifact in new:
            by_name.pop(artifact.name, None)
            by_name[artifact.name] = artifact
        self.artifacts = list(by_name.values())

    def result(
        self, status: TaskStatus, *, answer: str = "", error: str | None = None
    ) -> TaskResult:
        return TaskResult(
            status=status,
            answer=answer,
            turns=self.turn,
            usage=self.usage,
            artifacts=self.artifacts,
            error=error,
        )


class Ending(BaseModel):
    """How a session ended, and the task id its announcement's message ids derive from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_id: str
    result: TaskResult


class SessionStore(Protocol):
    """Where sessions live. Calls for one session come from one handler at a time (the
    runtime's per-agent lock), except ``finish`` and the deadline calls, which sweepers make
    concurrently and which must therefore be atomic."""

    async def create(
        self, session: str, state: SessionState, history: Sequence[LLMMessage]
    ) -> None:
        """Store a new session (replacing any partial one) and register its deadline."""
        ...

    async def load(self, session: str) -> SessionState | None: ...

    async def history(self, session: str) -> list[LLMMessage]: ...

    async def save(
        self, session: str, state: SessionState, append: Sequence[LLMMessage] = ()
    ) -> None:
        """Replace the state and append ``append`` to the history, atomically."""
        ...

    async def finish(self, session: str, ending: Ending) -> bool:
        """Record the ending unless there is one already; True when this call ended it.
        Also drops the session's deadline."""
        ...

    async def ending(self, session: str) -> tuple[Ending, bool] | None:
        """The ending and whether it has been announced, or None while the task runs."""
        ...

    async def mark_announced(self, session: str) -> None: ...

    async def claim_due(self, now: float, lease_s: float, limit: int = 100) -> list[str]:
        """Sessions whose deadline passed; each is handed to one caller, who has ``lease_s``
        seconds to end it before it becomes due again."""
        ...

    async def drop_deadline(self, session: str) -> None: ...


@dataclass
class _Memory:
    state: SessionState | None = None
    history: list[LLMMessage] = field(default_factory=list)
    ending: Ending | None = None
    announced: bool = False


class MemorySessionStore:
    """A ``SessionStore`` in process memory, for the in-process runtime (tests, demos).

    Copies go in and out, so that a handler mutating its state does not change the stored one
    before ``save`` (as with Redis)."""

    def __init__(self) -> None:
        self._sessions: dict[str, _Memory] = {}
        self._deadlines: dict[str, float] = {}

    def _get(self, session: str) -> _Memory:
        return self._sessions.setdefault(session, _Memory())

    async def create(
        self, session: str, state: SessionState, history: Sequence[LLMMessage]
    ) -> None:
        entry = self._get(session)
        entry.state = state.model_copy(deep=True)
        entry.history = list(history)
        self._deadlines[session] = state.deadline

    async def load(self, session: str) -> SessionState | None:
        entry = self._sessions.get(session)
        if entry is None or entry.state is None:
            return None
        return entry.state.model_copy(deep=True)

    async def history(self, session: str) -> list[LLMMessage]:
        entry = self._sessions.get(session)
        return list(entry.history) if entry is not None else []

    async def save(
        self, session: str, state: SessionState, append: Sequence[LLMMessage] = ()
    ) -> None:
        entry = self._get(session)
        entry.state = state.model_copy(deep=True)
        entry.history.extend(append)

    async def finish(self, session: str, ending: Ending) -> bool:
        entry = self._get(session)
        if entry.ending is not None:
            return False
        entry.ending = ending
        self._deadlines.pop(session, None)
        return True

    async def ending(self, session: str) -> tuple[Ending, bool] | None:
        entry = self._sessions.get(session)
        if entry is None or entry.ending is None:
            return None
        return entry.ending, entry.announced

    async def mark_announced(self, session: str) -> None:
        self._get(session).announced = True

    async def claim_due(self, now: float, lease_s: float, limit: int = 100) -> list[str]:
        due = sorted((at, s) for s, at in self._deadlines.items() if at <= now)[:limit]
        for _, session in due:
            self._deadlines[session] = now + lease_s
        return [s for _, s in due]

    async def drop_deadline(self, session: str) -> None:
        self._deadlines.pop(session, None)
