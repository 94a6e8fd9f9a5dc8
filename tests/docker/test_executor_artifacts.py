"""Files the code makes come back as artifacts: stored in Redis by sha256, fetched by digest."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from agent_streams import CancellationToken
from agent_streams.artifacts import ArtifactStore
from agent_streams.keys import Keys
from agent_streams.messages import InputFile
from agent_streams_executor.executors.base import CodeBlock
from agent_streams_executor.executors.pool import ExecutorPool
from agent_streams_executor.results import artifact_refs, to_execution_result

pytestmark = [pytest.mark.docker, pytest.mark.redis]

PLOT = """
import matplotlib.pyplot as plt
import numpy as np
x = np.linspace(0, 10, 200)
fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(x, np.sin(x), label="sin")
ax.plot(x, np.cumsum(np.random.default_rng(1).normal(size=200)) / 10, label="walk")
ax.set_title("a real plot")
ax.legend()
fig.savefig("plot.png", dpi=80)
print("saved")
"""


def png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the decompressed scanlines of a PNG (enough to see it is not blank)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return size[0], size[1], zlib.decompress(idat)


@pytest.fixture
def store(redis_client: aioredis.Redis, namespace: str) -> ArtifactStore:
    return ArtifactStore(
        redis_client, Keys(namespace), ttl_s=600, max_file_bytes=2**20, max_run_bytes=3 * 2**20
    )


async def test_a_matplotlib_plot_comes_back_as_a_png_artifact(
    make_pool: Callable[..., Awaitable[ExecutorPool]],
    store: ArtifactStore,
    redis_client: aioredis.Redis,
    namespace: str,
) -> None:
    pool = await make_pool("docker")
    result = await pool.run("plots", [CodeBlock(PLOT)], CancellationToken())
    assert result.exit_code == 0, result.output
    refs = await artifact_refs(store, result.files)
    message = to_execution_result(result, turn=1, request_id="r1", artifacts=refs)
    [ref] = message.artifacts
    assert (ref.name, ref.media_type, ref.stored) == ("plot.png", "image/png", True)
    assert await redis_client.ttl(Keys(namespace).blob(ref.digest)) > 0
    data = await store.get(ref.digest)  # what a client does with the ref
    assert data is not None
    assert len(data) == ref.size > 5_000
    width, height, pixels = png_pixels(data)
    assert (width, height) == (480, 320)
    assert len(set(pixels)) > 20  # lines, text and axes, not a blank canvas


async def test_over_cap_files_are_reported_not_dropped(
    make_pool: Callable[..., Awaitable[ExecutorPool]], store: ArtifactStore
) -> None:
    pool = await make_pool(
        "docker", artifact_max_file_bytes=2**20, artifact_max_run_bytes=2 * 2**20
    )
    code = (
        "import os\n"
        "open('a_small.txt', 'w').write('fine')\n"
        "open('b_huge.bin', 'wb').write(os.urandom(3 * 2**20))\n"
        "for name in ('c_part1.bin', 'd_part2.bin', 'e_part3.bin'):\n"
        "    open(name, 'wb').write(os.urandom(900 * 1024))\n"
    )
    result = await pool.run("caps", [CodeBlock(code)], CancellationToken())
    refs = {ref.name: ref for ref in await artifact_refs(store, result.files)}
    assert sorted(refs) == [
        "a_small.txt",
        "b_huge.bin",
        "c_part1.bin",
        "d_part2.bin",
        "e_part3.bin",
    ]
    assert refs["a_small.txt"].stored
    assert await store.get(refs["a_small.txt"].digest) == b"fine"
    huge = refs["b_huge.bin"]
    assert (huge.stored, huge.size) == (False, 3 * 2**20)
    assert "file cap" in (huge.note or "")
    assert await store.get(huge.digest) is None
    assert refs["c_part1.bin"].stored
    assert refs["d_part2.bin"].stored
    last = refs["e_part3.bin"]
    assert not last.stored
    assert "run" in (last.note or "")


async def test_input_files_reach_the_sandbox(
    make_pool: Callable[..., Awaitable[ExecutorPool]], store: ArtifactStore
) -> None:
    uploaded = await store.input_file("prices.csv", b"day,price\n1,10\n2,12\n")
    inline = InputFile(name="note.txt", content_b64="aGVsbG8=")
    files, problems = await store.materialise([uploaded, inline])
    assert problems == []
    pool = await make_pool("docker")
    code = (
        "import pandas as pd\nprint(pd.read_csv('prices.csv').price.sum(), open('note.txt').read())"
    )
    result = await pool.run("inputs", [CodeBlock(code)], CancellationToken(), files=files)
    assert (result.exit_code, result.output) == (0, "22 hello\n")
    assert result.files == ()  # inputs are not artifacts unless the code changes them
