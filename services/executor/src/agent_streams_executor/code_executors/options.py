"""AutoGen's executor options that this project takes, and the ones it refuses, with why.

A refused option is a ``ValueError`` at construction (AutoGen's error for a bad argument)
naming the option and what to do instead, never an option silently ignored: code that relies on
``functions=`` or a bind mount must not seem to run while doing something else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["check_functions", "check_timeout", "check_unset", "refuse"]


def refuse(option: str, why: str) -> ValueError:
    """The error for an AutoGen option this executor does not take."""
    return ValueError(f"{option} is not supported here: {why}")


def check_timeout(timeout: float) -> float:
    """AutoGen's rule: at least one second."""
    if timeout < 1:
        raise ValueError("Timeout must be greater than or equal to 1.")
    return float(timeout)


def check_functions(functions: Sequence[object], functions_module: str) -> None:
    """``functions`` (AutoGen's helper functions importable by the code) are refused."""
    if not functions_module.isidentifier():
        raise ValueError("Module name must be a valid Python identifier")
    if functions:
        raise refuse(
            "functions",
            "the sandbox has no package installs at run time; put helpers in a code block "
            "(`# filename: functions.py`) or in the sandbox image",
        )


def check_unset(options: Mapping[str, object], why: str) -> None:
    """Refuse each of ``options`` that is set (not None, not empty)."""
    for name, value in options.items():
        if value:
            raise refuse(name, why)
