"""The whole system under test: docker-compose.yml on the real Docker engine.

One stack per test session (``stack.Stack``), under a project name and a Redis namespace of its
own (``ase2e<hex>``), with the scripted FAKE model (``compose.fake-model.yml``) in place of the
embedded one so that runs are deterministic and take no model time; everything else is the
production compose file and images: Redis with its AOF volume, the Assistant, three Executor
replicas starting real sandbox containers. Redis is published on a random 127.0.0.1 port.

Teardown: ``down --volumes``, then every sandbox container of the namespace is looked for (the
executors remove their own; one found here is a leak: removed, and reported as an error).

Images: ``TEST_SERVICE_IMAGE``, ``TEST_SANDBOX_IMAGE``, ``TEST_REDIS_IMAGE`` (``make test`` passes
the ones ``make images`` built). Without Docker, compose or the images the tests skip on a
developer's machine and FAIL under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from .stack import Stack


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and the e2e stack cannot run: {reason}", pytrace=False)
    pytest.skip(f"e2e stack unavailable: {reason}")


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    if shutil.which("docker") is None:
        _unavailable("no docker CLI")
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        _unavailable("no Docker engine answers (make engine)")
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        _unavailable("no docker compose plugin (make engine)")
    stack = Stack.create("ase2e")
    missing = stack.missing_images()
    if missing:
        _unavailable(f"images missing: {', '.join(missing)} (make images)")
    try:
        stack.up()
        yield stack
    finally:
        leaked = stack.destroy()
        if leaked:
            pytest.fail(f"{len(leaked)} sandbox container(s) leaked by the stack", pytrace=False)
