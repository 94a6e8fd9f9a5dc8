"""The real OpenAI client against a REAL llama.cpp server running the 0.5B model.

The server: ``LLM_BASE_URL`` when set (e.g. ``http://127.0.0.1:8081/v1``); otherwise this module
runs the ``agent-streams/llm:latest`` image (``make llm-image``) with ``models/`` mounted
read-only (``make models-test`` fetches the 0.5B) on a random 127.0.0.1 port, and removes the
container afterwards. When no server can be had, the tests skip on a developer's machine and
FAIL under ``CI=true``: CI must exercise the real HTTP path.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agent_streams_assistant.model_settings import ModelSettings
from agent_streams_assistant.models import ModelRequestRejected, SystemMessage, UserMessage
from agent_streams_assistant.openai_client import OpenAIChatCompletionClient

pytestmark = [pytest.mark.llm, pytest.mark.timeout(300)]

IMAGE = os.environ.get("LLM_IMAGE", "agent-streams/llm:latest")
MODEL_FILE = "qwen2.5-coder-0.5b.gguf"
MODELS_DIR = Path(
    os.environ.get("AGENT_STREAMS_MODELS_DIR", Path(__file__).resolve().parents[2] / "models")
)
READY_TIMEOUT_S = 120.0
CODE_BLOCK = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)


def _no_server(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and no LLM server can be started: {reason}", pytrace=False)
    pytest.skip(f"no LLM server: {reason}")


def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=check, timeout=60
    )


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _start_container() -> tuple[str, str]:
    """Run the server image; returns (container id, base URL)."""
    if not (MODELS_DIR / MODEL_FILE).is_file():
        _no_server(f"{MODELS_DIR / MODEL_FILE} is missing (make models-test)")
    try:
        _docker("image", "inspect", IMAGE)
    except FileNotFoundError:
        _no_server("the docker CLI is not installed")
    except subprocess.CalledProcessError as exc:
        _no_server(f"image {IMAGE} is not there (make llm-image): {exc.stderr.strip()}")
    run = _docker(
        "run", "--detach", "--label", "agent-streams.test=llm",
        "--publish", "127.0.0.1::8081",
        "--volume", f"{MODELS_DIR}:/models:ro",
        "--env", f"MODEL_FILE={MODEL_FILE}",
        # one thread: with two, llama.cpp's speed collapses when another process takes a core
        # (the suite runs beside sandboxes and compose stacks); one degrades gracefully
        "--env", "LLM_THREADS=1",
        "--memory", "2g",
        IMAGE,
        check=False,
    )  # fmt: skip
    if run.returncode != 0:
        _no_server(f"docker run failed: {run.stderr.strip()}")
    container = run.stdout.strip()
    port = _docker("port", container, "8081/tcp").stdout.splitlines()[0].rsplit(":", 1)[1]
    return container, f"http://127.0.0.1:{port}/v1"


def _wait_until_ready(container: str, url: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not _answers(url):
        state = _docker("inspect", "--format", "{{.State.Status}}", container).stdout.strip()
        if state != "running" or time.monotonic() > deadline:
            logs = _docker("logs", "--tail", "30", container, check=False)
            _no_server(
                f"the server container is {state} and {url} does not answer after "
                f"{READY_TIMEOUT_S:.0f} s; last logs:\n{logs.stdout}{logs.stderr}"
            )
        time.sleep(0.25)  # polling a separate process's port: no event to wait on


@pytest.fixture(scope="module")
def llm_base_url() -> Iterator[str]:
    given = os.environ.get("LLM_BASE_URL")
    if given:
        if not _answers(given.rstrip("/")):
            _no_server(f"LLM_BASE_URL={given} does not answer on /models")
        yield given.rstrip("/")
        return
    container, url = _start_container()
    try:
        _wait_until_ready(container, url)
        yield url
    finally:
        _docker("rm", "--force", container, check=False)


@pytest.fixture
async def client(llm_base_url: str) -> AsyncIterator[OpenAIChatCompletionClient]:
    settings = ModelSettings(
        base_url=llm_base_url,
        name="qwen2.5-coder-0.5b",
        api_key="not-needed",
        temperature=0.0,
        max_tokens=256,
        timeout_s=120.0,
    )
    real = OpenAIChatCompletionClient(settings)
    yield real
    await real.close()


async def test_the_real_model_answers_with_a_code_block(
    client: OpenAIChatCompletionClient,
) -> None:
    result = await client.create(
        [
            SystemMessage(content="You are a helpful assistant. Reply with one python code block."),
            UserMessage(content="Write a python script that prints 2+2", source="user"),
        ]
    )

    blocks = CODE_BLOCK.findall(result.content)
    assert blocks, f"no code block in: {result.content!r}"
    assert "print" in blocks[0]
    assert result.usage.prompt_tokens > 0
    assert result.usage.completion_tokens > 0
    assert result.finish_reason in ("stop", "length")


async def test_a_prompt_beyond_the_context_is_rejected_not_retried(
    client: OpenAIChatCompletionClient,
) -> None:
    too_long = "hello " * 6000  # the server runs with --n_ctx 4096

    with pytest.raises(ModelRequestRejected) as info:
        await client.create([UserMessage(content=too_long, source="user")])

    assert info.value.status_code == 400
