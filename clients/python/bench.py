"""The Python client's sealing cost beside AES-GCM's own, on one core (docs/performance.md, "The Python client").

    clients/python/target/venv/bin/python clients/python/bench.py [--dims 384,1536] [--seconds 3] [--runs 5]

Per dimension, in alternated runs: ``serializer`` is SealingSerializer on an EmbeddingEvent (validation, canonical
Avro, envelope, AES-GCM; the DEK wrapped once with an X25519 public key); ``seal`` the envelope alone of the pre-encoded
payload; ``aes-gcm`` cryptography's AESGCM.encrypt of the same payload bytes with the same associated data (the floor).
Prints records/s (median of the runs) and the ratios, and a JSON line.
"""

# ruff: noqa: B023 - each lambda is called only within its own loop iteration
from __future__ import annotations

import argparse
import base64
import json
import os
import random
import statistics
import sys
import tempfile
import time
from array import array
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from embedseal import EmbeddingEvent, SealingSerializer
from embedseal import envelope as env
from embedseal.events import encode_canonical


def rate(fn: Callable[[], object], seconds: float) -> float:
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            fn()
        n += 200
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dims", default="384,1536")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    spki = (
        x25519.X25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    keks = Path(tempfile.mkdtemp()) / "public-keks.properties"
    keks.write_text("acme=local:tenant-acme:1:" + base64.b64encode(spki).decode() + "\n")
    sealer = SealingSerializer({"embedseal.public-keks.file": str(keks)})
    results = []
    for dims in (int(d) for d in a.dims.split(",")):
        rnd = random.Random(dims)
        event = EmbeddingEvent(
            "acme",
            "doc-000123#chunk-0",
            "all-MiniLM-L6-v2",
            [rnd.uniform(-1, 1) for _ in range(dims)],
            1_700_000_000_000,
        )
        array_event = EmbeddingEvent(
            event.tenant_id, event.embedding_id, event.model, array("f", event.vector), event.event_time_ms
        )
        payload = encode_canonical(event)
        dek = sealer.keyring.sealing_dek("acme")
        version = env.RecordVersion(1_700_000_000_000, 1)
        ad = env.associated_data(
            env.PayloadType.EMBEDDING_EVENT_AVRO,
            b"acme",
            event.embedding_id.encode(),
            b"embeddings.sealed",
            version,
            dek.dek_id,
            len(payload),
        )
        aead = AESGCM(os.urandom(32))
        cases: dict[str, Callable[[], object]] = {
            "serializer": lambda event=event: sealer(event),
            "serializer(array)": lambda e=array_event: sealer(e),
            "seal": lambda payload=payload, dek=dek, eid=event.embedding_id: env.seal(
                dek.aead,
                dek.dek_id,
                dek.slot,
                env.PayloadType.EMBEDDING_EVENT_AVRO,
                "acme",
                eid,
                "embeddings.sealed",
                version,
                payload,
            ),
            "aes-gcm": lambda payload=payload, ad=ad: aead.encrypt(os.urandom(12), payload, ad),
        }
        runs: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(a.runs):
            for name, fn in cases.items():
                runs[name].append(rate(fn, a.seconds))
        med = {k: statistics.median(v) for k, v in runs.items()}
        row = {
            "dims": dims,
            "payload_bytes": len(payload),
            "records_per_s": {k: round(v) for k, v in med.items()},
            "us_per_record": {k: round(1e6 / v, 2) for k, v in med.items()},
            "serializer_over_aes_gcm": round(med["aes-gcm"] / med["serializer"], 2),
            "serializer_array_over_aes_gcm": round(med["aes-gcm"] / med["serializer(array)"], 2),
            "seal_over_aes_gcm": round(med["aes-gcm"] / med["seal"], 2),
            "runs": a.runs,
        }
        results.append(row)
        print(
            f"{dims:>5} dims, {len(payload)} B: records/s serializer {med['serializer']:,.0f} / from array('f') "
            f"{med['serializer(array)']:,.0f} / seal {med['seal']:,.0f} "
            f"/ aes-gcm {med['aes-gcm']:,.0f}; µs: {row['us_per_record']}; cost over AES-GCM: serializer "
            f"{row['serializer_over_aes_gcm']}x, seal {row['seal_over_aes_gcm']}x",
            flush=True,
        )
    print(json.dumps({"python": sys.version.split()[0], "results": results}))


if __name__ == "__main__":
    main()
