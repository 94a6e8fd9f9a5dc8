"""The sandbox's work dir as the runner sees it: stat snapshots, confined paths, changed files.

Standard library only and free of package imports: the executors ship this module's source into
the sandbox ahead of ``runner.py`` (``runner.source()`` prepends it).

How changed files are found, and why here: a stat snapshot (path -> size, mtime_ns) of the work
dir is taken inside the sandbox before and after a run, and the changed files' bytes travel back
in the runner's result. That is fast (a scandir of a small tree, no Docker API call, no tar
archive) and safe: no host directory is bind-mounted, so the host never follows a symlink the
code planted and the executor needs no path on the Docker host (it works unchanged when the
executor itself runs in a container). Only regular files are read, opened with ``O_NOFOLLOW``,
under the per-file, per-run and file-count caps the request carries; a file over a cap is still
described (size, sha256) with a note, never silently dropped. Files present before and gone
after are reported as deleted (only from complete walks: a walk cut at ``max_entries`` would
make unseen files look deleted), for the session's file manifest.
"""

import base64
import contextlib
import hashlib
import os
import stat
from typing import Any

Signature = tuple[int, int]


def snapshot(root: str, max_entries: int) -> tuple[dict[str, Signature], bool]:
    """path -> (size, mtime_ns) of the regular files under root (symlinks skipped) and whether
    the walk stopped at ``max_entries`` entries."""
    files: dict[str, Signature] = {}
    seen, stack = 0, [""]
    while stack:
        rel_dir = stack.pop()
        try:
            entries = list(os.scandir(os.path.join(root, rel_dir) if rel_dir else root))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > max_entries:
                return files, True
            rel = rel_dir + "/" + entry.name if rel_dir else entry.name
            try:
                if entry.is_symlink():
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append(rel)
                elif entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    files[rel] = (st.st_size, st.st_mtime_ns)
            except OSError:
                continue
    return files, False


def changed(before: dict[str, Signature], after: dict[str, Signature], skip: set[str]) -> list[str]:
    """Files new or modified between two snapshots, ``skip`` left out, sorted."""
    return sorted(n for n, sig in after.items() if before.get(n) != sig and n not in skip)


def removed(
    before: dict[str, Signature], after: dict[str, Signature], max_bytes: int
) -> tuple[list[str], bool]:
    """Files of ``before`` gone from ``after``, sorted, at most ``max_bytes`` of names; and
    whether that is all of them (the list is for the session's file manifest, not a dump)."""
    names: list[str] = []
    used = 0
    for name in sorted(n for n in before if n not in after):
        used += len(name) + 4
        if used > max_bytes:
            return names, False
        names.append(name)
    return names, True


def collect(
    root: str, names: list[str], limits: dict[str, int]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Describe ``names`` (size, sha256) and, within the caps, carry their bytes (base64)."""
    out: list[dict[str, Any]] = []
    notes: list[str] = []
    budget = limits["max_run_bytes"]
    shown = names[: limits["max_files"]]
    if len(names) > len(shown):
        notes.append(
            f"{len(names) - len(shown)} more changed files not returned, nor kept for later "
            f"turns on other executor replicas (at most {limits['max_files']} per run)"
        )
    for name in shown:
        try:
            fd = os.open(os.path.join(root, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            notes.append(f"could not read {name}: {exc.strerror}")
            continue
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                continue
            digest, kept, size = hashlib.sha256(), bytearray(), 0
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
                if size <= min(limits["max_file_bytes"], budget):
                    kept += chunk
        note = None
        if size > limits["max_file_bytes"]:
            note = f"not stored: {size} bytes is over the {limits['max_file_bytes']}-byte file cap"
        elif size > budget:
            note = f"not stored: the run's {limits['max_run_bytes']}-byte artifact cap was used up"
        else:
            budget -= size
        out.append(
            {
                "name": name,
                "size": size,
                "sha256": digest.hexdigest(),
                "data": base64.b64encode(kept).decode() if note is None else None,
                "note": note,
            }
        )
    return out, notes


def inside(root: str, name: str) -> str | None:
    """The absolute path of ``name`` if it stays inside root with symlinks resolved, else None."""
    path = os.path.realpath(os.path.join(root, name))
    return path if path.startswith(os.path.realpath(root) + os.sep) else None


def remove_file(root: str, name: str) -> bool:
    """Delete the work dir's file ``name`` (a symlink itself, never its target); True when it
    is gone (or was never there), False when ``name`` is not inside the work dir."""
    head, tail = os.path.split(name)
    parent = inside(root, head) if head else os.path.realpath(root)
    if parent is None or tail in ("", ".", ".."):
        return False
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(parent, tail))
    return True


def write_file(path: str, data: bytes) -> None:
    """Write ``data`` at ``path`` (parents created), never through a symlink at the last step."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
