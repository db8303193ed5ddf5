"""Writes testvectors/envelope-vectors.json: the shared test vectors both test suites check byte for byte.

The envelope vectors are docs/envelope-format.md's (computed there with plain AES-GCM); the public-key wraps are made
here with `cryptography`'s primitives directly, not through the embedseal package. Run it only to add a vector:
`python clients/python/tests/generate_vectors.py` (the RSA key and X25519 key below are test keys, nothing else).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

OUT = Path(__file__).resolve().parents[3] / "testvectors" / "envelope-vectors.json"


def seq(start: int, n: int) -> bytes:
    return bytes(range(start, start + n))


def zigzag(n: int) -> bytes:
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z & ~0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def avro_string(s: str) -> bytes:
    b = s.encode()
    return zigzag(len(b)) + b


def main() -> None:
    kek, dek, dek_id = seq(0x00, 32), seq(0x20, 32), seq(0x40, 16)
    tenant, eid, purpose = "acme", "doc-1#0", "embeddings.sealed"
    binding = b"embedseal.dek.v1\x00" + bytes([len(tenant)]) + tenant.encode() + dek_id
    wrap_nonce = seq(0x50, 12)
    wrapped = b"\x01" + bytes.fromhex("0a0b0c0d") + wrap_nonce + AESGCM(kek).encrypt(wrap_nonce, dek, binding)
    vector = [0.25, -1.5, 3.0, 0.125]
    payload = (
        avro_string(tenant)
        + avro_string(eid)
        + avro_string("test-model")
        + zigzag(len(vector))
        + struct.pack("<4f", *vector)
        + b"\x00"
        + b"\x00"
        + zigzag(1700000000000)
    )
    payload_meta = (
        avro_string(tenant)
        + avro_string(eid)
        + avro_string("test-model")
        + zigzag(len(vector))
        + struct.pack("<4f", *vector)
        + b"\x00"
        + b"\x02"
        + zigzag(1)
        + avro_string("lang")
        + avro_string("en")
        + b"\x00"
        + zigzag(1700000000000)
    )
    ref = b"local:tenant-acme:1"

    def v2(kind: int, version: tuple[int, int], nonce: bytes, plaintext: bytes) -> bytes:
        ad = (
            b"ESL\x02"
            + bytes([kind, len(tenant)])
            + tenant.encode()
            + len(eid).to_bytes(2, "big")
            + eid.encode()
            + bytes([len(purpose)])
            + purpose.encode()
            + struct.pack(">QQ", *version)
            + b"\x10"
            + dek_id
            + (len(plaintext) + 28).to_bytes(4, "big")
        )
        slot = bytes([len(ref)]) + ref + len(wrapped).to_bytes(2, "big") + wrapped
        return ad + slot + nonce + AESGCM(dek).encrypt(nonce, plaintext, ad)

    header1 = (
        b"ESL\x01\x01"
        + bytes([len(tenant)])
        + tenant.encode()
        + len(eid).to_bytes(2, "big")
        + eid.encode()
        + bytes([len(ref)])
        + ref
        + b"\x10"
        + dek_id
        + len(wrapped).to_bytes(2, "big")
        + wrapped
        + (len(payload) + 28).to_bytes(4, "big")
    )
    envelope1 = header1 + seq(0x60, 12) + AESGCM(dek).encrypt(seq(0x60, 12), payload, header1)

    common = {
        "kek": kek.hex(),
        "kek_tink_key_id": "0a0b0c0d",
        "kek_ref": ref.decode(),
        "dek": dek.hex(),
        "dek_id": dek_id.hex(),
        "wrap_nonce": wrap_nonce.hex(),
        "wrapped_dek": wrapped.hex(),
        "tenant": tenant,
        "embedding_id": eid,
        "purpose": purpose,
    }
    envelopes = [
        dict(
            common,
            name="v2 record",
            format_version=2,
            payload_type=1,
            event_time_ms=1700000000000,
            sequence=7,
            record_nonce=seq(0x60, 12).hex(),
            payload=payload.hex(),
            envelope=v2(1, (1700000000000, 7), seq(0x60, 12), payload).hex(),
        ),
        dict(
            common,
            name="v2 delete marker",
            format_version=2,
            payload_type=3,
            event_time_ms=1700000000001,
            sequence=8,
            record_nonce=seq(0x70, 12).hex(),
            payload="",
            envelope=v2(3, (1700000000001, 8), seq(0x70, 12), b"").hex(),
        ),
        dict(
            common,
            name="v2 record with metadata",
            format_version=2,
            payload_type=1,
            event_time_ms=1700000000000,
            sequence=9,
            record_nonce=seq(0x80, 12).hex(),
            payload=payload_meta.hex(),
            envelope=v2(1, (1700000000000, 9), seq(0x80, 12), payload_meta).hex(),
        ),
        dict(
            common,
            name="v1 record",
            format_version=1,
            payload_type=1,
            event_time_ms=0,
            sequence=0,
            record_nonce=seq(0x60, 12).hex(),
            payload=payload.hex(),
            envelope=envelope1.hex(),
        ),
    ]
    events = [
        {
            "name": "no metadata",
            "tenant": tenant,
            "embedding_id": eid,
            "model": "test-model",
            "vector": vector,
            "metadata": None,
            "event_time_ms": 1700000000000,
            "canonical_avro": payload.hex(),
            "schema_id": 1,
            "confluent_wire": ("00" + "00000001" + payload.hex()),
        },
        {
            "name": "one metadata entry",
            "tenant": tenant,
            "embedding_id": eid,
            "model": "test-model",
            "vector": vector,
            "metadata": {"lang": "en"},
            "event_time_ms": 1700000000000,
            "canonical_avro": payload_meta.hex(),
            "schema_id": 1,
            "confluent_wire": ("00" + "00000001" + payload_meta.hex()),
        },
    ]
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    one_use = seq(0x90, 32)
    c1 = rsa_key.public_key().encrypt(
        one_use, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    )
    rsa_wrap = b"ESPK\x01" + len(c1).to_bytes(2, "big") + c1 + AESGCM(one_use).encrypt(bytes(12), dek, binding)
    x_key = x25519.X25519PrivateKey.from_private_bytes(seq(0xA0, 32))
    hpke_wrap = b"ESPK\x02" + Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM).encrypt(
        dek, x_key.public_key(), info=binding
    )

    def spki(k: rsa.RSAPrivateKey | x25519.X25519PrivateKey) -> str:
        return (
            k.public_key()
            .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            .hex()
        )

    def pkcs8(k: rsa.RSAPrivateKey | x25519.X25519PrivateKey) -> str:
        return k.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).hex()

    wraps = [
        {
            "name": "RSA-3072 (vault, pkcs11)",
            "algorithm": "RSA_OAEP_SHA256",
            "kek_ref": "vault:tenant-acme:1",
            "private_key_pkcs8": pkcs8(rsa_key),
            "spki": spki(rsa_key),
            "tenant": tenant,
            "dek_id": dek_id.hex(),
            "binding": binding.hex(),
            "dek": dek.hex(),
            "wrapped": rsa_wrap.hex(),
        },
        {
            "name": "X25519 HPKE (local)",
            "algorithm": "HPKE_X25519",
            "kek_ref": "local:tenant-acme:1",
            "private_key_pkcs8": pkcs8(x_key),
            "spki": spki(x_key),
            "tenant": tenant,
            "dek_id": dek_id.hex(),
            "binding": binding.hex(),
            "dek": dek.hex(),
            "wrapped": hpke_wrap.hex(),
        },
    ]
    base = bytes.fromhex(envelopes[0]["envelope"])  # type: ignore[arg-type]
    refusals = [
        {"name": "empty", "envelope": "", "reason": "NOT_AN_ENVELOPE"},
        {"name": "wrong magic", "envelope": ("45534d" + base[3:].hex()), "reason": "NOT_AN_ENVELOPE"},
        {
            "name": "format version 9",
            "envelope": base[:3].hex() + "09" + base[4:].hex(),
            "reason": "UNSUPPORTED_VERSION",
        },
        {"name": "payload type 7", "envelope": base[:4].hex() + "07" + base[5:].hex(), "reason": "UNSUPPORTED_PAYLOAD"},
        {"name": "truncated in the ciphertext", "envelope": base[:-1].hex(), "reason": "TRUNCATED"},
        {"name": "one byte after the ciphertext", "envelope": base.hex() + "00", "reason": "MALFORMED"},
        {
            "name": "tenant id length 0",
            "envelope": base[:5].hex() + "00" + base[6:].hex(),
            "reason": "FIELD_OUT_OF_BOUNDS",
        },
        {
            "name": "tenant id breaks the rule",
            "envelope": base[:6].hex() + "2d" + base[7:].hex(),
            "reason": "MALFORMED",
        },
        {"name": "purpose with a space", "envelope": base[:20].hex() + "20" + base[21:].hex(), "reason": "MALFORMED"},
        {
            "name": "DEK id length 15",
            "envelope": base[:53].hex() + "0f" + base[54:].hex(),
            "reason": "FIELD_OUT_OF_BOUNDS",
        },
    ]
    assert base[53] == 0x10 and base[20:37] == purpose.encode()
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "about": "Shared test vectors: the Java suite (client: SharedTestVectorsTest) and the Python suite "
                "(clients/python/tests/test_vectors.py) check every one byte for byte. See docs/envelope-format.md. "
                "The keys here are test keys.",
                "envelopes": envelopes,
                "events": events,
                "public_key_wraps": wraps,
                "parse_refusals": refusals,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
