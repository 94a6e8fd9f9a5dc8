"""Write the Redis ACL file of a deployment (``make redis-acl``); see deploy/redis/README.md.

    uv run python deploy/redis/acl.py passwords >> .env   # once: fresh random passwords
    uv run python deploy/redis/acl.py render              # deploy/redis/users.acl from .env
    uv run python deploy/redis/acl.py matrix              # what each user may do (markdown)

Settings come from the environment, then ``.env`` (``--env-file``):

    AGENT_STREAMS_NAMESPACE     the namespace the key patterns are built under (default agents)
    REDIS_ASSISTANT_PASSWORD    required, >= 16 characters from letters, digits and ._~-
    REDIS_EXECUTOR_PASSWORD     required
    REDIS_CLIENT_PASSWORD       required
    REDIS_OPERATOR_PASSWORD     optional: the ``default`` user's; without it ``default`` is off

There are no default passwords: a missing one is an error. Only SHA-256 digests are written.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent_streams.acl import SERVICE_USERS, new_password, render_acl, users_for

DEFAULT_OUT = Path(__file__).resolve().parent / "users.acl"


class AclSettings(BaseSettings):
    """The namespace and the users' passwords (environment first, then the env file)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    namespace: str = Field(default="agents", alias="AGENT_STREAMS_NAMESPACE")
    assistant: SecretStr | None = Field(default=None, alias="REDIS_ASSISTANT_PASSWORD")
    executor: SecretStr | None = Field(default=None, alias="REDIS_EXECUTOR_PASSWORD")
    client: SecretStr | None = Field(default=None, alias="REDIS_CLIENT_PASSWORD")
    operator: SecretStr | None = Field(default=None, alias="REDIS_OPERATOR_PASSWORD")

    def passwords(self) -> dict[str, str]:
        pairs = {
            "assistant": self.assistant,
            "executor": self.executor,
            "client": self.client,
            "default": self.operator,
        }
        return {user: s.get_secret_value() for user, s in pairs.items() if s is not None}


def _render(args: argparse.Namespace) -> int:
    env_file = args.env_file if args.env_file.exists() else None
    try:
        settings = AclSettings(_env_file=env_file)
        namespace = args.namespace or settings.namespace
        text = render_acl(namespace, settings.passwords())
    except (ValidationError, ValueError) as exc:
        print(f"acl.py: {exc}", file=sys.stderr)
        print(
            "acl.py: set REDIS_ASSISTANT_PASSWORD, REDIS_EXECUTOR_PASSWORD and "
            "REDIS_CLIENT_PASSWORD (`make redis-passwords` adds random ones to .env)",
            file=sys.stderr,
        )
        return 2
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    # World-readable on purpose: the Redis container's user must read the mounted file, and it
    # holds SHA-256 digests of long random passwords only.
    tmp.write_text(text)
    os.chmod(tmp, 0o644)
    tmp.replace(out)
    off = "" if "default" in settings.passwords() else " (default user off)"
    print(f"wrote {out}: users {', '.join(SERVICE_USERS)}, default{off}; namespace {namespace}")
    return 0


def _passwords(_args: argparse.Namespace) -> int:
    for name in ("ASSISTANT", "EXECUTOR", "CLIENT", "OPERATOR"):
        print(f"REDIS_{name}_PASSWORD={new_password()}")
    return 0


def _cell(items: Iterable[str]) -> str:
    return ", ".join(items).replace("|", "\\|") or "-"


def _matrix(args: argparse.Namespace) -> int:
    users = users_for(args.namespace or AclSettings().namespace)
    print("| user | why | commands | keys (rw) | keys (read-only) |")
    print("|---|---|---|---|---|")
    for spec in users.values():
        root_keys = " ".join(f"`{k}`" for k in spec.keys) or "-"
        root = _cell(spec.commands) + "; channels " + " ".join(f"`{c}`" for c in spec.channels)
        print(f"| {spec.name} | connection, scripts, cancel channel | {root} | {root_keys} | - |")
        for g in spec.grants:
            rw = " ".join(f"`{k}`" for k in g.keys) or "-"
            ro = " ".join(f"`{k}`" for k in g.read_keys) or "-"
            print(f"| {spec.name} | {g.purpose} | {_cell(g.commands)} | {rw} | {ro} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="write the ACL file")
    render.add_argument("--out", type=Path, default=DEFAULT_OUT, help="default: %(default)s")
    render.add_argument("--env-file", type=Path, default=Path(".env"), help="default: .env")
    render.add_argument("--namespace", help="default: AGENT_STREAMS_NAMESPACE or agents")
    sub.add_parser("passwords", help="print fresh random passwords as .env lines")
    matrix = sub.add_parser("matrix", help="print what each user may do (markdown)")
    matrix.add_argument("--namespace")
    args = parser.parse_args(argv)
    if args.command == "passwords":
        return _passwords(args)
    if args.command == "matrix":
        return _matrix(args)
    return _render(args)


if __name__ == "__main__":
    sys.exit(main())
