"""An agent for the executor tests: records every ``ExecutionResult`` on the results topic."""

from __future__ import annotations

from collections.abc import Callable

from agent_streams import MessageContext, RoutedAgent, message_handler, type_subscription
from agent_streams.messages import ExecutionResult


def results_recorder(sink: Callable[[ExecutionResult], None]) -> type[RoutedAgent]:
    """An agent class (register it on the client runtime) that hands each result to ``sink``."""

    @type_subscription("results")
    class Recorder(RoutedAgent):
        def __init__(self) -> None:
            super().__init__("records execution results")

        @message_handler
        async def on_result(self, message: ExecutionResult, ctx: MessageContext) -> None:
            sink(message)

    return Recorder
