"""The simulated device: decoded messages in, replies out. No sockets, no clocks.

It reproduces the message-level behaviour of the firmware that hosts depend on:
which messages abort a running flow (Initialize, Cancel), which leave it alone
(GetFeatures between WordRequests), and what happens while the firmware blocks for
a ButtonAck/PinMatrixAck (the legacy "tiny" mode, see `reads_only_tiny_messages`).
Core firmware instead ends a waiting workflow on *any* other host message (see
`_interrupt`), and lets its owner act on the device with no host at all (the
lockscreen, a recovery left running: `_owner_decision`).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass

from trezorlib import messages, protobuf

from . import core_backup, core_flows, core_pin, core_recovery, legacy_flows
from .codec import message_class
from .models import (
    DEFAULT_AUTO_LOCK_DELAY_MS,
    Layout,
    ModelInfo,
    WalletStatus,
    build_bootloader_features,
    build_features,
)
from .prompts import (
    Answer,
    ButtonPrompt,
    EntropyPrompt,
    Flow,
    PinPrompt,
    Prompt,
    ScreenPrompt,
    WordPrompt,
)
from .state import DebugState, LegacyScreen, Wallet

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
# Core: the messages that leave a repeated-backup unlock (RAM) in place.
_REPEATED_BACKUP_KEEPERS = (messages.Initialize, messages.GetFeatures, messages.BackupDevice)
_PAGE_TURNS = (
    messages.DebugSwipeDirection.UP,
    messages.DebugSwipeDirection.LEFT,
    messages.DebugPhysicalButton.RIGHT_BTN,
)


@dataclass
class _ButtonWait:
    """Progress of a screen: it ends once acked *and* decided (on its last page)."""

    text_input: bool
    pages: int = 1
    interrupt_cancels: bool = False
    acked: bool = False
    decided: bool = False
    decision: Answer = None
    page: int = 0
    screen: str | None = None

    @classmethod
    def of(cls, prompt: ButtonPrompt | ScreenPrompt) -> _ButtonWait:
        """The wait of a prompt; a ScreenPrompt sends no request, so nothing to ack."""
        if isinstance(prompt, ScreenPrompt):
            return cls(
                prompt.text_input,
                interrupt_cancels=prompt.interrupt_cancels,
                acked=True,
                screen=prompt.screen,
            )
        return cls(
            prompt.text_input, prompt.pages or 1, prompt.interrupt_cancels, screen=prompt.screen
        )

    def decide(self, msg: messages.DebugLinkDecision) -> None:
        """One DebugLink decision: text typed, a page turned, or the screen answered.

        A swipe up/left or the right button turns the page until the last one, then
        confirms; YES, the middle button or a tap confirm at once; NO (or the left
        button) cancels.
        """
        if msg.input is not None and self.text_input:
            self.decided, self.decision = True, msg.input
            return
        if (msg.button, msg.swipe, msg.physical_button, msg.x) == (None, None, None, None):
            return  # text alone means nothing to a screen without a keyboard
        turn = msg.swipe in _PAGE_TURNS or msg.physical_button in _PAGE_TURNS
        if turn and self.page < self.pages - 1:
            self.page += 1
            return
        yes = msg.button != messages.DebugButton.NO and (
            msg.physical_button != messages.DebugPhysicalButton.LEFT_BTN
        )
        self.decided = True
        if self.text_input:
            self.decision = "" if yes else None
        else:
            self.decision = yes

    @property
    def cancel_answer(self) -> Answer:
        """What the flow receives when the screen is cancelled."""
        return None if self.text_input else False


class Device:
    """One simulated Trezor, driven message by message."""

    def __init__(
        self,
        info: ModelInfo,
        wallet: Wallet,
        rng: random.Random,
        *,
        bootloader: bool = False,
        auto_lock_delay_ms: int = DEFAULT_AUTO_LOCK_DELAY_MS,
    ) -> None:
        self.info = info
        self.wallet = wallet
        self.debug = DebugState()
        self.auto_lock_delay_ms = auto_lock_delay_ms
        self._rng = rng
        self._bootloader = bootloader
        self._session_id = self._rng.randbytes(32)
        # The flow blocked on a button or PIN prompt, and how far that prompt got.
        self._blocked: Flow | None = None
        self._wait: _ButtonWait | PinPrompt | EntropyPrompt | None = None
        # A dry run between two WordRequests: the device is otherwise idle.
        self._word_flow: Flow | None = None
        # Core: a screen the owner works on with no host (lockscreen, recovery).
        self._owner_flow: Flow | None = None
        self._owner_wait: _ButtonWait | None = None
        # Legacy protectAbortedByInitialize: turns the next Failure into Features.
        self._aborted_by_initialize = False
        # THP (Safe 7): DebugLinkGetPairingInfo is answered by the THP link.
        self.thp_pairing_info: (
            Callable[[messages.DebugLinkGetPairingInfo], messages.DebugLinkPairingInfo] | None
        ) = None

    @property
    def layout(self) -> Layout:
        """The core UI family (only core models have one)."""
        assert self.info.layout is not None
        return self.info.layout

    def power_cycle(self) -> None:
        """Unplugged and plugged again: storage stays, RAM (flows, session, unlock) goes."""
        for flow in (self._blocked, self._word_flow, self._owner_flow):
            if flow is not None:
                flow.close()
        self._blocked = self._word_flow = self._owner_flow = None
        self._wait = self._owner_wait = None
        self._aborted_by_initialize = False
        self._session_id = self._rng.randbytes(32)
        self.wallet.power_cycle()

    def factory_reset(self) -> None:
        """Storage erased as by WipeDevice, then a power cycle (for tests between runs)."""
        self.wallet.wipe(self._rng.randbytes(12).hex().upper())
        self.power_cycle()

    def auto_lock(self) -> None:
        """The auto-lock delay ran out: lock a PIN-protected device unless a flow runs."""
        if self.wallet.pin is not None and self._blocked is None:
            self.wallet.unlocked = False

    @property
    def waits_for_the_owner(self) -> bool:
        """Whether a flow is blocked on a screen (a Cancel from the host goes to it)."""
        return self._blocked is not None

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
        if isinstance(msg, messages.DebugLinkGetPairingInfo):
            if self.thp_pairing_info is not None:
                return [(Channel.DEBUG, self.thp_pairing_info(msg))]
            # Guess: firmware without THP knows no such message and says so.
            unknown = messages.Failure(
                code=messages.FailureType.UnexpectedMessage, message="Unexpected message"
            )
            return [(Channel.DEBUG, unknown)]
        if self._blocked is not None:
            if self.reads_only_tiny_messages:
                return self._handle_blocked(msg) if type(msg) in TINY_MESSAGES else []
            if channel is Channel.DEBUG or self._awaits(msg):
                return self._handle_blocked(msg)
            lost = self._interrupt()
            if lost is not None:
                return lost
        if channel is Channel.DEBUG:
            return self._handle_debug(msg)
        return self._handle_wire(msg)

    def _awaits(self, msg: protobuf.MessageType) -> bool:
        """Core: whether the blocked flow reads `msg` itself (else `msg` interrupts it)."""
        wait = self._wait
        if isinstance(msg, messages.Cancel):
            return True
        if isinstance(msg, messages.ButtonAck):
            return isinstance(wait, _ButtonWait) and not wait.acked
        return isinstance(msg, messages.EntropyAck) and isinstance(wait, EntropyPrompt)

    def _interrupt(self) -> list[Reply] | None:
        """Core: a host message ends the waiting workflow (recorded e2b/e2c, e6a-e6e).

        On a recovery screen, its ButtonRequest acknowledged or not, the workflow ends
        with its own Failure (ActionCancelled) and the message is lost: that Failure is
        returned (core 2.10.0, GetFeatures on every screen of a dry run after its first,
        tests/test_official_firmware.py). Anywhere else the workflow ends without a word
        and None says: handle the message.
        """
        wait = self._wait
        if isinstance(wait, _ButtonWait) and wait.interrupt_cancels:
            return self._resume(wait.cancel_answer)
        assert self._blocked is not None
        self._blocked.close()
        self._blocked = self._wait = None
        return None

    # -- message handlers ------------------------------------------------------

    def _handle_wire(self, msg: protobuf.MessageType) -> list[Reply]:
        """A message on the wire port while no prompt blocks the device."""
        if self.info.is_core and not isinstance(msg, _REPEATED_BACKUP_KEEPERS):
            # Anything else leaves the "Create additional backup?" screen: the unlock ends.
            self.wallet.repeated_backup_unlocked = False
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
            done = "Session cleared" if not self.info.is_core else ""
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
        if isinstance(msg, messages.ApplyFlags):
            return self._start(legacy_flows.apply_flags(self.wallet))
        if isinstance(msg, messages.WipeDevice):
            self._abort_word_flow()
            new_id = self._rng.randbytes(12).hex().upper()
            return self._start(legacy_flows.wipe_device(self.wallet, new_id))
        if isinstance(msg, messages.LoadDevice):
            return self._start(legacy_flows.load_device(msg, self.wallet))
        return self.unknown_message()

    def _handle_core_wire(self, msg: protobuf.MessageType) -> list[Reply]:
        """Core-only workflows; the rest is unknown to this simulator."""
        wallet, layout = self.wallet, self.layout
        if isinstance(msg, messages.RecoveryDevice):
            return self._start(core_recovery.recovery_device(msg, wallet, layout))
        shares = core_backup.ShareScreens(layout, self._rng)
        if isinstance(msg, messages.BackupDevice):
            return self._start(core_backup.backup(msg, wallet, shares))
        if isinstance(msg, messages.ApplyFlags):
            return self._start(core_flows.apply_flags(wallet))
        if isinstance(msg, messages.LoadDevice):
            return self._start(core_flows.load_device(msg, wallet, layout))
        if isinstance(msg, messages.ResetDevice):
            return self._start(core_flows.reset_device(msg, wallet, shares))
        if isinstance(msg, messages.WipeDevice) and self.info.thp:
            # Recorded on the Safe 7 only; the other core models are never wiped by a host here.
            new_id = self._rng.randbytes(12).hex().upper()
            return self._start(core_flows.wipe_device(wallet, new_id))
        return self.unknown_message()

    @property
    def _cancelled_text(self) -> str:
        """The default ActionCancelled text of the firmware family."""
        return "Cancelled" if self.info.is_core else "Action cancelled by user"

    def _handle_debug(self, msg: protobuf.MessageType) -> list[Reply]:
        """A DebugLink message while no prompt blocks the device."""
        if isinstance(msg, messages.DebugLinkGetState):
            return [(Channel.DEBUG, self._debug_state(msg))]
        if isinstance(msg, messages.DebugLinkReseedRandom):
            self._rng.seed(msg.value or 0)
            return [(Channel.DEBUG, messages.Success(message=None))]
        if isinstance(msg, messages.DebugLinkDecision) and self.info.is_core:
            self._owner_decision(msg)
        # No reply: a decision answers nothing, the rest is unknown here.
        return []

    def _owner_decision(self, msg: messages.DebugLinkDecision) -> None:
        """The owner acts on an idle core device; whatever it leads to, the host hears nothing.

        A locked device shows its lockscreen (a touch, then the PIN, unlocks it); a
        recovery left in storage shows its recovery screen (word count, words).
        """
        if self._owner_flow is None:
            if not self.wallet.unlocked:
                flow = core_pin.lockscreen(self.wallet)
            elif self.wallet.recovery_type is not None:
                flow = core_recovery.recovery_process(self.wallet, self.layout)
            else:
                return
            self._owner_flow = flow
            self._owner_step(None)
        wait = self._owner_wait
        assert wait is not None
        wait.decide(msg)
        if wait.decided:
            self._owner_step(wait.decision)

    def _owner_step(self, answer: Answer) -> None:
        """Run the owner's flow to its next screen; its result is shown to nobody."""
        assert self._owner_flow is not None
        try:
            prompt = self._owner_flow.send(answer)
        except StopIteration:
            self._owner_flow = self._owner_wait = None
            return
        assert isinstance(prompt, ButtonPrompt | ScreenPrompt)
        self._owner_wait = _ButtonWait.of(prompt)
        self._owner_wait.acked = True

    def _handle_blocked(self, msg: protobuf.MessageType) -> list[Reply]:
        """A message the firmware reads while a button/PIN prompt blocks it."""
        assert self._blocked is not None
        wait = self._wait
        if isinstance(msg, messages.DebugLinkGetState):
            return [(Channel.DEBUG, self._debug_state(msg))]
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
        elif isinstance(msg, messages.EntropyAck):
            return self._resume(msg.entropy)
        return []

    def _decide(self, wait: _ButtonWait, msg: messages.DebugLinkDecision) -> None:
        """Record a DebugLink decision; the Model One knows only buttons and text."""
        if self.info.is_core:
            wait.decide(msg)
        elif wait.text_input and msg.input is not None:
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

    def start(self, flow: Flow) -> list[Reply]:
        """Run a flow of the transport (THP pairing dialogs) like a workflow of the device."""
        return self._start(flow)

    def _start(self, flow: Flow) -> list[Reply]:
        """Run a new flow up to its first prompt or its end; the owner's screen goes."""
        if self._owner_flow is not None:
            self._owner_flow.close()
            self._owner_flow = self._owner_wait = None
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
        request = self._prompt(flow, prompt)
        return self._emit([request] if request is not None else [])

    def _prompt(self, flow: Flow, prompt: Prompt) -> protobuf.MessageType | None:
        """Park `flow` on `prompt` and return the request that asks the host, if any."""
        if isinstance(prompt, WordPrompt):
            self._word_flow = flow
            return messages.WordRequest(type=prompt.type)
        self._blocked = flow
        if isinstance(prompt, ScreenPrompt):
            self._wait = _ButtonWait.of(prompt)
            return None
        if isinstance(prompt, ButtonPrompt):
            self._wait = _ButtonWait.of(prompt)
            return messages.ButtonRequest(code=prompt.code, name=prompt.name, pages=prompt.pages)
        if isinstance(prompt, EntropyPrompt):
            self._wait = prompt
            return messages.EntropyRequest()
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
            backup_type=wallet.backup_type,
            recovery_type=wallet.recovery_type,
            repeated_backup_unlocked=wallet.repeated_backup_unlocked,
            auto_lock_delay_ms=self.auto_lock_delay_ms,
            passphrase_protection=wallet.passphrase_protection,
        )
        return build_features(self.info, status, session_id)

    def _debug_state(self, request: messages.DebugLinkGetState) -> messages.DebugLinkState:
        """DebugLinkState as the legacy debug firmware fills it; a core screen the owner
        reads (backup words, quiz) as its layout token; asked for the current layout, the
        Model One's screen where those fields cannot tell it (see LegacyScreen)."""
        wallet, debug = self.wallet, self.debug
        tokens = [debug.matrix_token] if debug.matrix_token is not None else []
        if isinstance(self._wait, _ButtonWait) and self._wait.screen is not None:
            tokens = [self._wait.screen]  # a core screen the owner reads
        if request.wait_layout == messages.DebugWaitType.CURRENT_LAYOUT and not tokens:
            tokens = self._legacy_screen()
        return messages.DebugLinkState(
            layout=bytes(_LAYOUT_BYTES),
            pin=wallet.pin,
            matrix=debug.pin_matrix,
            mnemonic_secret=wallet.mnemonic.encode() if wallet.mnemonic else None,
            passphrase_protection=wallet.passphrase_protection,
            reset_word=debug.reset_word,
            recovery_fake_word=debug.recovery_fake_word,
            recovery_word_pos=debug.recovery_word_pos,
            reset_word_pos=debug.reset_word_pos,
            # Not sent by the legacy firmware: the simulator's stand-in for the
            # matrix screen it cannot draw into `layout` (see matrix.py).
            tokens=tokens,
        )

    def _legacy_screen(self) -> list[str]:
        """The LegacyScreen on display, if it is one (as a token list)."""
        if self.info.is_core:
            return []
        if self._blocked is None and self._word_flow is None:
            return [LegacyScreen.HOME]
        return [LegacyScreen.RESULT] if self.debug.result_on_screen else []
