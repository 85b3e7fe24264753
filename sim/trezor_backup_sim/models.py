"""Per-model identity and the Features message each firmware family builds.

The Model One values are copied from recordings of the real legacy firmware 1.14.2
(emulator build); the core values from recordings of the core 2.10.0 emulators
(`tests/vectors/core-2.10.0`), which follow `core/src/apps/base.py:get_features`.
Which fields are *absent* matters as much as their values: hosts (and our daemon)
decide on presence, so every builder sets only what the firmware sets.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from trezorlib import messages

Capability = messages.Capability


class Model(enum.Enum):
    """The models the simulator can play; the value is the CLI spelling."""

    ONE = "one"
    T = "t"
    SAFE3 = "safe3"
    SAFE3_T3B1 = "safe3-t3b1"
    SAFE5 = "safe5"
    SAFE7 = "safe7"


class Layout(enum.Enum):
    """The core UI family (`core/embed/rust/src/ui/layout_*`): it decides the screens."""

    BOLT = "bolt"  # Model T: touch screen, words paged four at a time
    CAESAR = "caesar"  # Safe 3: two buttons, extra recovery homepage, paged word counts
    DELIZIA = "delizia"  # Safe 5: swipes, one page per word


class BackupState(enum.Enum):
    """Backup situation of the simulated wallet; the value is the CLI spelling."""

    BLANK = "blank"
    BACKUP_REQUIRED = "backup_required"
    BACKUP_FAILED = "backup_failed"
    NO_BACKUP = "no_backup"
    BACKED_UP = "backed_up"


@dataclass(frozen=True)
class ModelInfo:
    """Constants a firmware reports about itself."""

    model: str
    internal_model: str | None
    version: tuple[int, int, int]
    bootloader_version: tuple[int, int, int]
    capabilities: tuple[Capability, ...]
    homescreen_size: tuple[int, int] | None = None
    layout: Layout | None = None
    has_sd_card: bool = False
    has_optiga: bool = False
    # Safe 7: THP instead of protocol v1, a battery, Bluetooth and NFC.
    thp: bool = False

    @property
    def is_core(self) -> bool:
        """Core firmware (Model T and later) as opposed to the legacy Model One one."""
        return self.internal_model is not None


_CORE_CAPABILITIES = (
    Capability.Bitcoin,
    Capability.Bitcoin_like,
    Capability.Binance,
    Capability.Cardano,
    Capability.Crypto,
    Capability.Ethereum,
    Capability.Monero,
    Capability.Ripple,
    Capability.Stellar,
    Capability.Tezos,
    Capability.U2F,
    Capability.Shamir,
    Capability.ShamirGroups,
    Capability.PassphraseEntry,
    Capability.Solana,
    Capability.Translations,
)

_CORE_VERSION = (2, 10, 0)


def _safe3(internal_model: str) -> ModelInfo:
    """Both Safe 3 revisions (T2B1, T3B1) report the same, but for internal_model."""
    return ModelInfo(
        model="Safe 3",
        internal_model=internal_model,
        version=_CORE_VERSION,
        bootloader_version=(2, 1, 8),
        capabilities=_CORE_CAPABILITIES,
        homescreen_size=(128, 64),
        layout=Layout.CAESAR,
        has_optiga=True,
    )


MODELS: dict[Model, ModelInfo] = {
    Model.ONE: ModelInfo(
        model="1",
        internal_model=None,
        version=(1, 14, 2),
        bootloader_version=(1, 12, 1),
        capabilities=(
            Capability.Bitcoin,
            Capability.Bitcoin_like,
            Capability.Crypto,
            Capability.Ethereum,
            Capability.NEM,
            Capability.Stellar,
            Capability.U2F,
        ),
    ),
    Model.T: ModelInfo(
        model="T",
        internal_model="T2T1",
        version=_CORE_VERSION,
        bootloader_version=(2, 1, 4),
        capabilities=(
            *_CORE_CAPABILITIES,
            Capability.NEM,
            Capability.EOS,
            Capability.Brightness,
        ),
        homescreen_size=(240, 240),
        layout=Layout.BOLT,
        has_sd_card=True,
    ),
    Model.SAFE3: _safe3("T2B1"),
    Model.SAFE3_T3B1: _safe3("T3B1"),
    Model.SAFE5: ModelInfo(
        model="Safe 5",
        internal_model="T3T1",
        version=_CORE_VERSION,
        bootloader_version=(2, 1, 10),
        # The emulator reports Brightness but not Haptic (recorded).
        capabilities=(*_CORE_CAPABILITIES, Capability.Brightness),
        homescreen_size=(240, 240),
        layout=Layout.DELIZIA,
        has_sd_card=True,
        has_optiga=True,
    ),
    # Recorded: tests/vectors/safe7-2.10.0 (Features in d1, locked in c3a).
    Model.SAFE7: ModelInfo(
        model="Safe 7",
        internal_model="T3W1",
        version=_CORE_VERSION,
        bootloader_version=(2, 1, 10),
        capabilities=(
            *_CORE_CAPABILITIES,
            Capability.Brightness,
            Capability.BLE,
            Capability.NFC,
        ),
        homescreen_size=(380, 520),
        layout=Layout.DELIZIA,
        has_optiga=True,
        thp=True,
    ),
}

# What the legacy emulator reports: its bootloader hash and an empty SCM revision.
_T1_BOOTLOADER_HASH = bytes.fromhex(
    "9378f2d641be25b1d9c62d9c4d249c7a440ad34eff6246d9cf25d623a755267b"
)
_CORE_REVISION = bytes.fromhex("de4b70e2e89a64f3894dba2124f6ec56e5cbd088")
DEFAULT_AUTO_LOCK_DELAY_MS = 600_000


@dataclass(frozen=True)
class WalletStatus:
    """The device-side facts that Features reveal; built by the device state machine."""

    device_id: str
    label: str | None
    initialized: bool
    pin_protection: bool
    unlocked: bool
    needs_backup: bool
    unfinished_backup: bool
    no_backup: bool
    safety_checks: messages.SafetyCheckLevel
    backup_type: messages.BackupType = messages.BackupType.Bip39
    recovery_type: messages.RecoveryType | None = None
    repeated_backup_unlocked: bool = False
    auto_lock_delay_ms: int = DEFAULT_AUTO_LOCK_DELAY_MS
    passphrase_protection: bool = False


def build_features(
    info: ModelInfo, status: WalletStatus, session_id: bytes | None
) -> messages.Features:
    """Features as the model's firmware sends them (session_id only for Initialize)."""
    build = _core_features if info.is_core else _legacy_features
    features = build(info, status)
    features.session_id = session_id
    return features


def _legacy_features(info: ModelInfo, status: WalletStatus) -> messages.Features:
    """Model One 1.14: private fields stay public, wipe code/auto-lock only when unlocked."""
    major, minor, patch = info.version
    features = messages.Features(
        vendor="trezor.io",
        major_version=major,
        minor_version=minor,
        patch_version=patch,
        device_id=status.device_id,
        pin_protection=status.pin_protection,
        passphrase_protection=status.passphrase_protection,
        language="en-US",
        label=status.label if status.initialized else None,
        initialized=status.initialized,
        revision=b"",
        bootloader_hash=_T1_BOOTLOADER_HASH,
        imported=True if status.initialized and status.unlocked else None,
        unlocked=status.unlocked,
        backup_availability=(
            messages.BackupAvailability.Required
            if status.needs_backup
            else messages.BackupAvailability.NotAvailable
        ),
        model=info.model,
        fw_vendor="EMULATOR",
        unfinished_backup=status.unfinished_backup,
        no_backup=status.no_backup,
        capabilities=list(info.capabilities),
        safety_checks=status.safety_checks,
        busy=False,
        language_version_matches=None,
    )
    if status.unlocked:
        features.wipe_code_protection = False
        features.auto_lock_delay_ms = status.auto_lock_delay_ms
    return features


def _core_features(info: ModelInfo, status: WalletStatus) -> messages.Features:
    """Core 2.10: the backup and recovery facts are private, sent only while unlocked."""
    major, minor, patch = info.version
    assert info.homescreen_size is not None
    width, height = info.homescreen_size
    features = messages.Features(
        vendor="trezor.io",
        fw_vendor="EMULATOR",
        language="en-US",
        language_version_matches=True,
        major_version=major,
        minor_version=minor,
        patch_version=patch,
        build_version=0,
        revision=_CORE_REVISION,
        model=info.model,
        internal_model=info.internal_model,
        device_id=status.device_id,
        label=status.label if status.initialized else None,
        pin_protection=status.pin_protection,
        unlocked=status.unlocked,
        busy=False,
        homescreen_width=width,
        homescreen_height=height,
        homescreen_format=(
            messages.HomescreenFormat.ToiG
            if info.layout is Layout.CAESAR
            else messages.HomescreenFormat.Jpeg
        ),
        capabilities=list(info.capabilities),
        sd_card_present=info.has_sd_card,
        initialized=status.initialized,
    )
    if info.has_optiga:
        features.bootloader_locked = True
        features.optiga_sec = 0
    if info.thp:
        features.soc = 100
        features.usb_connected = True
        features.wireless_connected = False
    if status.unlocked:
        _add_private_fields(features, status)
        if info.thp:
            features.auto_lock_delay_battery_ms = 40_000
            features.led = True
    return features


def _add_private_fields(features: messages.Features, status: WalletStatus) -> None:
    """The fields `get_features` adds only for an unlocked device (absent while locked)."""
    features.passphrase_protection = status.passphrase_protection
    if status.needs_backup:
        features.backup_availability = messages.BackupAvailability.Required
    elif status.repeated_backup_unlocked:
        features.backup_availability = messages.BackupAvailability.Available
    else:
        features.backup_availability = messages.BackupAvailability.NotAvailable
    features.unfinished_backup = status.unfinished_backup
    features.no_backup = status.no_backup
    features.flags = 0
    if status.recovery_type is not None:
        features.recovery_status = messages.RecoveryStatus.Recovery
        features.recovery_type = status.recovery_type
    elif status.repeated_backup_unlocked:
        features.recovery_status = messages.RecoveryStatus.Backup
    else:
        features.recovery_status = messages.RecoveryStatus.Nothing
    features.backup_type = status.backup_type
    features.sd_protection = False
    features.wipe_code_protection = False
    features.passphrase_always_on_device = False
    features.safety_checks = status.safety_checks
    features.auto_lock_delay_ms = status.auto_lock_delay_ms
    features.display_rotation = messages.DisplayRotation.North
    features.experimental_features = False
    features.hide_passphrase_from_host = False


def build_bootloader_features(info: ModelInfo) -> messages.Features:
    """Features of the model's bootloader: no wallet facts at all."""
    major, minor, patch = info.bootloader_version
    return messages.Features(
        vendor="trezor.io",
        major_version=major,
        minor_version=minor,
        patch_version=patch,
        bootloader_mode=True,
        model=info.model,
        internal_model=info.internal_model,
        firmware_present=True,
        fw_major=info.version[0] if info.is_core else None,
        fw_minor=info.version[1] if info.is_core else None,
        fw_patch=info.version[2] if info.is_core else None,
        fw_vendor="EMULATOR" if info.is_core else None,
        language_version_matches=None,
    )
