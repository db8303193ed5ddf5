"""The shared test vectors (testvectors/envelope-vectors.json), byte for byte: the Java suite checks the same file
(client: SharedTestVectorsTest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from conftest import write_aes_keyset, write_hpke_keyset
from embedseal import envelope as env
from embedseal.envelope import EnvelopeError, KekRef, PayloadType, RecordVersion
from embedseal.events import EmbeddingEvent, decode_canonical, encode_canonical
from embedseal.kms import LocalKeysets, rsa_unwrap


def test_our_sealer_writes_every_v2_vector_byte_for_byte(vectors: dict[str, Any]) -> None:
    for v in (e for e in vectors["envelopes"] if e["format_version"] == 2):
        slot = env.key_slot(KekRef.parse(v["kek_ref"]), bytes.fromhex(v["wrapped_dek"]))
        out = env.seal(
            AESGCM(bytes.fromhex(v["dek"])),
            bytes.fromhex(v["dek_id"]),
            slot,
            PayloadType(v["payload_type"]),
            v["tenant"],
            v["embedding_id"],
            v["purpose"],
            RecordVersion(v["event_time_ms"], v["sequence"]),
            bytes.fromhex(v["payload"]),
            nonce=bytes.fromhex(v["record_nonce"]),
        )
        assert out.hex() == v["envelope"], v["name"]


def test_every_vector_opens_under_the_local_kms_holding_the_kek(vectors: dict[str, Any], tmp_path: Path) -> None:
    first = vectors["envelopes"][0]
    write_aes_keyset(tmp_path, "tenant-acme", [(int(first["kek_tink_key_id"], 16), bytes.fromhex(first["kek"]))])
    kms = LocalKeysets({"kms.local.dir": str(tmp_path)})
    for v in vectors["envelopes"]:
        data = bytes.fromhex(v["envelope"])
        h = env.parse(data)
        assert (h.format_version, h.tenant_id, h.embedding_id, str(h.kek)) == (
            v["format_version"],
            v["tenant"],
            v["embedding_id"],
            v["kek_ref"],
        )
        dek = kms.unwrap(h.kek, h.wrapped_dek, env.dek_binding(h.tenant_id, h.dek_id))
        assert dek.hex() == v["dek"]
        assert env.open_payload(data, h, AESGCM(dek)).hex() == v["payload"], v["name"]


def test_events_encode_to_the_canonical_avro_of_the_vectors(vectors: dict[str, Any]) -> None:
    for v in vectors["events"]:
        e = EmbeddingEvent(v["tenant"], v["embedding_id"], v["model"], v["vector"], v["event_time_ms"], v["metadata"])
        assert encode_canonical(e).hex() == v["canonical_avro"], v["name"]
        back = decode_canonical(bytes.fromhex(v["canonical_avro"]))
        assert list(back.vector) == v["vector"] and back.metadata == v["metadata"]


def test_confluents_avro_serializer_writes_the_wire_format_of_the_vectors(vectors: dict[str, Any]) -> None:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.serialization import MessageField, SerializationContext

    from embedseal.serde import RawEventSerializer

    for v in vectors["events"]:
        registry = SchemaRegistryClient.new_client({"url": "mock://vectors-" + v["name"].replace(" ", "-")})
        serializer = RawEventSerializer(registry)
        e = EmbeddingEvent(v["tenant"], v["embedding_id"], v["model"], v["vector"], v["event_time_ms"], v["metadata"])
        wire = serializer(e, SerializationContext("embeddings.raw", MessageField.VALUE))
        assert wire is not None and wire.hex() == v["confluent_wire"], v["name"]
        assert registry.get_latest_version("embeddings.raw-value").schema_id == v["schema_id"]


def test_public_key_wraps_of_the_vectors_open(vectors: dict[str, Any], tmp_path: Path) -> None:
    for v in vectors["public_key_wraps"]:
        private = serialization.load_der_private_key(bytes.fromhex(v["private_key_pkcs8"]), None)
        binding = bytes.fromhex(v["binding"])
        assert binding == env.dek_binding(v["tenant"], bytes.fromhex(v["dek_id"]))
        wrapped = bytes.fromhex(v["wrapped"])
        if v["algorithm"] == "RSA_OAEP_SHA256":
            assert isinstance(private, rsa.RSAPrivateKey)
            oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
            key: rsa.RSAPrivateKey = private
            assert rsa_unwrap(wrapped, binding, lambda c1, key=key, oaep=oaep: key.decrypt(c1, oaep)).hex() == v["dek"]
        else:
            raw = private.private_bytes(  # type: ignore[union-attr]
                serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
            )
            write_hpke_keyset(tmp_path, "tenant-acme", [raw])
            kms = LocalKeysets({"kms.local.dir": str(tmp_path)})
            assert kms.unwrap(KekRef.parse(v["kek_ref"]), wrapped, binding).hex() == v["dek"]


def test_every_malformed_envelope_is_refused_with_the_vectors_reason(vectors: dict[str, Any]) -> None:
    for v in vectors["parse_refusals"]:
        with pytest.raises(EnvelopeError) as refused:
            env.parse(bytes.fromhex(v["envelope"]))
        assert refused.value.reason.name == v["reason"], v["name"]


def test_the_package_carries_the_projects_schemas() -> None:
    from embedseal.events import schema_dir

    packaged = schema_dir()
    assert packaged.parent.name == "embedseal", "a wheel must carry the schemas, not find them in a checkout"
    repo = Path(__file__).resolve().parents[3] / "schemas" / "src" / "main" / "avro"
    for name in ("EmbeddingEvent.avsc", "KeyEvent.avsc", "SignedKeyEvent.avsc"):
        assert (packaged / name).read_bytes() == (repo / name).read_bytes()
    assert sorted(p.name for p in (packaged / "legacy").glob("*.avsc")) == [
        "KeyEvent-v1.avsc",
        "KeyEvent-v2.avsc",
        "KeyEvent-v3.avsc",
    ]


def test_the_fixed_schema_id_serializer_writes_what_confluents_writes(vectors: dict[str, Any]) -> None:
    from embedseal.serde import RawEventSerializer

    for v in vectors["events"]:
        e = EmbeddingEvent(v["tenant"], v["embedding_id"], v["model"], v["vector"], v["event_time_ms"], v["metadata"])
        wire = RawEventSerializer.with_schema_id(v["schema_id"])(e, None)
        assert wire is not None and wire.hex() == v["confluent_wire"], v["name"]
