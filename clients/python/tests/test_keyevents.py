"""The key-event gate, ported from Java: one attack per rule, each shown to matter (the forged or broken record is
refused and the tenant's state is unchanged, while the same event, correctly made, applies).

Events are built here with fastavro against the project's .avsc files and framed by hand (single-object encoding,
with a fingerprint this file computes by its own implementation of Avro's Parsing Canonical Form and CRC-64-AVRO),
so the reader in ``embedseal.keyevents`` is checked against an independent writer.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, x25519
from fastavro import parse_schema, schemaless_writer
from fastavro.schema import to_parsing_canonical_form

from embedseal import keyevents as ke
from embedseal.keyevents import (
    INVALID_KEY,
    MAX_SEQUENCE_STEP,
    MAX_VALUE_BYTES,
    Decision,
    KeyEventFollower,
    KeyEventGate,
    Refusal,
    TenantState,
    TenantStatus,
)

REPO = Path(__file__).resolve().parents[3]
AVRO = REPO / "schemas" / "src" / "main" / "avro"
LEGACY = REPO / "schemas" / "src" / "main" / "resources" / "io" / "embedseal" / "schemas" / "legacy"
SCHEMA_FILES = {
    1: LEGACY / "KeyEvent-v1.avsc",
    2: LEGACY / "KeyEvent-v2.avsc",
    3: LEGACY / "KeyEvent-v3.avsc",
    4: AVRO / "KeyEvent.avsc",
}
SIGNED_FILE = AVRO / "SignedKeyEvent.avsc"

# What Java's SchemaNormalization.parsingFingerprint64 gives for each writer schema (derived by its algorithm, below).
FINGERPRINTS = {
    "KeyEvent": 0x23F8547726702C47,
    "KeyEvent-v1": 0x8F0978E2EBCB474A,
    "KeyEvent-v2": 0xB6D3E570BB6B5152,
    "KeyEvent-v3": 0x13370DA8D898D7EE,
    "SignedKeyEvent": 0xBD1833EC9E44F573,
}
T0 = 1_700_000_000_000


# --- an independent writer: Parsing Canonical Form, CRC-64-AVRO, single-object framing -----------------------------

_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def pcf(schema: Any, env: set[str] | None = None, namespace: str | None = None) -> str:
    """Avro's Parsing Canonical Form, as Java's SchemaNormalization.build(ps=true) writes it."""
    env = set() if env is None else env
    if isinstance(schema, list):
        return "[" + ",".join(pcf(b, env, namespace) for b in schema) + "]"
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return json.dumps(schema)
        return json.dumps(schema if "." in schema or not namespace else f"{namespace}.{schema}")
    kind = schema["type"]
    if isinstance(kind, (dict, list)) or kind in _PRIMITIVES:
        return pcf(kind, env, namespace)  # a logical type is its underlying type here
    name = schema["name"]
    ns = schema.get("namespace", namespace)
    full = name if "." in name or not ns else f"{ns}.{name}"
    if full in env:
        return json.dumps(full)
    env.add(full)
    head = '{"name":' + json.dumps(full) + ',"type":' + json.dumps(kind)
    if kind == "enum":
        return head + ',"symbols":[' + ",".join(json.dumps(s) for s in schema["symbols"]) + "]}"
    if kind == "record":
        fields = [
            '{"name":' + json.dumps(f["name"]) + ',"type":' + pcf(f["type"], env, ns) + "}" for f in schema["fields"]
        ]
        return head + ',"fields":[' + ",".join(fields) + "]}"
    raise AssertionError(f"not used by the key-event schemas: {kind}")


_EMPTY64 = 0xC15D213AA4D7A795
_TABLE = []
for _i in range(256):
    _fp = _i
    for _ in range(8):
        _fp = (_fp >> 1) ^ (_EMPTY64 & -(_fp & 1))
    _TABLE.append(_fp)


def crc64_avro(data: bytes) -> int:
    """Java's SchemaNormalization.fingerprint64."""
    fp = _EMPTY64
    for b in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ b) & 0xFF]
    return fp


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def single_object(schema_json: Any, record: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    schemaless_writer(buf, parse_schema(schema_json), record)
    return b"\xc3\x01" + crc64_avro(pcf(schema_json).encode()).to_bytes(8, "little") + buf.getvalue()


def event_bytes(
    tenant: str,
    type_: str,
    kms: str = "vault",
    kek: str = "tenant-acme",
    version: int = 1,
    *,
    sequence: int = 1,
    authority: str | None = None,
    public_key: bytes | None = None,
    actor: str = "ops",
    reason: str | None = None,
    time_ms: int = T0,
    schema_version: int | None = None,
) -> bytes:
    """A KeyEvent written as Java writes it: the oldest schema that holds it (v2; v3 for MIGRATED; v4 with a key)."""
    if schema_version is None:
        schema_version = 4 if public_key is not None else 3 if type_ == "MIGRATED" else 2
    record: dict[str, Any] = {
        "tenantId": tenant,
        "type": type_,
        "kms": kms,
        "kekName": kek,
        "kekVersion": version,
        "time": time_ms,
        "actor": actor,
        "reason": reason,
    }
    if schema_version >= 2:
        record.update({"sequence": sequence, "authority": authority})
    if schema_version >= 4:
        record["kekPublicKey"] = public_key
    return single_object(load(SCHEMA_FILES[schema_version]), record)


def signed_record(event: bytes, signer: str, signature: bytes) -> bytes:
    return single_object(load(SIGNED_FILE), {"event": event, "signer": signer, "signature": signature})


def varint(value: int) -> bytes:
    """Avro's zig-zag varint."""
    u = ((value << 1) ^ (value >> 63)) & (2**64 - 1)
    out = bytearray()
    while u >= 0x80:
        out.append((u & 0x7F) | 0x80)
        u >>= 7
    return bytes([*out, u])


def context_message(event: bytes) -> bytes:
    return b"embedseal/key-event/v1\x00" + event


def spki_of(public_key: Any) -> bytes:
    der: bytes = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


# --- signing keys and authors ----------------------------------------------------------------------------------


class Signer:
    """A signing key of one of the kinds a KMS holds."""

    def __init__(self, kind: str, private: Any = None) -> None:
        self.kind = kind
        if private is not None:
            self.private = private
        elif kind == "ed25519":
            self.private = ed25519.Ed25519PrivateKey.generate()
        elif kind == "p256":
            self.private = ec.generate_private_key(ec.SECP256R1())
        elif kind == "rsa":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            raise AssertionError(kind)
        self.spki = spki_of(self.private.public_key())
        self.key_id = hashlib.sha256(self.spki).digest()[:16].hex()

    def sign(self, msg: bytes) -> bytes:
        if self.kind == "ed25519":
            sig: bytes = self.private.sign(msg)
        elif self.kind == "p256":
            sig = self.private.sign(msg, ec.ECDSA(hashes.SHA256()))
        else:
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            sig = self.private.sign(msg, pss, hashes.SHA256())
        return sig

    @property
    def authority(self) -> str:
        """The key as a registration names it: base64 of its SubjectPublicKeyInfo."""
        return base64.b64encode(self.spki).decode()


@dataclass
class Author:
    """Writes a tenant's events with one key, counting each tenant's sequence as a CLI does."""

    signer: Signer
    counters: dict[str, int] = field(default_factory=dict)

    def continue_after(self, tenant: str, sequence: int) -> None:
        self.counters[tenant] = sequence

    def next(self, tenant: str, type_: str, *args: Any, sequence: int | None = None, **kwargs: Any) -> bytes:
        seq = self.counters.get(tenant, 0) + 1 if sequence is None else sequence
        self.counters[tenant] = seq
        return self.sign(event_bytes(tenant, type_, *args, sequence=seq, **kwargs))

    def sign(self, event: bytes) -> bytes:
        return signed_record(event, self.signer.key_id, self.signer.sign(context_message(event)))


@pytest.fixture(scope="module")
def keys() -> dict[str, Signer]:
    return {
        "operator": Signer("ed25519"),
        "mallory": Signer("ed25519"),  # what an attacker with write access to the topic signs with
        "acme": Signer("p256"),  # the key acme keeps in its own KMS
        "operator-p256": Signer("p256"),
        "operator-rsa": Signer("rsa"),
    }


@pytest.fixture
def operator(keys: dict[str, Signer]) -> Author:
    return Author(keys["operator"])


@pytest.fixture
def mallory(keys: dict[str, Signer]) -> Author:
    return Author(keys["mallory"])


@pytest.fixture
def acme_authority(keys: dict[str, Signer]) -> Author:
    return Author(keys["acme"])


@pytest.fixture
def gate(keys: dict[str, Signer]) -> KeyEventGate:
    """The gate as the Java pipeline runs it by default: the operator's key trusted, KEK names by the default
    template (``tenant-{tenant}``)."""
    return KeyEventGate([keys["operator"].spki], tenant_for_kek=ke.kek_naming())


def register_acme(gate: KeyEventGate, operator: Author, **kwargs: Any) -> None:
    d = gate.admit("acme", operator.next("acme", "REGISTERED", **kwargs))
    assert d.applied, d.describe()


def status(gate: KeyEventGate, tenant: str = "acme") -> TenantStatus | None:
    s = gate.state(tenant)
    return None if s is None else s.status


@pytest.fixture(scope="module")
def kek_keys() -> dict[str, bytes]:
    """Public KEKs (SubjectPublicKeyInfo): RSA key pairs for vault, X25519 for the local KMS, and bad ones."""
    return {
        "rsa-1": spki_of(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()),
        "rsa-2": spki_of(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()),
        "rsa-1024": spki_of(rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()),
        "x25519": spki_of(x25519.X25519PrivateKey.generate().public_key()),
        "p256": spki_of(ec.generate_private_key(ec.SECP256R1()).public_key()),
    }


# --- compatibility with Java, byte for byte ----------------------------------------------------------------------


def test_fingerprints_are_javas_schema_normalization() -> None:
    """Each writer schema's fingerprint, by an independent Parsing Canonical Form and CRC-64-AVRO, is the one fastavro
    gives, the one the module knows, and the pinned value; the header holds it little-endian."""
    files = {f"KeyEvent-v{n}": SCHEMA_FILES[n] for n in (1, 2, 3)} | {
        "KeyEvent": SCHEMA_FILES[4],
        "SignedKeyEvent": SIGNED_FILE,
    }
    for name, path in files.items():
        schema = load(path)
        assert pcf(schema) == to_parsing_canonical_form(schema), name
        assert crc64_avro(pcf(schema).encode()) == FINGERPRINTS[name], name
    assert ke.known_fingerprints() == FINGERPRINTS
    # CRC-64-AVRO check value (the Avro specification's test vector of the empty string is the initial value)
    assert crc64_avro(b"") == _EMPTY64
    v4 = event_bytes("acme", "REGISTERED", public_key=b"\x30\x00", schema_version=4)
    assert v4[:10] == bytes.fromhex("c301 472c70267754f823")


# A REVOKED of tenant acme (vault:tenant-acme:1, at T0, by "ops", sequence 2) in schema version 2, encoded by hand from
# the Avro specification; then signed with the Ed25519 key whose seed is bytes 0..31.
FIXED_EVENT = bytes.fromhex(
    "c301 52516bbb70e5d3b6"  # marker, fingerprint of KeyEvent-v2
    "08 61636d65"  # tenantId "acme"
    "04"  # type REVOKED (index 2)
    "0a 7661756c74"  # kms "vault"
    "16 74656e616e742d61636d65"  # kekName "tenant-acme"
    "02"  # kekVersion 1
    "80a0abfef962"  # time 1700000000000
    "06 6f7073"  # actor "ops"
    "00"  # reason null
    "04"  # sequence 2
    "00"  # authority null
)
FIXED_SPKI = bytes.fromhex("302a300506032b657003210003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8")
FIXED_KEY_ID = "a050837d85070582ccf7394b0988847c"
FIXED_SIGNED = bytes.fromhex(
    "c30173f5449eec3318bd60c30152516bbb70e5d3b60861636d65040a7661756c741674656e616e742d61636d650280a0abfef96206"
    "6f70730004004061303530383337643835303730353832636366373339346230393838383437638001572389cf6f1d0e8f67e4a1cd"
    "a73338c3da7b5e64812e2c5a790eb6366608f12ebbba8454e8d89e257dce50b22636cdcfa2b43fa8f916035e7e94cdad1158e505"
)


def test_fixed_vector_reads_and_verifies() -> None:
    """A record fixed in bytes (for the cross-language test) is what the independent writer makes, reads back field
    by field, verifies, and is admitted after a registration."""
    assert event_bytes("acme", "REVOKED", sequence=2) == FIXED_EVENT
    fixed = Signer("ed25519", ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
    assert fixed.spki == FIXED_SPKI
    assert ke.key_id(FIXED_SPKI) == fixed.key_id == FIXED_KEY_ID
    assert Author(fixed).sign(FIXED_EVENT) == FIXED_SIGNED  # Ed25519 is deterministic

    r = ke.read("acme", FIXED_SIGNED)
    assert (r.signer, r.event_bytes, r.is_signed) == (FIXED_KEY_ID, FIXED_EVENT, True)
    e = r.event
    assert (e.tenant_id, e.type, e.kms, e.kek_name, e.kek_version) == ("acme", "REVOKED", "vault", "tenant-acme", 1)
    assert (e.time_ms, e.actor, e.reason, e.sequence, e.authority, e.kek_public_key) == (T0, "ops", None, 2, None, None)
    assert r.signature is not None and ke.verify(FIXED_SPKI, FIXED_EVENT, r.signature)
    assert ke.message(FIXED_EVENT) == context_message(FIXED_EVENT)

    g = KeyEventGate([FIXED_SPKI])
    assert g.admit("acme", Author(fixed).next("acme", "REGISTERED")).applied
    d = g.admit("acme", FIXED_SIGNED)
    assert d.applied and d.signer == FIXED_KEY_ID
    assert status(g) is TenantStatus.REVOKED


# --- the lifecycle --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["operator", "operator-p256", "operator-rsa"])
def test_a_valid_lifecycle_applies_with_each_signature_algorithm(keys: dict[str, Signer], kind: str) -> None:
    g = KeyEventGate([keys[kind].spki], tenant_for_kek=ke.kek_naming())
    author = Author(keys[kind])
    steps = [
        ("REGISTERED", "vault", "tenant-acme", 1, TenantStatus.ACTIVE),
        ("REVOKED", "vault", "tenant-acme", 1, TenantStatus.REVOKED),
        ("RESTORED", "vault", "tenant-acme", 1, TenantStatus.ACTIVE),
        ("ROTATED", "vault", "tenant-acme", 2, TenantStatus.ACTIVE),
        ("MIGRATED", "pkcs11", "acme-hsm", 1, TenantStatus.ACTIVE),
        ("REVOKED", "pkcs11", "acme-hsm", 1, TenantStatus.REVOKED),
        ("ROTATED", "pkcs11", "acme-hsm", 2, TenantStatus.REVOKED),  # a rotation does not restore
        ("DESTROYED", "pkcs11", "acme-hsm", 2, TenantStatus.DESTROYED),
    ]
    for n, (type_, kms, kek, version, expected) in enumerate(steps, start=1):
        d = g.admit("acme", author.next("acme", type_, kms, kek, version, time_ms=T0 + n))
        assert d.applied, d.describe()
        assert (d.tenant, d.event_type, d.sequence, d.signer, d.refusal) == ("acme", type_, n, keys[kind].key_id, None)
        s = g.state("acme")
        assert s is not None and s == d.state
        assert (s.status, s.kms, s.kek_name, s.kek_version) == (expected, kms, kek, version)
        assert (s.sequence, s.last_event, s.since_ms, s.authority, s.kek_public_key) == (n, type_, T0 + n, None, None)
    assert (g.seen, g.applied, g.refused, g.unsigned_seen) == (len(steps), len(steps), 0, 0)


# --- each rule, by an attack ------------------------------------------------------------------------------------


def test_an_unknown_signer_is_refused(gate: KeyEventGate, operator: Author, mallory: Author) -> None:
    register_acme(gate, operator)
    forged = mallory.next("acme", "ROTATED", "vault", "tenant-acme", 2, sequence=2)
    d = gate.admit("acme", forged)
    assert (d.applied, d.refusal, d.signer) == (False, Refusal.UNKNOWN_SIGNER, mallory.signer.key_id)
    assert gate.state("acme") is not None and gate.state("acme").kek_version == 1  # type: ignore[union-attr]
    assert gate.admit("globex", mallory.next("globex", "REGISTERED", kek="tenant-globex")).refusal is (
        Refusal.UNKNOWN_SIGNER
    )
    assert gate.state("globex") is None
    # the control: the same event signed by the operator applies
    assert gate.admit("acme", operator.next("acme", "ROTATED", "vault", "tenant-acme", 2, sequence=2)).applied
    assert gate.state("acme").kek_version == 2  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", ["operator", "operator-p256", "operator-rsa"])
def test_a_bad_signature_is_refused(keys: dict[str, Signer], kind: str) -> None:
    g = KeyEventGate([keys[kind].spki])
    author = Author(keys[kind])
    assert g.admit("acme", author.next("acme", "REGISTERED")).applied
    event = event_bytes("acme", "REVOKED", sequence=2)
    signature = keys[kind].sign(context_message(event))

    flipped_signature = bytearray(signature)
    flipped_signature[len(signature) // 2] ^= 0x01
    flipped_event = bytearray(event)
    at = event.index(b"ops") + 1  # actor "ops" becomes "oqs": still a well-formed event
    flipped_event[at] ^= 0x01
    bare = keys[kind].sign(event)  # the key signing the event without the context, as another protocol might
    attempts = {
        "one bit of the signature": signed_record(event, keys[kind].key_id, bytes(flipped_signature)),
        "one bit of the event": signed_record(bytes(flipped_event), keys[kind].key_id, signature),
        "no context string": signed_record(event, keys[kind].key_id, bare),
        "truncated signature": signed_record(event, keys[kind].key_id, signature[:-1]),
        "empty signature": signed_record(event, keys[kind].key_id, b""),
    }
    assert ke.read("acme", attempts["one bit of the event"]).event.actor == "oqs"
    for what, record in attempts.items():
        d = g.admit("acme", record)
        assert (d.applied, d.refusal) == (False, Refusal.BAD_SIGNATURE), what
        assert status(g) is TenantStatus.ACTIVE, what
    # the control: the genuine record applies
    assert g.admit("acme", signed_record(event, keys[kind].key_id, signature)).applied
    assert status(g) is TenantStatus.REVOKED


def test_an_rsa_signature_shorter_than_the_modulus_is_bad_as_in_java(keys: dict[str, Signer]) -> None:
    """OpenSSL takes an RSA signature whose leading zero byte was dropped; the JDK's RSASSA-PSS does not."""
    signer = keys["operator-rsa"]
    g = KeyEventGate([signer.spki])
    assert g.admit("acme", Author(signer).next("acme", "REGISTERED")).applied
    actor = 0
    while True:  # PSS is randomised: about one signature in 256 starts with a zero byte
        actor += 1
        event = event_bytes("acme", "REVOKED", sequence=2, actor=f"ops-{actor}")
        signature = signer.sign(context_message(event))
        if signature[0] == 0:
            break
    public_key = signer.private.public_key()
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    public_key.verify(signature[1:], context_message(event), pss, hashes.SHA256())  # OpenSSL: fine
    assert not ke.verify(signer.spki, event, signature[1:])
    assert g.admit("acme", signed_record(event, signer.key_id, signature[1:])).refusal is Refusal.BAD_SIGNATURE
    # the control: the full-length signature
    assert g.admit("acme", signed_record(event, signer.key_id, signature)).applied


def test_a_signature_by_another_key_under_a_trusted_id_is_refused(
    gate: KeyEventGate, operator: Author, mallory: Author
) -> None:
    register_acme(gate, operator)
    event = event_bytes("acme", "REVOKED", sequence=2)
    claimed = signed_record(event, operator.signer.key_id, mallory.signer.sign(context_message(event)))
    assert gate.admit("acme", claimed).refusal is Refusal.BAD_SIGNATURE
    assert status(gate) is TenantStatus.ACTIVE


def test_a_replayed_or_rolled_back_sequence_is_stale(gate: KeyEventGate, operator: Author) -> None:
    register_acme(gate, operator)
    assert gate.admit("acme", operator.next("acme", "REVOKED")).applied
    restored = operator.next("acme", "RESTORED")
    assert gate.admit("acme", restored).applied
    assert gate.admit("acme", operator.next("acme", "REVOKED")).applied  # sequence 4
    for record in (
        restored,  # the attacker copies the old record
        operator.next("acme", "RESTORED", sequence=4),  # equal to the last applied
        operator.next("acme", "RESTORED", sequence=2),  # a rollback
    ):
        d = gate.admit("acme", record)
        assert (d.refusal, d.event_type) == (Refusal.STALE_SEQUENCE, "RESTORED")
        assert status(gate) is TenantStatus.REVOKED
    assert gate.state("acme").sequence == 4  # type: ignore[union-attr]
    # a registration's sequence must be at least 1
    assert gate.admit("globex", operator.next("globex", "REGISTERED", kek="g", sequence=0)).refusal is (
        Refusal.STALE_SEQUENCE
    )
    # the control: the next sequence applies
    assert gate.admit("acme", operator.next("acme", "RESTORED", sequence=5)).applied
    assert status(gate) is TenantStatus.ACTIVE


def test_a_sequence_cannot_be_pushed_out_of_reach(gate: KeyEventGate, operator: Author) -> None:
    register_acme(gate, operator)
    for seq in (1 + MAX_SEQUENCE_STEP + 1, 2**63 - 1):
        d = gate.admit("acme", operator.next("acme", "REVOKED", sequence=seq))
        assert d.refusal is Refusal.SEQUENCE_JUMP
        assert status(gate) is TenantStatus.ACTIVE
    # the control: a step of exactly MAX_SEQUENCE_STEP applies
    assert gate.admit("acme", operator.next("acme", "REVOKED", sequence=1 + MAX_SEQUENCE_STEP)).applied
    assert gate.state("acme").sequence == 1 + MAX_SEQUENCE_STEP  # type: ignore[union-attr]


def test_destroyed_is_terminal(gate: KeyEventGate, operator: Author, keys: dict[str, Signer]) -> None:
    register_acme(gate, operator)
    assert gate.admit("acme", operator.next("acme", "DESTROYED")).applied
    restore = operator.next("acme", "RESTORED")
    for record in (
        restore,
        operator.next("acme", "REGISTERED"),
        operator.next("acme", "ROTATED", "vault", "tenant-acme", 2),
        operator.next("acme", "DESTROYED"),
    ):
        assert gate.admit("acme", record).refusal is Refusal.DESTROYED
        assert status(gate) is TenantStatus.DESTROYED
    assert gate.admit("acme", None).refusal is Refusal.TOMBSTONE
    assert status(gate) is TenantStatus.DESTROYED
    # the control: the same RESTORED applies to a tenant that was only revoked
    other = KeyEventGate([keys["operator"].spki])
    author = Author(keys["operator"])
    assert other.admit("acme", author.next("acme", "REGISTERED")).applied
    assert other.admit("acme", author.next("acme", "REVOKED")).applied
    assert other.admit("acme", restore).applied


def test_a_later_event_naming_another_kek_is_refused(gate: KeyEventGate, operator: Author) -> None:
    register_acme(gate, operator)
    for record in (
        operator.next("acme", "ROTATED", "vault", "tenant-mallory", 2),  # acme would seal under mallory's key
        operator.next("acme", "REVOKED", "local", "tenant-acme", 1),  # another KMS
    ):
        assert gate.admit("acme", record).refusal is Refusal.OTHER_KEK
    s = gate.state("acme")
    assert s is not None and (s.kms, s.kek_name, s.kek_version) == ("vault", "tenant-acme", 1)
    # the control
    assert gate.admit("acme", operator.next("acme", "ROTATED", "vault", "tenant-acme", 2)).applied


def test_a_kek_version_never_goes_back(gate: KeyEventGate, operator: Author) -> None:
    register_acme(gate, operator)
    assert gate.admit("acme", operator.next("acme", "ROTATED", "vault", "tenant-acme", 3)).applied
    for type_, version in (("ROTATED", 2), ("ROTATED", 3), ("RESTORED", 1), ("REVOKED", 2)):
        d = gate.admit("acme", operator.next("acme", type_, "vault", "tenant-acme", version))
        assert d.refusal is Refusal.OLDER_VERSION, (type_, version)
    assert gate.state("acme").kek_version == 3  # type: ignore[union-attr]
    # the control: events other than a rotation may name the current version
    assert gate.admit("acme", operator.next("acme", "REVOKED", "vault", "tenant-acme", 3)).applied


def test_a_pinned_public_key_changes_only_by_a_rotation(
    gate: KeyEventGate, operator: Author, kek_keys: dict[str, bytes]
) -> None:
    register_acme(gate, operator, public_key=kek_keys["rsa-1"])
    assert gate.state("acme").kek_public_key == kek_keys["rsa-1"]  # type: ignore[union-attr]
    for record in (
        # a revocation or restoration that slips in another key
        operator.next("acme", "REVOKED", public_key=kek_keys["rsa-2"]),
        operator.next("acme", "RESTORED", public_key=kek_keys["rsa-2"]),
        # a rotation that makes the key pair a symmetric KEK
        operator.next("acme", "ROTATED", "vault", "tenant-acme", 2),
    ):
        assert gate.admit("acme", record).refusal is Refusal.PUBLIC_KEY_CHANGED
        assert gate.state("acme").kek_public_key == kek_keys["rsa-1"]  # type: ignore[union-attr]
    # naming the same key changes nothing; a revocation naming a newer version keeps the pinned key's version
    assert gate.admit("acme", operator.next("acme", "REVOKED", public_key=kek_keys["rsa-1"])).applied
    assert gate.admit("acme", operator.next("acme", "REVOKED", "vault", "tenant-acme", 2)).applied
    s = gate.state("acme")
    assert s is not None and (s.kek_version, s.kek_public_key) == (1, kek_keys["rsa-1"])
    # a restoration naming another version than the pinned key's would relabel the key
    assert gate.admit("acme", operator.next("acme", "RESTORED", "vault", "tenant-acme", 2)).refusal is (
        Refusal.PUBLIC_KEY_CHANGED
    )
    assert gate.admit("acme", operator.next("acme", "RESTORED", "vault", "tenant-acme", 1)).applied
    # the control: a rotation pins the new version's key
    rotation = operator.next("acme", "ROTATED", "vault", "tenant-acme", 2, public_key=kek_keys["rsa-2"])
    assert gate.admit("acme", rotation).applied
    s = gate.state("acme")
    assert s is not None and (s.kek_version, s.kek_public_key, s.status) == (2, kek_keys["rsa-2"], TenantStatus.ACTIVE)

    # a symmetric KEK does not become a key pair by a rotation
    symmetric = KeyEventGate(list(gate_trusted(gate, operator)))
    author = Author(operator.signer)
    assert symmetric.admit("acme", author.next("acme", "REGISTERED")).applied
    rotation = author.next("acme", "ROTATED", "vault", "tenant-acme", 2, public_key=kek_keys["rsa-1"])
    assert symmetric.admit("acme", rotation).refusal is Refusal.PUBLIC_KEY_CHANGED
    assert symmetric.state("acme").kek_public_key is None  # type: ignore[union-attr]


def gate_trusted(gate: KeyEventGate, author: Author) -> list[bytes]:
    assert author.signer.key_id in gate.trusted_ids
    return [author.signer.spki]


def test_a_public_key_its_kms_cannot_hold_is_refused(
    keys: dict[str, Signer], operator: Author, kek_keys: dict[str, bytes]
) -> None:
    x25519_prefix = bytes.fromhex("302a300506032b656e032100")
    bad = {
        "X25519 for a KMS other than local": ("vault", kek_keys["x25519"]),
        "RSA for the local KMS": ("local", kek_keys["rsa-1"]),
        "RSA-1024": ("vault", kek_keys["rsa-1024"]),
        "an EC key": ("vault", kek_keys["p256"]),
        "X25519 of small order (u = 0)": ("local", x25519_prefix + bytes(32)),
        "X25519 of small order (u = 1)": ("local", x25519_prefix + b"\x01" + bytes(31)),
        "X25519 not canonical (top bit)": ("local", x25519_prefix + kek_keys["x25519"][12:43] + b"\x80"),
        "X25519 not canonical (u = p)": ("local", x25519_prefix + ((1 << 255) - 19).to_bytes(32, "little")),
        "no key at all": ("vault", b"\x30\x03\x02\x01\x00"),
    }
    for what, (kms, spki) in bad.items():
        g = KeyEventGate([keys["operator"].spki])
        d = g.admit("acme", operator.next("acme", "REGISTERED", kms, sequence=1, public_key=spki))
        assert d.refusal is Refusal.BAD_PUBLIC_KEY, what
        assert g.state("acme") is None, what
    # the controls: X25519 for the local KMS, RSA-2048 for vault
    for kms, spki in (("local", kek_keys["x25519"]), ("vault", kek_keys["rsa-1"])):
        g = KeyEventGate([keys["operator"].spki])
        assert g.admit("acme", operator.next("acme", "REGISTERED", kms, sequence=1, public_key=spki)).applied
        assert g.state("acme").kek_public_key == spki  # type: ignore[union-attr]


def test_a_kek_bound_to_another_tenant_is_refused(gate: KeyEventGate, operator: Author) -> None:
    register_acme(gate, operator)
    for kek in ("tenant-acme", "tenant-bob"):  # acme's registered key; the key the naming template gives bob
        d = gate.admit("mallory", operator.next("mallory", "REGISTERED", kek=kek, sequence=1))
        assert d.refusal is Refusal.KEK_OF_ANOTHER_TENANT, kek
        assert gate.state("mallory") is None
    assert gate.admit("mallory", operator.next("mallory", "REGISTERED", kek="tenant-mallory", sequence=1)).applied
    # nor can a migration take another tenant's key
    d = gate.admit("mallory", operator.next("mallory", "MIGRATED", "vault", "tenant-acme", 1))
    assert d.refusal is Refusal.KEK_OF_ANOTHER_TENANT
    assert gate.state("mallory").kek_name == "tenant-mallory"  # type: ignore[union-attr]
    # the naming settings matter: a gate that knows no template lets mallory take bob's templated key
    lax = KeyEventGate(gate_trusted(gate, operator))
    assert lax.admit("mallory", operator.next("mallory", "REGISTERED", kek="tenant-bob", sequence=1)).applied


def test_a_tombstone_changes_nothing(gate: KeyEventGate, operator: Author) -> None:
    register_acme(gate, operator)
    assert gate.admit("acme", operator.next("acme", "REVOKED")).applied
    d = gate.admit("acme", None)
    assert (d.applied, d.refusal, d.event_type, d.tenant) == (False, Refusal.TOMBSTONE, None, "acme")
    assert status(gate) is TenantStatus.REVOKED


def test_an_unsigned_event_is_refused(gate: KeyEventGate, operator: Author) -> None:
    unsigned = event_bytes("acme", "REGISTERED", sequence=1)
    d = gate.admit("acme", unsigned)
    assert (d.refusal, d.event_type, d.signer) == (Refusal.UNSIGNED, "REGISTERED", None)
    old = event_bytes("acme", "REGISTERED", schema_version=1)  # from before signing existed
    assert gate.admit("acme", old).refusal is Refusal.UNSIGNED
    assert gate.state("acme") is None
    assert gate.unsigned_seen == 2 and gate.looks_unmigrated()
    # the control: the same event bytes, signed
    assert gate.admit("acme", operator.sign(unsigned)).applied
    assert not gate.looks_unmigrated()


def test_the_record_key_must_be_the_events_tenant(gate: KeyEventGate, operator: Author) -> None:
    registration = operator.next("acme", "REGISTERED")
    d = gate.admit("globex", registration)  # acme's event under another tenant's key
    assert (d.tenant, d.refusal) == ("globex", Refusal.UNDECODABLE)
    for key in ("acme!", "", "-acme", "a" * 65, "acmé"):
        d = gate.admit(key, registration)
        assert (d.tenant, d.refusal) == (INVALID_KEY, Refusal.UNDECODABLE), key
    d = gate.admit(None, registration)
    assert (d.tenant, d.refusal) == (None, Refusal.NO_TENANT_KEY)
    assert gate.states() == {}
    # the control
    assert gate.admit("acme", registration).applied


def test_a_tenant_with_its_own_authority_is_changed_by_it_alone(
    gate: KeyEventGate, operator: Author, acme_authority: Author, mallory: Author
) -> None:
    authority = acme_authority.signer.authority
    register_acme(gate, operator, kek="acme-own", authority=authority)
    acme_authority.continue_after("acme", 1)
    # the operator's key, trusted to register tenants, cannot revoke this one; nor can anyone else
    for author in (operator, mallory):
        d = gate.admit("acme", author.next("acme", "REVOKED", kek="acme-own", sequence=2))
        assert (d.refusal, d.signer) == (Refusal.NOT_THE_AUTHORITY, author.signer.key_id)
        assert status(gate) is TenantStatus.ACTIVE
    # the authority's key under a forged signature is still a bad signature
    event = event_bytes("acme", "REVOKED", kek="acme-own", sequence=2)
    forged = signed_record(event, acme_authority.signer.key_id, mallory.signer.sign(context_message(event)))
    assert gate.admit("acme", forged).refusal is Refusal.BAD_SIGNATURE
    # the control: the authority revokes
    assert gate.admit("acme", acme_authority.next("acme", "REVOKED", kek="acme-own")).applied
    s = gate.state("acme")
    assert s is not None and (s.status, s.authority) == (TenantStatus.REVOKED, authority)  # carried along
    # nor can the operator register the tenant again to name another authority
    rebind = operator.next("acme", "REGISTERED", kek="acme-own", sequence=3)
    assert gate.admit("acme", rebind).refusal is Refusal.ALREADY_REGISTERED
    assert gate.state("acme").authority == authority  # type: ignore[union-attr]


def test_an_authority_in_pem_applies_and_one_that_is_no_key_is_refused(
    gate: KeyEventGate, operator: Author, acme_authority: Author
) -> None:
    pem = acme_authority.signer.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert gate.admit("acme", operator.next("acme", "REGISTERED", authority=pem.decode())).applied
    acme_authority.continue_after("acme", 1)
    assert gate.admit("acme", acme_authority.next("acme", "REVOKED")).applied
    for junk in ("bm90IGEga2V5", "not base64 at all ====", base64.b64encode(FIXED_SPKI[:-1]).decode()):
        d = gate.admit("globex", operator.next("globex", "REGISTERED", kek="tenant-globex", authority=junk))
        assert d.refusal is Refusal.UNDECODABLE, junk
        assert gate.state("globex") is None


def test_events_need_a_registration(gate: KeyEventGate, operator: Author) -> None:
    assert gate.admit("bob", operator.next("bob", "REVOKED", kek="tenant-bob")).refusal is Refusal.NOT_REGISTERED
    assert gate.state("bob") is None


def test_a_migration_moves_a_tenant_only_as_its_authority_signs(
    gate: KeyEventGate, operator: Author, acme_authority: Author
) -> None:
    authority = acme_authority.signer.authority
    assert gate.admit("acme", operator.next("acme", "REGISTERED", "local", "acme-own", authority=authority)).applied
    assert gate.admit("globex", operator.next("globex", "REGISTERED", "vault", "globex-key")).applied
    acme_authority.continue_after("acme", 1)
    assert gate.admit("acme", acme_authority.next("acme", "REVOKED", "local", "acme-own")).applied
    migrate = acme_authority.next
    assert gate.admit("acme", operator.next("acme", "MIGRATED", "vault", "acme-vault", 1, sequence=3)).refusal is (
        Refusal.NOT_THE_AUTHORITY
    )
    assert gate.admit("acme", migrate("acme", "MIGRATED", "vault", "globex-key", 1)).refusal is (
        Refusal.KEK_OF_ANOTHER_TENANT
    )
    assert gate.admit("acme", migrate("acme", "MIGRATED", "local", "acme-own", 1)).refusal is Refusal.OTHER_KEK
    assert gate.admit("acme", migrate("acme", "MIGRATED", "vault", "acme-vault", 1)).applied
    s = gate.state("acme")
    assert s is not None
    assert (s.kms, s.kek_name, s.status, s.authority) == ("vault", "acme-vault", TenantStatus.REVOKED, authority)
    assert gate.admit("acme", migrate("acme", "RESTORED", "local", "acme-own", 1)).refusal is Refusal.OTHER_KEK
    assert gate.admit("acme", migrate("acme", "RESTORED", "vault", "acme-vault", 1)).applied


def test_records_that_are_no_key_event_are_undecodable(gate: KeyEventGate, operator: Author) -> None:
    register_acme(gate, operator)
    genuine = operator.next("acme", "REVOKED")
    # the signed wrapper's header, then an event field declaring 2,000,000,000 bytes
    huge = genuine[:10] + varint(2_000_000_000)
    not_an_event = event_bytes("acme", "REVOKED", sequence=2)
    wrapped_twice = operator.sign(operator.sign(not_an_event))
    attempts = {
        "garbage": b"\x01\x02\x03",
        "empty": b"",
        "a huge declared length": huge,
        "over the size limit": b"\x00" * (MAX_VALUE_BYTES + 1),
        "a byte after the value": genuine + b"\x00",
        "truncated": genuine[:-1],
        "an unknown fingerprint": genuine[:2] + bytes(8) + genuine[10:],
        "a signed record inside a signed record": wrapped_twice,
        "a KEK version of 0": operator.next("acme", "REVOKED", version=0, sequence=2),
        "a blank KEK name": operator.next("acme", "REVOKED", kek=" \t", sequence=2),
        "a KMS name over 64 characters": operator.next("acme", "REVOKED", kms="v" * 65, sequence=2),
        "an actor over 256 characters": operator.next("acme", "REVOKED", actor="o" * 257, sequence=2),
        "a public key over 2048 bytes": operator.next("acme", "REVOKED", public_key=bytes(2049), sequence=2),
    }
    for what, record in attempts.items():
        d = gate.admit("acme", record)
        assert (d.applied, d.refusal, d.event_type) == (False, Refusal.UNDECODABLE, None), what
    assert status(gate) is TenantStatus.ACTIVE
    # lengths are UTF-16 units as in Java: 128 characters outside the BMP are 256 units (allowed), 129 are not
    assert gate.admit("acme", operator.next("acme", "REVOKED", actor="😀" * 128, sequence=2)).applied
    assert gate.admit("acme", operator.next("acme", "RESTORED", actor="😀" * 129, sequence=3)).refusal is (
        Refusal.UNDECODABLE
    )
    # the control
    assert gate.admit("acme", operator.next("acme", "RESTORED", sequence=3)).applied


def _v2_body_with_version_encoding(version_varint: bytes) -> bytes:
    def s(x: str) -> bytes:
        return bytes([len(x) * 2]) + x.encode()

    body = s("acme") + b"\x08" + s("vault") + s("tenant-acme") + version_varint
    body += bytes.fromhex("80a0abfef962") + s("ops") + b"\x00" + b"\x04" + b"\x00"  # time, actor, -, sequence 2, -
    return FIXED_EVENT[:10] + body


def test_ints_are_read_as_javas_binary_decoder_reads_them(gate: KeyEventGate, operator: Author) -> None:
    """kekVersion 1 in a non-minimal 5-byte encoding decodes (Java's readInt); in 6 bytes it does not."""
    register_acme(gate, operator)
    minimal = _v2_body_with_version_encoding(b"\x02")
    five = _v2_body_with_version_encoding(b"\x82\x80\x80\x80\x00")
    six = _v2_body_with_version_encoding(b"\x82\x80\x80\x80\x80\x00")
    assert ke.decode_event("acme", minimal).kek_version == 1
    assert ke.decode_event("acme", minimal).type == "DESTROYED"
    assert ke.decode_event("acme", five).kek_version == 1
    with pytest.raises(ke.InvalidKeyEvent):
        ke.decode_event("acme", six)
    assert gate.admit("acme", operator.sign(six)).refusal is Refusal.UNDECODABLE
    assert gate.admit("acme", operator.sign(five)).applied


def test_every_schema_version_is_read(gate: KeyEventGate, operator: Author, kek_keys: dict[str, bytes]) -> None:
    v1 = event_bytes("acme", "REGISTERED", schema_version=1)
    e = ke.decode_event("acme", v1)
    assert (e.sequence, e.authority, e.kek_public_key) == (0, None, None)  # version 4's defaults
    assert gate.admit("acme", operator.sign(v1)).refusal is Refusal.STALE_SEQUENCE  # signed, but with no sequence
    assert gate.admit("acme", operator.sign(event_bytes("acme", "REGISTERED", schema_version=2))).applied
    rotated = event_bytes("acme", "ROTATED", version=2, sequence=2, schema_version=4)
    assert gate.admit("acme", operator.sign(rotated)).applied
    migrated = event_bytes("acme", "MIGRATED", "vault", "acme-2", 1, sequence=3, schema_version=3)
    assert gate.admit("acme", operator.sign(migrated)).applied
    pinned = event_bytes("acme", "MIGRATED", "vault", "acme-3", 1, sequence=4, public_key=kek_keys["rsa-1"])
    assert pinned[2:10] == FINGERPRINTS["KeyEvent"].to_bytes(8, "little")
    assert gate.admit("acme", operator.sign(pinned)).applied
    assert gate.state("acme").kek_public_key == kek_keys["rsa-1"]  # type: ignore[union-attr]
    # as Java writes them: version 2 unless MIGRATED (version 3) or pinning a key (version 4)
    assert event_bytes("acme", "REVOKED", sequence=5)[2:10] == FINGERPRINTS["KeyEvent-v2"].to_bytes(8, "little")
    assert migrated[2:10] == FINGERPRINTS["KeyEvent-v3"].to_bytes(8, "little")


# --- keys and signatures ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["operator", "operator-p256", "operator-rsa"])
def test_keys_travel_as_base64_or_pem_and_keep_their_id(keys: dict[str, Signer], kind: str) -> None:
    signer = keys[kind]
    pem = signer.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    wrapped = base64.encodebytes(signer.spki).decode()  # MIME lines
    for text in (signer.authority, pem.decode(), "  " + wrapped + "\n", signer.authority.rstrip("=")):
        assert ke.parse_public_key(text) == signer.spki
    assert len(ke.key_id(signer.spki)) == 32 and ke.key_id(signer.spki) == signer.key_id
    event = b"an event"
    signature = signer.sign(context_message(event))
    assert ke.verify(signer.spki, event, signature)
    assert not ke.verify(signer.spki, b"an evenT", signature)
    assert not ke.verify(signer.spki, context_message(event), signer.sign(event))  # another context
    assert not ke.verify(keys["mallory"].spki, event, signature)


def test_garbage_is_neither_a_key_nor_a_valid_signature(keys: dict[str, Signer]) -> None:
    x25519_spki = spki_of(x25519.X25519PrivateKey.generate().public_key())
    point = ec.generate_private_key(ec.SECP256R1()).public_key()
    compressed = point.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    algorithm = spki_of(point)[2:23]
    compressed_spki = b"\x30\x39" + algorithm + b"\x03\x22\x00" + compressed
    assert serialization.load_der_public_key(compressed_spki) is not None  # cryptography reads it; the JDK does not
    small_rsa = spki_of(rsa.RSAPublicNumbers(65537, (1 << 400) + 1 + 2 * 12345).public_key())
    for text in (
        "bm90IGEga2V5",
        "",
        "-----BEGIN PUBLIC KEY-----\n" + keys["operator"].authority,  # no END line
        base64.b64encode(x25519_spki).decode(),  # X25519 agrees keys, it does not sign
        base64.b64encode(compressed_spki).decode(),  # the JDK reads uncompressed points only
        base64.b64encode(small_rsa).decode(),  # under the JDK's 512 bits
        "AAAA=",  # padding where no unit is open
        keys["operator"].authority + "A",  # a dangling character
    ):
        with pytest.raises(ValueError):
            ke.parse_public_key(text)
    spki = keys["operator"].spki
    assert not ke.verify(spki, b"an event", bytes(64))
    assert not ke.verify(spki, b"an event", bytes(3))
    assert not ke.verify(b"not a key", b"an event", bytes(64))
    with pytest.raises(ValueError):
        KeyEventGate([b"not a key"])


def test_trusted_signers_are_named_by_key_id(keys: dict[str, Signer]) -> None:
    g = KeyEventGate([keys["operator"].spki, keys["operator-rsa"].spki, keys["operator"].spki])
    assert g.trusted_ids == {keys["operator"].key_id, keys["operator-rsa"].key_id}


# --- decisions, states, naming ---------------------------------------------------------------------------------


def test_decisions_describe_themselves_without_the_records_bytes(gate: KeyEventGate, operator: Author) -> None:
    applied = gate.admit("acme", operator.next("acme", "REGISTERED", reason="secret-ish text"))
    assert applied.describe() == "REGISTERED #1 for tenant acme applied"
    stale = gate.admit("acme", operator.next("acme", "REVOKED", sequence=1))
    assert stale.describe() == (
        "REVOKED #1 for tenant acme refused: its sequence is not above the last one applied (a replay or rollback)"
    )
    assert gate.admit(None, b"x").describe() == "record for tenant null refused: the record has no key (the tenant id)"
    assert gate.admit("acme!", b"x").describe() == (
        "record for tenant (not a tenant id) refused: not a key event for the tenant of its record key"
    )
    assert Refusal.SEQUENCE_JUMP.text == "its sequence jumps more than 1000000 past the last one applied"
    assert Refusal.KEK_OF_ANOTHER_TENANT.label == "kek_of_another_tenant"
    assert len(Refusal) == 17
    assert "secret-ish" not in repr(applied) and "secret-ish" not in applied.describe()
    assert isinstance(applied, Decision) and isinstance(applied.state, TenantState)
    assert applied.state.since is not None and applied.state.since.year == 2023
    assert (gate.seen, gate.applied, gate.refused) == (4, 1, 3)


def test_kek_naming_is_javas() -> None:
    naming = ke.kek_naming("embedseal/{tenant}/kek", {"acme": "acme-owned-key"})
    assert naming("acme-owned-key") == "acme"
    assert naming("embedseal/globex/kek") == "globex"
    assert naming("embedseal/acme/kek") is None  # a tenant with an explicit name does not own the templated one
    assert naming("something-else") is None
    assert naming("embedseal//kek") is None
    with pytest.raises(ValueError):
        ke.kek_naming("no-placeholder")
    with pytest.raises(ValueError):
        ke.kek_naming("{tenant}", {"a": "k", "b": "k"})


# --- the follower, against a fake consumer (the broker is the cross-language test's) --------------------------------


class FakeError:
    def __init__(self, code: int) -> None:
        self._code = code

    def code(self) -> int:
        return self._code

    def fatal(self) -> bool:
        return False

    def name(self) -> str:
        return "FAKE"

    def str(self) -> str:
        return "fake"


@dataclass
class FakeMessage:
    part: int
    off: int
    k: bytes | None = None
    v: bytes | None = None
    err: FakeError | None = None

    def error(self) -> FakeError | None:
        return self.err

    def partition(self) -> int:
        return self.part

    def offset(self) -> int:
        return self.off

    def key(self) -> bytes | None:
        return self.k

    def value(self) -> bytes | None:
        return self.v


class FakeConsumer:
    """Two partitions: 0 holds acme's events, 1 is empty; each ends with an end-of-partition event."""

    def __init__(self, records: dict[int, list[tuple[bytes | None, bytes | None]]]) -> None:
        from confluent_kafka import KafkaError

        self.config: dict[str, Any] = {}
        self.records = records
        self.queue: list[FakeMessage] = []
        self.assigned: list[Any] = []
        self.closed = False
        self.eof = KafkaError._PARTITION_EOF
        self.lock = threading.Lock()

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any:
        class T:
            error = None
            partitions = dict.fromkeys(self.records)

        class M:
            topics = {topic: T()}

        return M()

    def assign(self, partitions: list[Any]) -> None:
        from confluent_kafka import OFFSET_BEGINNING

        self.assigned = partitions
        with self.lock:
            self.queue = []
            for tp in partitions:
                start = 0 if tp.offset == OFFSET_BEGINNING else tp.offset
                msgs = self.records[tp.partition]
                self.queue += [FakeMessage(tp.partition, o, k, v) for o, (k, v) in enumerate(msgs) if o >= start]
                self.queue.append(FakeMessage(tp.partition, len(msgs), err=FakeError(self.eof)))

    def get_watermark_offsets(self, partition: Any, timeout: float = -1, cached: bool = False) -> tuple[int, int]:
        return 0, len(self.records[partition.partition])

    def poll(self, timeout: float = -1) -> FakeMessage | None:
        with self.lock:
            if self.queue:
                return self.queue.pop(0)
        time.sleep(min(timeout, 0.01))
        return None

    def close(self) -> None:
        self.closed = True


def test_the_follower_applies_in_order_and_says_when_it_has_caught_up(
    gate: KeyEventGate, operator: Author, mallory: Author
) -> None:
    records: list[tuple[bytes | None, bytes | None]] = [
        (b"acme", operator.next("acme", "REGISTERED")),
        (b"acme", mallory.next("acme", "REVOKED", sequence=2)),  # refused
        (b"acme", operator.next("acme", "REVOKED")),
        (b"acme", None),  # a tombstone, refused
        (None, b"\x00"),  # no key, refused
        (b"acme", operator.next("acme", "RESTORED")),
    ]
    fake = FakeConsumer({0: records, 1: []})
    seen: list[TenantState] = []

    def factory(config: dict[str, Any]) -> FakeConsumer:
        fake.config = config
        return fake

    follower = KeyEventFollower({"bootstrap.servers": "x", "group.id": "ignored"}, gate, consumer_factory=factory)
    follower.add_listener(seen.append)
    follower.add_listener(lambda s: 1 / 0)  # a failing listener is logged, and the others still hear
    assert follower.staleness(60) is not None  # not started: not to be relied on
    follower.start()
    try:
        assert follower.wait_caught_up(10)
        assert [s.last_event for s in seen] == ["REGISTERED", "REVOKED", "RESTORED"]
        s = follower.state("acme")
        assert s is not None and s.status is TenantStatus.ACTIVE and s.sequence == 3
        assert follower.records_seen == len(records)
        assert (gate.applied, gate.refused) == (3, 3)
        assert follower.staleness(60) is None
        assert fake.config["group.id"] != "ignored" and fake.config["enable.auto.commit"] is False
        assert fake.config["isolation.level"] == "read_committed"
    finally:
        follower.close()
    assert fake.closed


def test_the_follower_fails_closed_without_a_broker(gate: KeyEventGate) -> None:
    """With confluent-kafka itself (its settings must be valid) and nothing listening: never caught up, closes."""
    follower = KeyEventFollower(
        {"bootstrap.servers": "127.0.0.1:9", "socket.connection.setup.timeout.ms": 1000, "log_level": 0}, gate
    )
    follower.start()
    started = time.monotonic()
    try:
        assert not follower.wait_caught_up(0.5)
        assert follower.staleness(60) is not None
    finally:
        follower.close()
    assert time.monotonic() - started < 8


@pytest.fixture(autouse=True)
def _no_thread_leak() -> Iterator[None]:
    before = {t.name for t in threading.enumerate()}
    yield

    def leaked() -> set[str]:
        return {t.name for t in threading.enumerate() if t.name.startswith("embedseal-key-events")} - before

    deadline = time.monotonic() + 5
    while leaked() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not leaked()
