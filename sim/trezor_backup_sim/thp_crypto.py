"""The device side of THP's cryptography: Noise XX handshake, transport cipher, CPace, credentials.

Follows core 2.10.0 (`core/src/trezor/wire/thp/crypto.py`, `cpace.py`,
`core/src/apps/thp/credential_manager.py`): Noise_XX_25519_AESGCM_SHA256 with the
device properties as prologue and the Trezor's static key *masked* by a hash of itself
and the ephemeral key (so that an unpaired host cannot recognize a device); CPace255
for the 6-digit code; credentials that are an HMAC over the host's static key and the
metadata, keyed from the device secret, so the device stores nothing per host.

Modelled without a recording (the host cannot tell): the firmware derives the static
key through BIP-32 on curve25519 and the MAC key through SLIP-21 from the device
secret; here both are HMAC-SHA256 of the device secret with a fixed label.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from trezorlib import messages, protobuf

PROTOCOL_NAME = b"Noise_XX_25519_AESGCM_SHA256\x00\x00\x00\x00"
KEY_LENGTH = 32
TAG_LENGTH = 16
_P = 2**255 - 19
_A = 486662


class DecryptionError(Exception):
    """A tag did not match: the frame was not made with this channel's keys."""


def x25519(scalar: bytes, point: bytes) -> bytes:
    """X25519(scalar, point) with the scalar clamped, as trezorcrypto's curve25519.multiply."""
    key = X25519PrivateKey.from_private_bytes(scalar)
    return key.exchange(X25519PublicKey.from_public_bytes(point))


def public_key(private: bytes) -> bytes:
    """The X25519 public key of a private scalar."""
    return X25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()


def _hash(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def _hkdf(chaining_key: bytes, material: bytes) -> tuple[bytes, bytes]:
    temp = hmac.digest(chaining_key, material, "sha256")
    out1 = hmac.digest(temp, b"\x01", "sha256")
    return out1, hmac.digest(temp, out1 + b"\x02", "sha256")


def _nonce(counter: int) -> bytes:
    return b"\x00\x00\x00\x00" + counter.to_bytes(8, "big")


def _seal(key: bytes, counter: int, plaintext: bytes, auth: bytes = b"") -> bytes:
    return AESGCM(key).encrypt(_nonce(counter), plaintext, auth)


def _open(key: bytes, counter: int, sealed: bytes, auth: bytes = b"") -> bytes:
    try:
        return AESGCM(key).decrypt(_nonce(counter), sealed, auth)
    except InvalidTag as exc:
        raise DecryptionError from exc


def static_private_key(device_secret: bytes) -> bytes:
    """The Trezor's static X25519 key: new after every wipe (a new device secret)."""
    return hmac.digest(device_secret, b"THP static key", "sha256")


def _credential_key(device_secret: bytes) -> bytes:
    return hmac.digest(device_secret, b"THP credential authentication key", "sha256")


@dataclass
class CipherState:
    """One direction of the encrypted transport: a key and its message counter."""

    key: bytes
    counter: int = 0

    def seal(self, plaintext: bytes) -> bytes:
        sealed = _seal(self.key, self.counter, plaintext)
        self.counter += 1
        return sealed

    def open(self, sealed: bytes) -> bytes:
        plaintext = _open(self.key, self.counter, sealed)
        self.counter += 1
        return plaintext


@dataclass
class HandshakeResult:
    """What the completed handshake leaves to the channel."""

    handshake_hash: bytes
    host_static_public_key: bytes
    noise_payload: bytes
    receive: CipherState
    send: CipherState


class Handshake:
    """The responder's half of Noise XX (firmware `Handshake.handle_th1/th2_crypto`)."""

    def __init__(self, device_secret: bytes) -> None:
        self._static = static_private_key(device_secret)
        self._ephemeral = secrets.token_bytes(32)
        self._h = self._ck = self._k = b""

    def init_response(self, properties: bytes, host_ephemeral: bytes, payload: bytes) -> bytes:
        """HANDSHAKE_INIT_REQ in (host ephemeral key + try_to_unlock), HANDSHAKE_INIT_RES out."""
        static_public = public_key(self._static)
        ephemeral_public = public_key(self._ephemeral)
        self._host_ephemeral = host_ephemeral
        h = _hash(PROTOCOL_NAME, properties)
        h = _hash(h, host_ephemeral)
        h = _hash(h, payload)
        h = _hash(h, ephemeral_public)
        ck, k = _hkdf(PROTOCOL_NAME, x25519(self._ephemeral, host_ephemeral))
        mask = _hash(static_public, ephemeral_public)
        masked_static = x25519(mask, static_public)
        encrypted_static = _seal(k, 0, masked_static, h)
        h = _hash(h, encrypted_static)
        ck, k = _hkdf(ck, x25519(mask, x25519(self._static, host_ephemeral)))
        tag = _seal(k, 0, b"", h)
        self._h, self._ck, self._k = _hash(h, tag), ck, k
        return ephemeral_public + encrypted_static + tag

    def complete(self, data: bytes) -> HandshakeResult:
        """HANDSHAKE_COMP_REQ in: the host's static key and its noise payload (decrypted)."""
        sealed_static = data[: KEY_LENGTH + TAG_LENGTH]
        sealed_payload = data[KEY_LENGTH + TAG_LENGTH :]
        host_static = _open(self._k, 1, sealed_static, self._h)
        h = _hash(self._h, sealed_static)
        ck, k = _hkdf(self._ck, x25519(self._ephemeral, host_static))
        payload = _open(k, 0, sealed_payload, h)
        h = _hash(h, sealed_payload)
        key_receive, key_send = _hkdf(ck, b"")
        return HandshakeResult(
            h, host_static, payload, CipherState(key_receive), CipherState(key_send)
        )


def _map_to_curve(value: bytes) -> bytes:
    """Elligator 2 onto curve25519 (RFC 9380 `map_to_curve_elligator2`), u-coordinate only."""
    data = bytearray(value)
    data[-1] &= 0x7F
    r = int.from_bytes(data, "little") % _P
    denominator = (1 + 2 * r * r) % _P
    x1 = (-_A * pow(denominator, _P - 2, _P)) % _P if denominator else (-_A) % _P
    gx1 = (x1 * x1 * x1 + _A * x1 * x1 + x1) % _P
    is_square = pow(gx1, (_P - 1) // 2, _P) in (0, 1)
    x = x1 if is_square else (-x1 - _A) % _P
    return x.to_bytes(32, "little")


def _lv(data: bytes) -> bytes:
    return bytes([len(data)]) + data


class CodeEntryCpace:
    """The device's CPace255 for one 6-digit code (firmware `wire/thp/cpace.py`)."""

    def __init__(self, code: str, handshake_hash: bytes) -> None:
        prefix = _lv(b"CPace255") + _lv(code.encode("ascii"))
        zero_pad = b"\x00" * (hashlib.sha512().block_size - len(prefix) - 1)
        generator_string = prefix + _lv(zero_pad) + _lv(handshake_hash) + _lv(b"")
        generator = _map_to_curve(hashlib.sha512(generator_string).digest()[:32])
        self._private = secrets.token_bytes(32)
        self.public_key = x25519(self._private, generator)

    def expected_tag(self, host_public_key: bytes) -> bytes:
        """SHA-256 of the shared secret: what the host's tag must be for the right code."""
        try:
            shared = x25519(self._private, host_public_key)
        except ValueError:  # an all-zero result: a malicious point
            return b""
        return hashlib.sha256(shared).digest()


def code_entry_code(handshake_hash: bytes, secret: bytes, challenge: bytes) -> str:
    """The 6 digits the device shows: SHA-256(0x02 | h | secret | challenge) mod 10^6."""
    digest = _hash(bytes([messages.ThpPairingMethod.CodeEntry]), handshake_hash, secret, challenge)
    return f"{int.from_bytes(digest, 'big') % 1_000_000:06}"


def _encode(msg: protobuf.MessageType) -> bytes:
    buf = io.BytesIO()
    protobuf.dump_message(buf, msg)
    return buf.getvalue()


def _credential_mac(
    device_secret: bytes, host_static: bytes, metadata: messages.ThpCredentialMetadata
) -> bytes:
    data = _encode(
        messages.ThpAuthenticatedCredentialData(
            host_static_public_key=host_static, cred_metadata=metadata
        )
    )
    return hmac.digest(_credential_key(device_secret), data, "sha256")


def issue_credential(
    device_secret: bytes, host_static: bytes, metadata: messages.ThpCredentialMetadata
) -> bytes:
    """An encoded ThpPairingCredential bound to the host's static key."""
    mac = _credential_mac(device_secret, host_static, metadata)
    return _encode(messages.ThpPairingCredential(cred_metadata=metadata, mac=mac))


def validate_credential(
    device_secret: bytes, host_static: bytes, encoded: bytes
) -> messages.ThpPairingCredential | None:
    """The credential when its MAC is right for this device and host, else None."""
    try:
        credential = protobuf.load_message(io.BytesIO(encoded), messages.ThpPairingCredential)
    except (ValueError, EOFError, TypeError):  # undecodable: simply not valid
        return None
    expected = _credential_mac(device_secret, host_static, credential.cred_metadata)
    return credential if hmac.compare_digest(expected, credential.mac) else None
