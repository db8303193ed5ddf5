"""The raw embedding event (``schemas/.../EmbeddingEvent.avsc``), its canonical Avro binary form (the payload sealed
inside envelopes) and the pipeline's validation rules, with the same reasons the dead-letter topic gives."""

from __future__ import annotations

import enum
import functools
import math
import re
import sys
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .envelope import MAX_EMBEDDING_ID_BYTES, TENANT_ID_RULE, is_valid_tenant_id

DEFAULT_MAX_DIMENSIONS = 16_384


def schema_dir() -> Path:
    """Where the project's Avro schemas are: packaged with the client, or ``schemas/src/main/avro`` in a checkout."""
    packaged = Path(__file__).parent / "schemas"
    if (packaged / "EmbeddingEvent.avsc").exists():
        return packaged
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "schemas" / "src" / "main" / "avro"
        if (candidate / "EmbeddingEvent.avsc").exists():
            return candidate
    raise FileNotFoundError("the embedseal Avro schemas are neither packaged nor in a checkout around this file")


def embedding_event_schema() -> str:
    """The canonical ``EmbeddingEvent`` schema, as the pipeline registers and expects it."""
    return (schema_dir() / "EmbeddingEvent.avsc").read_text(encoding="utf-8")


@dataclass
class EmbeddingEvent:
    """One embedding, as a producer publishes it. ``vector`` is float32 once encoded: any sequence of numbers
    (a list, ``array('f')``, a NumPy array)."""

    tenant_id: str
    embedding_id: str
    model: str
    vector: Sequence[float]
    event_time_ms: int
    metadata: dict[str, str] | None = None

    def __repr__(self) -> str:  # never the vector's values or the metadata
        return (
            f"EmbeddingEvent(tenant_id={self.tenant_id!r}, embedding_id={self.embedding_id!r}, model={self.model!r}, "
            f"dims={len(self.vector)}, metadata={'none' if self.metadata is None else len(self.metadata)} entries)"
        )

    def to_dict(self) -> dict[str, Any]:
        """The Avro record, for Confluent's ``AvroSerializer`` (floats as Python floats)."""
        return {
            "tenantId": self.tenant_id,
            "embeddingId": self.embedding_id,
            "model": self.model,
            "vector": [float(v) for v in float32_array(self.vector)],
            "metadata": self.metadata,
            "eventTime": self.event_time_ms,
        }

    @staticmethod
    def from_dict(record: Mapping[str, Any]) -> EmbeddingEvent:
        t = record["eventTime"]
        ms = t if isinstance(t, int) else int(t.timestamp() * 1000)
        return EmbeddingEvent(
            record["tenantId"], record["embeddingId"], record["model"], list(record["vector"]), ms, record["metadata"]
        )


def float32_array(values: Sequence[float]) -> array[float]:
    """The vector as float32; a value too large for float32 becomes infinity (and is refused by validation)."""
    if isinstance(values, array) and values.typecode == "f":
        return values
    if getattr(values, "ndim", 1) != 1:  # a NumPy matrix: its len() is its rows, not what would be sealed
        raise ValueError(f"a vector has one dimension; this one has shape {getattr(values, 'shape', '?')}")
    if getattr(values, "astype", None) is not None:  # NumPy: one conversion in C
        return array("f", values.astype("=f4").tobytes())  # type: ignore[attr-defined]
    try:
        return array("f", values)
    except OverflowError:
        return array("f", (v if abs(v) <= 3.4028234663852886e38 else math.copysign(math.inf, v) for v in values))


# ---------------------------------------------------------------------------------------------------------------------
# Validation


class Rule(enum.Enum):
    MISSING_TENANT = "MISSING_TENANT"
    INVALID_TENANT_ID = "INVALID_TENANT_ID"
    MISSING_EMBEDDING_ID = "MISSING_EMBEDDING_ID"
    INVALID_EMBEDDING_ID = "INVALID_EMBEDDING_ID"
    EMPTY_VECTOR = "EMPTY_VECTOR"
    TOO_MANY_DIMENSIONS = "TOO_MANY_DIMENSIONS"
    DIMENSION_MISMATCH = "DIMENSION_MISMATCH"
    NON_FINITE_VALUE = "NON_FINITE_VALUE"
    METADATA_TOO_LARGE = "METADATA_TOO_LARGE"


class ValidationError(ValueError):
    """An embedding refused before it leaves the producer: the rule (as the dead-letter topic names it) and a detail
    with positions and sizes, never values."""

    def __init__(self, rule: Rule, detail: str) -> None:
        super().__init__(f"embedding refused before sealing ({rule.value}): {detail}")
        self.rule = rule
        self.detail = detail


@dataclass(frozen=True)
class ValidationLimits:
    """The pipeline's ``validation.*`` settings; the defaults are the pipeline's."""

    max_dimensions: int = DEFAULT_MAX_DIMENSIONS
    dimensions_by_model: Mapping[str, int] = field(default_factory=dict)
    dimensions_by_tenant: Mapping[str, int] = field(default_factory=dict)
    tenant_id_max_length: int = 64
    tenant_id_pattern: str | None = None
    embedding_id_max_bytes: int = MAX_EMBEDDING_ID_BYTES
    metadata_max_entries: int = 64
    metadata_max_bytes: int = 16 * 1024

    @staticmethod
    def from_settings(settings: Mapping[str, str], prefix: str = "validation.") -> ValidationLimits:
        def number(name: str, default: int, low: int, high: int) -> int:
            text = settings.get(prefix + name)
            if text is None:
                return default
            try:
                value = int(text)
            except ValueError:
                raise ValueError(f"{prefix}{name} must be a whole number, got '{text}'") from None
            if not low <= value <= high:
                raise ValueError(f"{prefix}{name} must be between {low} and {high}, got {value}")
            return value

        max_dims = number("max-dimensions", DEFAULT_MAX_DIMENSIONS, 1, 1 << 20)
        family = {"model": {}, "tenant": {}}  # type: dict[str, dict[str, int]]
        for key in settings:
            for kind in family:
                head = f"{prefix}dimensions.{kind}."
                if key.startswith(head):
                    family[kind][key[len(head) :]] = number(key[len(prefix) :], 0, 1, max_dims)
        return ValidationLimits(
            max_dims,
            family["model"],
            family["tenant"],
            number("tenant-id.max-length", 64, 1, 64),
            settings.get(prefix + "tenant-id.pattern"),
            number("embedding-id.max-bytes", MAX_EMBEDDING_ID_BYTES, 1, MAX_EMBEDDING_ID_BYTES),
            number("metadata.max-entries", 64, 0, 1 << 16),
            number("metadata.max-bytes", 16 * 1024, 0, 16 << 20),
        )


_DEFAULT_LIMITS = ValidationLimits()


def _first_unprintable(text: str) -> int:
    """The first control character (C0, DEL, C1) or U+FFFD, counted in UTF-16 units as Java counts, or -1."""
    if text.isascii() and text.isprintable():  # the common case in C: no C0, no DEL, nothing beyond ASCII
        return -1
    utf16 = 0
    for c in text:
        o = ord(c)
        if o < 0x20 or 0x7F <= o < 0xA0 or o == 0xFFFD:
            return utf16
        utf16 += 2 if o > 0xFFFF else 1
    return -1


def check(
    event: EmbeddingEvent, limits: ValidationLimits | None = None, vector: array[float] | None = None
) -> ValidationError | None:
    """The first rule the event breaks, in the pipeline's order, or None if it may be sealed.

    :param vector: the event's vector already as float32 (``float32_array``), to convert it once
    """
    limits = limits or _DEFAULT_LIMITS
    broken = check_ids(event.tenant_id, event.embedding_id, limits)
    if broken is not None:
        return broken
    return _check_values(event, limits, vector)


def check_ids(tenant: str, eid: str, limits: ValidationLimits | None = None) -> ValidationError | None:
    """The first rule a tenant id and embedding id break (the first rules of ``check``, in its order), or None."""
    limits = limits or _DEFAULT_LIMITS
    if not tenant:
        return ValidationError(Rule.MISSING_TENANT, "tenantId is empty")
    if (
        not is_valid_tenant_id(tenant)
        or len(tenant) > limits.tenant_id_max_length
        or (limits.tenant_id_pattern is not None and re.fullmatch(limits.tenant_id_pattern, tenant) is None)
    ):
        detail = TENANT_ID_RULE
        if limits.tenant_id_max_length < 64:
            detail += f", at most {limits.tenant_id_max_length} long"
        if limits.tenant_id_pattern is not None:
            detail += f", matching {limits.tenant_id_pattern}"
        return ValidationError(Rule.INVALID_TENANT_ID, detail)
    if not eid:
        return ValidationError(Rule.MISSING_EMBEDDING_ID, "embeddingId is empty")
    id_bytes = len(eid.encode("utf-8", "surrogatepass"))
    if id_bytes > limits.embedding_id_max_bytes:
        return ValidationError(
            Rule.INVALID_EMBEDDING_ID, f"embeddingId is {id_bytes} bytes, more than {limits.embedding_id_max_bytes}"
        )
    bad = _first_unprintable(eid)
    if bad >= 0:
        return ValidationError(
            Rule.INVALID_EMBEDDING_ID,
            f"embeddingId has a control character or U+FFFD at index {bad} (bytes that are not UTF-8 decode to "
            "U+FFFD, so two different ids would collide)",
        )
    return None


def _check_values(
    event: EmbeddingEvent, limits: ValidationLimits, vector: array[float] | None
) -> ValidationError | None:
    tenant = event.tenant_id
    if vector is None:
        try:
            vector = float32_array(event.vector)
        except ValueError as e:
            return ValidationError(Rule.EMPTY_VECTOR if len(event.vector) == 0 else Rule.TOO_MANY_DIMENSIONS, str(e))
    dims = len(vector)
    if dims == 0:
        return ValidationError(Rule.EMPTY_VECTOR, "vector has no values")
    if dims > limits.max_dimensions:
        return ValidationError(
            Rule.TOO_MANY_DIMENSIONS, f"vector has {dims} dimensions, more than the maximum {limits.max_dimensions}"
        )
    for_tenant = limits.dimensions_by_tenant.get(tenant)
    if for_tenant is not None and dims != for_tenant:
        return ValidationError(
            Rule.DIMENSION_MISMATCH, f"vector has {dims} dimensions; tenant {tenant} uses {for_tenant}"
        )
    for_model = limits.dimensions_by_model.get(event.model)
    if for_model is not None and dims != for_model:
        model = event.model if len(event.model) <= 64 else event.model[:64] + "..."
        return ValidationError(
            Rule.DIMENSION_MISMATCH, f"vector has {dims} dimensions; model {model} produces {for_model}"
        )
    nonfinite = first_non_finite(vector)
    if nonfinite >= 0:
        return ValidationError(Rule.NON_FINITE_VALUE, f"vector[{nonfinite}] is not a finite number")
    if event.metadata is not None:
        entries = len(event.metadata)
        if entries > limits.metadata_max_entries:
            return ValidationError(
                Rule.METADATA_TOO_LARGE, f"metadata has {entries} entries, more than {limits.metadata_max_entries}"
            )
        size = sum(len(k.encode("utf-8")) + len(v.encode("utf-8")) for k, v in event.metadata.items())
        if size > limits.metadata_max_bytes:
            return ValidationError(
                Rule.METADATA_TOO_LARGE, f"metadata is {size} bytes, more than {limits.metadata_max_bytes}"
            )
    return None


@functools.lru_cache(maxsize=64)
def _lane_masks(n: int) -> tuple[int, int, int]:
    """For ``n`` float32 lanes of one big integer: every lane's exponent bits, its lowest exponent bit, its top bit."""
    lanes = sum(1 << (32 * i) for i in range(n))
    return 0x7F800000 * lanes, 0x00800000 * lanes, 0x80000000 * lanes


def first_non_finite(values: array[float]) -> int:
    """The index of the first NaN or infinity, or -1.

    A float32 is NaN or infinite exactly when its 8 exponent bits are all ones. All values are checked at once over
    the raw bits (the Java side also reads raw bits): the vector as one integer, each 32-bit lane's exponent bits kept,
    plus the lowest exponent bit, carries into the lane's top bit only when all eight were set (it never crosses into
    the next lane). The slow scan runs only to name the position.
    """
    exponent, carry, top = _lane_masks(len(values))
    bits = int.from_bytes(values.tobytes(), sys.byteorder)
    if not ((bits & exponent) + carry) & top:
        return -1
    for i, v in enumerate(values):
        if not math.isfinite(v):
            return i
    return -1


# ---------------------------------------------------------------------------------------------------------------------
# The canonical Avro binary form


_SMALL_LONGS = [bytes(((n << 1),)) for n in range(64)]


def _long(n: int) -> bytes:
    if 0 <= n < 64:  # string lengths and the like: one byte
        return _SMALL_LONGS[n]
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z & ~0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def _string(s: str) -> bytes:
    b = s.encode("utf-8")
    return _long(len(b)) + b


_LITTLE = sys.byteorder == "little"


def encode_canonical(event: EmbeddingEvent, vector: array[float] | None = None) -> bytes:
    """The event's Avro binary encoding under the canonical schema, no prefix: what envelopes carry (payload type 1)
    and what the Java side's ``EmbeddingEventCodec.toCanonicalAvro`` writes, byte for byte."""
    vector = float32_array(event.vector) if vector is None else vector
    if not _LITTLE:
        vector = array("f", vector)
        vector.byteswap()
    parts = [_string(event.tenant_id), _string(event.embedding_id), _string(event.model)]
    if len(vector):
        parts += [_long(len(vector)), vector.tobytes(), b"\x00"]
    else:
        parts.append(b"\x00")
    if event.metadata is None:
        parts.append(b"\x00")
    else:
        parts.append(b"\x02")
        if event.metadata:
            parts.append(_long(len(event.metadata)))
            for k, v in event.metadata.items():
                parts += [_string(k), _string(v)]
        parts.append(b"\x00")
    parts.append(_long(event.event_time_ms))
    return b"".join(parts)


class _In:
    __slots__ = ("b", "i")

    def __init__(self, b: bytes) -> None:
        self.b = b
        self.i = 0

    def long(self) -> int:
        shift = z = 0
        while True:
            if self.i >= len(self.b) or shift > 63:
                raise ValueError("bad Avro long")
            c = self.b[self.i]
            self.i += 1
            z |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                return (z >> 1) ^ -(z & 1)

    def take(self, n: int) -> bytes:
        if n < 0 or self.i + n > len(self.b):
            raise ValueError("truncated Avro value")
        out = self.b[self.i : self.i + n]
        self.i += n
        return out

    def string(self) -> str:
        return self.take(self.long()).decode("utf-8")

    def blocks(self) -> Any:
        while True:
            n = self.long()
            if n == 0:
                return
            if n < 0:
                self.long()  # the block's size in bytes
                n = -n
            yield n


def decode_canonical(payload: bytes) -> EmbeddingEvent:
    """Reads the canonical Avro binary form.

    :raises ValueError: if the bytes are not exactly one canonical event
    """
    r = _In(payload)
    tenant, eid, model = r.string(), r.string(), r.string()
    vector = array("f")
    for n in r.blocks():
        chunk = array("f", r.take(4 * n))
        if not _LITTLE:
            chunk.byteswap()
        vector.extend(chunk)
    union = r.long()
    metadata: dict[str, str] | None
    if union == 0:
        metadata = None
    elif union == 1:
        metadata = {}
        for n in r.blocks():
            for _ in range(n):
                k = r.string()
                metadata[k] = r.string()
    else:
        raise ValueError("bad metadata union index")
    time_ms = r.long()
    if r.i != len(payload):
        raise ValueError("bytes after the event")
    return EmbeddingEvent(tenant, eid, model, vector, time_ms, metadata)


__all__ = [
    "EmbeddingEvent",
    "Rule",
    "ValidationError",
    "ValidationLimits",
    "check",
    "decode_canonical",
    "embedding_event_schema",
    "encode_canonical",
    "float32_array",
]
