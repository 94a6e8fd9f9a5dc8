"""``AssistantSettings``: everything the Assistant service reads from its environment.

AGENT_STREAMS_*                  the runtime (Redis URL, namespace, delivery): RuntimeSettings
AGENT_STREAMS_MODEL_*            the model endpoint (and OPENAI_*): ModelSettings
AGENT_STREAMS_ASSISTANT_*        this class: system prompt, max turns, deadline sweeping
AGENT_STREAMS_LOG_LEVEL          log level (AGENT_STREAMS_ASSISTANT_LOG_LEVEL wins)
AGENT_STREAMS_METRICS_*, OTEL_*  metrics endpoint and traces: TelemetrySettings
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent_streams.streams import RuntimeSettings
from agent_streams.telemetry import TelemetrySettings

from .feedback import DEFAULT_SYSTEM_PROMPT
from .model_settings import ModelSettings

__all__ = ["AssistantSettings"]


class AssistantSettings(BaseSettings):
    """The Assistant service's settings; defaults run against a local Redis and model."""

    model_config = SettingsConfigDict(env_prefix="AGENT_STREAMS_ASSISTANT_", extra="ignore")

    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    log_level: str = Field(
        default="INFO",
        validation_alias=AliasChoices(
            "AGENT_STREAMS_ASSISTANT_LOG_LEVEL", "AGENT_STREAMS_LOG_LEVEL", "log_level"
        ),
    )
    log_json: bool | None = None
    """Force JSON (true) or console (false) logs; default: JSON unless stderr is a terminal."""
    system_prompt: Annotated[str, Field(min_length=1)] = DEFAULT_SYSTEM_PROMPT
    """Used when a task does not bring its own ``system_prompt``."""
    max_turns: Annotated[int, Field(ge=1, le=50)] = 8
    """Model replies per task when the task does not set ``max_turns``."""
    answer_votes: Annotated[int, Field(ge=1, le=5)] = 1
    """Independent scripts that may answer a task asking for ``@name[value]`` answers; above
    1, the task ends when two print the same answers (see ``AssistantConfig.answer_votes``)."""
    max_history_chars: Annotated[int, Field(ge=1_000)] = 12_000
    """How much of a conversation the model reads: the system prompt, the task and the latest
    turns that fit (the embedded model has a 4096-token context)."""
    deadline_sweep_interval_s: Annotated[float, Field(gt=0)] = 1.0
    """How often this replica looks for tasks past their deadline."""
    deadline_lease_s: Annotated[float, Field(gt=0)] = 30.0
    """How long a replica has to end a due task before another replica may."""
