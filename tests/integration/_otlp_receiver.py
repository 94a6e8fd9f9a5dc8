"""A small OTLP/HTTP trace receiver: a real HTTP server that decodes the export requests.

What a collector does first, and no more: ``POST /v1/traces`` with an
``ExportTraceServiceRequest`` (protobuf, optionally gzip), decoded with opentelemetry-proto,
each span kept as a ``ReceivedSpan``; answered with an ``ExportTraceServiceResponse``
(``GET /count``: spans and requests received, as JSON). The
tests start one in-process (``OtlpReceiver``) and point the services at it with
``OTEL_EXPORTER_OTLP_ENDPOINT``; ``bench/runtime.py`` runs one as a process (``python
tests/integration/_otlp_receiver.py --port N``) so that its work is not the benchmark's.
"""

from __future__ import annotations

import argparse
import gzip
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

__all__ = ["OtlpReceiver", "ReceivedSpan"]

_KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    status_code: int = 0


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    return getattr(any_value, kind) if kind else None


def decode(body: bytes) -> list[ReceivedSpan]:
    """The spans of one export request."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans: list[ReceivedSpan] = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        service = str(resource.get("service.name", ""))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        service=service,
                        name=span.name,
                        kind=_KINDS.get(span.kind, str(span.kind)),
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        attributes={a.key: _value(a.value) for a in span.attributes},
                        status_code=span.status.code,
                    )
                )
    return spans


class OtlpReceiver:
    """The receiver on ``127.0.0.1:<port>`` (0: a free one), serving from a thread.

    ``wait_for(predicate, timeout_s)`` waits (on a condition, not a poll) until the spans
    received so far satisfy ``predicate``; ``requests`` counts export requests, ``count`` the
    spans; ``keep=False`` (the benchmark's) keeps no span, only the counts.
    """

    def __init__(self, port: int = 0, *, keep: bool = True) -> None:
        self.spans: list[ReceivedSpan] = []
        self.requests = 0
        self.count = 0
        self._keep = keep
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                receiver.add(decode(body))
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def do_GET(self) -> None:  # GET /count: how much came in (the benchmark asks)
                if self.path != "/count":
                    self.send_error(404)
                    return
                reply = json.dumps({"spans": receiver.count, "requests": receiver.requests})
                body = reply.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: the tests print what they check

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, spans: list[ReceivedSpan]) -> None:
        with self._changed:
            if self._keep:
                self.spans.extend(spans)
            self.count += len(spans)
            self.requests += 1
            self._changed.notify_all()

    def wait_for(
        self, predicate: Callable[[list[ReceivedSpan]], bool], timeout_s: float
    ) -> list[ReceivedSpan]:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not predicate(self.spans):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"spans received so far: {self.describe()}")
                self._changed.wait(left)
            return list(self.spans)

    def describe(self) -> str:
        return ", ".join(sorted({f"{s.service}:{s.name}" for s in self.spans})) or "none"

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description="OTLP/HTTP trace receiver (counts spans)")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with OtlpReceiver(args.port, keep=False):
        print("ready", flush=True)
        threading.Event().wait()  # until SIGTERM


if __name__ == "__main__":
    main()
