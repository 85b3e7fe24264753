"""A rogue process on the session bus that asks a client's Agent1 for a recovery word.

    python rogue_agent_caller.py (--name NAME | --pid PID) AGENT_PATH DEVICE_PATH [--take-name]

It calls every Agent1 request of the agent at AGENT_PATH, served by the connection that owns
NAME or belongs to process PID, for the device DEVICE_PATH. With --take-name it first takes
io.github.TrezorBackupGuard, as a process pretending to be the daemon can while the daemon is
down. It prints one JSON line per call: the method and the error it got (null: it was
answered; "timeout": the agent kept it waiting, i.e. asked the owner). Never the answer.
"""

import argparse
import asyncio
import json

from dbus_fast import NameFlag, RequestNameReply

from trezor_backup_api.client import bus_call, call, connect_session_bus
from trezor_backup_api.daemon_errors import BusCallError
from trezor_backup_api.names import AGENT_INTERFACE, BUS_NAME

# A refusal is immediate; an agent that opened a prompt keeps the call waiting.
PROMPT_SECONDS = 3.0
REQUESTS: tuple[tuple[str, str, list[str]], ...] = (
    ("RequestPin", "os", ["current"]),
    ("RequestWord", "os", ["plain"]),
    ("RequestWord", "os", ["matrix9"]),
    ("RequestWordCount", "o", []),
)
PAIRING_CODE_REQUEST: tuple[str, str, list[str]] = ("RequestPairingCode", "o", [])


async def main() -> None:
    parser = argparse.ArgumentParser()
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--name")
    target.add_argument("--pid", type=int)
    parser.add_argument("agent_path")
    parser.add_argument("device_path")
    parser.add_argument("--take-name", action="store_true")
    parser.add_argument(
        "--pairing-code", action="store_true", help="ask only for a Safe 7's pairing code"
    )
    args = parser.parse_args()
    bus = await connect_session_bus()
    if args.take_name:
        reply = await bus.request_name(BUS_NAME, NameFlag.DO_NOT_QUEUE)
        print(json.dumps({"took_name": reply is RequestNameReply.PRIMARY_OWNER}), flush=True)
    destination = args.name
    if args.pid is not None:
        for name in await bus_call(bus, "ListNames", []):
            if name.startswith(":"):
                try:
                    pid = await bus_call(bus, "GetConnectionUnixProcessID", [name])
                except BusCallError:
                    continue
                if pid == args.pid:
                    destination = name
    requests = (PAIRING_CODE_REQUEST,) if args.pairing_code else REQUESTS
    for member, signature, extra in requests:
        error: str | None = None
        try:
            await call(
                bus,
                destination,
                args.agent_path,
                AGENT_INTERFACE,
                member,
                signature,
                [args.device_path, *extra],
                timeout=PROMPT_SECONDS,
            )
        except BusCallError as failed:
            error = "timeout" if failed.name.endswith(".Timeout") else failed.name
        print(json.dumps({"method": member, "error": error}), flush=True)
    bus.disconnect()


if __name__ == "__main__":
    asyncio.run(main())
