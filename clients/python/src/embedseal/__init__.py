"""embedseal for Python producers and consumers: seal embeddings per tenant where they are made, in the envelope
the Java pipeline and sinks read (docs/envelope-format.md), and open them again."""

from .envelope import EnvelopeError, KekRef, PayloadType, Reason, RecordVersion
from .events import EmbeddingEvent, Rule, ValidationError, ValidationLimits
from .serde import (
    RawEventSerializer,
    SealingError,
    SealingSerializer,
    UnsealedEmbedding,
    UnsealingDeserializer,
    read_properties,
    record_key,
)

__all__ = [
    "EmbeddingEvent",
    "EnvelopeError",
    "KekRef",
    "PayloadType",
    "RawEventSerializer",
    "Reason",
    "RecordVersion",
    "Rule",
    "SealingError",
    "SealingSerializer",
    "UnsealedEmbedding",
    "UnsealingDeserializer",
    "ValidationError",
    "ValidationLimits",
    "read_properties",
    "record_key",
]
__version__ = "0.1.0"
