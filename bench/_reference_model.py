"""``--reference``: a FAKE model that answers each data question with its reference solution.

A test double for the LLM, to verify the quality bench itself: the fake OpenAI-compatible
server of the e2e tests (``tests/e2e/fake_model_server.py``, real HTTP, the real ``openai``
client on the Assistant's side) with another script. For a conversation whose first user
message holds a data question's prompt, the first reply is the question's reference solution
as a python block (``_data_questions.reference_script``) and the next one the expected answer
in the requested form, without code. So the real Assistant, Executor, sandbox, artifact store
and checker all run, and every question must come out exactly right: that proves the
questions are answerable in the sandbox (its libraries included) and that the checks accept a
right answer. A conversation that matches no question is answered by the e2e fake's own
script, so a task that is not a data question fails its check, visibly.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator, Mapping
from http.server import ThreadingHTTPServer
from typing import Any

from _quality_tasks import ROOT

sys.path.insert(0, str(ROOT))  # the fake server is shared with the e2e tests
from tests.e2e.fake_model_server import Handler, reply_for


def scripted_reply(scripts: Mapping[str, tuple[str, str]]) -> Any:
    """The reply function for ``scripts``: prompt -> (reference script, final answer)."""

    def reply(messages: list[dict[str, Any]]) -> str:
        users = [m for m in messages if m.get("role") == "user"]
        first = str(users[0].get("content") or "") if users else ""
        matching = [prompt for prompt in scripts if prompt in first]
        if not matching:
            return reply_for(messages)
        code, answer = scripts[max(matching, key=len)]
        if not any(m.get("role") == "assistant" for m in messages):
            return f"Here is the reference solution.\n\n```python\n{code}```\n"
        return answer

    return reply


@contextlib.contextmanager
def reference_model(scripts: Mapping[str, tuple[str, str]]) -> Iterator[str]:
    """The fake server on a free loopback port, in a thread; yields its base URL."""
    handler = type("ReferenceHandler", (Handler,), {"reply": staticmethod(scripted_reply(scripts))})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="reference-model", daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        print(f"FAKE reference model at {url} ({len(scripts)} scripted questions)")
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
