"""The USB ids of every Trezor, with no imports: the CLI's doctor uses them without paying
for pyudev and trezorlib at start-up."""

TREZOR_USB_IDS = frozenset(
    {
        (0x1209, 0x53C1),  # firmware, WebUSB (all models)
        (0x1209, 0x53C0),  # bootloader (all models)
        (0x534C, 0x0001),  # Model One firmware before 1.7, HID
    }
)

WEBUSB_IDS = frozenset({(0x1209, 0x53C1), (0x1209, 0x53C0)})
"""The ids trezorlib reaches over WebUSB (named by bus and ports); 534c:0001 is HID."""
