"""Legacy Bitcoin addresses from a BIP-39 mnemonic (BIP-32, P2PKH).

Only as much as the simulator needs to answer GetAddress, which hosts (and the
recorded transcripts) use to unlock a PIN-protected device.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from mnemonic import Mnemonic

_CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HARDENED = 0x8000_0000
_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _public_key(private_key: int) -> bytes:
    """Compressed secp256k1 public key of a private scalar."""
    key = ec.derive_private_key(private_key, ec.SECP256K1())
    return key.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)


def _derive(private_key: int, chain_code: bytes, index: int) -> tuple[int, bytes]:
    """One BIP-32 private child derivation step."""
    if index & _HARDENED:
        data = b"\0" + private_key.to_bytes(32, "big")
    else:
        data = _public_key(private_key)
    digest = hmac.new(chain_code, data + index.to_bytes(4, "big"), hashlib.sha512).digest()
    child = (int.from_bytes(digest[:32], "big") + private_key) % _CURVE_ORDER
    return child, digest[32:]


def _base58check(payload: bytes) -> str:
    """Base58 with the double-SHA256 checksum Bitcoin addresses use."""
    data = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    number = int.from_bytes(data, "big")
    encoded = ""
    while number:
        number, rest = divmod(number, 58)
        encoded = _B58_ALPHABET[rest] + encoded
    leading_zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * leading_zeros + encoded


def p2pkh_address(mnemonic: str, path: list[int]) -> str:
    """The P2PKH Bitcoin address at `path` of the wallet (empty passphrase)."""
    seed = Mnemonic.to_seed(mnemonic, "")
    digest = hmac.new(b"Bitcoin seed", seed, hashlib.sha512).digest()
    private_key, chain_code = int.from_bytes(digest[:32], "big"), digest[32:]
    for index in path:
        private_key, chain_code = _derive(private_key, chain_code, index)
    key_hash = hashlib.new("ripemd160", hashlib.sha256(_public_key(private_key)).digest())
    return _base58check(b"\0" + key_hash.digest())
