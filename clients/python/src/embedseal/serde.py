"""Serializers for confluent-kafka producers and consumers, called as Confluent's are: ``serializer(value, ctx)``.

- ``RawEventSerializer``: an ``EmbeddingEvent`` for ``embeddings.raw``, validated with the pipeline's rules, then
  Confluent's own ``AvroSerializer`` (Confluent wire format, subject ``<topic>-value``).
- ``SealingSerializer``: an ``EmbeddingEvent`` sealed here into an envelope version 2, for ``embeddings.sealed``:
  with the tenant's public key (no KMS, no credential) or through Vault Transit.
- ``UnsealingDeserializer``: an envelope opened here (Vault/OpenBao, a PKCS#11 token, the local development KMS).

Settings are the Java client's property names (``kms.*``, ``dek.*``, ``embedseal.*``), so one properties file serves
both languages.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .envelope import (
    DEFAULT_PURPOSE,
    EnvelopeError,
    Header,
    PayloadType,
    Reason,
    RecordVersion,
    check_binding,
    is_valid_tenant_id,
    open_payload,
    parse,
    require_purpose,
    seal,
)
from .events import (
    EmbeddingEvent,
    ValidationLimits,
    check,
    check_ids,
    decode_canonical,
    embedding_event_schema,
    encode_canonical,
    float32_array,
)
from .keyring import DekPolicy, KekNaming, KeyMismatch, Keyring, TenantKey, TenantRefused, read_public_keks
from .kms import InvalidWrappedKey, KeyDenied, KmsError, KmsUnavailable, UnknownKey, open_kms

__all__ = [
    "RawEventSerializer",
    "SealingError",
    "SealingSerializer",
    "UnsealedEmbedding",
    "UnsealingDeserializer",
    "key_event_follower",
    "parse_record_key",
    "read_properties",
    "record_key",
]


class SealingError(Exception):
    """A record that was not sealed, and so not sent: an invalid embedding, or a key that may not or cannot be used.
    Never a plaintext fallback."""


def record_key(tenant_id: str, embedding_id: str) -> bytes:
    """The sealed topic's record key, ``tenant/embeddingId``: sinks upsert on it and check envelopes against it."""
    if not is_valid_tenant_id(tenant_id):
        raise ValueError("tenant id must be 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit")
    if not embedding_id:
        raise ValueError("embedding id must not be empty")
    return f"{tenant_id}/{embedding_id}".encode()


def parse_record_key(key: bytes | None) -> tuple[str, str]:
    if key is None:
        raise ValueError("sealed record has no key; expected tenant/embeddingId")
    text = key.decode("utf-8", "replace")
    slash = text.find("/")
    if slash <= 0 or slash == len(text) - 1 or not is_valid_tenant_id(text[:slash]):
        raise ValueError("sealed record key is not of the form tenant/embeddingId")
    return text[:slash], text[slash + 1 :]


def read_properties(path: str | Path) -> dict[str, str]:
    """A Java ``.properties`` file, read as ``java.util.Properties.load`` reads one: ``#`` and ``!`` comments,
    ``key=value``, ``key: value`` or ``key value``, a backslash at the end of a line continuing it, ``\\`` escapes (the
    same file the Java client reads; ``\\uXXXX`` escapes too)."""
    out: dict[str, str] = {}
    logical: list[str] = []
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.lstrip() if logical else raw.strip()
        if not logical and (not line or line.startswith(("#", "!"))):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:  # an odd number of backslashes: the line goes on
            logical.append(line[:-1])
            continue
        logical.append(line)
        key, value = _split_property("".join(logical).strip())
        logical = []
        out[key] = value
    if logical:
        key, value = _split_property("".join(logical).strip())
        out[key] = value
    return out


def _split_property(line: str) -> tuple[str, str]:
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            i += 2
            continue
        if c in "=: \t\f":
            break
        i += 1
    key, rest = line[:i], line[i:].lstrip(" \t\f")
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(" \t\f")
    return _unescape(key), _unescape(rest)


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            n = text[i + 1]
            if n == "u" and i + 6 <= len(text):
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append({"t": "\t", "n": "\n", "r": "\r", "f": "\f"}.get(n, n))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _tenant_view(key_events: Any) -> Any:
    """Adapts a ``KeyEventFollower`` (or anything with ``state(tenant)``) to what the keyring asks."""
    if key_events is None:
        return None

    def view(tenant: str) -> TenantKey | None:
        s = key_events.state(tenant)
        if s is None:
            return None
        return TenantKey(s.status.name, s.kms, s.kek_name, s.kek_version, s.kek_public_key)

    return view


def key_event_follower(settings: Mapping[str, str]) -> Any:
    """A started ``KeyEventFollower`` on ``topics.key-events`` (``keyring.events``) of ``bootstrap.servers``, trusting
    the operator's signing keys in ``kms.events.trusted-signers`` (base64 SubjectPublicKeyInfo or PEM, comma-separated,
    as ``embedseal tenants``/``keys signing-key`` print them): give it to a serializer as ``key_events``.

    :raises ValueError: naming the setting that is missing or wrong
    """
    from .keyevents import KeyEventFollower, KeyEventGate, kek_naming, parse_public_key

    bootstrap = settings.get("bootstrap.servers")
    if not bootstrap:
        raise ValueError("bootstrap.servers: the brokers of the key-event topic are needed to follow key events")
    entries = [e.strip() for e in settings.get("kms.events.trusted-signers", "").split(",") if e.strip()]
    if not entries:
        raise ValueError("kms.events.trusted-signers: the operator's signing public keys are needed to verify events")
    keys = []
    for entry in entries:
        if entry.startswith("kms:"):
            raise ValueError(
                f"kms.events.trusted-signers: '{entry}' names a key in a KMS; this client takes the public key itself "
                "(base64 SubjectPublicKeyInfo or PEM, as `embedseal keys signing-key` prints it)"
            )
        try:
            keys.append(parse_public_key(entry))
        except ValueError as e:
            raise ValueError(f"kms.events.trusted-signers: {e}") from None
    naming = KekNaming(settings)  # the pipeline's naming settings: a KEK they give one tenant is refused for another
    gate = KeyEventGate(keys, tenant_for_kek=kek_naming(naming.template, naming.explicit))
    follower = KeyEventFollower(
        {"bootstrap.servers": bootstrap}, gate, settings.get("topics.key-events", "keyring.events")
    )
    follower.start()
    return follower


class SealingSerializer:
    """Seals ``EmbeddingEvent`` values on the producer: use it as a value serializer, with ``record_key`` as the key.

    Settings: ``embedseal.public-keks.file`` (tenants sealed with their public key, no KMS), ``kms.provider`` and its
    ``kms.*`` settings (the other tenants, through the KMS: ``vault``), ``embedseal.envelope.purpose``
    (``embeddings.sealed``), ``validation.*`` / ``embedseal.validation.max-dimensions``, ``dek.*``.

    :param key_events: a started ``KeyEventFollower``: tenants are then sealed only while their signed key events say
        ACTIVE, and a key pair's public key is the one its events pin (the file is then not needed)
    """

    def __init__(self, settings: Mapping[str, str], key_events: Any = None) -> None:
        self.purpose = require_purpose(settings.get("embedseal.envelope.purpose", DEFAULT_PURPOSE))
        limits = dict(settings)
        if "embedseal.validation.max-dimensions" in settings:
            limits["validation.max-dimensions"] = settings["embedseal.validation.max-dimensions"]
        self.limits = ValidationLimits.from_settings(limits)
        pinned_file = settings.get("embedseal.public-keks.file")
        pinned = read_public_keks(pinned_file) if pinned_file else None
        kms = open_kms(settings)
        if kms is None and pinned is None and key_events is None:
            raise ValueError(
                "configure embedseal.public-keks.file (public keys), kms.provider (a KMS), or follow key events: "
                "this serializer has no key to seal with"
            )
        self.keyring = Keyring(
            kms, KekNaming(settings), DekPolicy.from_settings(settings), pinned, _tenant_view(key_events)
        )
        if key_events is not None and hasattr(key_events, "add_listener"):
            key_events.add_listener(self._on_key_event)
        # Orders two versions of one embedding made in the same millisecond; starts at a random point, only grows.
        self._sequence = itertools.count(secrets.randbits(61))
        self._sequence_lock = threading.Lock()

    def _on_key_event(self, state: Any) -> None:
        self.keyring.forget(state.tenant_id)

    def _next_sequence(self) -> int:
        with self._sequence_lock:
            return next(self._sequence) & ((1 << 63) - 1)

    def __call__(self, event: EmbeddingEvent | None, ctx: Any = None) -> bytes | None:
        if event is None:
            return None
        try:
            vector: array[float] | None = float32_array(event.vector)
        except ValueError:
            vector = None  # not one-dimensional: check() says so
        violation = check(event, self.limits, vector)
        if violation is not None or vector is None:
            raise SealingError(str(violation)) from None
        plaintext = encode_canonical(event, vector)
        version = RecordVersion(max(0, event.event_time_ms), self._next_sequence())
        return self._seal(event.tenant_id, event.embedding_id, version, PayloadType.EMBEDDING_EVENT_AVRO, plaintext)

    def delete_marker(self, tenant_id: str, embedding_id: str, event_time_ms: int | None = None) -> bytes:
        """A sealed delete, to send under ``record_key(tenant_id, embedding_id)``: a sink deletes the record only if the
        marker opens under the tenant's key and is not older than what it holds."""
        violation = check_ids(tenant_id, embedding_id, self.limits)
        if violation is not None:
            raise SealingError(str(violation).replace("embedding refused", "delete refused")) from None
        when = int(time.time() * 1000) if event_time_ms is None else max(0, event_time_ms)
        version = RecordVersion(when, self._next_sequence())
        return self._seal(tenant_id, embedding_id, version, PayloadType.DELETE_MARKER, b"")

    def _seal(self, tenant: str, eid: str, version: RecordVersion, kind: PayloadType, plaintext: bytes) -> bytes:
        try:
            dek = self.keyring.sealing_dek(tenant)
        except KmsError as e:
            raise SealingError(f"cannot seal for tenant {tenant}: {e}") from None
        return seal(dek.aead, dek.dek_id, dek.slot, kind, tenant, eid, self.purpose, version, plaintext)

    def close(self) -> None:
        self.keyring.close()


@dataclass(frozen=True)
class UnsealedEmbedding:
    """An opened envelope: the ids and version it authenticates, and the event (None for a delete marker)."""

    tenant_id: str
    embedding_id: str
    version: RecordVersion
    event: EmbeddingEvent | None
    header: Header

    @property
    def is_delete(self) -> bool:
        return self.event is None


class UnsealingDeserializer:
    """Opens envelopes for Python consumers: ``deserializer(value, ctx)`` or, to also check the record key,
    ``unseal(key, value)``. Every refusal is an ``EnvelopeError`` with the Java side's reason.

    Settings: ``kms.provider`` (``vault``, ``pkcs11``, ``local``) and its ``kms.*``, ``embedseal.envelope.purpose``,
    ``embedseal.envelope.accept-v1`` (true), ``embedseal.unseal.only-tenant``, ``kms.key-name-template``, ``dek.*``.

    :param key_events: a started ``KeyEventFollower``: a tenant is then opened only while its events say ACTIVE
    """

    def __init__(self, settings: Mapping[str, str], key_events: Any = None) -> None:
        self.purpose = require_purpose(settings.get("embedseal.envelope.purpose", DEFAULT_PURPOSE))
        accept_v1 = settings.get("embedseal.envelope.accept-v1", "true").strip().lower()
        if accept_v1 not in ("true", "false"):
            raise ValueError(f"embedseal.envelope.accept-v1 must be true or false, got '{accept_v1}'")
        self.accept_v1 = accept_v1 == "true"
        self.only_tenant = settings.get("embedseal.unseal.only-tenant") or None
        kms = open_kms(settings)
        if kms is None:
            raise ValueError("kms.provider: a consumer that opens envelopes needs the tenants' KMS")
        self.keyring = Keyring(
            kms, KekNaming(settings), DekPolicy.from_settings(settings), None, _tenant_view(key_events)
        )
        if key_events is not None and hasattr(key_events, "add_listener"):
            key_events.add_listener(lambda s: self.keyring.forget(s.tenant_id))

    def __call__(self, value: bytes | None, ctx: Any = None) -> UnsealedEmbedding | None:
        if value is None:
            return None
        header = parse(value)
        return self._open(value, header, header.tenant_id, None)

    def unseal(self, key: bytes | None, value: bytes) -> UnsealedEmbedding:
        """Opens ``value`` and checks it is bound to the record key ``tenant/embeddingId`` it was found under."""
        try:
            tenant, eid = parse_record_key(key)
        except ValueError as e:
            raise EnvelopeError(Reason.WRONG_BINDING, str(e)) from None
        return self._open(value, parse(value), tenant, eid)

    def _open(self, value: bytes, h: Header, tenant: str, eid: str | None) -> UnsealedEmbedding:
        if self.only_tenant is not None and h.tenant_id != self.only_tenant:
            raise EnvelopeError(
                Reason.WRONG_BINDING, f"envelope of tenant {h.tenant_id}; this reader opens only {self.only_tenant}"
            )
        check_binding(h, tenant, eid, self.purpose, self.accept_v1)
        dek_hex = h.dek_id.hex()
        try:
            aead = self.keyring.open_dek(h.tenant_id, h.kek, h.dek_id, h.wrapped_dek)
        except KeyMismatch as e:
            raise EnvelopeError(Reason.WRONG_BINDING, str(e)) from None
        except TenantRefused as e:
            # As the sinks read the key events: DESTROYED is terminal (the key is gone), anything else may come back.
            reason = Reason.KEY_UNKNOWN if e.status == "DESTROYED" else Reason.KEY_REVOKED
            raise EnvelopeError(reason, str(e)) from None
        except InvalidWrappedKey:
            raise EnvelopeError(
                Reason.TAMPERED, f"wrapped DEK {dek_hex} of tenant {h.tenant_id} does not unwrap under {h.kek}"
            ) from None
        except KeyDenied:
            raise EnvelopeError(Reason.KEY_REVOKED, f"KMS denied {h.kek} for tenant {h.tenant_id}") from None
        except UnknownKey:
            raise EnvelopeError(Reason.KEY_UNKNOWN, f"KMS does not know {h.kek} of tenant {h.tenant_id}") from None
        except KmsUnavailable:
            raise EnvelopeError(
                Reason.KMS_UNAVAILABLE, f"KMS could not unwrap DEK {dek_hex} of tenant {h.tenant_id}"
            ) from None
        except KmsError as e:
            raise EnvelopeError(
                Reason.KEY_FAILED, f"KMS failed to unwrap DEK {dek_hex} of tenant {h.tenant_id} ({type(e).__name__})"
            ) from None
        plaintext = open_payload(value, h, aead)
        if h.payload_type is PayloadType.DELETE_MARKER:
            if plaintext:
                raise EnvelopeError(Reason.MALFORMED, "a delete marker's payload is not empty")
            return UnsealedEmbedding(h.tenant_id, h.embedding_id, h.record_version, None, h)
        if h.payload_type is not PayloadType.EMBEDDING_EVENT_AVRO:
            raise EnvelopeError(Reason.UNSUPPORTED_PAYLOAD, f"payload type {h.payload_type.value} is not an embedding")
        try:
            event = decode_canonical(plaintext)
        except (ValueError, UnicodeDecodeError):
            raise EnvelopeError(Reason.MALFORMED, "the payload is not one canonical EmbeddingEvent") from None
        if event.tenant_id != h.tenant_id or event.embedding_id != h.embedding_id:
            raise EnvelopeError(Reason.MALFORMED, "the sealed event names other ids than its envelope")
        return UnsealedEmbedding(h.tenant_id, h.embedding_id, h.record_version, event, h)

    def close(self) -> None:
        self.keyring.close()


class RawEventSerializer:
    """An ``EmbeddingEvent`` for the raw topic: the pipeline's validation here (so a bad event fails at the producer
    with the reason the dead-letter topic would give), then Confluent's ``AvroSerializer`` with the project's schema
    (Confluent wire format; subject ``<topic>-value``, the pipeline's default).

    :param registry: a ``confluent_kafka.schema_registry.SchemaRegistryClient``
    :param conf: ``AvroSerializer`` settings, e.g. ``{"auto.register.schemas": False}``
    """

    def __init__(
        self, registry: Any, limits: ValidationLimits | None = None, conf: Mapping[str, Any] | None = None
    ) -> None:
        self.limits = limits or ValidationLimits()
        self._prefix: bytes | None = None
        if registry is None:
            self._avro: Any = None
            return
        from confluent_kafka.schema_registry.avro import AvroSerializer

        self._avro = AvroSerializer(
            registry, embedding_event_schema(), lambda e, _ctx: e.to_dict(), conf=dict(conf or {})
        )

    @staticmethod
    def with_schema_id(schema_id: int, limits: ValidationLimits | None = None) -> RawEventSerializer:
        """For a registry this client cannot reach where the project's schema is registered under ``schema_id``
        already (the demo's in-memory one): the same bytes Confluent's serializer writes for that id, the magic byte,
        the id and the event's Avro binary encoding (the shared test vectors check both ways give one result)."""
        if not 0 <= schema_id < 2**31:
            raise ValueError("a schema id is 0 .. 2^31 - 1")
        s = RawEventSerializer(None, limits)
        s._prefix = b"\x00" + schema_id.to_bytes(4, "big")
        return s

    def __call__(self, event: EmbeddingEvent | None, ctx: Any) -> bytes | None:
        if event is None:
            return None
        try:
            vector: array[float] | None = float32_array(event.vector)
        except ValueError:
            vector = None
        violation = check(event, self.limits, vector)
        if violation is not None:
            raise violation
        assert vector is not None
        if self._prefix is not None:
            return self._prefix + encode_canonical(event, vector)
        out: bytes | None = self._avro(event, ctx)
        return out
