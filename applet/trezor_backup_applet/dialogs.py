"""The applet's windows, in tkinter, on a thread of their own.

Tk wants every call on the thread that created its interpreter, and the tray's GTK loop and
the D-Bus asyncio loop both own other threads; so `DialogHost` runs one hidden Tk root on a
dedicated thread and everything else reaches it through `DialogHost.call`, which queues the
work for that thread and hands back a `concurrent.futures.Future`. A prompt's answer comes
back the same way: the agent awaits the future on the asyncio thread.

Seed safety: an answer (PIN positions, a word, a matrix position) leaves a dialog only as the
result of its future, and the dialog clears its entry and is destroyed in the same step; no
answer is stored on an object, logged or shown again.
"""

from __future__ import annotations

import functools
import gc
import logging
import queue
import re
import threading
import tkinter as tk
from collections.abc import Callable
from concurrent.futures import Future
from tkinter import ttk
from typing import Any, TypeVar

from trezor_backup_api.input_rules import (
    AFTER_BACKUP,
    BACK,
    BEFORE_BACKUP,
    KEYPAD_ROWS,
    MATRIX6_ROWS,
    WORD_COUNTS,
    WordRejected,
    complete_word,
    completions,
)
from trezor_backup_api.vocabulary import BackupState, WordKind

log = logging.getLogger(__name__)

T = TypeVar("T")
FOLLOW_THE_TREZOR = "Follow the instructions on your Trezor"
_POLL_MS = 30

WHAT_TO_DO: dict[str, tuple[str, str]] = {
    BackupState.BACKUP_FAILED: (
        "The backup was started but not finished",
        "Your Trezor will never show these recovery words again, so this wallet can never "
        "be backed up. If the Trezor is lost or breaks, the funds on it are lost too.\n\n"
        "1. Set up a new wallet on another device or after the steps below, and send all "
        "funds from this wallet to a safe one first.\n"
        "2. Wipe this Trezor (Trezor Suite: Settings > Device > Wipe device).\n"
        "3. Set it up again as a new wallet.\n"
        "4. Create the backup and write every word down in order.\n"
        "5. Check the backup with a dry run before you send any funds to it.",
    ),
    BackupState.CHECK_FAILED: (
        "The written words do not restore this wallet",
        "The recovery words you entered are valid, but they belong to another wallet. If "
        "this Trezor is lost or breaks, your written words will not bring the funds back. "
        "Send no funds to this wallet.\n\n"
        "1. Run the check again, slowly: a word in the wrong order or a misread word gives "
        "this result.\n"
        "2. If it fails again, send all funds from this wallet to a safe one.\n"
        "3. Wipe this Trezor, set it up again as a new wallet and create the backup.\n"
        "4. Check the new backup with a dry run before you send any funds to it.",
    ),
}


class Prompt:
    """A window that answers one agent question; closing it means "cancel" (None)."""

    def __init__(self, host: DialogHost, device: str, title: str, heading: str) -> None:
        self.host = host
        self.device = device
        self.future: Future[Any] = Future()
        self.window = tk.Toplevel(host.root)
        self.window.title(title)
        self.window.resizable(False, False)
        self.window.protocol("WM_DELETE_WINDOW", self.cancel)
        self.frame = ttk.Frame(self.window, padding=12)
        self.frame.pack(fill="both", expand=True)
        ttk.Label(self.frame, text=heading, wraplength=320, justify="left").pack(anchor="w")

    def answer(self, value: Any) -> None:
        """Hand the answer to the waiting agent and forget it with the window."""
        if not self.future.done():
            self.future.set_result(value)
        self.close()

    def cancel(self) -> None:
        """The owner closed the window or pressed Cancel, or the operation ended."""
        self.answer(None)

    def close(self) -> None:
        """Destroy the window (entries were cleared by the subclass before)."""
        self.host.forget(self)
        if self.window.winfo_exists():
            self.window.destroy()

    def add_cancel(self, row: ttk.Frame) -> None:
        ttk.Button(row, text="Cancel", command=self.cancel).pack(side="right")


class KeypadPrompt(Prompt):
    """Blank buttons laid out like the device's matrix; the owner looks at the Trezor's screen."""

    def __init__(
        self,
        host: DialogHost,
        device: str,
        title: str,
        heading: str,
        rows: tuple[tuple[str, ...], ...],
    ) -> None:
        super().__init__(host, device, title, heading)
        grid = ttk.Frame(self.frame, padding=(0, 8))
        grid.pack()
        self.keys: dict[str, ttk.Button] = {}
        for r, row in enumerate(rows):
            for c, position in enumerate(row):
                button = ttk.Button(
                    grid, text="\u2022", width=5, command=functools.partial(self.press, position)
                )
                button.grid(row=r, column=c, padx=2, pady=2, ipady=8)
                self.keys[position] = button

    def press(self, position: str) -> None:
        """A keypad button was pressed."""
        raise NotImplementedError


class PinPrompt(KeypadPrompt):
    """The Model One PIN matrix: 3x3 blank buttons, sent as positions."""

    def __init__(self, host: DialogHost, device: str) -> None:
        super().__init__(
            host,
            device,
            "Enter PIN",
            "Enter your PIN: press the buttons at the places where your Trezor "
            "shows the digits of your PIN.",
            KEYPAD_ROWS,
        )
        self.shown = tk.StringVar(self.window)
        self._positions: list[str] = []
        ttk.Entry(self.frame, textvariable=self.shown, state="readonly", justify="center").pack(
            fill="x"
        )
        row = ttk.Frame(self.frame, padding=(0, 8, 0, 0))
        row.pack(fill="x")
        self.ok = ttk.Button(row, text="Unlock", command=self.submit)
        self.ok.pack(side="right")
        self.add_cancel(row)
        ttk.Button(row, text="\u232b", width=3, command=self.backspace).pack(side="left")

    def press(self, position: str) -> None:
        if len(self._positions) < 50:
            self._positions.append(position)
        self.shown.set("\u2022" * len(self._positions))

    def backspace(self) -> None:
        """Drop the last position."""
        if self._positions:
            self._positions.pop()
        self.shown.set("\u2022" * len(self._positions))

    def submit(self) -> None:
        """Send the positions and forget them."""
        if not self._positions:
            return
        positions = "".join(self._positions)
        self._positions.clear()
        self.shown.set("")
        self.answer(positions)


class MatrixWordPrompt(KeypadPrompt):
    """One step of the Model One's matrix word entry: press where the Trezor shows the choice."""

    def __init__(self, host: DialogHost, device: str, kind: str) -> None:
        rows = MATRIX6_ROWS if kind == WordKind.MATRIX6 else KEYPAD_ROWS
        heading = (
            "Press the button at the place where your Trezor shows your word."
            if kind == WordKind.MATRIX6
            else "Press the button at the place where your Trezor shows the letters your "
            "word starts with."
        )
        super().__init__(host, device, "Enter word", heading, rows)
        row = ttk.Frame(self.frame, padding=(0, 8, 0, 0))
        row.pack(fill="x")
        self.add_cancel(row)
        self.back = ttk.Button(row, text="\u232b Back", command=lambda: self.press(BACK))
        self.back.pack(side="left")

    def press(self, position: str) -> None:
        self.answer(position)


class WordPrompt(Prompt):
    """The scrambled-words prompt: type the word the Trezor asks for, with BIP-39 completion."""

    def __init__(self, host: DialogHost, device: str) -> None:
        super().__init__(
            host,
            device,
            "Enter word",
            "Type the word your Trezor asks for. Its screen says which word of "
            "your backup it wants, or asks for a fake word: type that one.",
        )
        self.text = tk.StringVar(self.window)
        self.entry = ttk.Entry(self.frame, textvariable=self.text, width=24)
        self.entry.pack(fill="x", pady=(8, 4))
        self.entry.bind("<Return>", lambda _e: self.submit())
        self.entry.bind("<Tab>", self._complete)
        self.matches = tk.Listbox(self.frame, height=4, exportselection=False)
        self.matches.pack(fill="x")
        self.matches.bind("<Double-Button-1>", self._pick)
        row = ttk.Frame(self.frame, padding=(0, 8, 0, 0))
        row.pack(fill="x")
        self.ok = ttk.Button(row, text="Enter", command=self.submit, state="disabled")
        self.ok.pack(side="right")
        self.add_cancel(row)
        self.text.trace_add("write", lambda *_: self._refresh())
        self.entry.focus_set()

    def candidates(self) -> list[str]:
        """Wordlist words starting with what is typed."""
        return completions(self.text.get())

    def word(self) -> str | None:
        """The wordlist word the entry stands for, by the terminal's rule (`complete_word`:
        the word, or a unique prefix of four letters or more)."""
        try:
            return complete_word(self.text.get())
        except WordRejected:
            return None

    def _refresh(self) -> None:
        self.matches.delete(0, "end")
        for word in self.candidates()[:8]:
            self.matches.insert("end", word)
        self.ok.configure(state="normal" if self.word() else "disabled")

    def _complete(self, _event: object) -> str:
        word = self.word()
        if word:
            self.text.set(word)
            self.entry.icursor("end")
        return "break"

    def _pick(self, _event: object) -> None:
        selected: tuple[int, ...] = self.matches.curselection()  # type: ignore[no-untyped-call]
        if selected:
            self.text.set(self.matches.get(selected[0]))
            self.submit()

    def submit(self) -> None:
        """Send a wordlist word (re-ask otherwise) and clear every trace of it."""
        word = self.word()
        if word is None:
            self.entry.configure(foreground="red")
            return
        self.matches.delete(0, "end")
        self.text.set("")
        self.answer(word)


class WordCountPrompt(Prompt):
    """How many words the written backup has."""

    def __init__(self, host: DialogHost, device: str) -> None:
        super().__init__(
            host, device, "Number of words", "How many recovery words did you write down?"
        )
        row = ttk.Frame(self.frame, padding=(0, 8))
        row.pack()
        self.choices: dict[int, ttk.Button] = {}
        for count in WORD_COUNTS:
            button = ttk.Button(
                row, text=f"{count} words", command=functools.partial(self.answer, count)
            )
            button.pack(side="left", padx=2)
            self.choices[count] = button
        bottom = ttk.Frame(self.frame)
        bottom.pack(fill="x")
        self.add_cancel(bottom)


class Checklist(Prompt):
    """Statements to tick before going on, as Trezor Suite asks around a backup."""

    def __init__(
        self,
        host: DialogHost,
        device: str,
        title: str,
        heading: str,
        items: tuple[str, ...],
        go: str,
        stop: str,
    ) -> None:
        super().__init__(host, device, title, heading)
        self.ticks = [tk.BooleanVar(self.window) for _ in items]
        self.boxes: list[tk.Checkbutton] = []
        for item, tick in zip(items, self.ticks, strict=True):
            box = tk.Checkbutton(self.frame, text=item, variable=tick, command=self._refresh,
                                 wraplength=380, justify="left", anchor="w")  # fmt: skip
            box.pack(anchor="w", fill="x", pady=2)
            self.boxes.append(box)
        row = ttk.Frame(self.frame, padding=(0, 8, 0, 0))
        row.pack(fill="x")
        self.go = ttk.Button(row, text=go, command=lambda: self.answer(True), state="disabled")
        self.go.pack(side="right")
        ttk.Button(row, text=stop, command=lambda: self.answer(False)).pack(side="right")

    def _refresh(self) -> None:
        ready = all(t.get() for t in self.ticks)
        self.go.configure(state="normal" if ready else "disabled")

    def cancel(self) -> None:
        self.answer(False)


class ProgressWindow:
    """ "Follow the instructions on your Trezor": the operation's live progress, with Cancel."""

    def __init__(
        self, host: DialogHost, device: str, title: str, on_cancel: Callable[[], None]
    ) -> None:
        self.host = host
        self.device = device
        self.window = tk.Toplevel(host.root)
        self.window.title(title)
        self.window.resizable(False, False)
        self.window.protocol("WM_DELETE_WINDOW", on_cancel)
        frame = ttk.Frame(self.window, padding=12)
        frame.pack(fill="both", expand=True)
        ttk.Label(frame, text=FOLLOW_THE_TREZOR, font=("TkDefaultFont", 12, "bold")).pack(
            anchor="w"
        )
        self.message = tk.StringVar(self.window, value="Starting...")
        ttk.Label(frame, textvariable=self.message, wraplength=340, justify="left").pack(
            anchor="w", pady=8
        )
        self.bar = ttk.Progressbar(frame, length=340, mode="indeterminate")
        self.bar.pack(fill="x")
        self.bar.start(50)
        row = ttk.Frame(frame, padding=(0, 8, 0, 0))
        row.pack(fill="x")
        self.cancel_button = ttk.Button(row, text="Cancel", command=on_cancel)
        self.cancel_button.pack(side="right")

    def update(self, message: str) -> None:
        """Show the daemon's sentence; "word 3 of 24" also moves the bar."""
        self.message.set(message)
        step = re.search(r"(\d+) of (\d+)", message)
        if step and int(step.group(2)) > 0:
            self.bar.stop()
            self.bar.configure(
                mode="determinate", maximum=int(step.group(2)), value=int(step.group(1))
            )

    def close(self) -> None:
        """The operation ended."""
        if self.window.winfo_exists():
            self.window.destroy()


class InfoWindow:
    """A text to read (the "What to do..." explanation, or the daemon's error message)."""

    def __init__(self, host: DialogHost, title: str, heading: str, text: str) -> None:
        self.window = tk.Toplevel(host.root)
        self.window.title(title)
        frame = ttk.Frame(self.window, padding=12)
        frame.pack(fill="both", expand=True)
        ttk.Label(
            frame, text=heading, font=("TkDefaultFont", 12, "bold"), wraplength=420, justify="left"
        ).pack(anchor="w")
        ttk.Label(frame, text=text, wraplength=420, justify="left").pack(anchor="w", pady=8)
        ttk.Button(frame, text="Close", command=self.window.destroy).pack(side="right")


class DialogHost:
    """The Tk thread: one hidden root, and the windows the applet opens on it."""

    def __init__(self) -> None:
        self.root: tk.Tk
        self._work: queue.Queue[Callable[[], None]] = queue.Queue()
        self._ready = threading.Event()
        self._failure: str | None = None
        self._prompts: list[Prompt] = []
        self.progress: dict[str, ProgressWindow] = {}
        self._listeners: list[Callable[[object], None]] = []
        self._thread = threading.Thread(target=self._run, name="dialogs", daemon=True)

    def start(self) -> None:
        """Start the Tk thread and wait until it takes work; raises when Tk cannot start."""
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise RuntimeError(f"the dialogs cannot start: {self._failure}")

    def stop(self) -> None:
        """End the Tk thread (pending prompts are cancelled)."""
        self.call(self._quit).result()
        self._thread.join(5)

    def _run(self) -> None:
        try:
            self.root = tk.Tk(className="trezor-backup-applet")
        except tk.TclError as e:
            self._failure = str(e)
            self._ready.set()
            return
        self.root.withdraw()
        self.root.after(_POLL_MS, self._drain)
        self._ready.set()
        self.root.mainloop()
        # Every Tk object must die on this thread: a Tcl variable freed on another thread
        # after the loop ended would block that thread forever.
        self._prompts.clear()
        self.progress.clear()
        self.root.destroy()
        del self.root
        gc.collect()

    def _quit(self) -> None:
        for prompt in list(self._prompts):
            prompt.cancel()
        self.root.quit()

    def _drain(self) -> None:
        while True:
            try:
                work = self._work.get_nowait()
            except queue.Empty:
                break
            work()
        self.root.after(_POLL_MS, self._drain)

    def call(self, fn: Callable[[], T]) -> Future[T]:
        """Run `fn` on the Tk thread; its result or exception arrives in the future."""
        future: Future[T] = Future()

        def work() -> None:
            try:
                future.set_result(fn())
            except BaseException as e:
                log.exception("dialog work failed")
                future.set_exception(e)

        self._work.put(work)
        return future

    def add_listener(self, listener: Callable[[object], None]) -> None:
        """`listener(window)` is called on the Tk thread for each window opened (for tests
        and accessibility tools that drive the dialogs)."""
        self._listeners.append(listener)

    def _opened(self, window: Any) -> Any:
        window.window.update_idletasks()
        for listener in self._listeners:
            listener(window)
        return window

    def forget(self, prompt: Prompt) -> None:
        """A prompt is gone (answered or cancelled)."""
        if prompt in self._prompts:
            self._prompts.remove(prompt)

    def ask(self, make: Callable[[], Prompt]) -> Future[Any]:
        """Open a prompt; the future gets its answer, or None when cancelled."""
        answer: Future[Any] = Future()

        def open_prompt() -> None:
            prompt = make()
            self._prompts.append(prompt)
            prompt.future.add_done_callback(lambda f: answer.set_result(f.result()))
            self._opened(prompt)

        self.call(open_prompt)
        return answer

    # -- the questions --------------------------------------------------------------------

    def ask_pin(self, device: str) -> Future[str | None]:
        """The PIN as matrix positions."""
        return self.ask(lambda: PinPrompt(self, device))

    def ask_word(self, device: str, kind: str) -> Future[str | None]:
        """A word (kind "plain") or a matrix position ("matrix9"/"matrix6")."""
        if kind in (WordKind.MATRIX9, WordKind.MATRIX6):
            return self.ask(lambda: MatrixWordPrompt(self, device, kind))
        return self.ask(lambda: WordPrompt(self, device))

    def ask_word_count(self, device: str) -> Future[int | None]:
        """12, 18 or 24."""
        return self.ask(lambda: WordCountPrompt(self, device))

    def confirm_before_backup(self, device: str, name: str) -> Future[bool | None]:
        """Trezor Suite's questions before a backup; True to go on."""
        return self.ask(
            lambda: Checklist(
                self,
                device,
                "Create backup",
                f"Before you create the backup of {name}:",
                BEFORE_BACKUP,
                "Create backup",
                "Not now",
            )
        )

    def offer_check(self, device: str, name: str) -> Future[bool | None]:
        """After a backup: Suite's questions, then the offer to check the words now."""
        return self.ask(
            lambda: Checklist(
                self,
                device,
                "Backup created",
                f"The backup of {name} is done. Now check it with a "
                "dry run before you send funds to this wallet.",
                AFTER_BACKUP,
                "Check now",
                "Later",
            )
        )

    def cancel_prompts(self, device: str) -> None:
        """The operation ended or was cancelled: close the device's open prompts."""

        def close() -> None:
            for prompt in [p for p in self._prompts if p.device == device]:
                prompt.cancel()

        self.call(close)

    def show_progress(self, device: str, title: str, on_cancel: Callable[[], None]) -> None:
        """Open (or keep) the progress window of an operation."""

        def open_window() -> None:
            if device not in self.progress:
                self.progress[device] = self._opened(ProgressWindow(self, device, title, on_cancel))

        self.call(open_window)

    def update_progress(self, device: str, message: str) -> None:
        """A new step of the operation."""

        def update() -> None:
            window = self.progress.get(device)
            if window is not None:
                window.update(message)

        self.call(update)

    def close_progress(self, device: str) -> None:
        """The operation ended."""

        def close() -> None:
            window = self.progress.pop(device, None)
            if window is not None:
                window.close()

        self.call(close)

    def show_what_to_do(self, state: str, name: str) -> None:
        """The way out of a failed backup or a failed check."""
        heading, text = WHAT_TO_DO.get(
            state, ("Nothing to do", f"{name} needs nothing from you right now.")
        )
        self.call(lambda: self._opened(InfoWindow(self, f"What to do: {name}", heading, text)))

    def show_message(self, title: str, heading: str, text: str) -> None:
        """A message to read, such as the daemon's reason for refusing an action."""
        self.call(lambda: self._opened(InfoWindow(self, title, heading, text)))
