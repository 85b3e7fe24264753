"""The simulated device: decoded messages in, replies out. No sockets, no clocks.

It reproduces the message-level behaviour of the firmware that hosts depend on:
which messages abort a running flow (Initialize, Cancel), which leave it alone
(GetFeatures between WordRequests), and what happens while the firmware blocks for
a ButtonAck/PinMatrixAck (the legacy "tiny" mode, see `reads_only_tiny_messages`).
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from trezorlib import messages, protobuf

from . import core_flows, legacy_flows
from .codec import message_class
from .models import ModelInfo, WalletStatus, build_bootloader_features, build_features
from .prompts import Answer, ButtonPrompt, Flow, PinPrompt, Prompt, WordPrompt
from .state import DebugState, Wallet

_FT = messages.FailureType


class Channel(enum.Enum):
    """The two UDP ports of an emulator: normal wire traffic and DebugLink."""

    WIRE = "wire"
    DEBUG = "debug"


Reply = tuple[Channel, protobuf.MessageType]

# What the legacy firmware still reads while it blocks for a button or PIN.
TINY_MESSAGES: frozenset[type[protobuf.MessageType]] = frozenset(
    {
        messages.ButtonAck,
        messages.PinMatrixAck,
        messages.PassphraseAck,
        messages.Cancel,
        messages.Initialize,
        messages.DebugLinkDecision,
        messages.DebugLinkGetState,
    }
)
_LAYOUT_BYTES = 1024  # the Model One's 128x64 OLED buffer in DebugLinkState


@dataclass
class _ButtonWait:
    """Progress of a button confirmation: it ends once acked *and* decided."""

    text_input: bool
    acked: bool = False
    decided: bool = False
    decision: Answer = None


class Device:
    """One simulated Trezor, driven message by message."""

    def __init__(
        self, info: ModelInfo, wallet: Wallet, rng: random.Random, *, bootloader: bool = False
    ) -> None:
        self.info = info
        self.wallet = wallet
        self.debug = DebugState()
        self._rng = rng
        self._bootloader = bootloader
        self._session_id = self._rng.randbytes(32)
        # The flow blocked on a button or PIN prompt, and how far that prompt got.
        self._blocked: Flow | None = None
        self._wait: _ButtonWait | PinPrompt | None = None
        # A dry run between two WordRequests: the device is otherwise idle.
        self._word_flow: Flow | None = None
        # Legacy protectAbortedByInitialize: turns the next Failure into Features.
        self._aborted_by_initialize = False

    @property
    def reads_only_tiny_messages(self) -> bool:
        """Whether only TINY_MESSAGES are read now (legacy firmware blocked in a prompt)."""
        return self._blocked is not None and not self.info.is_core

    def is_known(self, channel: Channel, wire_type: int) -> bool:
        """Whether the firmware's message table has this type for this port."""
        msg_class = message_class(wire_type)
        if msg_class is None:
            return False
        return msg_class.__name__.startswith("DebugLink") == (channel is Channel.DEBUG)

    def unknown_message(self) -> list[Reply]:
        """Failure for a type the firmware does not know (always on the wire port)."""
        text = "Unexpected message" if self.info.is_core else "Unknown message"
        return self._emit([messages.Failure(code=_FT.UnexpectedMessage, message=text)])

    def transport_failure(self, code: messages.FailureType, text: str) -> list[Reply]:
        """Failure for a frame that could not be read (too big, undecodable)."""
        return self._emit([messages.Failure(code=code, message=text)])

    def handle(self, channel: Channel, msg: protobuf.MessageType) -> list[Reply]:
        """Process one complete message that arrived on `channel`."""
        if self._bootloader:
            return self._handle_bootloader(msg)
        if self._blocked is not None:
            if self.reads_only_tiny_messages:
                return self._handle_blocked(msg) if type(msg) in TINY_MESSAGES else []
            if type(msg) in TINY_MESSAGES and not isinstance(msg, messages.Initialize):
                return self._handle_blocked(msg)
            # Core firmware: any other message ends the blocked workflow silently.
            self._blocked.close()
            self._blocked = self._wait = None
        if channel is Channel.DEBUG:
            return self._handle_debug(msg)
        return self._handle_wire(msg)

    # -- message handlers ------------------------------------------------------

    def _handle_wire(self, msg: protobuf.MessageType) -> list[Reply]:
        """A message on the wire port while no prompt blocks the device."""
        if isinstance(msg, messages.Initialize):
            return self._emit([self._initialize(msg.session_id)])
        if isinstance(msg, messages.GetFeatures):
            return self._emit([self._features(None)])
        if isinstance(msg, messages.Cancel):
            self._abort_word_flow()
            cancelled = messages.Failure(code=_FT.ActionCancelled, message=self._cancelled_text)
            return self._emit([cancelled])
        if isinstance(msg, messages.LockDevice):
            if self.wallet.pin is not None:
                self.wallet.unlocked = False
            done = "Session cleared" if not self.info.is_core else None
            return self._emit([messages.Success(message=done)])
        if isinstance(msg, messages.SetBusy):
            return self._emit([messages.Success(message=None)])
        if isinstance(msg, messages.Ping):
            return self._start(legacy_flows.ping(msg, self._cancelled_text))
        if self.info.is_core:
            return self._handle_core_wire(msg)
        if isinstance(msg, messages.WordAck):
            return self._word_ack(msg.word)
        if isinstance(msg, messages.RecoveryDevice):
            self._abort_word_flow()
            return self._start(legacy_flows.dry_run(msg, self.wallet, self.debug, self._rng))
        if isinstance(msg, messages.BackupDevice):
            return self._start(legacy_flows.backup(self.wallet, self.debug))
        if isinstance(msg, messages.GetAddress):
            return self._start(legacy_flows.get_address(msg, self.wallet))
        if isinstance(msg, messages.ApplySettings):
            return self._start(legacy_flows.apply_settings(msg, self.wallet))
        if isinstance(msg, messages.WipeDevice):
            self._abort_word_flow()
            new_id = self._rng.randbytes(12).hex().upper()
            return self._start(legacy_flows.wipe_device(self.wallet, new_id))
        if isinstance(msg, messages.LoadDevice):
            return self._start(legacy_flows.load_device(msg, self.wallet))
        return self.unknown_message()

    def _handle_core_wire(self, msg: protobuf.MessageType) -> list[Reply]:
        """Core-only workflows; the rest is unknown to this simulator."""
        if isinstance(msg, messages.RecoveryDevice):
            return self._start(core_flows.dry_run(msg, self.wallet))
        if isinstance(msg, messages.BackupDevice):
            return self._start(core_flows.backup(self.wallet, self.debug))
        return self.unknown_message()

    @property
    def _cancelled_text(self) -> str:
        """The default ActionCancelled text of the firmware family."""
        return "Cancelled" if self.info.is_core else "Action cancelled by user"

    def _handle_debug(self, msg: protobuf.MessageType) -> list[Reply]:
        """A DebugLink message while no prompt blocks the device."""
        if isinstance(msg, messages.DebugLinkGetState):
            return [(Channel.DEBUG, self._debug_state())]
        if isinstance(msg, messages.DebugLinkReseedRandom):
            self._rng.seed(msg.value or 0)
            return [(Channel.DEBUG, messages.Success(message=None))]
        # DebugLinkDecision with nothing to decide, and the rest: no reply.
        return []

    def _handle_blocked(self, msg: protobuf.MessageType) -> list[Reply]:
        """A message the firmware reads while a button/PIN prompt blocks it."""
        assert self._blocked is not None
        wait = self._wait
        if isinstance(msg, messages.DebugLinkGetState):
            return [(Channel.DEBUG, self._debug_state())]
        if isinstance(msg, messages.Cancel | messages.Initialize):
            self._aborted_by_initialize = isinstance(msg, messages.Initialize)
            wants_text = isinstance(wait, PinPrompt) or (
                isinstance(wait, _ButtonWait) and wait.text_input
            )
            return self._resume(None if wants_text else False)
        if isinstance(wait, _ButtonWait):
            if isinstance(msg, messages.ButtonAck):
                wait.acked = True
            elif isinstance(msg, messages.DebugLinkDecision):
                self._decide(wait, msg)
            if wait.acked and wait.decided:
                return self._resume(wait.decision)
        elif isinstance(msg, messages.PinMatrixAck):
            return self._resume(self._decode_pin(msg.pin))
        return []

    @staticmethod
    def _decide(wait: _ButtonWait, msg: messages.DebugLinkDecision) -> None:
        """Record a DebugLink decision: a button, or (core) text typed on the device."""
        if wait.text_input and msg.input is not None:
            wait.decided, wait.decision = True, msg.input
        elif msg.button is not None:
            yes = msg.button != messages.DebugButton.NO
            wait.decided = True
            wait.decision = yes if not wait.text_input else (None if not yes else "")

    def _handle_bootloader(self, msg: protobuf.MessageType) -> list[Reply]:
        """A bootloader knows little more than who it is."""
        if isinstance(msg, messages.Initialize | messages.GetFeatures):
            return [(Channel.WIRE, build_bootloader_features(self.info))]
        if isinstance(msg, messages.Ping):
            return [(Channel.WIRE, messages.Success(message=msg.message))]
        return [
            (Channel.WIRE, messages.Failure(code=_FT.UnexpectedMessage, message="Unknown message"))
        ]

    # -- flows -----------------------------------------------------------------

    def _start(self, flow: Flow) -> list[Reply]:
        """Run a new flow up to its first prompt or its end."""
        return self._advance(flow, None)

    def _resume(self, answer: Answer) -> list[Reply]:
        """Hand the answer to the blocked flow."""
        flow, self._blocked, self._wait = self._blocked, None, None
        assert flow is not None
        return self._advance(flow, answer)

    def _word_ack(self, word: str) -> list[Reply]:
        """WordAck: feeds the waiting dry run, if there is one."""
        flow, self._word_flow = self._word_flow, None
        if flow is None:
            return self._emit(
                [messages.Failure(code=_FT.UnexpectedMessage, message="Not in Recovery mode")]
            )
        return self._advance(flow, word)

    def _advance(self, flow: Flow, answer: Answer) -> list[Reply]:
        """Run `flow` until it prompts again (request sent) or ends (result sent)."""
        try:
            prompt = flow.send(answer)
        except StopIteration as stop:
            result: list[protobuf.MessageType] = stop.value
            return self._emit(result)
        return self._emit([self._prompt(flow, prompt)])

    def _prompt(self, flow: Flow, prompt: Prompt) -> protobuf.MessageType:
        """Park `flow` on `prompt` and return the request that asks the host."""
        if isinstance(prompt, WordPrompt):
            self._word_flow = flow
            return messages.WordRequest(type=prompt.type)
        self._blocked = flow
        if isinstance(prompt, ButtonPrompt):
            self._wait = _ButtonWait(text_input=prompt.text_input)
            return messages.ButtonRequest(code=prompt.code)
        digits = list("123456789")
        self._rng.shuffle(digits)
        self.debug.pin_matrix = "".join(digits)
        self._wait = prompt
        return messages.PinMatrixRequest(type=messages.PinMatrixRequestType.Current)

    def _abort_word_flow(self) -> None:
        """recovery_abort(): forget a dry run waiting for words."""
        if self._word_flow is not None:
            self._word_flow.close()
            self._word_flow = None

    def _decode_pin(self, positions: str) -> str:
        """Map keypad positions through the shown matrix back to PIN digits."""
        matrix = self.debug.pin_matrix
        return "".join(matrix[int(key) - 1] if key in "123456789" else "?" for key in positions)

    # -- replies ---------------------------------------------------------------

    def _emit(self, replies: list[protobuf.MessageType]) -> list[Reply]:
        """Wire replies, with the legacy Initialize-abort quirk applied to Failures."""
        out: list[Reply] = []
        for reply in replies:
            if isinstance(reply, messages.Failure) and self._aborted_by_initialize:
                self._aborted_by_initialize = False
                reply = self._initialize(None)
            out.append((Channel.WIRE, reply))
        return out

    def _initialize(self, session_id: bytes | None) -> messages.Features:
        """Initialize: aborts flows, resumes or starts a session, returns Features."""
        self._abort_word_flow()
        if session_id != self._session_id:
            self._session_id = self._rng.randbytes(32)
        return self._features(self._session_id)

    def _features(self, session_id: bytes | None) -> messages.Features:
        """The model's Features for the current wallet state."""
        wallet = self.wallet
        status = WalletStatus(
            device_id=wallet.device_id,
            label=wallet.label,
            initialized=wallet.initialized,
            pin_protection=wallet.pin is not None,
            unlocked=wallet.unlocked,
            needs_backup=wallet.needs_backup,
            unfinished_backup=wallet.unfinished_backup,
            no_backup=wallet.no_backup,
            safety_checks=wallet.safety_checks,
            recovery_dry_run=wallet.dry_run_in_progress,
        )
        return build_features(self.info, status, session_id)

    def _debug_state(self) -> messages.DebugLinkState:
        """DebugLinkState as the legacy debug firmware fills it."""
        wallet, debug = self.wallet, self.debug
        return messages.DebugLinkState(
            layout=bytes(_LAYOUT_BYTES),
            pin=wallet.pin,
            matrix=debug.pin_matrix,
            mnemonic_secret=wallet.mnemonic.encode() if wallet.mnemonic else None,
            passphrase_protection=False,
            reset_word=debug.reset_word,
            recovery_fake_word=debug.recovery_fake_word,
            recovery_word_pos=debug.recovery_word_pos,
            reset_word_pos=debug.reset_word_pos,
            # Not sent by the legacy firmware: the simulator's stand-in for the
            # matrix screen it cannot draw into `layout` (see matrix.py).
            tokens=[debug.matrix_token] if debug.matrix_token is not None else [],
        )
