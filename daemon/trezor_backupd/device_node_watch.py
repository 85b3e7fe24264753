"""Notice when another process lets go of a Trezor's device node.

On core firmware any message sent while another app's flow runs ends that flow, so the daemon
must not read a device on a timer while Trezor Suite or trezorctl may be using it. Instead it
watches the node that app opened (``/dev/bus/usb/BBB/DDD`` for WebUSB, ``/dev/hidrawN`` for a
HID Model One) with inotify and re-reads when a close arrives.

inotify does not say which process closed a file, so the daemon's own access is told apart by
time: ``own_access`` drains the inotify queue when the daemon starts and when it finishes
touching the device, and the open and close events queued in between are its own. The kernel
queues the events of one inotify instance in order, and queues a close before ``close()``
returns (unless another thread of the same process is still inside a call on that fd), so the
daemon's own close falls inside that window. What stays open:

- a close by another process inside the window is reported only if the window holds more
  closes than opens; inotify merges identical back-to-back events not read yet, so such a
  close can be missed (the window lasts one GetFeatures; the loop reads events as they come,
  which keeps merges rare);
- a close means "some process closed it", not "nobody holds it now": a second holder, or a
  tool that opens every node (``lsusb``), can cause a read that finds the device still busy.

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
_IGNORED = inotify_simple.flags.IGNORED
_OVERFLOW = inotify_simple.flags.Q_OVERFLOW


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


class DeviceNodeWatch:
    """Calls ``on_released(key)`` on the event loop when another process closes a watched node.

    Create it on the running loop. ``watch``, ``unwatch`` and ``close`` belong to the loop's
    thread; ``own_access`` may be entered from any thread (the device I/O runs in one).
    Closes that arrive together are reported once per key.
    """

    def __init__(self, on_released: Callable[[str], None]) -> None:
        self._on_released = on_released
        self._loop = asyncio.get_running_loop()
        self._inotify = inotify_simple.INotify(nonblocking=True)
        self._lock = threading.Lock()
        """Guards everything below: ``own_access`` drains the queue from I/O threads too."""
        self._by_key: dict[str, _Watch] = {}
        self._by_wd: dict[int, _Watch] = {}
        self._released: set[str] = set()
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
                wd: int = self._inotify.add_watch(devnode, _OPEN | _CLOSE)
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
            self._by_key.clear()
            self._by_wd.clear()
            self._released.clear()

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
                            self._release(key)  # someone who held it before let go meanwhile
                        watch.own_opens = watch.own_closes = 0

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
                for key, each in self._by_key.items():
                    if not each.own_users:
                        self._release(key)
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
            elif event.mask & _CLOSE:
                self._release(watch.key)

    def _remove(self, watch: _Watch) -> None:
        """Forget a watch; the lock is held."""
        del self._by_key[watch.key]
        del self._by_wd[watch.wd]
        self._released.discard(watch.key)
        with suppress(OSError):  # the kernel dropped it already: the node was deleted
            self._inotify.rm_watch(watch.wd)

    def _release(self, key: str) -> None:
        """Report ``key`` on the loop soon, once however many closes come first; lock held."""
        self._released.add(key)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        with self._lock:
            released, self._released = self._released, set()
            self._flush_scheduled = False
        for key in sorted(released):
            self._on_released(key)
