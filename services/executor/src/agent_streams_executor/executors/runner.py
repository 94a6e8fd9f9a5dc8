"""The warm runner: one long-lived interpreter per sandbox that forks a fresh child per block.

Standard library only: the executors start it as ``python -c <source()> <config json>`` (inside
the sandbox container as its PID 1, or as a local subprocess), so the sandbox image needs
nothing of ours. It imports the configured heavy modules (numpy, pandas, matplotlib) once, then
serves JSON lines on stdin/stdout:

    -> {"op": "run", "id", "blocks": [{"language", "code", "filename"}], "timeout_s", "limits"}
    <- {"op": "result", "id", "exit_code", "output", "stdout", "stderr", "timed_out",
        "cancelled", "duration_s", "code_file", "files": [...], "notes": [...],
        "deleted": [names], "code_files": [{"name", "block"}]}
    -> {"op": "cancel"}                       kills the running block (answered by its result)
    -> {"op": "put", "id", "files": [{"name", "data"}], "delete": [names]}
    <- {"op": "put_done", "id", "errors", "failed": [names]}
    -> {"op": "ping", "id"}                   <- {"op": "pong", "id"}
    EOF on stdin, or no request for ``idle_exit_s``: the runner exits (its container with it).

How each block is isolated and cleaned up after: see ``child.py``. The request's
``timeout_s`` is one budget for all its blocks. ``deleted`` (files the run removed) and
``code_files`` (the ``# filename:`` files it saved, by block) let the executor keep the
session's file manifest in Redis; ``put`` writes paths inside the work dir and deletes files,
to bring a sandbox up to that manifest (see ``agent_streams_executor.session_files``).
"""

import contextlib
import gc
import hashlib
import json
import os
import select
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

if "__agent_streams_bundle__" not in globals():  # in the sandbox, source() put these first
    from agent_streams_executor.executors.child import oom_kills, start_child, sweep
    from agent_streams_executor.executors.installed import missing_module_note
    from agent_streams_executor.executors.workspace import (
        changed,
        collect,
        inside,
        remove_file,
        removed,
        snapshot,
        write_file,
    )

Message = dict[str, Any]
EXTENSIONS = {"python": "py", "bash": "sh", "sh": "sh"}
MAX_DELETED_BYTES = 256 * 1024


def source() -> str:
    """The program the executors run: the bundle's modules' sources, this one last."""
    here = Path(__file__).parent
    names = ("workspace.py", "child.py", "installed.py", "runner.py")
    parts = [(here / name).read_text() for name in names]
    return "\n".join(["__agent_streams_bundle__ = True", *parts])


def send(message: Message) -> None:
    data = (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    view = memoryview(data)
    while view:
        view = view[os.write(1, view) :]


class Requests:
    """Newline-delimited JSON requests read from fd 0 without Python's buffering."""

    def __init__(self) -> None:
        self.buffer, self.queue, self.eof = b"", list[Message](), False

    def fill(self) -> None:
        chunk = os.read(0, 1 << 20)
        self.eof = not chunk
        *lines, self.buffer = (self.buffer + chunk).split(b"\n")
        self.queue.extend(json.loads(line) for line in lines if line.strip())

    def cancelled(self) -> bool:
        """During a run: read what arrived; True on a cancel request or a gone controller."""
        self.fill()
        hit = any(message.get("op") == "cancel" for message in self.queue)
        self.queue = [message for message in self.queue if message.get("op") != "cancel"]
        return hit or self.eof

    def next(self, timeout: float) -> Message | None:
        while not self.queue and not self.eof:
            if not select.select([0], [], [], timeout)[0]:
                return None
            self.fill()
        return self.queue.pop(0) if self.queue else None


class Capped:
    """Keeps the head and the tail of a stream, ``cap`` bytes in all, and counts what was cut."""

    def __init__(self, cap: int) -> None:
        self.head_cap, self.tail_cap = cap // 2, cap - cap // 2
        self.head, self.tail, self.total = bytearray(), bytearray(), 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        self.tail += data
        if len(self.tail) > 2 * self.tail_cap:
            del self.tail[: len(self.tail) - self.tail_cap]

    def text(self) -> str:
        tail = self.tail[-self.tail_cap :] if self.tail_cap else b""
        cut = self.total - len(self.head) - len(tail)
        body = bytes(self.head)
        if cut > 0:
            cap = self.head_cap + self.tail_cap
            body += f"\n[... {cut} bytes cut: output is capped at {cap} bytes ...]\n".encode()
        return (body + bytes(tail)).decode("utf-8", "replace")


def run_block(
    block: Message,
    path: str | None,
    config: Message,
    limits: Message,
    deadline: float,
    requests: Requests,
    sinks: tuple[Capped, Capped, Capped],
) -> tuple[int, str | None]:
    """Run one block to its end; (exit code, None or why it ended: timeout/cancel/killed:...)."""
    out, err, both = sinks
    kills = oom_kills() if config["container"] else 0
    local = not config["container"]
    pid, out_r, err_r = start_child(block, path, config["workdir"], limits, local)
    streams = {out_r: out, err_r: err}
    pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
    exited, why = False, None
    while not exited:
        left = deadline - time.monotonic()
        if left <= 0:
            why = "timeout"
            break
        waiting = [*streams, 0] + ([pidfd] if pidfd is not None else [])
        ready = select.select(waiting, [], [], left if pidfd is not None else min(left, 0.02))[0]
        for fd in ready:
            if fd in streams:
                data = os.read(fd, 1 << 16)
                if data:
                    streams[fd].add(data)
                    both.add(data)
                else:
                    os.close(fd)
                    del streams[fd]
        if 0 in ready and requests.cancelled():
            why = "cancel"
            break
        if pidfd is None or pidfd in ready:  # exited? (not reaped: its group id stays ours)
            exited = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    for kill in (os.kill, os.killpg):  # the child and its group, before the child is reaped
        with contextlib.suppress(OSError):
            kill(pid, signal.SIGKILL)
    status = os.waitpid(pid, 0)[1]
    sweep(config["container"])
    for fd, sink in streams.items():  # all writers are dead now: drain to EOF
        while data := os.read(fd, 1 << 16):
            sink.add(data)
            both.add(data)
        os.close(fd)
    if pidfd is not None:
        os.close(pidfd)
    code = os.waitstatus_to_exitcode(status)
    if why:
        return (124 if why == "timeout" else 125), why
    if code < 0:
        oom = config["container"] and oom_kills() > kills
        cause = "out of memory (the sandbox's memory limit)" if oom else signal.Signals(-code).name
        return 128 - code, "killed: " + cause
    return code, None


def handle_run(request: Message, config: Message, requests: Requests) -> None:
    started = time.monotonic()
    root, limits = config["workdir"], request["limits"]
    deadline = started + request["timeout_s"]
    cap = limits["max_output_bytes"]
    sinks = out, err, both = Capped(cap), Capped(cap), Capped(cap)
    before, before_truncated = snapshot(root, limits["max_entries"])
    exit_code, why, code_file = 0, None, None
    notes: list[str] = []
    code_files: set[str] = set()
    named: list[dict[str, Any]] = []
    for index, block in enumerate(request["blocks"]):
        language = block["language"]
        name = block.get("filename") or "tmp_code_{}.{}".format(
            hashlib.sha256(block["code"].encode()).hexdigest()[:32], EXTENSIONS.get(language, "txt")
        )
        path = inside(root, name)
        problem = None
        if language not in EXTENSIONS:
            problem = f"unsupported language {language!r}: use python, bash or sh"
        elif path is None:
            problem = f"filename {name!r} is not inside the work dir: nothing was run"
        else:
            try:
                write_file(path, block["code"].encode())
                code_files.add(os.path.relpath(path, root))
                code_file = path
                if block.get("filename"):
                    named.append({"name": os.path.relpath(path, root), "block": index})
            except OSError as exc:  # a full work dir: python runs from memory, a shell via -c
                notes.append(f"could not save the code file {name}: {exc.strerror}")
                path = path if language == "python" else None
        if problem:
            for sink in (err, both):
                sink.add(problem.encode() + b"\n")
            exit_code = 1
            break
        exit_code, why = run_block(block, path, config, limits, deadline, requests, sinks)
        if exit_code != 0:
            break
    after, truncated = snapshot(root, limits["max_entries"])
    files, file_notes = collect(root, changed(before, after, code_files), limits)
    notes += file_notes
    deleted, complete = removed(before, after, MAX_DELETED_BYTES)
    if truncated or before_truncated:  # a partial walk would report unseen files as deleted
        deleted, complete = [], True
        notes.append(
            f"the work dir has over {limits['max_entries']} entries: only the first "
            "ones were looked at for changed files, and deleted ones were not recorded"
        )
    if not complete:
        notes.append(
            f"this run deleted more files than are recorded (the first {len(deleted)}): a "
            "later turn on another executor replica may still see the others"
        )
    if exit_code != 0 and (missing := missing_module_note(err.text())):
        notes.append(missing)
    output = both.text()
    if why == "timeout":
        output += (
            f"\nTimeout: the code ran past its {request['timeout_s']:g}s limit and was "
            "killed (exit code 124)"
        )
    elif why == "cancel":
        output += "\nCancelled: the code was stopped (exit code 125)"
    elif why:
        output += f"\nThe code was {why} (exit code {exit_code})"
    send(
        {
            "op": "result",
            "id": request["id"],
            "exit_code": exit_code,
            "output": output,
            "stdout": out.text(),
            "stderr": err.text(),
            "timed_out": why == "timeout",
            "cancelled": why == "cancel",
            "duration_s": time.monotonic() - started,
            "code_file": code_file,
            "files": files,
            "notes": notes,
            "deleted": deleted,
            "code_files": [item for item in named if item["name"] in after],
        }
    )


def handle_put(request: Message, config: Message) -> None:
    import base64

    errors, failed = [], []
    root = config["workdir"]
    for name in request.get("delete", []):
        try:
            if not remove_file(root, name):
                raise OSError(0, "not a file inside the work dir")
        except OSError as exc:
            errors.append(f"{name}: not deleted: {exc.strerror}")
            failed.append(name)
    for item in request["files"]:
        path = inside(root, item["name"])
        try:
            if path is None:
                raise OSError(0, "not a file inside the work dir")
            write_file(path, base64.b64decode(item["data"]))
        except OSError as exc:
            errors.append(f"{item['name']}: {exc.strerror}")
            failed.append(item["name"])
    send({"op": "put_done", "id": request["id"], "errors": errors, "failed": failed})


def preload(modules: list[str]) -> tuple[list[str], dict[str, str]]:
    """Import ``modules`` (a missing or broken one is reported, not fatal); (done, failed)."""
    done, failed = [], {}
    for module in modules:
        try:
            __import__(module)
            done.append(module)
        except Exception as exc:
            failed[module] = f"{type(exc).__name__}: {exc}"
    gc.collect()
    gc.freeze()  # children share the preloaded heap instead of copying it at their first GC
    return done, failed


def main(argv: list[str]) -> int:
    config = json.loads(argv[1])
    config["container"] = config["container"] and os.getpid() == 1  # kill(-1) only as PID 1
    for directory in config.get("make_dirs", []):
        os.makedirs(directory, exist_ok=True)
    config["workdir"] = os.path.realpath(config["workdir"])
    os.chdir(config["workdir"])
    if not config["container"] and sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans come to us
    preloaded, failed = preload(config.get("preload", []))
    send(
        {
            "op": "ready",
            "pid": os.getpid(),
            "python": sys.version.split()[0],
            "preloaded": preloaded,
            "failed": failed,
        }
    )
    requests = Requests()
    lazy = list(config.get("preload_lazy", []))
    while True:
        # Lazy preloads (slow imports such as sklearn) go in once the runner has been idle for
        # ``lazy_after_s`` (waiting for the model, typically), one module at a time: being
        # ready stays fast, a sandbox kept busy never pays for them, and a request that comes
        # in meanwhile waits for at most the one import under way.
        wait = config.get("lazy_after_s", 2.0) if lazy else config["idle_exit_s"]
        request = requests.next(wait)
        if request is None and lazy and not requests.eof:
            preload([lazy.pop(0)])
            continue
        if request is None:
            break
        if request.get("op") == "run":
            handle_run(request, config, requests)
        elif request.get("op") == "put":
            handle_put(request, config)
        elif request.get("op") == "ping":
            send({"op": "pong", "id": request.get("id")})
        elif request.get("op") == "exit":
            break
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception:
        send({"op": "fatal", "error": traceback.format_exc()[-4000:]})
        sys.exit(70)
