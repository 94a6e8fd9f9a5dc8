"""``ExecutorSettings``: everything the Executor service reads from its environment.

AGENT_STREAMS_*          the runtime (Redis URL, namespace, delivery): RuntimeSettings
EXECUTOR_*               this class: the backend, the sandbox's limits, artifacts, lifecycle
EXECUTOR_LOG_LEVEL       log level (or AGENT_STREAMS_LOG_LEVEL)
AGENT_STREAMS_METRICS_*, OTEL_*   metrics endpoint and traces: TelemetrySettings

Every limit is the operator's: a task may ask for a shorter timeout or (where
``EXECUTOR_ALLOW_NETWORK`` is true) for network access, and for nothing else. Units are in the
names. Defaults are locked down and run on a laptop.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent_streams.streams import RuntimeSettings
from agent_streams.telemetry import TelemetrySettings
from agent_streams_executor.executors.channel import RunLimits

__all__ = ["ExecutorSettings"]

_MiB = 2**20


class ExecutorSettings(BaseSettings):
    """Where and how generated code runs. Built once in ``main()`` and passed down."""

    model_config = SettingsConfigDict(env_prefix="EXECUTOR_", extra="ignore", frozen=True)

    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    log_level: str = Field(
        default="INFO",
        validation_alias=AliasChoices("EXECUTOR_LOG_LEVEL", "AGENT_STREAMS_LOG_LEVEL", "log_level"),
    )
    log_json: bool | None = None
    """Force JSON (true) or console (false) logs; default: JSON unless stderr is a terminal."""

    backend: Literal["docker", "local"] = "docker"
    """``docker`` (a locked-down container per session) or ``local`` (NOT a sandbox)."""

    # the sandbox
    image: str = "agent-streams/sandbox:latest"
    sandbox_python: str = "python"
    sandbox_user: str = "10001:10001"
    sandbox_workdir: str = "/workspace"
    preload_modules: list[str] = ["numpy", "pandas", "matplotlib", "matplotlib.pyplot"]
    """Imported once per sandbox by the warm runner before it is ready; missing ones are skipped."""
    preload_lazy_modules: list[str] = [
        "scipy.stats",
        "sklearn.linear_model",
        "sklearn.model_selection",
        "sklearn.ensemble",
        "sklearn.metrics",
        "statsmodels.api",
        "seaborn",
    ]
    """Imported by a sandbox's warm runner after it is ready, once it has waited
    ``preload_lazy_after_s`` for work (slow imports, ~1 CPU-s in all: a sandbox is ready as
    fast as without them, one kept busy never pays for them, and a script that needs them
    finds them loaded); missing ones are skipped. ``[]`` saves that CPU on an executor whose
    sessions never use them."""
    preload_lazy_after_s: float = Field(2.0, ge=0)

    python_warnings: str = "ignore"
    """``PYTHONWARNINGS`` in the sandbox. Model-written pandas code triggers FutureWarning and
    SettingWithCopyWarning pages that crowd the output the model reads back (its context is
    4k tokens) without changing what the code computes; ``default`` shows them again."""

    # limits of one run
    timeout_s: float = Field(60.0, gt=0)
    max_timeout_s: float = Field(600.0, gt=0)
    timeout_grace_s: float = Field(5.0, gt=0)
    """How long past its timeout a sandbox may take to answer before it is thrown away."""
    max_output_bytes: int = Field(65_536, ge=1024)
    """Per stream (stdout, stderr, and both interleaved); the middle is cut, with a marker."""

    # limits of one sandbox (container)
    memory_limit_mb: int = Field(1024, ge=64)
    cpu_limit_cores: float = Field(1.0, gt=0)
    pids_limit: int = Field(128, ge=16)
    workdir_size_mb: int = Field(256, ge=1)
    workdir_max_files: int = Field(20_000, ge=100)
    tmp_size_mb: int = Field(128, ge=16)
    max_open_files: int = Field(1024, ge=64)

    # network: none unless the operator allows tasks to ask for it
    allow_network: bool = False
    network_name: str = "bridge"

    # artifacts (files the code creates or changes)
    artifact_max_file_bytes: int = Field(10 * _MiB, ge=0)
    artifact_max_run_bytes: int = Field(25 * _MiB, ge=0)
    artifact_max_files: int = Field(64, ge=0)
    artifact_ttl_s: int = Field(86_400, ge=1)

    # lifecycle
    idle_timeout_s: float = Field(600.0, gt=0)
    """A session's sandbox is reaped after this long unused (its files come back from the
    session's file manifest in Redis if the session returns, within ``artifact_ttl_s``)."""
    max_sessions: int = Field(32, ge=1)
    warm_spares: int = Field(1, ge=0)
    """Sandboxes started ahead of need, so that a new session's first run does not wait."""
    start_timeout_s: float = Field(60.0, gt=0)
    docker_api_timeout_s: float = Field(30.0, gt=0)
    orphan_grace_s: float = Field(300.0, ge=0)
    """A created-but-never-started sandbox of another executor process is removed at start-up
    only when older than this: younger, it may be a sibling replica's spare being started."""

    # the local executor (no Docker)
    local_root_dir: Path = Path(tempfile.gettempdir()) / "agent-streams-executor"
    local_env_allowlist: list[str] = ["LANG", "LC_ALL", "LC_CTYPE", "TZ"]
    """The only names copied from the service's environment into the code's."""
    local_address_space_mb: int = Field(4096, ge=256)

    @model_validator(mode="after")
    def _timeouts_fit(self) -> ExecutorSettings:
        if self.timeout_s > self.max_timeout_s:
            raise ValueError("timeout_s must not exceed max_timeout_s")
        return self

    def run_limits(self, *, local: bool) -> RunLimits:
        """The per-run caps the runner enforces (rlimits: what cgroups do not cover)."""
        rlimits = {"core": 0, "fsize": self.workdir_size_mb * _MiB, "nofile": self.max_open_files}
        if local:
            rlimits["as"] = self.local_address_space_mb * _MiB
        return RunLimits(
            max_output_bytes=self.max_output_bytes,
            max_file_bytes=self.artifact_max_file_bytes,
            max_run_bytes=self.artifact_max_run_bytes,
            max_files=self.artifact_max_files,
            max_entries=self.workdir_max_files + 1000,
            rlimits=rlimits,
        )

    def clamp_timeout(self, requested_s: float | None) -> float:
        """A task's timeout, never above the operator's maximum."""
        return min(requested_s or self.timeout_s, self.max_timeout_s)
