"""The Python side of the cross-language tests on a real broker (run by the Java suite, e.g. the sinks module's
PythonClientSinkIntegrationTest, from the build's virtualenv). Not a pytest module.

    crosslang.py seal  --bootstrap B --topic T --settings F --tenant X --count N --dims D [--tamper]
    crosslang.py open  --bootstrap B --topic T --settings F --expect N
    crosslang.py raw   --bootstrap B --topic T --tenant X --count N --dims D --schema-id I
    crosslang.py seal-following --bootstrap B --topic T --settings F --tenants X,Y,Z

Vectors are a formula both languages compute: ``v[j] = float32(((i * 31 + j * 7) % 97) / 97 - 0.5)`` for ``doc-i``.
``open`` prints one JSON line per record: the key and the vector, or the refusal's reason.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from embedseal import (
    EmbeddingEvent,
    EnvelopeError,
    SealingError,
    SealingSerializer,
    UnsealingDeserializer,
    read_properties,
)
from embedseal.serde import key_event_follower, record_key


def vector(i: int, dims: int) -> list[float]:
    return [((i * 31 + j * 7) % 97) / 97 - 0.5 for j in range(dims)]


def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    errors: list[str] = []
    for key, value in records:
        p.produce(topic, value=value, key=key, on_delivery=lambda err, _m: err and errors.append(str(err)))
    if p.flush(30) != 0 or errors:
        sys.exit(f"not every record was delivered: {errors[:3]}")


def seal(a: argparse.Namespace) -> None:
    sealer = SealingSerializer(read_properties(a.settings))
    now = int(time.time() * 1000)
    records = []
    for i in range(a.count):
        eid = f"doc-{i}"
        value = sealer(EmbeddingEvent(a.tenant, eid, "crosslang", vector(i, a.dims), now, {"lang": "py"}))
        assert value is not None
        records.append((record_key(a.tenant, eid), value))
    if a.tamper:
        value = bytearray(sealer(EmbeddingEvent(a.tenant, "doc-tampered", "crosslang", vector(0, a.dims), now)) or b"")
        value[-1] ^= 1  # the tag's last byte: the envelope still parses
        records.append((record_key(a.tenant, "doc-tampered"), bytes(value)))
    produce(a.bootstrap, a.topic, records)
    print(json.dumps({"sent": len(records), "kms_wraps": sealer.keyring.kms_wraps}))


def seal_following(a: argparse.Namespace) -> None:
    """Seals one record per tenant with a sealer that follows the signed key events: prints each tenant's outcome."""
    settings = read_properties(a.settings)
    follower = key_event_follower(settings)
    if not follower.wait_caught_up(30):
        sys.exit("the key-event topic was not read to its end in 30 s")
    sealer = SealingSerializer(settings, key_events=follower)
    outcome: dict[str, str] = {}
    for tenant in a.tenants.split(","):
        try:
            sealer(EmbeddingEvent(tenant, "doc-0", "crosslang", vector(0, a.dims), int(time.time() * 1000)))
            outcome[tenant] = "sealed"
        except SealingError as e:
            outcome[tenant] = f"refused: {e}"
    outcome["kms_wraps"] = str(sealer.keyring.kms_wraps)
    follower.close()
    print(json.dumps(outcome))


def open_all(a: argparse.Namespace) -> None:
    opener = UnsealingDeserializer(read_properties(a.settings))
    c = Consumer(
        {
            "bootstrap.servers": a.bootstrap,
            "group.id": "crosslang",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    meta = c.list_topics(a.topic, timeout=10)
    c.assign([TopicPartition(a.topic, p, 0) for p in meta.topics[a.topic].partitions])
    seen = 0
    deadline = time.monotonic() + 60
    while seen < a.expect and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        seen += 1
        out: dict[str, Any] = {"key": (m.key() or b"").decode()}
        try:
            u = opener.unseal(m.key(), m.value() or b"")
            assert u.event is not None
            out["vector"] = list(u.event.vector)
            out["version"] = [u.version.event_time_ms, u.version.sequence]
        except EnvelopeError as e:
            out["reason"] = e.reason.name
        print(json.dumps(out), flush=True)
    c.close()
    if seen < a.expect:
        sys.exit(f"read {seen} of {a.expect} records")


def raw(a: argparse.Namespace) -> None:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.serialization import MessageField, SerializationContext

    from embedseal import RawEventSerializer

    if a.registry:
        registry = SchemaRegistryClient({"url": a.registry})
    else:  # the Java side registered the same schema under the same id in its in-memory registry
        registry = SchemaRegistryClient.new_client({"url": "mock://crosslang"})
    serializer = RawEventSerializer(registry)
    ctx = SerializationContext(a.topic, MessageField.VALUE)
    now = int(time.time() * 1000)
    records = []
    for i in range(a.count):
        e = EmbeddingEvent(a.tenant, f"doc-{i}", "crosslang", vector(i, a.dims), now)
        wire = serializer(e, ctx)
        assert wire is not None and int.from_bytes(wire[1:5], "big") == a.schema_id
        records.append((f"{a.tenant}/doc-{i}".encode(), wire))
    produce(a.bootstrap, a.topic, records)
    print(json.dumps({"sent": len(records)}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["seal", "open", "raw", "seal-following"])
    ap.add_argument("--tenants")
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--settings")
    ap.add_argument("--tenant")
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--dims", type=int, default=16)
    ap.add_argument("--expect", type=int, default=0)
    ap.add_argument("--tamper", action="store_true")
    ap.add_argument("--schema-id", type=int, default=1)
    ap.add_argument("--registry")
    a = ap.parse_args()
    {"seal": seal, "open": open_all, "raw": raw, "seal-following": seal_following}[a.command](a)


if __name__ == "__main__":
    main()
