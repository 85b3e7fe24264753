"""`trezor-backupctl status`: every connected Trezor, as a table or as JSON.

The command scripts and shell prompts run most, so it is kept light (see main): the blocking
client, the JSON module, and only for a person (the table, a problem to report) the catalogue
and the device records.
"""

import sys

from trezor_backup_api.blocking_client import BlockingBus, BlockingDaemonClient
from trezor_backupctl.conventions import EXIT_OK, PROG
from trezor_backupctl.json_output import device_record, status_json


def run(*, as_json: bool, refresh: bool) -> int:
    """Print the devices (`--json`: the document scripts read); say on stderr when results
    are not being saved. The exit code."""
    with BlockingBus() as bus:
        client = BlockingDaemonClient(bus)
        if refresh:
            client.refresh()
        devices = client.get_devices()
        if as_json:
            print(status_json([device_record(path, p) for path, p in devices.items()]))
        else:
            print(_table(devices))
        problem = client.history_problem()
    if problem:
        from trezor_backup_api.i18n import _

        print(
            _(
                "{prog}: check and backup results are not being saved, so a passed check "
                "still shows as unverified: {problem}. Fix: {prog} doctor"
            ).format(prog=PROG, problem=problem),
            file=sys.stderr,
        )
    return EXIT_OK


def _table(devices: dict[str, dict[str, object]]) -> str:
    """The table for a person: most urgent first, the order of the applet's window and tray
    menu, with the next step in the owner's language."""
    import shutil

    from trezor_backup_api.device import DeviceRecord
    from trezor_backup_api.urgency import most_urgent_first
    from trezor_backupctl.render import status_table

    records = (DeviceRecord.from_properties(properties) for properties in devices.values())
    rows = [
        {**device_record(record.path, record.properties), "next_step": record.next_step_for_owner()}
        for record in most_urgent_first(records)
    ]
    return status_table(rows, shutil.get_terminal_size().columns)
