"""The sealed envelope, format version 2 (written) and version 1 (read), byte for byte as docs/envelope-format.md
defines it and the Java side (``EnvelopeHeader``, ``Sealer``) writes it.

Every integer is unsigned big-endian. A version-2 envelope's payload is AES-256-GCM under the DEK with a fresh random
96-bit nonce, and its associated data is every byte from the magic to the ciphertext length; the key slot (KEK
reference and wrapped DEK) follows and is not authenticated by the payload (the KMS binds the wrapped DEK instead).
"""

from __future__ import annotations

import enum
import os
import re
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"ESL"
VERSION_1 = 1
VERSION_2 = 2
MAX_TENANT_ID_BYTES = 64
MAX_EMBEDDING_ID_BYTES = 1024
MAX_PURPOSE_BYTES = 64
MAX_KEK_REF_BYTES = 255
MAX_WRAPPED_DEK_BYTES = 1024
NONCE_BYTES = 12
TAG_BYTES = 16
OVERHEAD = NONCE_BYTES + TAG_BYTES
MIN_CIPHERTEXT_BYTES = OVERHEAD
MAX_CIPHERTEXT_BYTES = 16 * 1024 * 1024
DEK_ID_BYTES = 16
DEFAULT_PURPOSE = "embeddings.sealed"
_U63 = 1 << 63

_TENANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_PROVIDER = re.compile(r"[a-z][a-z0-9-]{0,31}")
_KEY_NAME = re.compile(r"[\x21-\x7e]{1,200}")
_VERSION_NUMBER = re.compile(r"[+-]?[0-9]+")


class Reason(enum.Enum):
    """Why an envelope did not open: the same reasons, with the same meaning, as the Java ``EnvelopeException``."""

    NOT_AN_ENVELOPE = "not an envelope"
    UNSUPPORTED_VERSION = "unsupported format version"
    UNSUPPORTED_PAYLOAD = "unsupported payload type"
    TRUNCATED = "truncated"
    FIELD_OUT_OF_BOUNDS = "a length out of bounds"
    MALFORMED = "malformed"
    TAMPERED = "tampered"
    WRONG_BINDING = "wrong binding"
    KEY_REVOKED = "key revoked"
    KEY_UNKNOWN = "key unknown"
    KMS_UNAVAILABLE = "KMS unavailable"
    KEY_FAILED = "key failed"


class EnvelopeError(Exception):
    """An envelope that does not open. The message names tenants, ids, key references and lengths, never key or
    plaintext bytes."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(f"{reason.name}: {message}")
        self.reason = reason

    @property
    def retryable(self) -> bool:
        """Only an unreachable KMS is worth retrying."""
        return self.reason is Reason.KMS_UNAVAILABLE


class PayloadType(enum.IntEnum):
    EMBEDDING_EVENT_AVRO = 1
    RAW_RECORD = 2
    DELETE_MARKER = 3


def is_valid_tenant_id(tenant_id: str) -> bool:
    """The tenant id rule: ``[A-Za-z0-9][A-Za-z0-9._-]{0,63}`` (tenant ids become parts of key and file names)."""
    return _TENANT_ID.fullmatch(tenant_id) is not None


TENANT_ID_RULE = "tenant id must be 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit"


def require_purpose(purpose: str) -> str:
    if not 1 <= len(purpose) <= MAX_PURPOSE_BYTES or any(not 0x21 <= ord(c) <= 0x7E for c in purpose):
        raise ValueError(
            f"embedseal.envelope.purpose: an envelope purpose is 1 to {MAX_PURPOSE_BYTES} printable ASCII "
            "characters without spaces"
        )
    return purpose


@dataclass(frozen=True, order=True)
class RecordVersion:
    """``(event time, sequence)``: a store keeps the highest version per (tenant, embedding id) and refuses older."""

    event_time_ms: int
    sequence: int

    def __post_init__(self) -> None:
        if not (0 <= self.event_time_ms < _U63 and 0 <= self.sequence < _U63):
            raise ValueError("a record version's event time and sequence are 0 .. 2^63 - 1")

    def to_bytes(self) -> bytes:
        return struct.pack(">QQ", self.event_time_ms, self.sequence)


NO_VERSION = RecordVersion(0, 0)


@dataclass(frozen=True)
class KekRef:
    """``provider:keyName:version``: which version of which KMS key wrapped a DEK."""

    provider: str
    key_name: str
    version: int

    def __post_init__(self) -> None:
        if _PROVIDER.fullmatch(self.provider) is None:
            raise ValueError(f"KMS provider name must match {_PROVIDER.pattern}")
        if _KEY_NAME.fullmatch(self.key_name) is None:
            raise ValueError("KEK name must be 1-200 printable ASCII characters without spaces")
        if self.version < 1:
            raise ValueError("KEK version must be 1 or more")

    @staticmethod
    def parse(text: str) -> KekRef:
        """Parses ``provider:keyName:version``; the key name is everything between the first and the last colon."""
        first = text.find(":")
        last = text.rfind(":")
        if first <= 0 or last <= first + 1 or last == len(text) - 1:
            raise ValueError("KEK reference must look like provider:keyName:version")
        number = text[last + 1 :]
        if _VERSION_NUMBER.fullmatch(number) is None or not -(2**31) <= int(number) < 2**31:
            raise ValueError("KEK reference version is not a number")
        return KekRef(text[:first], text[first + 1 : last], int(number))

    def __str__(self) -> str:
        return f"{self.provider}:{self.key_name}:{self.version}"

    def same_key_as(self, other: KekRef) -> bool:
        return self.provider == other.provider and self.key_name == other.key_name


@dataclass(frozen=True)
class Header:
    """A parsed envelope: its fields, where its associated data ends, and where its ciphertext is."""

    format_version: int
    payload_type: PayloadType
    tenant_id: str
    embedding_id: str
    purpose: str | None
    record_version: RecordVersion
    kek: KekRef
    dek_id: bytes
    wrapped_dek: bytes
    associated_data_length: int
    ciphertext_offset: int
    ciphertext_length: int

    def __repr__(self) -> str:  # never the wrapped DEK's bytes
        return (
            f"Header(v{self.format_version}, payload={self.payload_type.name}, tenant={self.tenant_id}, "
            f"embedding_id={self.embedding_id}, purpose={self.purpose}, version={self.record_version}, "
            f"kek={self.kek}, dek={self.dek_id.hex()}, wrapped_dek={len(self.wrapped_dek)} bytes, "
            f"ciphertext={self.ciphertext_length} bytes)"
        )


class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf = buf
        self.pos = pos

    def take(self, n: int, field: str) -> int:
        if n > len(self.buf) - self.pos:
            raise EnvelopeError(Reason.TRUNCATED, f"{field} needs {n} bytes but only {len(self.buf) - self.pos} remain")
        start = self.pos
        self.pos += n
        return start

    def u8(self, field: str) -> int:
        return self.buf[self.take(1, field)]

    def u16(self, field: str) -> int:
        p = self.take(2, field)
        return (self.buf[p] << 8) | self.buf[p + 1]

    def u32(self, field: str) -> int:
        p = self.take(4, field)
        return int.from_bytes(self.buf[p : p + 4], "big")

    @staticmethod
    def length(declared: int, low: int, high: int, field: str) -> int:
        if not low <= declared <= high:
            raise EnvelopeError(Reason.FIELD_OUT_OF_BOUNDS, f"{field} length {declared} is outside {low}..{high}")
        return declared

    def utf8(self, n: int, field: str) -> str:
        start = self.take(n, field)
        try:
            return self.buf[start : start + n].decode("utf-8", "strict")
        except UnicodeDecodeError:
            raise EnvelopeError(Reason.MALFORMED, f"{field} is not valid UTF-8") from None


def parse(envelope: bytes) -> Header:
    """Parses an envelope's header, checking every length against its field's range and the bytes left.

    :raises EnvelopeError: NOT_AN_ENVELOPE, UNSUPPORTED_VERSION, UNSUPPORTED_PAYLOAD, TRUNCATED, FIELD_OUT_OF_BOUNDS,
        MALFORMED
    """
    if envelope is None or len(envelope) < 4 or envelope[:3] != MAGIC:
        raise EnvelopeError(Reason.NOT_AN_ENVELOPE, "input does not start with the envelope magic bytes")
    version = envelope[3]
    if version not in (VERSION_1, VERSION_2):
        raise EnvelopeError(
            Reason.UNSUPPORTED_VERSION,
            f"envelope format version {version} is not supported by this reader (it reads versions 1 and 2)",
        )
    r = _Reader(envelope, 4)
    code = r.u8("payload type")
    if code not in (1, 2, 3) or (version == VERSION_1 and code == PayloadType.DELETE_MARKER):
        raise EnvelopeError(Reason.UNSUPPORTED_PAYLOAD, f"payload type {code} is unknown")
    payload_type = PayloadType(code)
    tenant = r.utf8(r.length(r.u8("tenant id length"), 1, MAX_TENANT_ID_BYTES, "tenant id"), "tenant id")
    if not is_valid_tenant_id(tenant):
        raise EnvelopeError(Reason.MALFORMED, "tenant id breaks the rule: " + TENANT_ID_RULE)
    embedding_id = r.utf8(
        r.length(r.u16("embedding id length"), 1, MAX_EMBEDDING_ID_BYTES, "embedding id"), "embedding id"
    )
    if version == VERSION_1:
        kek = _kek_ref(r)
        dek_id = _dek_id(envelope, r)
        wrapped = _wrapped(envelope, r)
        ct_len = r.length(r.u32("ciphertext length"), MIN_CIPHERTEXT_BYTES, MAX_CIPHERTEXT_BYTES, "ciphertext")
        ct_off = r.take(ct_len, "ciphertext")
        _require_end(envelope, r)
        return Header(
            1, payload_type, tenant, embedding_id, None, NO_VERSION, kek, dek_id, wrapped, ct_off, ct_off, ct_len
        )
    purpose_len = r.length(r.u8("purpose length"), 1, MAX_PURPOSE_BYTES, "purpose")
    p0 = r.take(purpose_len, "purpose")
    raw_purpose = envelope[p0 : p0 + purpose_len]
    if any(not 0x21 <= b <= 0x7E for b in raw_purpose):
        raise EnvelopeError(Reason.MALFORMED, "purpose is not printable ASCII")
    at = r.take(16, "record version")
    time_ms, sequence = struct.unpack_from(">QQ", envelope, at)
    if time_ms >= _U63 or sequence >= _U63:
        raise EnvelopeError(Reason.MALFORMED, "record version is 2^63 or more")
    dek_id = _dek_id(envelope, r)
    ct_len = r.length(r.u32("ciphertext length"), MIN_CIPHERTEXT_BYTES, MAX_CIPHERTEXT_BYTES, "ciphertext")
    ad_len = r.pos
    kek = _kek_ref(r)
    wrapped = _wrapped(envelope, r)
    ct_off = r.take(ct_len, "ciphertext")
    _require_end(envelope, r)
    return Header(
        2,
        payload_type,
        tenant,
        embedding_id,
        raw_purpose.decode("ascii"),
        RecordVersion(time_ms, sequence),
        kek,
        dek_id,
        wrapped,
        ad_len,
        ct_off,
        ct_len,
    )


def _kek_ref(r: _Reader) -> KekRef:
    text = r.utf8(r.length(r.u8("KEK reference length"), 1, MAX_KEK_REF_BYTES, "KEK reference"), "KEK reference")
    try:
        return KekRef.parse(text)
    except ValueError:
        raise EnvelopeError(Reason.MALFORMED, "KEK reference is not provider:keyName:version") from None


def _dek_id(envelope: bytes, r: _Reader) -> bytes:
    n = r.length(r.u8("DEK id length"), DEK_ID_BYTES, DEK_ID_BYTES, "DEK id")
    at = r.take(n, "DEK id")
    return bytes(envelope[at : at + n])


def _wrapped(envelope: bytes, r: _Reader) -> bytes:
    n = r.length(r.u16("wrapped DEK length"), 1, MAX_WRAPPED_DEK_BYTES, "wrapped DEK")
    at = r.take(n, "wrapped DEK")
    return bytes(envelope[at : at + n])


def _require_end(envelope: bytes, r: _Reader) -> None:
    if r.pos != len(envelope):
        raise EnvelopeError(
            Reason.MALFORMED,
            f"{len(envelope) - r.pos} bytes follow the ciphertext; an envelope ends with its ciphertext",
        )


def _check(length: int, low: int, high: int, field: str) -> None:
    if not low <= length <= high:
        raise ValueError(f"{field} must be {low}..{high} bytes, got {length}")


def associated_data(
    payload_type: PayloadType,
    tenant: bytes,
    embedding_id: bytes,
    purpose: bytes,
    version: RecordVersion,
    dek_id: bytes,
    plaintext_length: int,
) -> bytes:
    """The version-2 associated data: every byte from the magic to the ciphertext length."""
    _check(len(tenant), 1, MAX_TENANT_ID_BYTES, "tenant id")
    _check(len(embedding_id), 1, MAX_EMBEDDING_ID_BYTES, "embedding id")
    _check(len(purpose), 1, MAX_PURPOSE_BYTES, "purpose")
    _check(len(dek_id), DEK_ID_BYTES, DEK_ID_BYTES, "DEK id")
    _check(plaintext_length + OVERHEAD, MIN_CIPHERTEXT_BYTES, MAX_CIPHERTEXT_BYTES, "ciphertext")
    return b"".join(
        (
            MAGIC,
            bytes((VERSION_2, payload_type, len(tenant))),
            tenant,
            len(embedding_id).to_bytes(2, "big"),
            embedding_id,
            bytes((len(purpose),)),
            purpose,
            struct.pack(">QQB", version.event_time_ms, version.sequence, DEK_ID_BYTES),
            dek_id,
            (plaintext_length + OVERHEAD).to_bytes(4, "big"),
        )
    )


def key_slot(kek: KekRef, wrapped_dek: bytes) -> bytes:
    ref = str(kek).encode("ascii")
    _check(len(ref), 1, MAX_KEK_REF_BYTES, "KEK reference")
    _check(len(wrapped_dek), 1, MAX_WRAPPED_DEK_BYTES, "wrapped DEK")
    return bytes((len(ref),)) + ref + len(wrapped_dek).to_bytes(2, "big") + wrapped_dek


def seal(
    aead: AESGCM,
    dek_id: bytes,
    slot: bytes,
    payload_type: PayloadType,
    tenant_id: str,
    embedding_id: str,
    purpose: str,
    version: RecordVersion,
    plaintext: bytes,
    nonce: bytes | None = None,
) -> bytes:
    """A version-2 envelope: header, key slot (``key_slot``), then nonce, encrypted payload and tag.

    :param nonce: only for test vectors; a fresh random nonce otherwise
    """
    ad = associated_data(
        payload_type,
        tenant_id.encode("utf-8"),
        embedding_id.encode("utf-8"),
        purpose.encode("ascii"),
        version,
        dek_id,
        len(plaintext),
    )
    n = os.urandom(NONCE_BYTES) if nonce is None else nonce
    return b"".join((ad, slot, n, aead.encrypt(n, plaintext, ad)))


def open_payload(envelope: bytes, header: Header, aead: AESGCM) -> bytes:
    """Decrypts the payload under the DEK, with the header as associated data.

    :raises EnvelopeError: TAMPERED if authentication fails
    """
    off = header.ciphertext_offset
    ct = envelope[off : off + header.ciphertext_length]
    try:
        return aead.decrypt(ct[:NONCE_BYTES], ct[NONCE_BYTES:], envelope[: header.associated_data_length])
    except InvalidTag:
        raise EnvelopeError(
            Reason.TAMPERED,
            f"envelope of tenant {header.tenant_id} failed authentication under DEK {header.dek_id.hex()}",
        ) from None


def check_binding(header: Header, tenant_id: str, embedding_id: str | None, purpose: str, accept_v1: bool) -> None:
    """What a reader checks before it asks any KMS: tenant, embedding id (when known), format version and purpose.

    :raises EnvelopeError: WRONG_BINDING or UNSUPPORTED_VERSION
    """
    if header.tenant_id != tenant_id:
        raise EnvelopeError(
            Reason.WRONG_BINDING, f"envelope belongs to tenant {header.tenant_id}, expected tenant {tenant_id}"
        )
    if embedding_id is not None and header.embedding_id != embedding_id:
        raise EnvelopeError(
            Reason.WRONG_BINDING,
            f"envelope of tenant {header.tenant_id} is bound to another embedding id than the record it was found in",
        )
    if header.format_version == VERSION_1 and not accept_v1:
        raise EnvelopeError(
            Reason.UNSUPPORTED_VERSION,
            f"a version-1 envelope of tenant {header.tenant_id} (no record version, so a possible rollback) and this "
            "reader refuses version 1",
        )
    if header.purpose is not None and header.purpose != purpose:
        raise EnvelopeError(
            Reason.WRONG_BINDING,
            f"envelope of tenant {header.tenant_id} was sealed for '{header.purpose}', this reader opens '{purpose}'",
        )


def dek_binding(tenant_id: str, dek_id: bytes) -> bytes:
    """What every KMS binds a wrapped DEK to: ``"embedseal.dek.v1" 0x00 len(tenant) tenant dekId``."""
    tenant = tenant_id.encode("utf-8")
    return b"embedseal.dek.v1\x00" + bytes((len(tenant),)) + tenant + dek_id
