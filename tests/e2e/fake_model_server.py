"""A FAKE OpenAI-compatible chat-completions server that replies from the task itself.

A test double for the model, for the end-to-end tests and the system benchmark: the Assistant
talks to it over real HTTP through the real ``openai`` client, exactly as to llama.cpp, but the
replies are deterministic and take no model time. Standard library only, so that it runs in
any Python image (compose mounts this file into the service image).

The script is in the task's prompt: every fenced code block in the FIRST user message is one
turn. Reply k (k = assistant messages so far) is code block k, fenced as it was; once they are
used up, the reply is a final answer without code, quoting the first line of the last user
message (the execution feedback), so the task ends as ``completed``. A prompt without code
blocks is answered at once, unless ``FAKE_MODEL_SCRIPT`` (env) names a markdown file: then
that file's code blocks are the turns (for a fixed prompt, e.g. the AutoGen quickstart's).
``FAKE_MODEL_LATENCY_S`` (env) delays every reply, to imitate a model in benchmarks.

    POST /v1/chat/completions   the reply, non-streaming (the Assistant does not stream)
    GET  /v1/models             the one model, "fake-model" (healthcheck)
    GET  /stats                 {"requests": N, "busy_s": total handling time}

Run: ``python fake_model_server.py [--port 8080]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
MODEL = "fake-model"


def reply_for(messages: list[dict[str, Any]]) -> str:
    """The scripted reply for a conversation (see the module docstring)."""
    users = [m for m in messages if m.get("role") == "user"]
    turns_so_far = sum(1 for m in messages if m.get("role") == "assistant")
    if not users:
        return "There is no task."
    task = _text(users[0])
    blocks = [(m.group(1) or "python", m.group(2)) for m in FENCE.finditer(task)]
    script = os.environ.get("FAKE_MODEL_SCRIPT")
    if not blocks and script:
        with open(script, encoding="utf-8") as file:
            text = file.read()
        blocks = [(m.group(1) or "python", m.group(2)) for m in FENCE.finditer(text)]
    if turns_so_far < len(blocks):
        language, code = blocks[turns_so_far]
        return f"Here is the code for step {turns_so_far + 1}.\n\n```{language}\n{code}```\n"
    if turns_so_far == 0:
        return "This task needs no code. Done."
    feedback = _text(users[-1]).strip().splitlines()
    first = feedback[0] if feedback else ""
    return f"The task is done (the last run said: {first[:200]})."


def _text(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


class _Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.busy_s = 0.0


class Handler(BaseHTTPRequestHandler):
    server_version = "fake-model/1"
    protocol_version = "HTTP/1.1"  # keep-alive, as the openai client expects
    stats = _Stats()
    latency_s = float(os.environ.get("FAKE_MODEL_LATENCY_S", "0") or 0)
    # the script; a subclass may answer from another (bench/_reference_model.py does)
    reply = staticmethod(reply_for)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: one line per error only
        return

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
        elif self.path == "/stats":
            with self.stats.lock:
                self._send(200, {"requests": self.stats.requests, "busy_s": self.stats.busy_s})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        start = time.perf_counter()
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
            messages = list(request["messages"])
        except (ValueError, KeyError, TypeError) as exc:
            self._send(400, {"error": {"message": f"bad request: {exc}", "type": "invalid"}})
            return
        if self.latency_s > 0:
            time.sleep(self.latency_s)
        content = self.reply(messages)
        prompt_chars = sum(len(_text(m)) for m in messages)
        self._send(
            200,
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request.get("model") or MODEL,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_chars // 4,
                    "completion_tokens": len(content) // 4,
                    "total_tokens": (prompt_chars + len(content)) // 4,
                },
            },
        )
        with self.stats.lock:
            self.stats.requests += 1
            self.stats.busy_s += time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description="FAKE OpenAI-compatible model server (tests)")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print(f"fake model server on {args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
