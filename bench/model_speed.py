"""How fast is a model server through the real client: wall time and tokens per second.

    uv run python bench/model_speed.py --base-url http://127.0.0.1:8081/v1 [--runs 3]

Prints one line per prompt: wall seconds, prompt and completion tokens, and completion tokens
per wall second (prompt processing included, so below the server's pure generation speed,
which llama.cpp logs as ``eval time`` in the container's output). Anchors from
shared/LOCAL-LLM.md (1.5B, 2 threads, quiet machine): generation ~35 tok/s, prompt ~175 tok/s,
one demo turn ~8 s quiet, 10-12 s busy.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from agent_streams_assistant.model_settings import ModelSettings
from agent_streams_assistant.models import LLMMessage, SystemMessage, UserMessage
from agent_streams_assistant.openai_client import OpenAIChatCompletionClient

SYSTEM = "You are a helpful coding assistant. Answer with one python code block."
PROMPTS = {
    "short": ("Write a python script that prints 2+2.", 64),
    "primes": ("Write a python script that prints the primes below 50.", 512),
}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8081/v1")
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--show", action="store_true", help="print the last reply of each prompt")
    args = parser.parse_args()

    print(f"{'prompt':8s} {'run':>3s} {'wall_s':>7s} {'prompt_tok':>10s} {'compl_tok':>9s} "
          f"{'tok/s':>6s}  (anchor 1.5B: ~35 tok/s generation, one turn ~8-12 s)")  # fmt: skip
    for label, (prompt, max_tokens) in PROMPTS.items():
        settings = ModelSettings(
            base_url=args.base_url, name=args.model, max_tokens=max_tokens, temperature=0.0
        )
        client = OpenAIChatCompletionClient(settings)
        content = ""
        for run in range(1, args.runs + 1):
            messages: list[LLMMessage] = [
                SystemMessage(content=SYSTEM),
                UserMessage(content=prompt, source="user"),
            ]
            started = time.perf_counter()
            result = await client.create(messages)
            wall = time.perf_counter() - started
            content = result.content
            tokens = result.usage.completion_tokens
            print(f"{label:8s} {run:3d} {wall:7.2f} {result.usage.prompt_tokens:10d} "
                  f"{tokens:9d} {tokens / wall:6.1f}")  # fmt: skip
        if args.show:
            print(content)
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
