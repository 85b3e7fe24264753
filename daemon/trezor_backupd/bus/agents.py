"""Agents on the bus: clients that answer the device's questions for the host (BlueZ style).

An agent is an object implementing io.github.TrezorBackupGuard.Agent1 on some client's
connection. The registry remembers them per connection, forgets a connection's agents when it
leaves the bus, accepts them only from the daemon's own uid, and makes each one look like a
plain HostAgent to the operations (which know nothing of D-Bus).
"""

from __future__ import annotations

import contextvars
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from trezor_backup_api.client import call
from trezor_backup_api.daemon_errors import TIMEOUT_ERROR, BusCallError
from trezor_backup_api.names import AGENT_INTERFACE, DBUS_NAME, DBUS_PATH

from ..device_values import AgentUnanswered
from ..store.config import Config

LOG = logging.getLogger(__name__)
T = TypeVar("T")
DevicePathOf = Callable[[str], str]

current_caller: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "current_caller", default=None
)
"""The unique bus name of the client whose method call is being handled.

dbus-fast does not hand the sender to service methods, so a message handler that runs just
before dispatch records it here; async methods see it too (tasks copy the context)."""


class AgentCallFailed(Exception):
    """The agent answered with an error, timed out or left. Carries no answer text."""


class AgentTimedOut(AgentCallFailed, AgentUnanswered):
    """No answer within agent_timeout_seconds: the owner is told so, not "cancelled"."""


@dataclass(frozen=True)
class BusAgent:
    """One registered agent; calls its methods on the owner's connection."""

    bus: MessageBus
    owner: str
    path: str
    timeout: float
    device_path_of: DevicePathOf

    async def _call(self, member: str, signature: str, body: list[Any]) -> Any:
        return await call_first(
            self.bus, self.owner, self.path, AGENT_INTERFACE, member, signature, body, self.timeout
        )

    async def request_pin(self, device_id: str, kind: str) -> str:
        answer = await self._call("RequestPin", "os", [self.device_path_of(device_id), kind])
        return _expect(answer, str, "RequestPin")

    async def request_word(self, device_id: str, kind: str) -> str:
        answer = await self._call("RequestWord", "os", [self.device_path_of(device_id), kind])
        return _expect(answer, str, "RequestWord")

    async def request_word_count(self, device_id: str) -> int:
        answer = await self._call("RequestWordCount", "o", [self.device_path_of(device_id)])
        return _expect(answer, int, "RequestWordCount")

    async def request_pairing_code(self, device_id: str) -> str:
        answer = await self._call("RequestPairingCode", "o", [self.device_path_of(device_id)])
        return _expect(answer, str, "RequestPairingCode")

    async def cancel(self, device_id: str) -> None:
        await self._call("Cancel", "o", [self.device_path_of(device_id)])


def _expect(answer: Any, kind: type[T], member: str) -> T:
    if not isinstance(answer, kind):
        raise AgentCallFailed(f"{member}: the agent answered with the wrong type")
    return answer


class AgentRegistry:
    """Agents per client connection; an AgentDirectory for the operations."""

    def __init__(self, bus: MessageBus, config: Config, device_path_of: DevicePathOf) -> None:
        """An agent gets `config.agent_timeout_seconds` as it is when it registers."""
        self._bus = bus
        self._config = config
        self._device_path_of = device_path_of
        self._agents: list[BusAgent] = []  # most recent last

    async def start(self) -> None:
        """Follow clients leaving the bus and record each method call's sender."""
        self._bus.add_message_handler(self._on_message)
        await self._bus_call(
            "AddMatch",
            "s",
            [f"type='signal',sender='{DBUS_NAME}',member='NameOwnerChanged',arg2=''"],
        )

    def _on_message(self, message: Message) -> None:
        if message.message_type is MessageType.METHOD_CALL:
            current_caller.set(message.sender)
        elif (
            message.message_type is MessageType.SIGNAL
            and message.member == "NameOwnerChanged"
            and message.sender == DBUS_NAME
        ):
            name, _old, new = message.body
            if not new:
                self._forget_owner(name)

    def _forget_owner(self, owner: str) -> None:
        before = len(self._agents)
        self._agents = [agent for agent in self._agents if agent.owner != owner]
        if len(self._agents) != before:
            LOG.info("The agent of %s left the bus", owner)

    async def caller_is_own_user(self, caller: str | None) -> bool:
        """Only the daemon's own user may register agents and start operations."""
        if caller is None:
            return False
        try:
            uid = await self._bus_call("GetConnectionUnixUser", "s", [caller])
        except AgentCallFailed:
            return False
        return bool(uid == os.getuid())

    def register(self, owner: str, path: str) -> None:
        self._agents = [a for a in self._agents if (a.owner, a.path) != (owner, path)]
        self._agents.append(
            BusAgent(
                self._bus, owner, path, self._config.agent_timeout_seconds, self._device_path_of
            )
        )
        LOG.info("Agent registered by %s", owner)

    def unregister(self, owner: str, path: str) -> bool:
        before = len(self._agents)
        self._agents = [a for a in self._agents if (a.owner, a.path) != (owner, path)]
        return len(self._agents) != before

    def agent_for(self, caller: str | None) -> BusAgent | None:
        own = [agent for agent in self._agents if agent.owner == caller]
        candidates = own or self._agents
        return candidates[-1] if candidates else None

    async def _bus_call(self, member: str, signature: str, body: list[Any]) -> Any:
        return await call_first(self._bus, DBUS_NAME, DBUS_PATH, DBUS_NAME, member, signature, body)


async def call_first(
    bus: MessageBus,
    destination: str,
    path: str,
    interface: str,
    member: str,
    signature: str,
    body: list[Any],
    timeout: float | None = None,
) -> Any:
    """Call a method and return the first value of its reply.

    Every failure (an error reply, no reply, the timeout) is an AgentCallFailed naming only
    the method and the error: a peer's error text is never kept, it could echo an answer.
    """
    try:
        reply = await call(
            bus, destination, path, interface, member, signature, body, timeout=timeout
        )
    except BusCallError as error:
        if error.name == TIMEOUT_ERROR:
            raise AgentTimedOut(f"{member}: no answer in time") from None
        raise AgentCallFailed(f"{member}: {error.name}") from None
    return reply.body[0] if reply.body else None
