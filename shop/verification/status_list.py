"""Reading a W3C Bitstring Status List (VC Bitstring Status List 1.0): `encodedList` is a
multibase base64url string ('u' prefix, no padding) of the GZIP-compressed bitstring,
whose index 0 is the left-most (most significant) bit of its first byte."""

from __future__ import annotations

import binascii
import gzip
import zlib

from shop.verification.jose import b64url_decode

MAX_BITS = 64 * 1024 * 1024  # far beyond any list; a gzip bomb is refused, not inflated


class StatusListError(ValueError):
    """A status list that cannot be read; the message says why."""


def decode_bitstring(encoded: str) -> bytes:
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise StatusListError("its encodedList is not multibase base64url (it must start with 'u')")
    try:
        compressed = b64url_decode(encoded[1:])
    except (ValueError, binascii.Error):
        raise StatusListError("its encodedList is not base64url") from None
    try:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # GZIP
        bits = inflater.decompress(compressed, MAX_BITS // 8 + 1)
    except (zlib.error, gzip.BadGzipFile):
        raise StatusListError("its encodedList is not GZIP-compressed") from None
    if len(bits) > MAX_BITS // 8 or inflater.unconsumed_tail:
        raise StatusListError("its encodedList is larger than any status list")
    return bits


def bit_at(bits: bytes, index: int) -> int:
    if not 0 <= index < len(bits) * 8:
        raise StatusListError(f"index {index} is outside the list's {len(bits) * 8} bits")
    return (bits[index // 8] >> (7 - index % 8)) & 1


def encode_bitstring(bits: bytes) -> str:
    """The inverse of decode_bitstring (for tests and tools)."""
    import base64

    packed = gzip.compress(bits)
    return "u" + base64.urlsafe_b64encode(packed).decode().rstrip("=")
