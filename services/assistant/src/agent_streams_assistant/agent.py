"""The Assistant agent: task -> model -> code -> execution result -> model ... -> an ending.

One agent instance per session (the topic source is the agent key). It keeps nothing of the
session in memory: the history and the status live in the ``SessionStore`` (see ``session``
for why each handler is safe to re-run), so any replica can take any turn.

    tasks    TaskRequest      start: history = [system prompt, task], first model turn
    tasks    CancelTask       end as ``cancelled`` (and stop the executor's code)
    results  ExecutionResult  feed the run back to the model, next turn
    events   AssistantTurn    published for every model reply, as it happens
    code     ExecutionRequest published when a reply has code (input files on the first one)
    outcomes TaskResult       every ending: completed, max_turns, deadline, model_error,
                              cancelled, failed

With input files, the task first has the executor describe them (turn 0: ``describe_files``
runs in the session's sandbox; its output goes under the task in the model's first message), so
the first script is written knowing the columns. A model reply without code is the answer
(``completed``), with the ``@name[value]`` forms the task asked for kept from what the runs
printed (``answer_form``). A script identical to one already run is answered without running
it (``repair``). ``max_turns`` model replies without
an answer end as ``max_turns``; the task's ``timeout_s`` bounds the whole task (the model call
is cut at the deadline, and the ``DeadlineSweeper`` ends a task whose executor never answers).
A ``ModelError`` ends as ``model_error`` with the model client's reason. An unexpected error
ends as ``failed``; lost connections to Redis are left to the runtime's retries instead.

A ``CancelTask`` that arrives while the model is writing waits for that reply (the runtime runs
one message at a time per session); while the executor runs code it takes effect at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from agent_streams import MessageContext, RoutedAgent, TopicId, message_handler, type_subscription
from agent_streams.codeblocks import extract_code_blocks, has_unterminated_fence
from agent_streams.messages import (
    CODE_TOPIC,
    EVENTS_TOPIC,
    RESULTS_TOPIC,
    TASKS_TOPIC,
    AssistantTurn,
    CancelTask,
    CodeBlockSpec,
    ExecutionRequest,
    ExecutionResult,
    TaskRequest,
    TaskStatus,
    TokenUsage,
)
from agent_streams.streams.transient import TRANSIENT

from . import describe_files
from .answer_form import (
    agreed_answer,
    answered_forms,
    form_hint,
    keep_requested_forms,
    missing_forms,
    printed_forms,
    requested_files,
    requirements,
)
from .endings import Endings
from .feedback import (
    DEFAULT_SYSTEM_PROMPT,
    EMPTY_FIGURE,
    NAN,
    TaskAsks,
    echo_feedback,
    echoes,
    execution_feedback,
    fit_history,
    fresh_start_note,
    repeated_script_feedback,
    task_prompt,
    truncated_reply_feedback,
    unbacked_answer_feedback,
)
from .models import (
    AssistantMessage,
    ChatCompletionClient,
    LLMMessage,
    ModelError,
    SystemMessage,
    UserMessage,
)
from .repair import fingerprint
from .session import ScriptRun, SessionState, SessionStore

__all__ = ["AGENT_TYPE", "Assistant", "AssistantConfig"]

AGENT_TYPE = "assistant"

log = structlog.get_logger("agent_streams_assistant")


@dataclass(frozen=True, slots=True)
class AssistantConfig:
    """What the operator decides for every task (a task may override the first two)."""

    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    max_turns: int = 8
    max_history_chars: int = 12_000
    """How much of the conversation the model reads (see ``feedback.fit_history``)."""
    describe_files_chars: int = 1_800
    """Room for the input files' description under the task (0: files are only named)."""
    finish_when_answered: bool = True
    """End as ``completed`` right after a run that printed every ``@name[value]`` answer the
    task asks for (and made the files it names, with no NaN in its output), with those lines
    as the answer, instead of asking the model to restate them (a turn that mostly paraphrased
    them away)."""
    explore_temperature: float | None = 0.8
    """The sampling temperature of the reply after one that made no progress (a repeated
    script, or the same error again): a small model at a low temperature otherwise sends the
    same script turn after turn. None keeps the model's own setting."""
    answer_votes: int = 1
    """With ``finish_when_answered``: how many independent scripts may answer a task that asks
    for ``@name[value]`` answers. 1: the first run that prints them all ends the task. N > 1:
    after it, more scripts are written from the task alone (at ``explore_temperature``), up to
    N in all, and the task ends as soon as two print the same answers (self-consistency: a
    small model's slip, such as ``!= 'C'`` for "embarked at C", is rarely made twice), else
    with the first answer. Costs a model turn and a run per extra script."""


@type_subscription(TASKS_TOPIC)
@type_subscription(RESULTS_TOPIC)
class Assistant(RoutedAgent):
    """Asks the model for code, has the executor run it, loops until an answer.

    Args:
        model_client: any ``ChatCompletionClient`` (the OpenAI-compatible one, or a fake).
        store: where sessions live (``RedisSessionStore`` across replicas).
        endings: how endings are recorded and announced (shared with the deadline sweeper).
        config: the operator's defaults.
    """

    def __init__(
        self,
        model_client: ChatCompletionClient,
        store: SessionStore,
        endings: Endings,
        config: AssistantConfig | None = None,
    ) -> None:
        super().__init__("Writes code with a model, has it executed, and answers.")
        self._model = model_client
        self._store = store
        self._endings = endings
        self._config = config or AssistantConfig()

    @property
    def session(self) -> str:
        return self.id.key

    # -- handlers ---------------------------------------------------------------------------
    @message_handler
    async def on_task(self, message: TaskRequest, ctx: MessageContext) -> None:
        async def work() -> None:
            ended, state = await self._resume_point()
            if ended:
                return
            if state is None:
                state = await self._start(message, ctx)
            else:
                log.info("task_redelivered", session=self.session, id=ctx.message_id)
            await self._advance(state, ctx)

        await self._guarded(work, ctx)

    @message_handler
    async def on_execution_result(self, message: ExecutionResult, ctx: MessageContext) -> None:
        async def work() -> None:
            ended, state = await self._resume_point()
            if ended:
                return
            if state is None:
                log.warning("result_for_unknown_session", session=self.session, turn=message.turn)
                return
            if message.turn == state.awaiting_turn:
                await self._absorb(state, message)
            else:
                log.info(
                    "stale_result_ignored",
                    session=self.session,
                    turn=message.turn,
                    awaiting=state.awaiting_turn,
                )
            await self._advance(state, ctx)

        await self._guarded(work, ctx)

    @message_handler
    async def on_cancel(self, message: CancelTask, ctx: MessageContext) -> None:
        async def work() -> None:
            ended, state = await self._resume_point()
            if ended:
                return
            # Cancelled before it started: the ending makes a later TaskRequest a no-op.
            state = state or _unstarted(ctx)
            await self._end(state, "cancelled", answer=state.last_reply, error=message.reason)

        await self._guarded(work, ctx)

    # -- steps ------------------------------------------------------------------------------
    async def _resume_point(self) -> tuple[bool, SessionState | None]:
        """(ended, state) of the session (state None: not started), after publishing whatever
        an earlier, interrupted attempt still owed."""
        if await self._endings.flush(self.session):
            log.info("session_already_ended", session=self.session)
            return True, None
        state = await self._store.load(self.session)
        if state is not None and state.has_outbox:
            await self._send_outbox(state)
        return False, state

    async def _start(self, task: TaskRequest, ctx: MessageContext) -> SessionState:
        given = task.model_fields_set
        max_turns = task.max_turns if "max_turns" in given else self._config.max_turns
        names = [f.name for f in task.files]
        state = SessionState(
            task_id=ctx.message_id,
            max_turns=max_turns,
            deadline=time.time() + task.timeout_s,
            timeout_s=task.timeout_s,
            options=task.execution,
            pending_files=list(task.files),
            prompt=task.prompt,
            input_names=names,
        )
        history: list[LLMMessage] = [
            SystemMessage(content=task.system_prompt or self._config.system_prompt)
        ]
        budget = self._config.describe_files_chars
        if names and budget > 0:
            # Turn 0: the executor describes the files; the task message waits for it.
            state.outbox_request = ExecutionRequest(
                turn=0,
                code_blocks=[CodeBlockSpec(code=describe_files.script(names, budget, task.prompt))],
                options=state.options,
                files=state.pending_files,
            )
            state.pending_files = []
            state.awaiting_turn = 0
        else:
            text = task_prompt(task.prompt, names, hint=form_hint(task.prompt))
            history.append(UserMessage(content=text, source="user"))
        await self._store.create(self.session, state, history)
        if state.has_outbox:
            await self._send_outbox(state)
        log.info(
            "task_started",
            session=self.session,
            prompt_chars=len(task.prompt),
            files=len(task.files),
            max_turns=max_turns,
            timeout_s=task.timeout_s,
        )
        return state

    async def _absorb(self, state: SessionState, result: ExecutionResult) -> None:
        """Feed an execution result into the history; the session then owes a model turn."""
        state.awaiting_turn = None
        if result.turn == 0:  # the input files' description: the task message can go now
            described = result.exit_code == 0 and not result.timed_out
            if not described:
                log.warning(
                    "input_files_not_described", session=self.session, exit_code=result.exit_code
                )
            text = task_prompt(
                state.prompt,
                state.input_names,
                result.output if described else "",
                hint=form_hint(state.prompt),
            )
            await self._store.save(self.session, state, [UserMessage(content=text, source="user")])
            return
        state.add_artifacts(result.artifacts)
        made = {a.name for a in state.artifacts}
        asks = TaskAsks(
            requirements=requirements(state.prompt, state.input_names),
            forms=bool(form_hint(state.prompt)),
            missing_forms=tuple(missing_forms(state.prompt, result.output)),
            missing_files=tuple(
                name
                for name in requested_files(state.prompt, state.input_names)
                if name not in made
            ),
        )
        feedback = execution_feedback(
            result, timeout_s=state.options.timeout_s, previous_error=state.last_error, asks=asks
        )
        if result.exit_code == 0:
            state.printed = (state.printed + printed_forms(result.output, state.prompt))[-64:]
            answered = answered_forms(state.prompt, result.output)
            clean = not asks.missing_files and not NAN.search(result.output)
            clean = clean and not EMPTY_FIGURE.search(result.output)
            if answered is not None and clean and self._config.finish_when_answered:
                log.info("answered_by_the_run", session=self.session, turn=result.turn)
                self._vote(state, answered)
            elif state.sampling:
                self._vote(state, None)
        elif state.sampling:
            self._vote(state, None)
        if state.running_script is not None:
            state.scripts[state.running_script] = ScriptRun(
                turn=result.turn,
                error=feedback.error,
                line=feedback.line,
                answer=answered_forms(state.prompt, result.output) if not feedback.error else None,
            )
            state.running_script = None
        shown = {line.strip() for line in result.output.splitlines() if line.strip()}
        state.heard = "\n".join(
            line for line in feedback.text.splitlines() if line.strip() not in shown
        )
        same_error = feedback.error is not None and feedback.error == state.last_error
        state.stuck = state.stuck + 1 if same_error else 0
        state.last_exit_code = result.exit_code
        state.last_error = feedback.error
        await self._store.save(
            self.session, state, [UserMessage(content=feedback.text, source="executor")]
        )

    async def _advance(self, state: SessionState, ctx: MessageContext) -> None:
        """Take the turn the session owes, if it owes one."""
        if state.awaiting_turn is not None:
            return  # the executor has the next move
        if state.decided is not None:  # decided and saved, but not yet recorded as the ending
            answer = state.last_reply if state.answer is None else state.answer
            await self._end(state, state.decided, answer=answer, error=state.why)
        elif time.time() >= state.deadline:
            await self._end(state, "deadline", answer=state.last_reply, error=self._late(state))
        elif state.turn >= state.max_turns:
            code = state.last_exit_code
            await self._end(
                state,
                "max_turns",
                answer=state.last_reply,
                error=f"no final answer after {state.turn} turns (max_turns={state.max_turns})"
                + (f"; the last run exited with code {code}" if code is not None else ""),
            )
        else:
            await self._model_turns(state, ctx)

    async def _model_turns(self, state: SessionState, ctx: MessageContext) -> None:
        history = await self._store.history(self.session)
        while True:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(max(0.0, state.deadline - time.time())):
                    reply = await self._model.create(
                        self._context(state, history),
                        extra_create_args=self._sampling(state),
                        cancellation_token=ctx.cancellation_token,
                    )
            except TimeoutError:
                await self._end(state, "deadline", answer=state.last_reply, error=self._late(state))
                return
            except ModelError as exc:
                await self._end(
                    state, "model_error", answer=state.last_reply, error=_model_reason(exc)
                )
                return
            usage = TokenUsage(
                prompt_tokens=reply.usage.prompt_tokens,
                completion_tokens=reply.usage.completion_tokens,
            )
            state.turn += 1
            state.usage = state.usage + usage
            state.last_reply = reply.content
            blocks = extract_code_blocks(reply.content)
            said = AssistantMessage(content=reply.content, source="assistant")
            event = AssistantTurn(
                turn=state.turn, content=reply.content, code_blocks=blocks, usage=usage
            )
            log.info(
                "model_turn",
                session=self.session,
                turn=state.turn,
                reply_chars=len(reply.content),
                code_blocks=len(blocks),
                finish_reason=reply.finish_reason,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                model_ms=round((time.perf_counter() - started) * 1000),
            )
            state.outbox_events = [event]
            seen = state.scripts.get(fingerprint(blocks)) if blocks else None
            if state.sampling and (seen is not None or not blocks):
                # A second opinion that is a script already run votes for that script's
                # answer; one without code (or one that failed) is no vote.
                self._vote(state, seen.answer if seen is not None and not seen.error else None)
                if state.decided is None:
                    await self._store.save(self.session, state, [said])
                    await self._send_outbox(state)
                    continue
                await self._store.save(self.session, state, [said])
                await self._send_outbox(state)
                await self._advance(state, ctx)
                return
            if seen is not None:
                # Not run again: the reply is answered with what that script did.
                log.info("repeated_script", session=self.session, turn=state.turn, of=seen.turn)
                if seen.error is not None:
                    state.stuck += 1
                text = repeated_script_feedback(seen.turn, seen.error)
                ask = UserMessage(content=text, source="assistant-service")
                await self._store.save(self.session, state, [said, ask])
                await self._send_outbox(state)
                if state.turn >= state.max_turns:
                    await self._advance(state, ctx)
                    return
                history += [said, ask]
                continue
            if blocks:
                state.running_script = fingerprint(blocks)
                state.outbox_request = ExecutionRequest(
                    turn=state.turn,
                    code_blocks=blocks,
                    options=state.options,
                    files=state.pending_files,
                )
                state.pending_files = []
                state.awaiting_turn = state.turn
                await self._store.save(self.session, state, [said])
                await self._send_outbox(state)
                return
            cut_off = reply.finish_reason == "length" and has_unterminated_fence(reply.content)
            # An answer to a task about files before any code ran on them is a guess: asked
            # once for the script instead (the 1.5B answered "@x[30.6]" blind when the task
            # showed the answer's form).
            # Likewise an @name[value] answer that no run printed (seen: made-up values for a
            # script that printed nothing).
            unprinted = bool(form_hint(state.prompt)) and not state.printed
            guess = (
                bool(state.input_names)
                and (not state.scripts or unprinted)
                and not state.pushed_back
            )
            # An "answer" that only repeats the instructions it was given (the 1.5B replied
            # "The results in a sentence or two, with the output's numbers, ...") is asked
            # for once more.
            echo = not cut_off and not state.echo_refused and echoes(reply.content, state.heard)
            if (cut_off or guess or echo) and state.turn < state.max_turns:
                if guess:
                    state.pushed_back = True
                    log.info("unbacked_answer_refused", session=self.session, turn=state.turn)
                elif echo:
                    state.echo_refused = True
                    log.info("echoed_instructions_refused", session=self.session, turn=state.turn)
                text = (
                    unbacked_answer_feedback(ran=bool(state.scripts))
                    if guess
                    else echo_feedback()
                    if echo
                    else truncated_reply_feedback()
                )
                ask = UserMessage(content=text, source="assistant-service")
                await self._store.save(self.session, state, [said, ask])
                await self._send_outbox(state)
                history += [said, ask]
                continue
            # The decision is saved with the turn, so that a crash before the ending is
            # recorded ends the task the same way on redelivery (not with another model call).
            state.decided = "max_turns" if cut_off else "completed"
            if cut_off:
                state.why = "the last reply was cut off at the token limit inside a code block"
            await self._store.save(self.session, state, [said])
            await self._send_outbox(state)
            await self._end(state, state.decided, answer=reply.content, error=state.why)
            return

    async def _send_outbox(self, state: SessionState) -> None:
        """Publish what the last saved turn owes, then clear it (unless the task has ended
        meanwhile, e.g. by its deadline on another replica: then nothing more is sent)."""
        if await self._store.ending(self.session) is None:
            for event in state.outbox_events:
                await self.publish_message(
                    event,
                    TopicId(EVENTS_TOPIC, self.session),
                    message_id=f"{state.task_id}.{event.turn}.turn",
                )
            if state.outbox_request is not None:
                await self.publish_message(
                    state.outbox_request,
                    TopicId(CODE_TOPIC, self.session),
                    message_id=f"{state.task_id}.{state.outbox_request.turn}.code",
                )
        state.outbox_events = []
        state.outbox_request = None
        await self._store.save(self.session, state)

    async def _end(
        self, state: SessionState, status: TaskStatus, *, answer: str = "", error: str | None = None
    ) -> None:
        answer = keep_requested_forms(answer, state.prompt, state.printed)
        result = state.result(status, answer=answer, error=error)
        await self._endings.end(self.session, state.task_id, result)

    async def _guarded(self, work: Callable[[], Awaitable[None]], ctx: MessageContext) -> None:
        """Run a handler's work; an unexpected error ends the task as ``failed`` (a task must
        always end), except lost connections, which the runtime retries."""
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except TRANSIENT:  # the runtime retries; the deadline sweeper ends the task at worst
            raise
        except Exception as exc:
            log.exception("assistant_handler_failed", session=self.session, id=ctx.message_id)
            reason = f"internal error in the assistant: {type(exc).__name__}: {exc}"
            state = await self._store.load(self.session) or _unstarted(ctx)
            await self._end(state, "failed", answer=state.last_reply, error=reason)

    def _vote(self, state: SessionState, answer: str | None) -> None:
        """Count an independent script's answer (None: it gave none) and decide the task when
        two agree, or when the scripts allowed have all had their say (the first answer wins)."""
        if answer is not None:
            state.votes.append(answer)
        agreed = agreed_answer(state.votes)
        allowed = self._config.answer_votes
        done = 1 + state.sampling >= allowed or state.turn >= state.max_turns
        if agreed is not None or (done and state.votes):
            state.decided, state.answer = "completed", agreed or state.votes[0]
            log.info(
                "answer_voted",
                session=self.session,
                votes=len(state.votes),
                scripts=1 + state.sampling,
                agreed=agreed is not None,
            )
        elif state.votes:
            state.sampling += 1  # ask for one more independent script

    def _context(self, state: SessionState, history: list[LLMMessage]) -> list[LLMMessage]:
        """What the model reads: the history that fits; once it is stuck (a failing script
        repeated, the same error again), the system prompt and the task and a note on what
        failed instead of its earlier attempts (``feedback.fresh_start_note``); for a second
        opinion on an answer, the system prompt and the task alone."""
        if state.sampling and len(history) >= 2:
            return history[:2]
        failed = [(r.turn, r.error, r.line) for r in state.scripts.values() if r.error]
        if state.stuck and failed and len(history) >= 2:
            note = UserMessage(content=fresh_start_note(failed[-3:]), source="assistant-service")
            return [*history[:2], note]
        return fit_history(history, self._config.max_history_chars)

    def _sampling(self, state: SessionState) -> dict[str, float] | None:
        """Sampling overrides for the next reply: explore after one that made no progress."""
        explore = self._config.explore_temperature
        wanted = state.stuck or state.sampling
        return {"temperature": explore} if wanted and explore is not None else None

    @staticmethod
    def _late(state: SessionState) -> str:
        return f"the task's deadline ({state.timeout_s:g} s) passed during turn {state.turn + 1}"


def _unstarted(ctx: MessageContext) -> SessionState:
    """The state of a session that ends before its task started."""
    return SessionState(task_id=ctx.message_id, max_turns=0, deadline=0, timeout_s=0)


def _model_reason(exc: ModelError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
