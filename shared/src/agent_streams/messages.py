"""The message contract between the client, the Assistant and the Executor.

Every message is a frozen pydantic model with a stable wire ``type`` name (the class name) and a
schema version (``schema_version``, sent as the ``v`` field of a stream entry). A consumer that
receives a newer version than it knows rejects it with a clear error instead of guessing.

Topics (stream per topic type, the topic *source* is the session id):

    tasks    TaskRequest, CancelTask          client    -> assistant
    code     ExecutionRequest, CancelTask     assistant -> executor
    results  ExecutionResult                  executor  -> assistant
    outcomes TaskResult                       assistant -> client (read through the session log)

``AssistantTurn`` is published on ``events`` so that followers see each model reply as it happens.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CODE_TOPIC",
    "CONTRACT_MESSAGES",
    "EVENTS_TOPIC",
    "OUTCOMES_TOPIC",
    "RESULTS_TOPIC",
    "TASKS_TOPIC",
    "ArtifactRef",
    "AssistantTurn",
    "CancelTask",
    "CodeBlockSpec",
    "Contract",
    "ExecutionOptions",
    "ExecutionRequest",
    "ExecutionResult",
    "InputFile",
    "TaskRequest",
    "TaskResult",
    "TaskStatus",
    "TokenUsage",
]

TASKS_TOPIC = "tasks"
CODE_TOPIC = "code"
RESULTS_TOPIC = "results"
OUTCOMES_TOPIC = "outcomes"
EVENTS_TOPIC = "events"

_MAX_TEXT = 200_000


class Contract(BaseModel):
    """Base of every contract message: frozen, strict about unknown fields, versioned."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    schema_version: ClassVar[int] = 1


class CodeBlockSpec(Contract):
    """One fenced code block: the code and its language tag (``python``, ``bash``, ``sh``...)."""

    code: Annotated[str, Field(max_length=_MAX_TEXT)]
    language: Annotated[str, Field(max_length=32)] = "python"


class InputFile(Contract):
    """A file the task brings along, placed in the session's work dir before code runs.

    Either ``content_b64`` (small files, handy from ``redis-cli``) or ``digest`` (a blob already
    put in the artifact store by the client) must be given.
    """

    name: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^/\\\x00]+$")]
    content_b64: str | None = None
    digest: Annotated[str | None, Field(pattern=r"^[0-9a-f]{64}$")] = None


class ArtifactRef(Contract):
    """A file produced by code, stored content-addressed in Redis under ``digest``.

    ``stored`` is false when the file was over the size cap (or the run's total cap): it is
    reported, never silently dropped, and ``note`` says why.
    """

    name: str
    size: Annotated[int, Field(ge=0)]
    media_type: str = "application/octet-stream"
    digest: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    stored: bool = True
    note: str | None = None


class TokenUsage(Contract):
    prompt_tokens: Annotated[int, Field(ge=0)] = 0
    completion_tokens: Annotated[int, Field(ge=0)] = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class ExecutionOptions(Contract):
    """What a task may ask of the executor. The operator's settings cap every value."""

    timeout_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    network: bool = False


class TaskRequest(Contract):
    """A user's task: the assistant loops model -> code -> result until an answer."""

    prompt: Annotated[str, Field(min_length=1, max_length=_MAX_TEXT)]
    system_prompt: Annotated[str | None, Field(max_length=_MAX_TEXT)] = None
    max_turns: Annotated[int, Field(ge=1, le=50)] = 8
    timeout_s: Annotated[float, Field(gt=0, le=86_400)] = 900.0
    execution: ExecutionOptions = ExecutionOptions()
    files: Annotated[list[InputFile], Field(max_length=32)] = []


class AssistantTurn(Contract):
    """One model reply, as it happened (published on the events topic for followers)."""

    turn: Annotated[int, Field(ge=1)]
    content: str
    code_blocks: list[CodeBlockSpec] = []
    usage: TokenUsage = TokenUsage()


class ExecutionRequest(Contract):
    """Code for the executor: run ``code_blocks`` in order in the session's sandbox.

    ``turn`` is the model reply the code came from; turn 0 is the Assistant's own description
    of the task's input files, run before the first model turn.
    """

    turn: Annotated[int, Field(ge=0)]
    code_blocks: Annotated[list[CodeBlockSpec], Field(min_length=1, max_length=32)]
    options: ExecutionOptions = ExecutionOptions()
    files: Annotated[list[InputFile], Field(max_length=32)] = []


class ExecutionResult(Contract):
    """What running one ``ExecutionRequest`` gave.

    A timeout is data (exit code 124, ``timed_out``), not an error.
    """

    turn: Annotated[int, Field(ge=0)]
    request_id: str
    exit_code: int
    output: str
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    cancelled: bool = False
    duration_s: Annotated[float, Field(ge=0)] = 0.0
    artifacts: list[ArtifactRef] = []


TaskStatus = Literal["completed", "max_turns", "deadline", "model_error", "cancelled", "failed"]


class TaskResult(Contract):
    """The end of a task, whatever the ending: ``status`` says which."""

    status: TaskStatus
    answer: str = ""
    turns: Annotated[int, Field(ge=0)] = 0
    usage: TokenUsage = TokenUsage()
    artifacts: list[ArtifactRef] = []
    error: str | None = None


class CancelTask(Contract):
    """Stop a session: the assistant ends it as ``cancelled``, the executor kills running code.

    A control message: it is accepted even when the topic's queue is full.
    """

    __agent_streams_control__: ClassVar[bool] = True

    reason: Annotated[str, Field(max_length=1000)] = "cancelled by user"


CONTRACT_MESSAGES: tuple[type[Contract], ...] = (
    TaskRequest,
    AssistantTurn,
    ExecutionRequest,
    ExecutionResult,
    TaskResult,
    CancelTask,
)
