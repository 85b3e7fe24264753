"""Notice when another process has let go of a Trezor's device node, and for good.

On core firmware any message sent while another app's flow runs ends that flow, so the daemon
must not read a device on a timer while Trezor Suite or trezorctl may be using it. Instead it
watches the node that app opened (``/dev/bus/usb/BBB/DDD``, for WebUSB and for a HID Model One
alike: hidapi's libusb backend opens it too) with inotify and re-reads once the app has let go.

"Let go" is the rule of docs/security.md: another process closed the node, then nobody but
the daemon opened or closed it for ``QUIET_SECONDS`` (then it is reported), and right before
the daemon opens it, still nobody did and no other process has it open
(``untouched_since_release``). A close alone is no release: every trezorlib program
(trezorctl, Trezor Suite) lists the devices first, which opens and closes each node to read
its product string, and claims the device a few milliseconds later; a read in that gap took
the Trezor away from it. Who has the node open is looked up in /proc (the processes of the
same user, where Suite and trezorctl run); that is exact where counting inotify events is
not (inotify merges identical events that were not read yet). A change of the node's mode or ACL
(``IN_ATTRIB``: the udev rules or logind's seat ACL applied after plug-in) counts as a close:
the permission to open it may just have arrived.

inotify does not say which process opened or closed a file, so the daemon's own access is
told apart by time: ``own_access`` drains the inotify queue when the daemon starts and when it
finishes touching the device, and the open and close events queued in between are its own.
The kernel queues the events of one inotify instance in order, and queues a close before
``close()`` returns (unless another thread of the same process is still inside a call on that
fd), so the daemon's own close falls inside that window. A close by another process inside
the window is reported only if the window holds more closes than opens; inotify merges
identical back-to-back events not read yet, so such a close can be missed (the window lasts
one GetFeatures; the loop reads events as they come, which keeps merges rare).

The library is inotify_simple: one small file (BSD-2-Clause) over libc that exposes the
inotify fd and a non-blocking read, which is what ``loop.add_reader`` and the synchronous drains
of ``own_access`` need. asyncinotify and aionotify (the one Debian 12 packages) read through
their own async iterators, which cannot drain the queue at a given moment from an I/O thread.
Debian 12 has no python3-inotify-simple; pyinotify is unmaintained and needs asyncore.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import inotify_simple  # type: ignore[import-untyped]

LOG = logging.getLogger(__name__)

# inotify_simple loads libc by name, and symbols looked up through that handle skip LD_PRELOAD
# interposers, so the tests' umockdev /dev would never see the watch. Look them up the way a C
# program is linked; without a preload that is the same libc.
inotify_simple._libc = ctypes.CDLL(None, use_errno=True)

_CLOSE = inotify_simple.flags.CLOSE_WRITE | inotify_simple.flags.CLOSE_NOWRITE
_OPEN = inotify_simple.flags.OPEN
_ATTRIB = inotify_simple.flags.ATTRIB
_IGNORED = inotify_simple.flags.IGNORED
_OVERFLOW = inotify_simple.flags.Q_OVERFLOW

QUIET_SECONDS = 1.0
"""How long a node must see no open or close by another process, after one of them closed
it, before it counts as let go. Longer than a trezorlib program takes to start and list the
devices (about 0.5 s), so that a script running trezorctl again and again is never
interrupted (the daemon reads once it stops); short enough for a change made elsewhere to be
on the bus within 2 s. A read is in another program's way only if that program starts within
the read's few milliseconds."""


@dataclass
class _Watch:
    """One watched node, and the daemon's own access to it."""

    key: str
    devnode: str
    wd: int
    own_users: int = 0
    """How many ``own_access`` blocks are open for this key."""
    own_opens: int = 0
    own_closes: int = 0
    """Opens and closes queued while the daemon was touching the device."""
    closed: bool = False
    """Another process closed the node, or its mode or ACL changed (the permission to open
    it may have arrived), since the last release was reported."""
    touched: bool = False
    """Another process opened or closed the node since the last release was reported."""
    quiet: asyncio.TimerHandle | None = None
    """Ends the quiet period that started at the last open or close by another process."""


class DeviceNodeWatch:
    """Calls ``on_released(key)`` on the event loop when other processes have let go of a
    watched node (see the module's docstring for what that takes).

    Create it on the running loop. ``watch``, ``unwatch`` and ``close`` belong to the loop's
    thread; ``own_access`` may be entered from any thread (the device I/O runs in one).
    Closes that arrive before the node is quiet are reported once.
    """

    def __init__(self, on_released: Callable[[str], None]) -> None:
        self._on_released = on_released
        self._loop = asyncio.get_running_loop()
        self._inotify = inotify_simple.INotify(nonblocking=True)
        self._lock = threading.Lock()
        """Guards everything below: ``own_access`` drains the queue from I/O threads too."""
        self._by_key: dict[str, _Watch] = {}
        self._by_wd: dict[int, _Watch] = {}
        self._active: set[str] = set()
        """Keys another process opened or closed since the loop last restarted their quiet
        period."""
        self._flush_scheduled = False
        self._loop.add_reader(self._inotify.fileno(), self._on_readable)

    def watch(self, key: str, devnode: str) -> bool:
        """Start watching ``devnode`` under ``key``; False (logged at debug) when that fails."""
        with self._lock:
            self._drain()
            current = self._by_key.get(key)
            if current is not None and current.devnode == devnode:
                return True
            if current is not None:
                self._remove(current)
            try:
                wd: int = self._inotify.add_watch(devnode, _OPEN | _CLOSE | _ATTRIB)
            except OSError as error:
                LOG.debug("Not watching %s for %s: %s", devnode, key, error)
                return False
            if wd in self._by_wd:  # the same node under another key: inotify gave its wd back
                LOG.debug("Not watching %s for %s: watched for %s", devnode, key, self._by_wd[wd])
                return False
            watch = _Watch(key, devnode, wd)
            self._by_key[key] = watch
            self._by_wd[wd] = watch
            return True

    def unwatch(self, key: str) -> None:
        """Stop watching ``key``; no release is reported for it afterwards."""
        with self._lock:
            watch = self._by_key.get(key)
            if watch is not None:
                self._remove(watch)

    def close(self) -> None:
        """Stop watching everything; safe to call twice."""
        with self._lock:
            if self._inotify.closed:
                return
            self._loop.remove_reader(self._inotify.fileno())
            self._inotify.close()
            for watch in self._by_key.values():
                if watch.quiet is not None:
                    watch.quiet.cancel()
            self._by_key.clear()
            self._by_wd.clear()
            self._active.clear()

    @contextmanager
    def own_access(self, key: str) -> Iterator[None]:
        """Wrap the daemon's own opening and closing of ``key``'s node: its close is no release.

        Enter it right before the device is opened and leave it right after it is closed, in
        the thread that does so, so that a cancelled task cannot end the block early.
        """
        with self._lock:
            self._drain()
            watch = self._by_key.get(key)
            if watch is not None:
                watch.own_users += 1
        try:
            yield
        finally:
            with self._lock:
                self._drain()
                if watch is not None and self._by_key.get(key) is watch:
                    watch.own_users -= 1
                    if watch.own_users == 0:
                        if watch.own_closes > watch.own_opens:
                            self._other(watch, closed=True)  # a holder let go meanwhile
                        watch.own_opens = watch.own_closes = 0

    def untouched_since_release(self, key: str) -> bool:
        """Whether no other process opened or closed ``key``'s node since its last release
        was reported (events queued until now included), and none has it open now.

        Call it inside ``own_access``, right before the device is opened, from the I/O
        thread (it reads /proc): a program that lists the devices claims one some
        milliseconds after opening it, so a read that starts after that open would be in
        its way; and a program may hold the node open without a sound since it let go.
        """
        with self._lock:
            self._drain()
            watch = self._by_key.get(key)
            if watch is None:
                return True
            if watch.touched:
                return False
            devnode = watch.devnode
        return not _open_elsewhere(devnode)

    def _on_readable(self) -> None:
        with self._lock:
            self._drain()

    def _drain(self) -> None:
        """Read every queued event; the lock is held."""
        if self._inotify.closed:
            return
        for event in self._inotify.read(timeout=0):
            if event.mask & _OVERFLOW:
                LOG.warning("Device node events were lost; treating every device as released")
                for each in self._by_key.values():
                    if not each.own_users:
                        self._other(each, closed=True)
                continue
            watch = self._by_wd.get(event.wd)
            if watch is None:
                continue
            if event.mask & _IGNORED:  # the node is gone (unplugged)
                del self._by_wd[watch.wd]
                del self._by_key[watch.key]
            elif watch.own_users:
                watch.own_opens += bool(event.mask & _OPEN)
                watch.own_closes += bool(event.mask & _CLOSE)
            else:
                self._other(watch, closed=bool(event.mask & (_CLOSE | _ATTRIB)))

    def _remove(self, watch: _Watch) -> None:
        """Forget a watch; the lock is held."""
        del self._by_key[watch.key]
        del self._by_wd[watch.wd]
        self._active.discard(watch.key)
        if watch.quiet is not None:
            watch.quiet.cancel()
        with suppress(OSError):  # the kernel dropped it already: the node was deleted
            self._inotify.rm_watch(watch.wd)

    def _other(self, watch: _Watch, closed: bool) -> None:
        """Another process opened or closed the node (`closed`: or changed its permissions):
        its quiet period starts again (on the loop, soon, once however many events come
        first); the lock is held."""
        watch.closed |= closed
        watch.touched = True
        self._active.add(watch.key)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        with self._lock:
            active, self._active = self._active, set()
            self._flush_scheduled = False
            for key in active:
                watch = self._by_key.get(key)
                if watch is None:
                    continue
                if watch.quiet is not None:
                    watch.quiet.cancel()
                watch.quiet = self._loop.call_later(QUIET_SECONDS, self._quiet_ended, watch)

    def _quiet_ended(self, watch: _Watch) -> None:
        """Nobody else touched the node for QUIET_SECONDS since another process closed it:
        report it (whether one still has it open is for ``untouched_since_release``)."""
        with self._lock:
            watch.quiet = None
            if self._by_key.get(watch.key) is not watch or not watch.closed:
                return
            watch.closed = watch.touched = False
        self._on_released(watch.key)


def _open_elsewhere(devnode: str) -> bool:
    """Whether a process other than this one has ``devnode`` open, among those whose open
    files we may see (the same user's: where Trezor Suite and trezorctl run)."""
    try:
        node = os.stat(devnode)
    except OSError:
        return False  # gone: nobody can hold it
    me = str(os.getpid())
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid == me:
            continue
        try:
            with os.scandir(f"/proc/{pid}/fd") as fds:
                for fd in fds:
                    try:
                        held = os.stat(fd.path)
                    except OSError:
                        continue
                    if (held.st_dev, held.st_ino) == (node.st_dev, node.st_ino):
                        return True
        except OSError:
            continue  # another user's, or it just exited
    return False
