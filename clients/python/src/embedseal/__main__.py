"""``python -m embedseal produce-raw``: publishes embedding events (JSON lines) to the raw topic, validated as the
pipeline validates them, in Confluent wire format.

    python -m embedseal produce-raw --bootstrap kafka:9092 --topic embeddings.raw --registry http://registry:8081 \\
        --input events.jsonl

Each line is one event: ``{"tenantId": ..., "embeddingId": ..., "model": ..., "vector": [...], "metadata": {...} or
null, "eventTime": <ms since the epoch>}``. A line that breaks a rule is not sent; the summary (a JSON line on standard
output) counts it under its rule. ``--schema-id N`` instead of ``--registry`` writes for a registry this client cannot
reach, where the project's schema already has id N (the demo's in-memory registry).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from .events import EmbeddingEvent, ValidationError
from .serde import RawEventSerializer


def _produce_raw(a: argparse.Namespace) -> int:
    from confluent_kafka import Producer
    from confluent_kafka.serialization import MessageField, SerializationContext

    if (a.registry is None) == (a.schema_id is None):
        sys.exit("give one of --registry URL or --schema-id N")
    if a.registry is not None:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        serializer = RawEventSerializer(SchemaRegistryClient({"url": a.registry}))
    else:
        serializer = RawEventSerializer.with_schema_id(a.schema_id)
    producer = Producer({"bootstrap.servers": a.bootstrap, "enable.idempotence": True, "linger.ms": 5})
    ctx = SerializationContext(a.topic, MessageField.VALUE)
    refused: Counter[str] = Counter()
    failed: list[str] = []
    sent = 0

    def delivered(err: object, _msg: object) -> None:
        if err is not None:
            failed.append(str(err))

    lines = sys.stdin if a.input == "-" else Path(a.input).open(encoding="utf-8")
    with lines:
        for line in lines:
            if not line.strip():
                continue
            try:
                r: dict[str, Any] = json.loads(line)
                event = EmbeddingEvent(
                    str(r["tenantId"]),
                    str(r["embeddingId"]),
                    str(r["model"]),
                    [float(v) for v in r["vector"]],
                    int(r["eventTime"]),
                    r.get("metadata"),
                )
            except (ValueError, KeyError, TypeError):
                refused["UNDECODABLE"] += 1  # the pipeline's name for a record it cannot read
                continue
            try:
                value = serializer(event, ctx)
            except ValidationError as e:
                refused[e.rule.value] += 1
                continue
            producer.produce(
                a.topic,
                key=f"{event.tenant_id}/{event.embedding_id}".encode(),
                value=value,
                on_delivery=delivered,
            )
            sent += 1
            producer.poll(0)
    remaining = producer.flush(60)
    import confluent_kafka

    client = f"confluent-kafka {confluent_kafka.__version__}, librdkafka {confluent_kafka.libversion()[0]}"
    print(
        json.dumps({"sent": sent, "refused": dict(refused), "undelivered": remaining + len(failed), "client": client})
    )
    return 1 if remaining or failed else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m embedseal")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("produce-raw", help="publish JSON-lines embedding events to the raw topic")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", default="embeddings.raw")
    p.add_argument("--registry", help="the schema registry's URL (Confluent's client)")
    p.add_argument("--schema-id", type=int, help="the project's schema's id, for a registry not reachable from here")
    p.add_argument("--input", default="-", help="a JSON-lines file, or - for standard input")
    a = ap.parse_args(argv)
    return _produce_raw(a)


if __name__ == "__main__":
    sys.exit(main())
