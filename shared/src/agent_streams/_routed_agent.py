"""RoutedAgent and ``@message_handler``: handlers routed by the message's type.

The annotations are read when the class is defined: a handler without a message annotation,
or with a ``ctx`` that is not ``MessageContext``, is a ``TypeError`` at import (not an assert
that ``python -O`` strips). A message type no handler takes goes to ``on_unhandled_message``.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, Union, get_type_hints

import structlog

from ._agent import BaseAgent
from ._context import MessageContext
from .exceptions import CantHandleException

__all__ = ["RoutedAgent", "event", "message_handler", "rpc"]

log = structlog.get_logger("agent_streams")

F = TypeVar("F", bound=Callable[..., Coroutine[Any, Any, Any]])
Router = Callable[[Any, MessageContext], bool]


def _union_members(annotation: Any) -> tuple[type[Any], ...]:
    origin = typing.get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        members: list[type[Any]] = []
        for arg in typing.get_args(annotation):
            members.extend(_union_members(arg))
        return tuple(members)
    if annotation is None:
        return (type(None),)
    if not isinstance(annotation, type):
        raise TypeError(f"message handler annotation {annotation!r} is not a class or a union")
    return (annotation,)


@dataclass(frozen=True, slots=True)
class _Spec:
    """What a handler decorator recorded on the method."""

    targets: tuple[type[Any], ...]
    produces: tuple[type[Any], ...]
    router: Router
    strict: bool


def _decorator(
    func: F | None, *, match: Router | None, strict: bool, offered: Router | None
) -> Any:
    def decorate(fn: F) -> F:
        hints = get_type_hints(fn)
        params = list(fn.__code__.co_varnames[: fn.__code__.co_argcount])
        if len(params) != 3:
            raise TypeError(
                f"{fn.__qualname__}: a message handler takes (self, message, ctx), got {params}"
            )
        _, message_param, ctx_param = params
        if message_param not in hints:
            raise TypeError(f"{fn.__qualname__}: annotate the message parameter with its type")
        if hints.get(ctx_param) is not MessageContext:
            raise TypeError(f"{fn.__qualname__}: annotate {ctx_param!r} as MessageContext")
        if "return" not in hints:
            raise TypeError(f"{fn.__qualname__}: annotate the return type (None for events)")
        router = match or _always
        if offered is not None:
            user = router
            router = lambda m, c: offered(m, c) and user(m, c)  # noqa: E731
        fn.__agent_streams_handler__ = _Spec(  # type: ignore[attr-defined]
            targets=_union_members(hints[message_param]),
            produces=_union_members(hints["return"]),
            router=router,
            strict=strict,
        )
        return fn

    return decorate(func) if func is not None else decorate


def _always(_message: Any, _ctx: MessageContext) -> bool:
    return True


def message_handler(
    func: F | None = None, *, match: Router | None = None, strict: bool = True
) -> Any:
    """Mark an ``async def handler(self, message: T, ctx: MessageContext) -> R`` method that
    takes both published messages and ``send_message`` requests.

    Args:
        func: the method (the decorator also works without parentheses).
        match: picks between several handlers of one type (the first that returns True).
        strict: a return value that is not an ``R`` raises ``ValueError`` (the caller of
            ``send_message`` gets it; a publish is retried, then dead-lettered); with
            ``strict=False`` it is logged as a warning and passed on (as in autogen-core).
            Handlers are routed by the message's exact type, so a message that is not a ``T``
            never reaches this one: a type no handler takes goes to ``on_unhandled_message``
            (``CantHandleException`` for ``send_message``).
    """
    return _decorator(func, match=match, strict=strict, offered=None)


def event(func: F | None = None, *, match: Router | None = None, strict: bool = True) -> Any:
    """Like ``message_handler``, for published messages only: a ``send_message`` request of the
    type is not offered to it (it goes to another handler, or is unhandled). It returns None."""
    return _decorator(func, match=match, strict=strict, offered=_is_event)


def rpc(func: F | None = None, *, match: Router | None = None, strict: bool = True) -> Any:
    """Like ``message_handler``, for ``send_message`` requests only: a published message of the
    type is not offered to it."""
    return _decorator(func, match=match, strict=strict, offered=_is_rpc)


def _is_event(_message: Any, ctx: MessageContext) -> bool:
    return not ctx.is_rpc


def _is_rpc(_message: Any, ctx: MessageContext) -> bool:
    return ctx.is_rpc


class RoutedAgent(BaseAgent):
    """An agent whose ``on_message`` routes each message to the handler for its type."""

    _handlers: ClassVar[dict[type[Any], list[Callable[..., Any]]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[type[Any], list[Callable[..., Any]]] = {}
        types_seen: list[type[Any]] = []
        for name in dir(cls):
            attr = getattr(cls, name, None)
            spec = getattr(attr, "__agent_streams_handler__", None)
            if not isinstance(spec, _Spec):
                continue
            for target in spec.targets:
                handlers.setdefault(target, []).append(attr)  # type: ignore[arg-type]
            types_seen.extend(t for t in (*spec.targets, *spec.produces) if t is not type(None))
        cls._handlers = handlers
        cls.message_types = tuple(dict.fromkeys(types_seen))

    @classmethod
    def handles(cls, message_type: type[Any]) -> bool:
        return message_type in cls._handlers

    async def on_message(self, message: Any, ctx: MessageContext) -> Any:
        for handler in self._handlers.get(type(message), ()):
            spec: _Spec = handler.__agent_streams_handler__  # type: ignore[attr-defined]
            if spec.router(message, ctx):
                result = await handler(self, message, ctx)
                # (checked here, not in a wrapper coroutine: this runs for every message)
                if not isinstance(result, spec.produces):
                    _wrong_return(spec, self, handler, result)
                return result
        return await self.on_unhandled_message(message, ctx)

    async def on_unhandled_message(self, message: Any, ctx: MessageContext) -> Any:
        """Called for a message no handler takes. For ``send_message`` the caller gets a
        ``CantHandleException``; a published message is logged and acknowledged."""
        if ctx.is_rpc:
            raise CantHandleException(f"{self.id} has no handler for {type(message).__name__}")
        log.debug("unhandled_message", agent=str(self.id), type=type(message).__name__)
        return None


def _names(types_: tuple[type[Any], ...]) -> str:
    return " | ".join(t.__name__ for t in types_)


def _wrong_return(spec: _Spec, agent: BaseAgent, handler: Callable[..., Any], value: Any) -> None:
    """A return value the handler's annotation does not allow: ``ValueError`` when the handler
    is strict, a warning otherwise (autogen-core's ``strict``)."""
    text = f"{handler.__qualname__} returns {_names(spec.produces)}, not {type(value).__name__}"
    if spec.strict:
        raise ValueError(text)
    log.warning("handler_return_mismatch", agent=str(agent.id), error=text)
