"""ArtifactStore on a real Redis: content addressing, TTL, caps, input files."""

from __future__ import annotations

import base64
import hashlib

import pytest
import redis.asyncio as aioredis

from agent_streams.artifacts import ArtifactStore, media_type_of
from agent_streams.keys import Keys
from agent_streams.messages import InputFile

pytestmark = pytest.mark.redis


@pytest.fixture
def store(redis_client: aioredis.Redis, namespace: str) -> ArtifactStore:
    return ArtifactStore(
        redis_client, Keys(namespace), ttl_s=60, max_file_bytes=100, max_run_bytes=150
    )


async def test_put_and_get_by_digest(store: ArtifactStore, redis_client: aioredis.Redis) -> None:
    ref = await store.put("plot.png", b"\x89PNG data")
    assert ref.digest == hashlib.sha256(b"\x89PNG data").hexdigest()
    assert (ref.name, ref.size, ref.media_type, ref.stored) == ("plot.png", 9, "image/png", True)
    assert await store.get(ref.digest) == b"\x89PNG data"
    assert 0 < await redis_client.ttl(store.keys.blob(ref.digest)) <= 60


async def test_the_same_bytes_are_stored_once_and_their_ttl_refreshed(
    store: ArtifactStore, redis_client: aioredis.Redis
) -> None:
    first = await store.put("a.txt", b"same")
    await redis_client.expire(store.keys.blob(first.digest), 5)
    second = await store.put("b.txt", b"same")
    assert first.digest == second.digest
    assert await redis_client.ttl(store.keys.blob(first.digest)) > 5


async def test_caps_report_files_instead_of_dropping_them(store: ArtifactStore) -> None:
    refs = await store.put_run([("a", b"x" * 80), ("too-big", b"y" * 101), ("b", b"z" * 80)])
    assert [r.stored for r in refs] == [True, False, False]
    assert "over the 100-byte cap" in (refs[1].note or "")
    assert "run's 150-byte" in (refs[2].note or "")
    assert await store.get(refs[1].digest) is None
    assert refs[2].size == 80


async def test_a_corrupted_blob_is_not_returned(
    store: ArtifactStore, redis_client: aioredis.Redis
) -> None:
    ref = await store.put("a", b"original")
    await redis_client.set(store.keys.blob(ref.digest), b"tampered")
    assert await store.get(ref.digest) is None


async def test_input_files_by_content_or_digest(store: ArtifactStore) -> None:
    uploaded = await store.input_file("data.csv", b"a,b\n1,2\n")
    files, problems = await store.materialise(
        [
            uploaded,
            InputFile(name="inline.txt", content_b64=base64.b64encode(b"hi").decode()),
            InputFile(name="missing.bin", digest="0" * 64),
            InputFile(name="bad.txt", content_b64="not base64!"),
        ]
    )
    assert files == {"data.csv": b"a,b\n1,2\n", "inline.txt": b"hi"}
    assert len(problems) == 2
    assert "missing.bin" in problems[0]
    assert "never uploaded, or expired" in problems[0]
    assert "bad.txt" in problems[1]


async def test_input_files_over_the_caps_are_problems(store: ArtifactStore) -> None:
    big = InputFile(name="big", content_b64=base64.b64encode(b"x" * 101).decode())
    files, problems = await store.materialise([big])
    assert files == {}
    assert "over the 100-byte cap" in problems[0]
    with pytest.raises(ValueError, match="over 100"):
        await store.input_file("big", b"x" * 101)


def test_media_types() -> None:
    assert media_type_of("out/plot.png") == "image/png"
    assert media_type_of("data.csv") == "text/csv"
    assert media_type_of("blob.weird-ext") == "application/octet-stream"
