"""io.github.TrezorBackupGuard.Agent1 on a client's connection, for the CLI and the applet.

Whatever the agent answers goes to the device as a recovery word, a matrix position or PIN
positions, so a prompt must be shown only for a question the daemon really asks for an
operation the owner started here; otherwise any process on the session bus could make the
terminal or a dialog ask for a recovery word in the daemon's name. `AgentExport` therefore
answers a request only when

- the caller is the connection that owns io.github.TrezorBackupGuard now (`GetNameOwner` at
  call time),
- and is the same connection that accepted the operation this client started on that device
  (`DaemonClient.started_by`: a process that takes the name while the daemon is down has
  another unique name, and unique names are never reused),
- and that daemon reports an operation on that device (`Device1.Operation`).

`RequestPairingCode` (the code a Safe 7 shows while pairing) is answered only while that
operation is a `pair`. `Cancel` (which only closes prompts) needs the first condition only.
Anything else is refused with `AGENT_REFUSED_ERROR` and logged without its arguments. An
agent's answer goes into the reply and nowhere else: never logged, stored or put in an
exception.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, Protocol, runtime_checkable

from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from .client import DaemonClient, call
from .daemon_errors import BusCallError
from .names import (
    AGENT_CANCELLED_ERROR,
    AGENT_INTERFACE,
    AGENT_REFUSED_ERROR,
    BUS_NAME,
    DEVICE_INTERFACE,
    PROPERTIES_INTERFACE,
)
from .vocabulary import OperationKind

log = logging.getLogger(__name__)

# How long the daemon may take to say whether an operation runs (it answers from memory).
_OPERATION_QUERY_TIMEOUT_SECONDS = 5.0
# Agent1's methods and their signatures (docs/dbus-api.md, Agents).
_SIGNATURES = {
    "RequestPin": "os",
    "RequestWord": "os",
    "RequestWordCount": "o",
    "RequestPairingCode": "o",
    "Cancel": "o",
}


class AgentCancelled(Exception):
    """The agent has no answer (end of input, Ctrl-C, prompt closed): the operation must end.

    Its text goes to the daemon as the D-Bus error message, so it must never contain what the
    owner typed.
    """


class Agent(Protocol):
    """What the daemon may ask the host during an operation (docs/dbus-api.md, Agent1).

    `device` is the device's object path. The request methods raise AgentCancelled when there
    is no answer; `cancel` closes any prompt because the operation ended.
    """

    async def request_pin(self, device: str, kind: str) -> str: ...

    async def request_word(self, device: str, kind: str) -> str: ...

    async def request_word_count(self, device: str) -> int: ...

    def cancel(self, device: str) -> None: ...


@runtime_checkable
class PairingAgent(Agent, Protocol):
    """An agent that can also ask for a Safe 7's pairing code (the 6 digits it shows)."""

    async def request_pairing_code(self, device: str) -> str: ...


class AgentExport:
    """Serves an `Agent` as Agent1 at `path` on the client's connection, for the daemon only."""

    def __init__(self, client: DaemonClient, agent: Agent, path: str) -> None:
        self.client = client
        self.agent = agent
        self.path = path
        self._tasks: set[asyncio.Task[None]] = set()
        self._exported = False

    @property
    def _bus(self) -> MessageBus:
        return self.client.bus

    def export(self) -> None:
        """Answer Agent1 calls at `path` from now on (before registering with a daemon)."""
        if not self._exported:
            self._bus.add_message_handler(self._on_message)
            self._exported = True

    async def register(self) -> None:
        """Export, then `Manager1.RegisterAgent` with the daemon now on the bus."""
        self.export()
        await self.client.register_agent(self.path)

    async def unregister(self) -> None:
        """Withdraw from the daemon and stop answering."""
        await self.client.unregister_agent(self.path)
        self.stop()

    def stop(self) -> None:
        """Stop answering (the daemon that knew this agent is gone)."""
        if self._exported:
            self._bus.remove_message_handler(self._on_message)
            self._exported = False

    def _on_message(self, msg: Message) -> bool:
        if msg.message_type is not MessageType.METHOD_CALL or msg.path != self.path:
            return False
        if msg.interface not in (AGENT_INTERFACE, None) or msg.member not in _SIGNATURES:
            return False  # Introspect, Peer, unknown members: the library's answers
        task = asyncio.ensure_future(self._answer(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _answer(self, msg: Message) -> None:
        member = msg.member or ""
        if msg.signature != _SIGNATURES[member]:
            self._reply(
                Message.new_error(
                    msg,
                    "org.freedesktop.DBus.Error.InvalidArgs",
                    f"{member} takes ({_SIGNATURES[member]})",
                )
            )
            return
        device = str(msg.body[0])
        refusal = await self._refusal(msg.sender or "", device, member)
        if refusal is not None:
            # Never the arguments: a kind says what is being asked, and is nobody's business.
            log.warning("Agent1.%s from %s refused: %s", member, msg.sender, refusal)
            self._reply(
                Message.new_error(msg, AGENT_REFUSED_ERROR, f"this agent answers only {BUS_NAME}")
            )
            return
        if member == "Cancel":
            self.agent.cancel(device)
            self._reply(Message.new_method_return(msg))
            return
        question: Awaitable[Any]
        if member == "RequestPin":
            question, signature = self.agent.request_pin(device, str(msg.body[1])), "s"
        elif member == "RequestWord":
            question, signature = self.agent.request_word(device, str(msg.body[1])), "s"
        elif member == "RequestPairingCode":
            if not isinstance(self.agent, PairingAgent):
                self._reply(Message.new_error(msg, AGENT_CANCELLED_ERROR, "this agent cannot pair"))
                return
            question, signature = self.agent.request_pairing_code(device), "s"
        else:
            question, signature = self.agent.request_word_count(device), "u"
        try:
            answer = await question
        except AgentCancelled as error:
            self._reply(Message.new_error(msg, AGENT_CANCELLED_ERROR, str(error)))
            return
        except Exception as error:
            # Only the type: an exception raised while a secret was at hand may hold it.
            log.error("Agent1.%s failed: %s", member, type(error).__name__)
            self._reply(Message.new_error(msg, AGENT_CANCELLED_ERROR, "the agent failed"))
            return
        self._reply(Message.new_method_return(msg, signature, [answer]))

    async def _refusal(self, sender: str, device: str, member: str) -> str | None:
        """Why `sender` may not ask this about `device`; None when it may (module docstring)."""
        if not sender or sender != await self.client.daemon_owner():
            return f"the caller does not own {BUS_NAME}"
        if member == "Cancel":
            return None
        if self.client.started_by(device) != sender:
            return "no operation this client started on that device runs in the caller"
        try:
            reply = await call(
                self._bus,
                sender,
                device,
                PROPERTIES_INTERFACE,
                "Get",
                "ss",
                [DEVICE_INTERFACE, "Operation"],
                timeout=_OPERATION_QUERY_TIMEOUT_SECONDS,
                autostart=False,
            )
        except BusCallError:
            return "the daemon does not say that an operation runs on that device"
        if not reply.body or not reply.body[0].value:
            return "the daemon reports no operation on that device"
        if member == "RequestPairingCode" and reply.body[0].value != OperationKind.PAIR:
            return "the operation on that device is not a pairing"
        return None

    def _reply(self, message: Message) -> None:
        if self._bus.connected:
            self._bus.send(message)
