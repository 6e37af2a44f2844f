"""Stopping the long-running commands the same way on SIGINT (Ctrl-C) and SIGTERM (``kill``, systemd, a
supervisor): what a command started stops with it, in order, within a bounded time, and without a traceback.

* :func:`stop_signals` turns the first SIGINT or SIGTERM into :class:`Stopped`, raised in the main thread wherever
  it is (a sleep, a server's loop, a start-up) and caught at the end of the block, which then prints one line,
  ``<what> stopped (SIGTERM)``. Later signals are only counted, so the clean-up in ``finally`` blocks runs to its
  end. A requested stop is a success: the commands exit 0 after it (docs/operations.md).
* :func:`start_group` starts a child in a process group (and session) of its own, so a terminal's Ctrl-C reaches
  only the command; :func:`stop_groups` then stops each child with everything it started (``dagster dev``'s
  webserver, daemon and code servers): one signal to each group in turn, SIGKILL for whatever is left of the
  groups when the grace period is over.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: Seconds the children of a command get, all together, to stop after their signal; then SIGKILL.
GRACE_SECONDS = 10.0


class Stopped(BaseException):
    """The first SIGINT or SIGTERM inside :func:`stop_signals`. A BaseException, as KeyboardInterrupt is, so an
    ``except Exception`` on the way does not swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass
class StopRequest:
    """Which signal stopped the block (None: it ended by itself) and how many stop signals came."""

    signum: int | None = None
    count: int = 0

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""


@contextlib.contextmanager
def stop_signals(what: str, out: TextIO | None = None) -> Iterator[StopRequest]:
    """Within the block, SIGINT and SIGTERM stop it (see the module); the handlers in force before come back
    after it. Only in the main thread (Python delivers signals there): elsewhere the block runs unguarded.

    The handlers are installed even where the command inherited SIGINT ignored (a job started with ``&`` from a
    script): a command that says "Ctrl-C stops it" stops on it. uvicorn fits in: it re-raises the signal it
    shut down on to the handler in force before it, which is this one."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum: int, frame) -> None:
        request.count += 1
        if request.signum is None:
            request.signum = signum
            raise Stopped(signum)

    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield request
    except Stopped:
        pass
    finally:
        for signum, earlier in previous.items():
            signal.signal(signum, earlier)
    if request.requested:
        print(f"{what} stopped ({request.name})", file=out or sys.stdout, flush=True)


def start_group(command: Sequence[str], **popen: object) -> subprocess.Popen:
    """``subprocess.Popen`` in a new session (so a new process group) led by the child, whose SIGINT and SIGTERM
    are at their defaults even if this process inherited them ignored (ignored signals stay ignored across exec;
    ``dagster dev`` copies its SIGINT disposition to SIGTERM, and would then ignore both)."""
    with _caught_while_starting():
        return subprocess.Popen(command, start_new_session=True, **popen)  # type: ignore[call-overload]


@contextlib.contextmanager
def _caught_while_starting() -> Iterator[None]:
    """Ignored stop signals caught for a moment (by a handler that ignores them): exec resets caught signals to
    their defaults in the child, and this process keeps ignoring them."""
    ignored = [s for s in STOP_SIGNALS if signal.getsignal(s) == signal.SIG_IGN]
    if not ignored or threading.current_thread() is not threading.main_thread():
        yield
        return
    for signum in ignored:
        signal.signal(signum, lambda *_: None)
    try:
        yield
    finally:
        for signum in ignored:
            signal.signal(signum, signal.SIG_IGN)


def group_members(pgid: int) -> list[int]:
    """The live processes of a process group (zombies left out: they are gone, only not yet reaped)."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: whether the group still exists at all
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        except PermissionError:
            pass
        return [pgid]
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # exited meanwhile
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (comm) ": state ppid pgrp …
        if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def stop_groups(
    processes: Sequence[subprocess.Popen],
    signum: int = signal.SIGINT,
    grace: float = GRACE_SECONDS,
    *,
    leader_first: bool = False,
) -> list[int | None]:
    """Stop each process started by :func:`start_group` with its whole group, in the order given: ``signum`` to
    the group, then wait until the process has exited and nothing of its group is left, before the next. Whatever
    of any group is still there ``grace`` seconds after the first signal is killed (SIGKILL). The processes'
    return codes (negative: the signal that ended it).

    ``leader_first``: ``signum`` goes to the process alone, which stops its own children in its own order
    (``dagster dev``: webserver and daemon, then its code server); the rest of its group gets ``signum`` only
    once it has exited, or half the grace is over."""
    deadline = time.monotonic() + grace
    for process in processes:
        if leader_first and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, (deadline - time.monotonic()) / 2))
        if process.poll() is None or group_members(process.pid):
            _signal_group(process.pid, signum)
        while time.monotonic() < deadline and (process.poll() is None or group_members(process.pid)):
            time.sleep(0.05)
    for process in processes:
        if process.poll() is None or group_members(process.pid):
            _signal_group(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
    return [process.returncode for process in processes]


def wait_for_any(processes: Sequence[subprocess.Popen], every: float = 0.2) -> subprocess.Popen:
    """Block until one of the processes exits, and return it (a stop signal interrupts the wait)."""
    while True:
        for process in processes:
            if process.poll() is not None:
                return process
        time.sleep(every)
