"""``StreamsCollector``: the operator's view (``agent_streams.admin``) as Prometheus gauges.

Read at each scrape (``agent-streams exporter``; compose runs one as the ``streams-exporter``
service under ``--profile observe``), as Redis ACL user ``client``, which may read stream
status and nothing the services own. One exporter per deployment, not one per replica: every
replica would report the same streams.

    agent_streams_stream_length{stream,kind,name}          entries on the stream (bounded by
                                                           AGENT_STREAMS_STREAM_MAXLEN)
    agent_streams_group_lag{stream,group}                  not yet delivered to the group
                                                           (absent when Redis cannot tell)
    agent_streams_group_pending{stream,group}              delivered, not acknowledged yet
    agent_streams_group_consumers{stream,group}            consumers Redis knows in the group
                                                           (every replica that ever read, until
                                                           deleted: no label per consumer, as
                                                           their names change at each start)
    agent_streams_errors_stream_length                     entries on the errors stream
    agent_streams_dead_letters_stream_length               dead letters waiting (list, retry)
    agent_streams_status_up                                1 when the last read succeeded
    agent_streams_status_read_seconds                      how long that read took

``kind`` is ``topic`` or ``inbox``; ``name`` the topic type or the inbox's agent type. The
collector runs in the HTTP server's thread; the read is a coroutine on the exporter's event
loop (the async Redis client lives there), waited for at most ``timeout_s``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..admin import Admin, SystemStatus

__all__ = ["StreamsCollector"]

log = structlog.get_logger("agent_streams")


class StreamsCollector(Collector):
    """Gauges from ``admin.status()`` read on ``loop`` at every scrape (module docstring)."""

    def __init__(
        self, admin: Admin, loop: asyncio.AbstractEventLoop, *, timeout_s: float = 5.0
    ) -> None:
        self._admin = admin
        self._loop = loop
        self._timeout_s = timeout_s

    def collect(self) -> Iterator[GaugeMetricFamily]:
        started = time.perf_counter()
        status: SystemStatus | None = None
        future = asyncio.run_coroutine_threadsafe(self._admin.status(), self._loop)
        try:
            status = future.result(self._timeout_s)
        except Exception as exc:  # a scrape must answer: the failure is a metric and a log line
            future.cancel()
            log.warning("streams_status_failed", error=f"{type(exc).__name__}: {exc}")
        up = GaugeMetricFamily(
            "agent_streams_status_up", "1 when the exporter's last read of Redis succeeded"
        )
        up.add_metric([], 0.0 if status is None else 1.0)
        yield up
        took = GaugeMetricFamily(
            "agent_streams_status_read_seconds", "How long the exporter's read of Redis took"
        )
        took.add_metric([], time.perf_counter() - started)
        yield took
        if status is not None:
            yield from _families(status)


def _families(status: SystemStatus) -> Iterator[GaugeMetricFamily]:
    length = GaugeMetricFamily(
        "agent_streams_stream_length", "Entries on a stream", labels=["stream", "kind", "name"]
    )
    lag = GaugeMetricFamily(
        "agent_streams_group_lag",
        "Entries not yet delivered to a consumer group",
        labels=["stream", "group"],
    )
    pending = GaugeMetricFamily(
        "agent_streams_group_pending",
        "Entries delivered to a consumer group and not acknowledged yet",
        labels=["stream", "group"],
    )
    consumers = GaugeMetricFamily(
        "agent_streams_group_consumers", "Consumers in a group", labels=["stream", "group"]
    )
    for stream in status.streams:
        length.add_metric([stream.key, stream.kind, stream.name], stream.length)
        for group in stream.groups:
            labels = [stream.key, group.name]
            if group.lag is not None:
                lag.add_metric(labels, group.lag)
            pending.add_metric(labels, group.pending)
            consumers.add_metric(labels, len(group.consumers))
    yield from (length, lag, pending, consumers)
    errors = GaugeMetricFamily(
        "agent_streams_errors_stream_length", "Entries on the errors stream (bad input answered)"
    )
    errors.add_metric([], status.errors)
    dead = GaugeMetricFamily(
        "agent_streams_dead_letters_stream_length", "Dead letters waiting on the dead-letter stream"
    )
    dead.add_metric([], status.dead_letters)
    yield from (errors, dead)
