"""keys.py: every Redis name under the namespace; names that would break the layout refused."""

from __future__ import annotations

import inspect

import pytest

from agent_streams.keys import Keys, validate_name


def test_every_name_lives_under_the_namespace() -> None:
    keys = Keys("ns-1")
    names: list[str] = []
    for name, member in inspect.getmembers(Keys):
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            names.append(getattr(keys, name))
        elif callable(member):
            arity = len(inspect.signature(member).parameters) - 1
            names.append(getattr(keys, name)(*["x"] * arity))
    assert len(names) >= 16  # the introspection found them all
    assert all(n.startswith("ns-1:") for n in names), names
    assert len(set(names)) == len(names)  # no two roles share a name
    assert keys.lock("executor", "s1") == "ns-1:lock:executor:s1"


@pytest.mark.parametrize("bad", ["", "a:b", "a b", "x" * 201, "é"])
def test_a_bad_name_is_refused_with_what_it_is(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid namespace"):
        Keys(bad)
    with pytest.raises(ValueError, match="invalid source"):
        validate_name(bad, "source")
