"""Signed key events (the ``keyring.events`` topic): reading, verifying and the gate that decides what changes a
tenant's key state. A port of the Java ``KeyEvents``, ``KeyEventSignatures``, ``KeyEventGate`` and
``KeyEventFollower`` (module ``control``); it accepts and refuses exactly the records the Java gate does.

A record is keyed by tenant id; its value is a ``SignedKeyEvent`` in Avro single-object encoding (``C3 01``, the
writer schema's CRC-64-AVRO fingerprint in little-endian order, the body), whose ``event`` field holds the
``KeyEvent``, itself single-object encoded, and whose ``signature`` covers ``b"embedseal/key-event/v1\\x00"`` followed
by those event bytes. The rules (docs/key-lifecycle.md, "Who may change a tenant's key state"):

* every event is signed; REGISTERED by one of the operator's trusted signers, every later event of the tenant by the
  authority its registration named (or, if it named none, by an operator key);
* each event's sequence is above the last one applied for the tenant, and at most ``MAX_SEQUENCE_STEP`` above it;
* a tenant registers once; later events name the same KMS and KEK, and never an older KEK version; a KEK bound to one
  tenant (registered, or by the naming settings) is refused for another;
* a pinned public KEK is an RSA key of 2048 bits or more, or X25519 for the ``local`` KMS only, and changes only by a
  rotation or migration;
* DESTROYED is terminal; a tombstone changes nothing.

Messages (``Decision.describe``, logs) never contain a record's bytes or key material.

Where Java's libraries have quirks, they are followed: the JDK's MIME base64 and ``String.strip``/``isBlank``, field
lengths in UTF-16 units, Avro's ``readInt`` (5 bytes at most), the JDK's RSA key limits, uncompressed EC points only,
RSA signatures of exactly the modulus' length. Known differences, all in public keys named inside events that a
trusted signer signed, where Python refuses what Java takes: a SubjectPublicKeyInfo in BER rather than DER, an EC
point not on its curve, an EC curve the JDK knows and ``cryptography`` does not, an RSA key ``cryptography`` will not
load (an even exponent).
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, x25519
from fastavro.schema import fingerprint as _avro_fingerprint
from fastavro.schema import to_parsing_canonical_form

__all__ = [
    "CONTEXT",
    "INVALID_KEY",
    "MAX_PUBLIC_KEY_BYTES",
    "MAX_SEQUENCE_STEP",
    "MAX_VALUE_BYTES",
    "Decision",
    "InvalidKeyEvent",
    "KeyEvent",
    "KeyEventFollower",
    "KeyEventGate",
    "ReadRecord",
    "Refusal",
    "TenantState",
    "TenantStatus",
    "decode_event",
    "is_valid_tenant_id",
    "kek_naming",
    "key_id",
    "known_fingerprints",
    "message",
    "parse_public_key",
    "read",
    "verify",
]

LOG = logging.getLogger("embedseal.keyevents")

#: Signed before the event's bytes, so a signature made by the same key for another purpose never verifies.
CONTEXT: Final = "embedseal/key-event/v1"

#: A key-event record value is a few hundred bytes; anything larger is refused before it is decoded.
MAX_VALUE_BYTES: Final = 64 * 1024

#: An RSA-4096 SubjectPublicKeyInfo is 550 bytes; anything much larger is no KEK's public key.
MAX_PUBLIC_KEY_BYTES: Final = 2048

#: How far one event's sequence may run ahead of the last applied.
MAX_SEQUENCE_STEP: Final = 1_000_000

#: Stands for a record key that is no valid tenant id, in decisions, logs and audit entries.
INVALID_KEY: Final = "(not a tenant id)"

_LOCAL_PROVIDER: Final = "local"
_X25519_SPKI_PREFIX: Final = bytes.fromhex("302a300506032b656e032100")
_X25519_P: Final = (1 << 255) - 19

# DER contents of the object identifiers a SubjectPublicKeyInfo may name here.
_OID_ED25519: Final = bytes.fromhex("2b6570")  # 1.3.101.112
_OID_EC_PUBLIC_KEY: Final = bytes.fromhex("2a8648ce3d0201")  # 1.2.840.10045.2.1
_OID_RSA_ENCRYPTION: Final = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1
# The curves the JDK's SHA256withECDSA verifies with (sun.security.ec.ECDSAOperations).
_ECDSA_CURVES: Final = frozenset({"secp256r1", "secp384r1", "secp521r1"})


# --- tenant ids and the JDK's string rules -----------------------------------------------------------------------


def is_valid_tenant_id(tenant_id: object) -> bool:
    """1 to 64 characters of ``A-Z a-z 0-9 . _ -`` starting with a letter or digit (Java ``TenantIds.isValid``)."""
    if not isinstance(tenant_id, str) or not 1 <= len(tenant_id) <= 64:
        return False
    for i, c in enumerate(tenant_id):
        alnum = "A" <= c <= "Z" or "a" <= c <= "z" or "0" <= c <= "9"
        if not alnum and (i == 0 or c not in "._-"):
            return False
    return True


def _java_length(s: str) -> int:
    """``String.length()``: UTF-16 code units, so a character outside the BMP counts twice."""
    return len(s) + sum(1 for c in s if ord(c) > 0xFFFF)


def _java_is_whitespace(c: str) -> bool:
    """``Character.isWhitespace``: space separators except the no-break ones, and U+0009-000D, U+001C-001F."""
    cp = ord(c)
    if 0x09 <= cp <= 0x0D or 0x1C <= cp <= 0x1F:
        return True
    return unicodedata.category(c) in ("Zs", "Zl", "Zp") and cp not in (0x00A0, 0x2007, 0x202F)


def _java_is_blank(s: str) -> bool:
    return all(_java_is_whitespace(c) for c in s)


def _java_strip(s: str) -> str:
    start, end = 0, len(s)
    while start < end and _java_is_whitespace(s[start]):
        start += 1
    while end > start and _java_is_whitespace(s[end - 1]):
        end -= 1
    return s[start:end]


_B64_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_VALUES: Final = tuple(
    _B64_ALPHABET.index(b) if b in _B64_ALPHABET else (-2 if b == ord("=") else -1) for b in range(256)
)


def _java_mime_base64(text: str) -> bytes:
    """``Base64.getMimeDecoder().decode(String)``, quirks included: characters outside the alphabet are skipped,
    padding is optional, and after it only characters outside the alphabet may follow.

    :raises ValueError: where Java throws ``IllegalArgumentException``
    """
    src = text.encode("latin-1", errors="replace")  # String.getBytes(ISO_8859_1): unmappable -> '?'
    out = bytearray()
    bits, shiftto, sp, sl = 0, 18, 0, len(src)
    while sp < sl:
        v = _B64_VALUES[src[sp]]
        sp += 1
        if v < 0:
            if v == -2:  # '='
                if shiftto == 6:
                    if sp == sl or src[sp] != ord("="):
                        raise ValueError("base64: wrong 4-byte ending unit")
                    sp += 1
                elif shiftto == 18:
                    raise ValueError("base64: wrong 4-byte ending unit")
                break
            continue  # MIME: skip what is not in the alphabet
        bits |= v << shiftto
        shiftto -= 6
        if shiftto < 0:
            out += bytes(((bits >> 16) & 0xFF, (bits >> 8) & 0xFF, bits & 0xFF))
            shiftto, bits = 18, 0
    if shiftto == 6:
        out.append((bits >> 16) & 0xFF)
    elif shiftto == 0:
        out += bytes(((bits >> 16) & 0xFF, (bits >> 8) & 0xFF))
    elif shiftto == 12:
        raise ValueError("base64: last unit does not have enough valid bits")
    while sp < sl:
        if _B64_VALUES[src[sp]] >= 0:
            raise ValueError("base64: incorrect ending byte")
        sp += 1
    return bytes(out)


# --- SubjectPublicKeyInfo: signing keys and public KEKs ----------------------------------------------------------


def _der_tlv(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """One DER element at ``pos``: (tag, content start, content end). Definite, minimal lengths only."""
    if pos + 2 > end:
        raise ValueError("truncated DER")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("DER: high tag numbers are not used here")
    first = buf[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or pos + n > end or buf[pos] == 0:
            raise ValueError("DER: bad length")
        length = int.from_bytes(buf[pos : pos + n], "big")
        if length < 0x80:
            raise ValueError("DER: length not minimal")
        pos += n
    if pos + length > end:
        raise ValueError("DER: length beyond the data")
    return tag, pos, pos + length


def _spki_parts(der: bytes) -> tuple[bytes, bytes | None, bytes]:
    """(algorithm OID contents, parameters element or None, subjectPublicKey bits) of a SubjectPublicKeyInfo."""
    tag, start, end = _der_tlv(der, 0, len(der))
    if tag != 0x30 or end != len(der):
        raise ValueError("not a SubjectPublicKeyInfo")
    tag, a_start, a_end = _der_tlv(der, start, end)
    if tag != 0x30:
        raise ValueError("not a SubjectPublicKeyInfo")
    tag, o_start, o_end = _der_tlv(der, a_start, a_end)
    if tag != 0x06:
        raise ValueError("not a SubjectPublicKeyInfo")
    params = der[o_end:a_end] or None
    tag, b_start, b_end = _der_tlv(der, a_end, end)
    if tag != 0x03 or b_end != end or b_start == b_end or der[b_start] != 0:
        raise ValueError("not a SubjectPublicKeyInfo")
    return der[o_start:o_end], params, der[b_start + 1 : b_end]


def _check_jdk_rsa(key: rsa.RSAPublicKey) -> None:
    """What the JDK's RSA ``KeyFactory`` refuses (``RSAKeyFactory.checkRSAProviderKeyLengths``, exponent range)."""
    numbers = key.public_numbers()
    bits = (numbers.n.bit_length() + 7) & ~7
    if bits < 512 or bits > 16384:
        raise ValueError("an RSA key of a size the JDK refuses")
    if bits > 3072 and numbers.e.bit_length() > 64:
        raise ValueError("an RSA exponent over 64 bits with a modulus over 3072 bits")
    if numbers.e >= numbers.n or numbers.e < 3:
        raise ValueError("an RSA exponent out of range")


_SigningPublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey


@dataclass(frozen=True)
class _SigningKey:
    spki: bytes  # as the JDK's getEncoded() gives it
    key_id: str
    key: _SigningPublicKey


def _load_signing_key(der: bytes) -> _SigningKey:
    """An Ed25519, EC or RSA public key, as the JDK's key factories (tried in that order) accept one.

    :raises ValueError: if it is none of these
    """
    try:
        oid, params, bits = _spki_parts(der)
        loaded = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise ValueError("not an Ed25519, EC or RSA public key (X.509 SubjectPublicKeyInfo)") from e
    key: _SigningPublicKey
    if oid == _OID_ED25519 and isinstance(loaded, ed25519.Ed25519PublicKey) and params is None:
        key = loaded
    elif oid == _OID_EC_PUBLIC_KEY and isinstance(loaded, ec.EllipticCurvePublicKey):
        # The JDK reads uncompressed points only, of exactly the field's size.
        size = (loaded.curve.key_size + 7) // 8
        if not bits or bits[0] != 4 or len(bits) != 1 + 2 * size:
            raise ValueError("an EC public key whose point is not uncompressed")
        key = loaded
    elif oid == _OID_RSA_ENCRYPTION and isinstance(loaded, rsa.RSAPublicKey):
        _check_jdk_rsa(loaded)
        key = loaded
    else:
        raise ValueError("not an Ed25519, EC or RSA public key (X.509 SubjectPublicKeyInfo)")
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _SigningKey(spki, key_id(spki), key)


def key_id(spki_der: bytes) -> str:
    """A signing key's id: hex of the first 16 bytes of SHA-256 over its X.509 SubjectPublicKeyInfo (DER)."""
    return hashlib.sha256(spki_der).digest()[:16].hex()


def parse_public_key(text: str) -> bytes:
    """Reads a signing public key from base64 SubjectPublicKeyInfo or a PEM block (``-----BEGIN PUBLIC KEY-----``),
    as Java's ``KeyEventSignatures.parse`` does, and gives its SubjectPublicKeyInfo (DER).

    :raises ValueError: if it is neither, or not an Ed25519, EC or RSA key
    """
    b64 = _java_strip(text)
    begin, end_line = "-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----"
    if b64.startswith(begin):
        end = b64.find(end_line)
        if end < 0:
            raise ValueError("a PEM public key without its END line")
        b64 = b64[len(begin) : end]
    try:
        der = _java_mime_base64(b64)
    except ValueError as e:
        raise ValueError("not base64 or PEM") from e
    return _load_signing_key(der).spki


def message(event_bytes: bytes) -> bytes:
    """The message a signer signs for these event bytes: the context string, a zero byte, the bytes."""
    return CONTEXT.encode("ascii") + b"\x00" + bytes(event_bytes)


def _verify_message(key: _SigningPublicKey, msg: bytes, signature: bytes) -> bool:
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            if len(signature) != 64:
                return False
            key.verify(signature, msg)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if key.curve.name not in _ECDSA_CURVES:
                return False  # the JDK: "Curve not supported"
            key.verify(signature, msg, ec.ECDSA(hashes.SHA256()))
        else:
            if len(signature) != (key.key_size + 7) // 8:
                return False  # the JDK's RSASSA-PSS takes signatures of exactly the modulus' length
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            key.verify(signature, msg, pss, hashes.SHA256())
        return True
    except (InvalidSignature, ValueError, TypeError):  # a malformed signature is a bad one
        return False


def verify(spki_der: bytes, event_bytes: bytes, signature: bytes) -> bool:
    """True if ``signature`` is the key's over :func:`message` of ``event_bytes``: Ed25519, ECDSA with SHA-256 (DER)
    or RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt, by the key's type. False for a key that is none."""
    try:
        key = _load_signing_key(bytes(spki_der))
    except ValueError:
        return False
    return _verify_message(key.key, message(event_bytes), bytes(signature))


def _usable_x25519(raw: bytes) -> bool:
    """Java ``Hpke.isUsableX25519``: canonical (top bit clear, u below 2^255-19) and not of small order."""
    if len(raw) != 32 or raw[31] & 0x80 or int.from_bytes(raw, "little") >= _X25519_P:
        return False
    try:
        x25519.X25519PrivateKey.generate().exchange(x25519.X25519PublicKey.from_public_bytes(raw))
    except ValueError:
        return False  # an all-zero shared secret
    return True


def _public_kek_suits(spki: bytes, provider: str) -> bool:
    """Java ``PublicKek.of(...).suitsProvider(provider)``, a refusal being False: an X25519 key (the ``local`` KMS's
    only) or an RSA key of 2048 bits or more (every other KMS's)."""
    if len(spki) == len(_X25519_SPKI_PREFIX) + 32 and spki.startswith(_X25519_SPKI_PREFIX):
        return _usable_x25519(spki[len(_X25519_SPKI_PREFIX) :]) and provider == _LOCAL_PROVIDER
    try:
        oid, _, _ = _spki_parts(spki)
        key = serialization.load_der_public_key(spki)
    except (ValueError, UnsupportedAlgorithm):
        return False
    if oid != _OID_RSA_ENCRYPTION or not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        _check_jdk_rsa(key)
    except ValueError:
        return False
    return key.key_size >= 2048 and provider != _LOCAL_PROVIDER


# --- Avro: schemas, fingerprints, single-object encoding ---------------------------------------------------------


def _schema_dir() -> Path:
    """Where ``KeyEvent.avsc`` and ``SignedKeyEvent.avsc`` are: packaged with the client, or the checkout's
    ``schemas/src/main/avro`` (one place decides: ``events.schema_dir``)."""
    from .events import schema_dir

    return schema_dir()


def _legacy_schema_dir() -> Path:
    """Where the older KeyEvent schemas (``KeyEvent-v1.avsc`` .. ``-v3``) are: ``legacy`` next to the packaged
    schemas, or the checkout's ``schemas/src/main/resources/io/embedseal/schemas/legacy``."""
    packaged = _schema_dir() / "legacy"
    if packaged.is_dir():
        return packaged
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "schemas" / "src" / "main" / "resources" / "io" / "embedseal" / "schemas" / "legacy"
        if (candidate / "KeyEvent-v1.avsc").is_file():
            return candidate
    raise FileNotFoundError("the legacy KeyEvent schemas are neither packaged nor in a checkout around this file")


def _fingerprint64(schema: Any) -> int:
    """Java ``SchemaNormalization.parsingFingerprint64``: CRC-64-AVRO of the Parsing Canonical Form, as a signed
    long's bits (the header holds it little-endian)."""
    hex_le = _avro_fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO")
    return int.from_bytes(bytes.fromhex(hex_le), "little")


@dataclass(frozen=True)
class _Schemas:
    key_event: Any  # the reader schema (version 4)
    signed_fingerprint: int
    signed: Any
    writers: Mapping[int, Any]  # KeyEvent versions 1 to 4 by fingerprint
    names: Mapping[str, int]  # every known schema's fingerprint by name


@lru_cache(maxsize=1)
def _schemas() -> _Schemas:
    def load(path: Path) -> Any:
        return json.loads(path.read_text(encoding="utf-8"))

    current = load(_schema_dir() / "KeyEvent.avsc")
    signed = load(_schema_dir() / "SignedKeyEvent.avsc")
    names = {"KeyEvent": _fingerprint64(current), "SignedKeyEvent": _fingerprint64(signed)}
    writers = {names["KeyEvent"]: current}
    for n in (1, 2, 3):
        legacy = load(_legacy_schema_dir() / f"KeyEvent-v{n}.avsc")
        names[f"KeyEvent-v{n}"] = _fingerprint64(legacy)
        writers[names[f"KeyEvent-v{n}"]] = legacy
    return _Schemas(current, names["SignedKeyEvent"], signed, writers, names)


def known_fingerprints() -> dict[str, int]:
    """The writer schemas a record may name, by name (``KeyEvent`` (version 4), ``KeyEvent-v1`` to ``-v3``,
    ``SignedKeyEvent``): each one's CRC-64-AVRO fingerprint, as the bits of Java's long."""
    return dict(_schemas().names)


def _record_fields(schema: Any) -> list[Any]:
    fields: list[Any] = schema["fields"]
    return fields


class _Malformed(Exception):
    """Avro data that does not hold against its schema (any such record is UNDECODABLE)."""


class _AvroReader:
    """Reads Avro binary data exactly as the Java reader does: every declared length checked against the bytes there
    (``AvroLengths``), ints as ``BinaryDecoder.readInt`` (at most 5 bytes, 32 bits kept), longs as ``readLong``,
    strings as ``new String(bytes, UTF_8)`` (malformed sequences replaced), nothing left over."""

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf = buf
        self.pos = pos

    def _varint(self) -> tuple[int, int]:
        """(the raw 64 bits before zig-zag decoding, the encoded length): at most 10 bytes, higher bits dropped, as
        ``AvroLengths.varint`` and ``BinaryDecoder.readLong`` read it."""
        raw = 0
        for i in range(10):
            if self.pos >= len(self.buf):
                raise _Malformed("truncated varint")
            b = self.buf[self.pos]
            self.pos += 1
            raw |= (b & 0x7F) << (7 * i)
            if b < 0x80:
                return raw & 0xFFFF_FFFF_FFFF_FFFF, i + 1
        raise _Malformed("varint longer than 10 bytes")

    def read_long(self) -> int:
        raw, _ = self._varint()
        return (raw >> 1) ^ -(raw & 1)

    def read_int(self) -> int:
        """``BinaryDecoder.readInt``: at most 5 bytes, of which the low 32 bits are kept."""
        raw, length = self._varint()
        if length > 5:
            raise _Malformed("invalid int encoding")
        n = raw & 0xFFFF_FFFF
        return (n >> 1) ^ -(n & 1)

    def read_index(self, count: int) -> int:
        """An enum symbol's or union branch's index: in range as a long (``AvroLengths``), an int (``readIndex``)."""
        raw, length = self._varint()
        value = (raw >> 1) ^ -(raw & 1)
        if value < 0 or value >= count or length > 5:
            raise _Malformed("index out of range")
        return value

    def read_bytes(self) -> bytes:
        n = self.read_long()
        if n < 0 or n > len(self.buf) - self.pos:
            raise _Malformed("declared length beyond the data")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def read(self, schema: Any, depth: int = 0) -> Any:
        if depth > 16:
            raise _Malformed("nested too deeply")
        if isinstance(schema, list):
            return self.read(schema[self.read_index(len(schema))], depth + 1)
        kind = schema["type"] if isinstance(schema, dict) else schema
        if isinstance(kind, (dict, list)):
            return self.read(kind, depth)
        if kind == "null":
            return None
        if kind == "boolean":
            if self.pos >= len(self.buf):
                raise _Malformed("truncated")
            self.pos += 1
            return self.buf[self.pos - 1] == 1
        if kind == "int":
            return self.read_int()
        if kind == "long":
            return self.read_long()
        if kind == "bytes":
            return self.read_bytes()
        if kind == "string":
            return self.read_bytes().decode("utf-8", errors="replace")
        if kind == "enum":
            symbols: list[str] = schema["symbols"]
            return symbols[self.read_index(len(symbols))]
        if kind == "record":
            return {f["name"]: self.read(f["type"], depth + 1) for f in _record_fields(schema)}
        raise _Malformed(f"unsupported type {kind}")


def _read_single_object(value: bytes) -> tuple[int, dict[str, Any]] | None:
    """(fingerprint, record as written) of a single-object-encoded value of a known schema; None if it names none or
    does not hold against it (Java ``KeyEvents.checkedSchema``)."""
    if len(value) < 10 or value[0] != 0xC3 or value[1] != 0x01:
        return None
    fp = int.from_bytes(value[2:10], "little")
    s = _schemas()
    schema = s.signed if fp == s.signed_fingerprint else s.writers.get(fp)
    if schema is None:
        return None
    reader = _AvroReader(value, 10)
    try:
        record = reader.read(schema)
    except _Malformed:
        return None
    if reader.pos != len(value):
        return None
    result: dict[str, Any] = record
    return fp, result


# --- key events --------------------------------------------------------------------------------------------------


class InvalidKeyEvent(ValueError):
    """A key event that is not one, or breaks the rules (the tenant id it claims, its version, a field's length)."""


@dataclass(frozen=True)
class KeyEvent:
    """A decoded ``KeyEvent`` (read with schema version 4: older versions get its defaults)."""

    tenant_id: str
    type: str  # REGISTERED, ROTATED, REVOKED, RESTORED, DESTROYED, MIGRATED
    kms: str
    kek_name: str
    kek_version: int
    time_ms: int  # timestamp-millis, kept as the long Java reads (any value is an Instant there)
    actor: str
    reason: str | None
    sequence: int
    authority: str | None
    kek_public_key: bytes | None

    def __repr__(self) -> str:
        kek = f"{self.kms}:{self.kek_name}:{self.kek_version}"
        return f"KeyEvent[{self.type} #{self.sequence} for {self.tenant_id}, {kek}]"


@dataclass(frozen=True)
class ReadRecord:
    """A record value as read: the event (not yet verified), the bytes a signature covers, the signer's key id and
    the signature (both None for an unsigned event)."""

    event: KeyEvent
    event_bytes: bytes
    signer: str | None
    signature: bytes | None

    @property
    def is_signed(self) -> bool:
        return self.signature is not None


def _resolve(writer: dict[str, Any]) -> dict[str, Any]:
    """The written record read with the current schema: fields it lacks take their defaults."""
    out: dict[str, Any] = {}
    for f in _record_fields(_schemas().key_event):
        out[f["name"]] = writer[f["name"]] if f["name"] in writer else f.get("default")
    return out


def decode_event(key: str, value: bytes) -> KeyEvent:
    """Decodes a KeyEvent (the bytes inside a signed record, or a whole unsigned record) as Java
    ``KeyEvents.decode`` does.

    :param key: the record key, which must be the event's tenant id
    :raises InvalidKeyEvent: if the bytes are not a key event for that tenant
    """
    read_back = _read_single_object(bytes(value))
    if read_back is None or read_back[0] == _schemas().signed_fingerprint:
        raise InvalidKeyEvent(f"key event for {key} is not a key event of a known schema, or its lengths do not hold")
    r = _resolve(read_back[1])
    kek_public_key: bytes | None = r["kekPublicKey"]
    if (
        _java_length(r["kms"]) > 64
        or _java_length(r["kekName"]) > 200
        or _java_length(r["actor"]) > 256
        or (r["reason"] is not None and _java_length(r["reason"]) > 1024)
        or (r["authority"] is not None and _java_length(r["authority"]) > 4096)
        or (kek_public_key is not None and len(kek_public_key) > MAX_PUBLIC_KEY_BYTES)
    ):
        raise InvalidKeyEvent(f"key event for {key} has a field longer than allowed")
    if key != r["tenantId"] or not is_valid_tenant_id(r["tenantId"]):
        raise InvalidKeyEvent(f"key event under key {key} is for another tenant")
    if r["kekVersion"] < 1 or _java_is_blank(r["kekName"]):
        raise InvalidKeyEvent(f"key event for {key} names no valid KEK version/name")
    return KeyEvent(
        tenant_id=r["tenantId"],
        type=r["type"],
        kms=r["kms"],
        kek_name=r["kekName"],
        kek_version=r["kekVersion"],
        time_ms=r["time"],
        actor=r["actor"],
        reason=r["reason"],
        sequence=r["sequence"],
        authority=r["authority"],
        kek_public_key=kek_public_key,
    )


def read(key: str, value: bytes) -> ReadRecord:
    """Reads a record value, signed or not, without verifying anything but its shape (Java ``KeyEvents.read``).

    :param key: the record key, which must be the event's tenant id
    :raises InvalidKeyEvent: if the bytes are not a key event for that tenant
    """
    value = bytes(value)
    if len(value) > MAX_VALUE_BYTES:
        raise InvalidKeyEvent(f"key event for {key} is {len(value)} bytes, over {MAX_VALUE_BYTES}")
    read_back = _read_single_object(value)
    if read_back is not None and read_back[0] == _schemas().signed_fingerprint:
        signed = read_back[1]
        event_bytes: bytes = signed["event"]
        return ReadRecord(decode_event(key, event_bytes), event_bytes, signed["signer"], signed["signature"])
    return ReadRecord(decode_event(key, value), value, None, None)


# --- tenant states and the gate ----------------------------------------------------------------------------------


class TenantStatus(enum.Enum):
    """A tenant's key state as the pipeline acts on it: ACTIVE seals, REVOKED rejects until RESTORED, DESTROYED
    rejects for good."""

    ACTIVE = "ACTIVE"
    REVOKED = "REVOKED"
    DESTROYED = "DESTROYED"


@dataclass(frozen=True)
class TenantState:
    """A tenant's state after the key events applied so far (Java ``TenantState``).

    :param kek_version: the KEK version named by the latest event (the newest after a rotation); with a pinned public
        key, the version of that key
    :param sequence: the sequence number of the event that set this state
    :param authority: the public key (X.509, base64, as the registration wrote it) that must sign the tenant's events;
        None: the operator's trusted keys
    :param kek_public_key: the public half of KEK version ``kek_version`` (SubjectPublicKeyInfo, DER) when the KEK is
        a key pair; None for a symmetric KEK
    :param last_event: the type of the event that set this state (REGISTERED, ROTATED, ...)
    :param since_ms: when that event was made, in milliseconds since the epoch (see :attr:`since`)
    """

    tenant_id: str
    status: TenantStatus
    kms: str
    kek_name: str
    kek_version: int
    sequence: int
    authority: str | None
    kek_public_key: bytes | None
    last_event: str = ""
    since_ms: int = 0

    @property
    def is_active(self) -> bool:
        return self.status is TenantStatus.ACTIVE

    @property
    def since(self) -> datetime | None:
        """:attr:`since_ms` as a UTC datetime; None if it lies outside what a datetime holds."""
        try:
            return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=self.since_ms)
        except OverflowError:
            return None

    def __repr__(self) -> str:
        pinned = (
            ""
            if self.kek_public_key is None
            else ", public key SHA256:" + hashlib.sha256(self.kek_public_key).hexdigest()
        )
        return (
            f"TenantState[{self.tenant_id}, {self.status.name}, {self.kms}:{self.kek_name}:{self.kek_version}, "
            f"{self.last_event} #{self.sequence}{', own authority' if self.authority is not None else ''}{pinned}]"
        )


class Refusal(enum.Enum):
    """Why an event changed nothing (Java ``KeyEventGate.Refusal``); :attr:`text` for people, :attr:`label` for
    metrics."""

    NO_TENANT_KEY = "the record has no key (the tenant id)"
    UNDECODABLE = "not a key event for the tenant of its record key"
    TOMBSTONE = "a tombstone never changes a tenant's state"
    UNSIGNED = "unsigned"
    UNKNOWN_SIGNER = "signed by a key that is not trusted to register tenants"
    NOT_THE_AUTHORITY = "not signed by the key the tenant's registration named"
    BAD_SIGNATURE = "the signature does not verify"
    STALE_SEQUENCE = "its sequence is not above the last one applied (a replay or rollback)"
    SEQUENCE_JUMP = f"its sequence jumps more than {MAX_SEQUENCE_STEP} past the last one applied"
    DESTROYED = "the tenant is DESTROYED, which is terminal"
    NOT_REGISTERED = "the tenant has no registration"
    ALREADY_REGISTERED = "the tenant is already registered"
    OTHER_KEK = "it names another KMS or KEK than the tenant's registration"
    OLDER_VERSION = "it names a KEK version that is not newer than the tenant's"
    PUBLIC_KEY_CHANGED = (
        "it changes the tenant's KEK kind, pinned public key or its version outside a rotation or migration"
    )
    BAD_PUBLIC_KEY = "its KEK public key is no RSA key of 2048 bits or more (or X25519 for the local KMS)"
    KEK_OF_ANOTHER_TENANT = "its KEK is bound to another tenant"

    @property
    def text(self) -> str:
        text: str = self.value
        return text

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Decision:
    """What a record did.

    :param tenant: the record key (None only for NO_TENANT_KEY; :data:`INVALID_KEY` for a key that is no tenant id)
    :param applied: whether it changed the tenant's state (then ``state`` is the new state)
    :param event_type: the decoded event's type; None for tombstones and undecodable records
    :param refusal: why nothing changed, when not applied
    :param signer: the signing key's id, when the event was signed
    :param sequence: the decoded event's sequence
    :param state: the tenant's state after an applied event
    """

    tenant: str | None
    applied: bool
    event_type: str | None
    refusal: Refusal | None
    signer: str | None
    sequence: int | None = None
    state: TenantState | None = None

    def describe(self) -> str:
        """One line for logs and audit entries, as Java's: never the record's bytes."""
        what = "record" if self.event_type is None else f"{self.event_type} #{self.sequence}"
        tenant = "null" if self.tenant is None else self.tenant
        if self.applied:
            return f"{what} for tenant {tenant} applied"
        refusal = self.refusal.text if self.refusal is not None else "refused"
        return f"{what} for tenant {tenant} refused: {refusal}"


def kek_naming(
    template: str = "tenant-{tenant}", explicit: Mapping[str, str] | None = None
) -> Callable[[str], str | None]:
    """The tenant a KEK name belongs to by the naming settings (Java ``KekNaming.tenantFor``): an explicit
    tenant-to-key-name mapping (bring your own key), otherwise the template (``kms.key-name-template``). Pass it as
    ``KeyEventGate(tenant_for_kek=...)`` with the settings the Java pipeline uses, so the gates refuse alike.

    :raises ValueError: if the template does not hold ``{tenant}`` exactly once, or two tenants share a key name
    """
    placeholder = "{tenant}"
    at = template.find(placeholder)
    if at < 0 or template.find(placeholder, at + 1) >= 0:
        raise ValueError(f"kms.key-name-template must contain {placeholder} exactly once, got: '{template}'")
    prefix, suffix = template[:at], template[at + len(placeholder) :]
    names = dict(explicit or {})
    by_name: dict[str, str] = {}
    for tenant, name in names.items():
        if name in by_name:
            raise ValueError(f"tenants {by_name[name]} and {tenant} are both mapped to KEK '{name}'")
        by_name[name] = tenant

    def tenant_for(key_name: str) -> str | None:
        owner = by_name.get(key_name)
        if owner is not None:
            return owner
        if len(key_name) > len(prefix) + len(suffix) and key_name.startswith(prefix) and key_name.endswith(suffix):
            candidate = key_name[len(prefix) : len(key_name) - len(suffix)]
            if is_valid_tenant_id(candidate) and candidate not in names:
                return candidate
        return None

    return tenant_for


_CHANGES_KEY: Final = frozenset({"ROTATED", "MIGRATED"})
_STATUS_OF: Final = {
    "REGISTERED": TenantStatus.ACTIVE,
    "ROTATED": TenantStatus.ACTIVE,
    "RESTORED": TenantStatus.ACTIVE,
    "MIGRATED": TenantStatus.ACTIVE,
    "REVOKED": TenantStatus.REVOKED,
    "DESTROYED": TenantStatus.DESTROYED,
}


def _to_state(e: KeyEvent) -> TenantState:
    """The tenant state an event leaves behind on its own (Java ``KeyEvents.toState``)."""
    return TenantState(
        tenant_id=e.tenant_id,
        status=_STATUS_OF[e.type],
        kms=e.kms,
        kek_name=e.kek_name,
        kek_version=e.kek_version,
        sequence=e.sequence,
        authority=e.authority,
        kek_public_key=e.kek_public_key,
        last_event=e.type,
        since_ms=e.time_ms,
    )


def _carry(current: TenantState | None, e: KeyEvent) -> TenantState:
    """The state an admitted event leaves: the event's own, except that a rotation or migration keeps the tenant's
    status, the authority stays the registration's, and an event that pins no public key keeps the one pinned
    before (and, with a pinned key, its version)."""
    nxt = _to_state(e)
    if current is None:
        return nxt
    changes_key = e.type in _CHANGES_KEY
    keeps_version = not changes_key and current.kek_public_key is not None
    return TenantState(
        tenant_id=nxt.tenant_id,
        status=current.status if changes_key else nxt.status,
        kms=nxt.kms,
        kek_name=nxt.kek_name,
        kek_version=current.kek_version if keeps_version else nxt.kek_version,
        sequence=nxt.sequence,
        authority=current.authority,
        kek_public_key=nxt.kek_public_key if changes_key else current.kek_public_key,
        last_event=nxt.last_event,
        since_ms=nxt.since_ms,
    )


@lru_cache(maxsize=256)
def _authority_key(encoded: str) -> _SigningKey | None:
    try:
        return _load_signing_key(parse_public_key(encoded))
    except ValueError:
        return None


class KeyEventGate:
    """Decides whether a record of the key-event topic changes a tenant's state, and applies what it admits
    (verification required: unsigned events are refused). Records must be admitted in topic order; :meth:`admit`
    and :meth:`state` are thread-safe.

    :param trusted_signers: the operator's signing public keys (SubjectPublicKeyInfo, DER): they register tenants,
        and sign the later events of tenants that name no authority of their own
    :param tenant_for_kek: the tenant a KEK name belongs to by the naming settings (see :func:`kek_naming`), for
        KEKs no registered tenant holds; None: only registered tenants bind KEKs
    :raises ValueError: if a trusted signer is not an Ed25519, EC or RSA public key
    """

    def __init__(
        self,
        trusted_signers: Iterable[bytes],
        *,
        tenant_for_kek: Callable[[str], str | None] | None = None,
    ) -> None:
        trusted: dict[str, _SigningKey] = {}
        for der in trusted_signers:
            k = _load_signing_key(bytes(der))
            trusted[k.key_id] = k
        self._trusted: Mapping[str, _SigningKey] = trusted
        self._tenant_for_kek = tenant_for_kek
        self._states: dict[str, TenantState] = {}
        self._lock = threading.RLock()
        self._seen = 0
        self._applied = 0
        self._refused = 0
        self._unsigned = 0

    @property
    def trusted_ids(self) -> frozenset[str]:
        """The key ids of the trusted signers."""
        return frozenset(self._trusted)

    @property
    def seen(self) -> int:
        """Records decided so far, whatever the outcome."""
        return self._seen

    @property
    def applied(self) -> int:
        """Events applied so far (all signed)."""
        return self._applied

    @property
    def refused(self) -> int:
        return self._refused

    @property
    def unsigned_seen(self) -> int:
        """Unsigned events seen so far (all refused)."""
        return self._unsigned

    def looks_unmigrated(self) -> bool:
        """A topic written before signing existed: unsigned events and not one signed event applied."""
        return self._unsigned > 0 and self._applied == 0

    def state(self, tenant: str) -> TenantState | None:
        """The tenant's state, or None if it never registered."""
        with self._lock:
            return self._states.get(tenant)

    def states(self) -> dict[str, TenantState]:
        """A snapshot of every tenant's state."""
        with self._lock:
            return dict(self._states)

    def admit(self, tenant: str | None, value: bytes | None) -> Decision:
        """Decides about one record of the key-event topic and, if it is admitted, applies it."""
        with self._lock:
            d = self._decide(tenant, value)
            self._seen += 1
            if d.applied and d.state is not None:
                self._states[d.state.tenant_id] = d.state
                self._applied += 1
            else:
                self._refused += 1
            return d

    def _owner_of(self, kek_name: str) -> str | None:
        for s in self._states.values():
            if s.kek_name == kek_name:
                return s.tenant_id
        return self._tenant_for_kek(kek_name) if self._tenant_for_kek is not None else None

    def _decide(self, tenant: str | None, value: bytes | None) -> Decision:
        if tenant is None:
            return _refuse(None, None, Refusal.NO_TENANT_KEY, None)
        if not is_valid_tenant_id(tenant):
            # Never a tenant: and the key is the writer's text, so it goes into no log as it is.
            return _refuse(INVALID_KEY, None, Refusal.UNDECODABLE, None)
        if value is None:
            return _refuse(tenant, None, Refusal.TOMBSTONE, None)
        try:
            r = read(tenant, value)
        except InvalidKeyEvent:
            return _refuse(tenant, None, Refusal.UNDECODABLE, None)
        e = r.event
        current = self._states.get(tenant)
        if r.signer is None or r.signature is None:
            self._unsigned += 1
            return _refuse(tenant, e, Refusal.UNSIGNED, None)
        signer = r.signer
        key: _SigningKey | None
        if e.type == "REGISTERED" or current is None or current.authority is None:
            key = self._trusted.get(signer)
            if key is None:
                return _refuse(tenant, e, Refusal.UNKNOWN_SIGNER, signer)
        else:
            key = _authority_key(current.authority)
            if key is None or key.key_id != signer:
                return _refuse(tenant, e, Refusal.NOT_THE_AUTHORITY, signer)
        if not _verify_message(key.key, message(r.event_bytes), r.signature):
            return _refuse(tenant, e, Refusal.BAD_SIGNATURE, signer)
        broken = self._check_rules(tenant, e, current)
        if broken is None:
            broken = _check_public_key(e, current)
        if broken is not None:
            return _refuse(tenant, e, broken, signer)
        if current is None and e.authority is not None and _authority_key(e.authority) is None:
            return _refuse(tenant, e, Refusal.UNDECODABLE, signer)
        return Decision(tenant, True, e.type, None, signer, e.sequence, _carry(current, e))

    def _check_rules(self, tenant: str, e: KeyEvent, current: TenantState | None) -> Refusal | None:
        if current is not None and current.status is TenantStatus.DESTROYED:
            return Refusal.DESTROYED
        last = 0 if current is None else current.sequence
        if e.sequence < 1 or e.sequence <= last:
            return Refusal.STALE_SEQUENCE
        if e.sequence - last > MAX_SEQUENCE_STEP:
            return Refusal.SEQUENCE_JUMP
        if e.type == "REGISTERED":
            if current is not None:
                return Refusal.ALREADY_REGISTERED
            owner = self._owner_of(e.kek_name)
            if owner is not None and owner != tenant:
                return Refusal.KEK_OF_ANOTHER_TENANT
            return None
        if current is None:
            return Refusal.NOT_REGISTERED
        if e.type == "MIGRATED":
            owner = self._owner_of(e.kek_name)
            if owner is not None and owner != tenant:
                return Refusal.KEK_OF_ANOTHER_TENANT
            if current.kms == e.kms and current.kek_name == e.kek_name:
                return Refusal.OTHER_KEK
            return None
        if current.kms != e.kms or current.kek_name != e.kek_name:
            return Refusal.OTHER_KEK
        older = e.kek_version <= current.kek_version if e.type == "ROTATED" else e.kek_version < current.kek_version
        return Refusal.OLDER_VERSION if older else None


def _check_public_key(e: KeyEvent, current: TenantState | None) -> Refusal | None:
    pinned = e.kek_public_key
    if pinned is not None and not _public_kek_suits(pinned, e.kms):
        return Refusal.BAD_PUBLIC_KEY  # a key pair that KMS cannot hold: nothing could ever open
    if current is None or e.type == "MIGRATED":
        return None
    before = current.kek_public_key
    if e.type == "ROTATED":
        # A rotation keeps the kind: a symmetric KEK does not become a key pair by a rotation, nor the reverse.
        return None if (before is None) == (pinned is None) else Refusal.PUBLIC_KEY_CHANGED
    if before is not None and e.type == "RESTORED" and e.kek_version != current.kek_version:
        # The pinned key is the pinned version's: sealing under another version needs its key, which a rotation pins.
        return Refusal.PUBLIC_KEY_CHANGED
    return None if pinned is None or (before is not None and pinned == before) else Refusal.PUBLIC_KEY_CHANGED


def _refuse(tenant: str | None, e: KeyEvent | None, refusal: Refusal, signer: str | None) -> Decision:
    return Decision(
        tenant,
        False,
        None if e is None else e.type,
        refusal,
        signer,
        None if e is None else e.sequence,
        None,
    )


# --- following the topic -----------------------------------------------------------------------------------------


class _MessageLike(Protocol):
    def error(self) -> Any: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> Any: ...
    def value(self) -> Any: ...


class _ConsumerLike(Protocol):
    def poll(self, timeout: float = ...) -> Any: ...
    def assign(self, partitions: list[Any]) -> None: ...
    def get_watermark_offsets(self, partition: Any, timeout: float = ..., cached: bool = ...) -> Any: ...
    def list_topics(self, topic: str | None = ..., timeout: float = ...) -> Any: ...
    def close(self) -> None: ...


def _kafka_consumer(config: dict[str, Any]) -> _ConsumerLike:
    from confluent_kafka import Consumer

    consumer: _ConsumerLike = Consumer(config)
    return consumer


class KeyEventFollower:
    """Follows the key-event topic (Java ``KeyEventFollower``): a daemon thread reads every partition from the
    beginning, without a consumer group's offsets (partitions are assigned, nothing is committed), passes each record
    through the gate in order and tells the listeners about each applied event. :meth:`wait_caught_up` returns once
    everything present at start has been read, so a caller can refuse to act before it knows every tenant's state.

    :param consumer_config: confluent-kafka (librdkafka) settings, at least ``bootstrap.servers`` (and the security
        settings); a ``group.id`` is replaced by a unique one that never joins a group nor commits
    :param consumer_factory: makes the consumer from the final settings (tests); default ``confluent_kafka.Consumer``
    """

    #: How often a caught-up follower proves it is current (asks the end offsets and for new partitions).
    FRESHNESS_CHECK_S: Final = 1.0
    _CALL_TIMEOUT_S: Final = 5.0

    def __init__(
        self,
        consumer_config: Mapping[str, object],
        gate: KeyEventGate,
        topic: str = "keyring.events",
        *,
        consumer_factory: Callable[[dict[str, Any]], _ConsumerLike] | None = None,
    ) -> None:
        config: dict[str, Any] = dict(consumer_config)
        config.update(
            {
                # librdkafka wants a group id even for assigned partitions; this one never joins nor commits.
                "group.id": f"embedseal-key-events-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
            }
        )
        config.setdefault("client.id", "embedseal-key-events-python")
        self._consumer = (consumer_factory or _kafka_consumer)(config)
        self.topic = topic
        self.gate = gate
        self._listeners: list[Callable[[TenantState], None]] = []
        self._listeners_lock = threading.Lock()
        self._caught_up = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"embedseal-key-events-{topic}", daemon=True)
        self._started = False
        self._stopped = False
        self._last_failure: str | None = None
        self._confirmed_at = 0.0
        self._partitions: list[int] | None = None
        # Per partition: the next offset to apply (after a record, or where the end was reached).
        self._next: dict[int, int] = {}
        self._records = 0

    # public ---------------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Starts following (once)."""
        if self._started:
            return
        self._started = True
        self._thread.start()

    def wait_caught_up(self, timeout_s: float) -> bool:
        """Waits until every partition's end offset at start time has been reached; False on timeout."""
        return self._caught_up.wait(timeout_s)

    def is_caught_up(self) -> bool:
        return self._caught_up.is_set()

    def state(self, tenant: str) -> TenantState | None:
        """The tenant's state as the events applied so far leave it (thread-safe)."""
        return self.gate.state(tenant)

    def add_listener(self, fn: Callable[[TenantState], None]) -> None:
        """Calls ``fn`` with the new state after each applied event, on the follower's thread: it must not block."""
        with self._listeners_lock:
            self._listeners.append(fn)

    @property
    def records_seen(self) -> int:
        """Records read so far, applied or refused."""
        return self._records

    def staleness(self, bound_s: float) -> str | None:
        """Why the states this follower keeps cannot be relied on now, or None when they can: they were confirmed
        current (every event on the topic up to a moment at most ``bound_s`` ago applied), and the follower runs."""
        if self._stopped and not self._closing.is_set():
            return f"the key-event follower of {self.topic} stopped ({self._last_failure})"
        if not self._caught_up.is_set():
            why = "" if self._last_failure is None else f" ({self._last_failure})"
            return f"the key-event follower of {self.topic} has not read the topic to its end yet{why}"
        age = time.monotonic() - self._confirmed_at
        if age > bound_s:
            why = "" if self._last_failure is None else f": {self._last_failure}"
            return f"key events from {self.topic} not confirmed current for {int(age)} s (bound {bound_s:g} s){why}"
        return None

    def close(self) -> None:
        """Stops following and closes the consumer (waits up to 10 s for the thread)."""
        self._closing.set()
        if self._started:
            self._thread.join(10.0)
        elif not self._stopped:
            self._stopped = True
            self._consumer.close()

    def __enter__(self) -> KeyEventFollower:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # the thread -----------------------------------------------------------------------------------------------------

    def _run(self) -> None:
        from confluent_kafka import KafkaException

        backoff = 0.1
        next_check = time.monotonic()
        asked_at = 0.0
        start_end: dict[int, int] | None = None  # every partition's end when following started
        try:
            while not self._closing.is_set():
                try:
                    if self._partitions is None:
                        partitions = self._await_partitions()
                        if partitions is None:
                            return
                        self._assign(partitions)
                    if start_end is None:
                        asked_at = time.monotonic()
                        start_end = self._end_offsets(self._partitions or [])
                    self._poll_once(0.2)
                    if not self._caught_up.is_set() and self._at_or_past(start_end):
                        LOG.info("key events of %d tenants read from %s", len(self.gate.states()), self.topic)
                        self._confirmed_at = asked_at
                        self._caught_up.set()
                    if self._caught_up.is_set() and time.monotonic() >= next_check:
                        self._check_freshness()
                        next_check = time.monotonic() + self.FRESHNESS_CHECK_S
                    backoff = 0.1
                except KafkaException as e:
                    error = e.args[0] if e.args else None
                    why = f"{type(e).__name__}: {e}"
                    if why != self._last_failure:
                        LOG.error(
                            "the key-event follower of %s cannot read it (%s); tenant states are not updated "
                            "meanwhile; retrying",
                            self.topic,
                            why,
                        )
                    self._last_failure = why
                    if error is not None and hasattr(error, "fatal") and error.fatal():
                        raise
                    self._closing.wait(backoff)
                    backoff = min(backoff * 2, 5.0)
        except Exception as e:
            self._last_failure = f"stopped: {type(e).__name__}: {e}"
            LOG.error(
                "the key-event follower of %s stopped: tenant states are no longer updated", self.topic, exc_info=True
            )
        finally:
            self._stopped = True
            try:
                self._consumer.close()
            except Exception:
                LOG.debug("closing the key-event consumer failed", exc_info=True)

    def _await_partitions(self) -> list[int] | None:
        """The topic's partitions once it exists; None when the follower was closed before."""
        warn_at = time.monotonic() + 10.0
        while not self._closing.is_set():
            partitions = self._list_partitions(1.0)
            if partitions:
                return partitions
            if time.monotonic() > warn_at:
                LOG.warning("the key-event topic %s does not exist yet; waiting for it", self.topic)
                warn_at = time.monotonic() + 60.0
            self._closing.wait(0.5)
        return None

    def _list_partitions(self, timeout_s: float) -> list[int]:
        metadata = self._consumer.list_topics(self.topic, timeout=timeout_s)
        t = metadata.topics.get(self.topic) if metadata is not None else None
        if t is None or t.error is not None:
            return []
        return sorted(int(p) for p in t.partitions)

    def _assign(self, partitions: list[int]) -> None:
        """Assigns every partition: a new one from the beginning, one already read from the next offset to apply."""
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        self._consumer.assign([TopicPartition(self.topic, p, self._next.get(p, OFFSET_BEGINNING)) for p in partitions])
        self._partitions = list(partitions)

    def _end_offsets(self, partitions: list[int]) -> dict[int, int]:
        """Each partition's end (high watermark; with read_committed, the last stable offset)."""
        from confluent_kafka import TopicPartition

        out: dict[int, int] = {}
        for p in partitions:
            _, high = self._consumer.get_watermark_offsets(
                TopicPartition(self.topic, p), timeout=self._CALL_TIMEOUT_S, cached=False
            )
            out[p] = int(high)
        return out

    def _at_or_past(self, end: Mapping[int, int]) -> bool:
        return all(self._next.get(p, 0) >= offset for p, offset in end.items())

    def _check_freshness(self) -> None:
        """Proves the follower current: every record present at this moment applied (within a call timeout)."""
        asked_at = time.monotonic()
        partitions = self._list_partitions(self._CALL_TIMEOUT_S)
        current = self._partitions or []
        if partitions and len(partitions) != len(current):
            added = sorted(set(partitions) - set(current))
            LOG.warning(
                "the key-event topic %s has new partitions %s: reading them from the beginning", self.topic, added
            )
            self._assign(sorted(set(partitions) | set(current)))
        latest = self._end_offsets(self._partitions or [])
        while not self._at_or_past(latest) and not self._closing.is_set():
            self._poll_once(0.2)
            if time.monotonic() - asked_at > self._CALL_TIMEOUT_S:
                break  # behind: confirmed later, once caught up
        if self._at_or_past(latest):
            self._confirmed_at = asked_at

    def _poll_once(self, timeout_s: float) -> None:
        msg = self._consumer.poll(timeout_s)
        if msg is not None:
            self._handle(msg)

    def _handle(self, msg: _MessageLike) -> None:
        from confluent_kafka import KafkaError, KafkaException

        partition, offset = msg.partition(), msg.offset()
        error = msg.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                if partition is not None and offset is not None:
                    self._next[partition] = max(self._next.get(partition, 0), offset)
                self._last_failure = None
                return
            if error.fatal():
                raise KafkaException(error)
            why = f"{error.name()}: {error.str()}"
            if why != self._last_failure:
                LOG.warning("the key-event follower of %s: %s", self.topic, why)
            self._last_failure = why
            return
        self._last_failure = None
        self._records += 1
        raw_key = msg.key()
        tenant = raw_key.decode("utf-8", errors="replace") if isinstance(raw_key, bytes) else raw_key
        value = msg.value()
        d = self.gate.admit(tenant, None if value is None else bytes(value))
        if partition is not None and offset is not None:
            self._next[partition] = max(self._next.get(partition, 0), offset + 1)
        if not d.applied:
            label = d.refusal.label if d.refusal is not None else "refused"
            LOG.warning("%s (%s, at %s-%s@%s)", d.describe(), label, self.topic, partition, offset)
            return
        if d.state is None:
            return
        with self._listeners_lock:
            listeners = list(self._listeners)
        for fn in listeners:
            try:
                fn(d.state)
            except Exception:
                LOG.error("acting on a key event for tenant %s failed", d.tenant, exc_info=True)
