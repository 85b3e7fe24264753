"""The USB ids of every Trezor: the daemon watches udev for them, the CLI's doctor reads
sysfs for them."""

TREZOR_USB_IDS = frozenset(
    {
        (0x1209, 0x53C1),  # firmware, WebUSB (all models)
        (0x1209, 0x53C0),  # bootloader (all models)
        (0x534C, 0x0001),  # Model One firmware before 1.7, HID
    }
)

WEBUSB_IDS = frozenset({(0x1209, 0x53C1), (0x1209, 0x53C0)})
"""The ids trezorlib reaches over WebUSB (named by bus and ports); 534c:0001 is HID."""
