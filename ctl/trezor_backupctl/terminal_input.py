"""Lines typed by the owner, read on the event loop without echo when they are secret.

Not `input()` or `getpass()`: both block a thread that nothing can interrupt, so a prompt the
daemon closes (the operation ended on the Trezor) would wait for Enter and the terminal would
be left with echo off if the process ended meanwhile. Reading the file descriptor when the
loop says it is readable keeps every prompt cancellable, and the D-Bus connection served while
the owner types.

On a terminal, echo is switched off for the secret prompt only (the Enter is still echoed, so
the next output starts on a new line) and restored however the prompt ends. Anything else on
standard input (a pipe, a file) is read line by line, which is how scripts and tests answer.
"""

import asyncio
import os
import termios
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

_CHUNK = 4096


class TerminalLines:
    """Lines from one file descriptor (standard input), with its own buffer.

    All reads of that descriptor must go through one instance: a pipe delivers several lines
    at once, and the ones not yet asked for wait in the buffer for the next prompt.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = bytearray()
        self._eof = False
        self.is_tty = os.isatty(fd)

    async def read_line(self, *, secret: bool) -> str:
        """The next line without its line ending; EOFError when there is none.

        `secret`: on a terminal, what is typed is not echoed (not into scrollback either).
        """
        with self._echo_off() if secret else nullcontext():
            while True:
                end = self._buffer.find(b"\n")
                if end >= 0:
                    return self._take(end + 1)
                if self._eof:
                    if self._buffer:
                        return self._take(len(self._buffer))
                    raise EOFError
                await self._fill()

    def _take(self, size: int) -> str:
        line = self._buffer[:size].decode("utf-8", errors="replace")
        del self._buffer[:size]
        return line.rstrip("\r\n")

    async def _fill(self) -> None:
        loop = asyncio.get_running_loop()
        readable = loop.create_future()

        def on_readable() -> None:
            if not readable.done():
                readable.set_result(None)

        try:
            loop.add_reader(self._fd, on_readable)
        except PermissionError:
            pass  # a regular file or /dev/null: epoll refuses them, and reading never blocks
        else:
            try:
                await readable
            finally:
                loop.remove_reader(self._fd)
        chunk = os.read(self._fd, _CHUNK)
        if chunk:
            self._buffer += chunk
        else:
            self._eof = True

    @contextmanager
    def _echo_off(self) -> Iterator[None]:
        if not self.is_tty:
            yield
            return
        saved = termios.tcgetattr(self._fd)
        quiet = list(saved)
        quiet[3] = (quiet[3] & ~termios.ECHO) | termios.ECHONL
        termios.tcsetattr(self._fd, termios.TCSANOW, quiet)
        try:
            yield
        finally:
            termios.tcsetattr(self._fd, termios.TCSANOW, saved)
