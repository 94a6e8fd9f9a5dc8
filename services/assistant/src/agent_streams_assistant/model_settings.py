"""Which model the Assistant talks to: ``ModelSettings`` and the rule that picks the endpoint.

Every field reads ``AGENT_STREAMS_MODEL_<FIELD>`` (``AGENT_STREAMS_MODEL_NAME``,
``AGENT_STREAMS_MODEL_TIMEOUT_S``, ...). The key and the base URL ALSO read the standard
``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``; the ``AGENT_STREAMS_MODEL_*`` spelling wins when both
are set. The endpoint is then decided like this, first match wins:

1. A base URL is set (``AGENT_STREAMS_MODEL_BASE_URL`` or ``OPENAI_BASE_URL``): use it, with the
   key if one is set (a placeholder otherwise: llama.cpp, vLLM and Ollama ignore it).
   The model name defaults to ``qwen2.5-coder-1.5b``; set it for servers that care.
2. No base URL but a key (``AGENT_STREAMS_MODEL_API_KEY`` or ``OPENAI_API_KEY``): the OpenAI API
   itself (the ``openai`` package's default URL). ``AGENT_STREAMS_MODEL_NAME`` is then REQUIRED
   and its absence is a settings error at start-up, so that a stray ``OPENAI_API_KEY`` in a shell
   never silently sends prompts, or a local model's name, to OpenAI.
3. Neither: the embedded llama.cpp server at ``http://127.0.0.1:8081/v1`` with model
   ``qwen2.5-coder-1.5b`` (the server answers whatever name is asked; compose sets the URL to
   the ``llm`` service).

So switching to OpenAI is two variables::

    OPENAI_API_KEY=sk-...  AGENT_STREAMS_MODEL_NAME=gpt-4o

and back to the embedded model is unsetting them. Azure or another OpenAI-compatible service:
a base URL + key + name. An empty variable counts as unset.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["EMBEDDED_BASE_URL", "EMBEDDED_MODEL_NAME", "ModelSettings"]

EMBEDDED_BASE_URL = "http://127.0.0.1:8081/v1"
EMBEDDED_MODEL_NAME = "qwen2.5-coder-1.5b"
_PLACEHOLDER_KEY = "not-needed"


class ModelSettings(BaseSettings):
    """Model endpoint, credentials, sampling and retry budget (see the module docstring)."""

    model_config = SettingsConfigDict(
        env_prefix="AGENT_STREAMS_MODEL_",
        extra="ignore",
        env_ignore_empty=True,  # compose's `${VAR:-}` passes "": same as unset
        frozen=True,
        populate_by_name=True,
        hide_input_in_errors=True,  # the input holds the API key
    )

    base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "AGENT_STREAMS_MODEL_BASE_URL", "OPENAI_BASE_URL", "base_url"
        ),
    )
    api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("AGENT_STREAMS_MODEL_API_KEY", "OPENAI_API_KEY", "api_key"),
    )
    name: str = ""
    """Model to request; empty means "decide by the rule above"."""
    timeout_s: Annotated[float, Field(gt=0)] = 120.0
    """Per-attempt HTTP timeout (a 1.5B model on 2 cores needs ~30 s for 1000 tokens)."""
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.2
    max_tokens: Annotated[int, Field(gt=0)] = 1024
    max_retries: Annotated[int, Field(ge=0)] = 4
    """Retries after the first attempt, on 429, 408/409, 5xx, connection errors and timeouts."""
    backoff_initial_s: Annotated[float, Field(ge=0)] = 0.5
    backoff_max_s: Annotated[float, Field(ge=0)] = 8.0
    deadline_s: Annotated[float, Field(gt=0)] = 300.0
    """Budget for one ``create`` call, all attempts and waits included."""

    @model_validator(mode="after")
    def _resolve_endpoint(self) -> ModelSettings:
        # frozen model: the resolved values are written once, here, before anyone reads them.
        if self.base_url is None and self.api_key is None:
            object.__setattr__(self, "base_url", EMBEDDED_BASE_URL)
        if self.base_url is None and not self.name:
            raise ValueError(
                "an OpenAI key is set (OPENAI_API_KEY or AGENT_STREAMS_MODEL_API_KEY) without a "
                "base URL, which selects the OpenAI API, but AGENT_STREAMS_MODEL_NAME is not set: "
                "set it (e.g. AGENT_STREAMS_MODEL_NAME=gpt-4o), or unset the key to use the "
                f"embedded model at {EMBEDDED_BASE_URL}"
            )
        if not self.name:
            object.__setattr__(self, "name", EMBEDDED_MODEL_NAME)
        return self

    def key_or_placeholder(self) -> str:
        """The key to send; local servers accept any, the openai package needs a non-empty one."""
        return self.api_key.get_secret_value() if self.api_key is not None else _PLACEHOLDER_KEY

    def describe(self) -> str:
        """One loggable line, without the key."""
        where = self.base_url or "the OpenAI API"
        return f"model {self.name} at {where} (key {'set' if self.api_key else 'not set'})"
