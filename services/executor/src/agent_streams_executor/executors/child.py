"""The child that runs one block, and the cleanup after it (part of the runner bundle).

Standard library only and free of package imports, like ``workspace.py``: ``runner.source()``
ships it into the sandbox.

Each block gets what a fresh process gets: a forked child in its own process group, its own stdin
(/dev/null), stdout and stderr pipes, rlimits, a raised OOM score (the kernel kills the code, not
the runner), a re-seeded numpy RNG and a new ``__main__``. Python blocks run in that child
without starting an interpreter, which is what makes ``import numpy`` free; bash/sh blocks exec
the shell.

Cleanup after every block, whatever happened: in a container the runner is PID 1 of its own PID
namespace, so ``kill(-1, SIGKILL)`` ends every other process in the sandbox (daemons and fork
bombs included), and the code cannot kill PID 1 (the kernel drops signals sent to a namespace's
init from inside it when init has no handler, and the runner installs none). Locally the runner
is a child subreaper and stops, then kills, every descendant it finds.
"""

import contextlib
import os
import signal
import sys
import time
import traceback
from typing import Any

SHELLS = {"bash": "/bin/bash", "sh": "/bin/sh"}


def oom_kills() -> int:
    """The sandbox cgroup's OOM-kill counter (cgroup v2, then v1), 0 if unreadable."""
    for path in ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"):
        try:
            with open(path) as handle:
                for line in handle:
                    name, _, value = line.partition(" ")
                    if name == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return 0


EMPTY_FIGURE_NOTE = (
    "Note: {name} was saved with no data in it: every plotted series is empty or missing "
    "(often a filter that kept no rows, such as text dates compared as strings)"
)


def watch_empty_figures() -> None:
    """When matplotlib is loaded (the runner preloads it), a figure saved with nothing plotted
    in it is said on stderr: "exit 0 and a PNG exists" is not a plot, and a model reading only
    "Files created: plot.png" takes the blank figure for the answer."""
    figure = sys.modules.get("matplotlib.figure")
    if figure is None or getattr(figure.Figure.savefig, "__agent_streams__", False):
        return
    save = figure.Figure.savefig

    def savefig(self: Any, fname: Any, *args: Any, **kwargs: Any) -> Any:
        done = save(self, fname, *args, **kwargs)
        try:
            empty = not any(_has_data(ax) for ax in self.axes)
        except Exception:  # never fail the user's savefig over this check
            empty = False
        if empty:
            name = os.path.basename(str(getattr(fname, "name", fname)))
            print(EMPTY_FIGURE_NOTE.format(name=name), file=sys.stderr)
        return done

    savefig.__agent_streams__ = True  # type: ignore[attr-defined]
    figure.Figure.savefig = savefig


def _has_data(ax: Any) -> bool:
    """Whether ``ax`` shows any data (when unsure, yes: a false alarm costs a turn)."""
    import numpy

    def finite(values: Any) -> bool:
        try:
            return bool(numpy.isfinite(numpy.asarray(values, dtype=float)).any())
        except (TypeError, ValueError):  # dates, categories: present counts as data
            return len(values) > 0

    if ax.images or any(finite(line.get_ydata()) for line in ax.get_lines()):
        return True
    for patch in ax.patches:  # bars and histograms by their heights; others (wedges) count
        if not hasattr(patch, "get_height") or finite([patch.get_height()]):
            return True
    for collection in ax.collections:  # scatter points by their offsets; others by paths
        if type(collection).__name__ == "PathCollection":
            if finite(collection.get_offsets()):
                return True
        elif len(collection.get_paths()):
            return True
    return False


def run_python_here(path: str, code: str, workdir: str) -> None:
    """In the forked child: run ``code`` as ``__main__`` as ``python path`` would; never returns."""
    import atexit
    import builtins
    import types

    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - lives as long as the process
    sys.stdout = open(1, "w", buffering=1, errors="backslashreplace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, errors="backslashreplace", closefd=False)  # noqa: SIM115
    sys.argv = [path]
    sys.path[0:1] = [workdir]
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__builtins__ = builtins  # type: ignore[attr-defined]
    sys.modules["__main__"] = main
    status = 0
    try:
        exec(compile(code, path, "exec"), main.__dict__)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            status = (exc.code or 0) & 0xFF
        else:
            print(exc.code, file=sys.stderr)
            status = 1
    except BaseException as exc:
        tb = exc.__traceback__.tb_next if exc.__traceback__ else None  # drop this frame
        traceback.print_exception(type(exc), exc, tb)
        status = 1
    finishers = (
        getattr(sys.modules.get("threading"), "_shutdown", None),  # join non-daemon threads
        getattr(atexit, "_run_exitfuncs", None),
    )
    for finish in finishers:
        try:
            if finish is not None:
                finish()
        except BaseException:
            traceback.print_exc()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
    os._exit(status)


def start_child(
    block: dict[str, Any], path: str | None, workdir: str, limits: dict[str, Any], local: bool
) -> tuple[int, ...]:
    """Fork the child for one block; returns (pid, stdout fd, stderr fd)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    runner = os.getpid()
    pid = os.fork()
    if pid:
        with contextlib.suppress(OSError):  # here too: a kill right after fork() finds the group
            os.setpgid(pid, pid)
        os.close(out_w)
        os.close(err_w)
        return pid, out_r, err_r
    try:  # the child: never returns to the runner's loop
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)  # its own process group (no tty anywhere: no new session needed)
        if local:  # die with the runner, however it ends (in a container, everything does)
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
            if os.getppid() != runner:
                os._exit(137)  # the runner was already gone
        null = os.open(os.devnull, os.O_RDONLY)
        for source_fd, target_fd in ((null, 0), (out_w, 1), (err_w, 2)):
            os.dup2(source_fd, target_fd)
        for fd in [int(name) for name in os.listdir("/proc/self/fd")]:
            if fd > 2:
                with contextlib.suppress(OSError):
                    os.close(fd)
        try:
            with open("/proc/self/oom_score_adj", "w") as handle:
                handle.write("1000")  # the OOM killer takes the code, not the runner
        except OSError:
            pass
        import resource

        for name, value in limits["rlimits"].items():
            resource.setrlimit(getattr(resource, "RLIMIT_" + name.upper()), (value, value))
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()  # else every child draws the runner's numbers
        if block["language"] == "python":
            watch_empty_figures()
            run_python_here(path or "<code>", block["code"], workdir)
        for number in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(number, signal.SIG_DFL)  # as a shell started by a shell would have
        shell = SHELLS[block["language"]]
        os.execv(shell, [shell, path] if path else [shell, "-c", block["code"], "code"])
    except BaseException:
        traceback.print_exc()
    os._exit(127)


def sweep(container: bool) -> None:
    """Kill every process the block left behind and reap them all."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return  # none left: every leftover became our child (PID 1 / subreaper)
        if container:
            with contextlib.suppress(OSError):
                os.kill(-1, signal.SIGKILL)  # as PID 1: every process in the sandbox but us
        else:
            found = descendants()
            for number in (signal.SIGSTOP, signal.SIGKILL):  # freeze a fork bomb, then kill
                for pid in found:
                    with contextlib.suppress(OSError):
                        os.kill(pid, number)
        time.sleep(0.001)


def descendants() -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [], [os.getpid()]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found.extend(children)
        frontier.extend(children)
    return found
