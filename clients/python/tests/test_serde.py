"""The sealing serializer and unsealing deserializer on the local development KMS: round trips, the pipeline's
validation, DEK lifetimes, and the attacks a writer of the sealed topic can make, each refused with the Java side's
reason (and shown to matter: with the check taken away, the attack gets through)."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519

from conftest import write_aes_keyset, write_hpke_keyset
from embedseal import envelope as env
from embedseal.envelope import EnvelopeError, Reason
from embedseal.events import EmbeddingEvent, Rule, ValidationError, check
from embedseal.keyring import TenantKey
from embedseal.serde import SealingError, SealingSerializer, UnsealingDeserializer, record_key


def event(tenant: str = "acme", eid: str = "doc-1#0", vector: Any = None, **kw: Any) -> EmbeddingEvent:
    return EmbeddingEvent(tenant, eid, "m", [0.5, -1.0, 2.0] if vector is None else vector, 1_700_000_000_000, **kw)


@pytest.fixture()
def local(tmp_path: Path) -> dict[str, str]:
    for tenant in ("acme", "globex"):
        write_aes_keyset(tmp_path, f"tenant-{tenant}", [(int.from_bytes(os.urandom(4), "big") >> 1, os.urandom(32))])
    return {"kms.provider": "local", "kms.local.dir": str(tmp_path)}


def test_a_sealed_event_opens_to_itself_and_is_bound_to_its_record_key(local: dict[str, str]) -> None:
    sealer, opener = SealingSerializer(local), UnsealingDeserializer(local)
    e = event(metadata={"lang": "en"})
    value = sealer(e)
    assert value is not None
    u = opener.unseal(record_key("acme", "doc-1#0"), value)
    assert u.event is not None and list(u.event.vector) == [0.5, -1.0, 2.0] and u.event.metadata == {"lang": "en"}
    assert u.version.event_time_ms == 1_700_000_000_000
    with pytest.raises(EnvelopeError) as moved:
        opener.unseal(record_key("acme", "doc-2#0"), value)
    assert moved.value.reason is Reason.WRONG_BINDING
    marker = sealer.delete_marker("acme", "doc-1#0")
    assert opener.unseal(record_key("acme", "doc-1#0"), marker).is_delete


def test_no_plaintext_value_is_in_the_envelope(local: dict[str, str]) -> None:
    vector = [float(i) + 0.123 for i in range(64)]
    value = SealingSerializer(local)(event(vector=vector))
    import struct

    assert value is not None and struct.pack("<3f", *vector[10:13]) not in value


def test_dek_is_reused_then_rolled_over_after_max_records(local: dict[str, str]) -> None:
    sealer = SealingSerializer(dict(local, **{"dek.max-records": "2"}))
    ids = [env.parse(sealer(event()) or b"").dek_id for _ in range(5)]
    assert ids[0] == ids[1] != ids[2] == ids[3] != ids[4]
    assert sealer.keyring.kms_wraps == 3


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        (event(tenant=""), Rule.MISSING_TENANT),
        (event(tenant="-acme"), Rule.INVALID_TENANT_ID),
        (event(eid=""), Rule.MISSING_EMBEDDING_ID),
        (event(eid="a\u0000b"), Rule.INVALID_EMBEDDING_ID),
        (event(eid="x" * 1025), Rule.INVALID_EMBEDDING_ID),
        (event(vector=[]), Rule.EMPTY_VECTOR),
        (event(vector=[0.0] * 16385), Rule.TOO_MANY_DIMENSIONS),
        (event(vector=[1.0, float("nan")]), Rule.NON_FINITE_VALUE),
        (event(vector=[1.0, 1e300]), Rule.NON_FINITE_VALUE),
        (event(vector=[float("inf"), float("-inf")]), Rule.NON_FINITE_VALUE),
        (event(metadata={str(i): "v" for i in range(65)}), Rule.METADATA_TOO_LARGE),
    ],
)
def test_an_invalid_event_is_refused_with_the_pipelines_rule_and_nothing_is_sealed(
    local: dict[str, str], bad: EmbeddingEvent, rule: Rule
) -> None:
    found = check(bad)
    assert found is not None and found.rule is rule
    with pytest.raises(SealingError) as refused:
        SealingSerializer(local)(bad)
    assert rule.value in str(refused.value)
    assert "1e+300" not in str(refused.value) and "inf," not in str(refused.value)


def test_the_non_finite_detail_names_the_position_never_the_value() -> None:
    found = check(event(vector=[1.0, 2.0, float("nan")]))
    assert isinstance(found, ValidationError) and found.detail == "vector[2] is not a finite number"


def _swap_slot(target: bytes, donor: bytes) -> bytes:
    t, d = env.parse(target), env.parse(donor)
    slot = env.key_slot(d.kek, d.wrapped_dek)
    return target[: t.associated_data_length] + slot + target[t.ciphertext_offset :]


def test_attacks_on_the_envelope_are_refused(local: dict[str, str]) -> None:
    sealer, opener = SealingSerializer(local), UnsealingDeserializer(local)
    acme = sealer(event()) or b""
    globex = sealer(event(tenant="globex")) or b""
    key = record_key("acme", "doc-1#0")
    # another tenant's slot as it is: its KEK is not acme's, refused before any KMS call
    with pytest.raises(EnvelopeError) as e1:
        opener.unseal(key, _swap_slot(acme, globex))
    assert e1.value.reason is Reason.WRONG_BINDING
    # another tenant's wrapped DEK under acme's KEK reference: the KMS binding refuses it
    g = env.parse(globex)
    forged = env.key_slot(env.parse(acme).kek, g.wrapped_dek)
    h = env.parse(acme)
    with pytest.raises(EnvelopeError) as e2:
        opener.unseal(key, acme[: h.associated_data_length] + forged + acme[h.ciphertext_offset :])
    assert e2.value.reason is Reason.TAMPERED
    # a flipped bit in the authenticated header (the record version) or the ciphertext
    for at in (40, len(acme) - 1):
        bad = bytearray(acme)
        bad[at] ^= 1
        with pytest.raises(EnvelopeError) as e3:
            opener.unseal(key, bytes(bad))
        assert e3.value.reason is Reason.TAMPERED
    # another purpose
    with pytest.raises(EnvelopeError) as e4:
        UnsealingDeserializer(dict(local, **{"embedseal.envelope.purpose": "other"})).unseal(key, acme)
    assert e4.value.reason is Reason.WRONG_BINDING
    # only-tenant
    with pytest.raises(EnvelopeError) as e5:
        UnsealingDeserializer(dict(local, **{"embedseal.unseal.only-tenant": "globex"}))(acme)
    assert e5.value.reason is Reason.WRONG_BINDING


def test_without_the_kek_check_a_donor_slot_would_be_sent_to_the_kms(local: dict[str, str]) -> None:
    """The defence off: a keyring that takes any KEK reference asks the KMS about another tenant's key."""
    sealer, opener = SealingSerializer(local), UnsealingDeserializer(local)
    acme, globex = sealer(event()) or b"", sealer(event(tenant="globex")) or b""
    opener.keyring.naming.explicit["acme"] = "tenant-globex"  # the check switched off: acme "owns" globex's key
    with pytest.raises(EnvelopeError) as e:
        opener.unseal(record_key("acme", "doc-1#0"), _swap_slot(acme, globex))
    # the KMS binding (tenant in the associated data) is what is left, and it holds: TAMPERED, not opened
    assert e.value.reason is Reason.TAMPERED


def test_a_revoked_or_destroyed_tenant_is_not_sealed_and_its_deks_are_forgotten(local: dict[str, str]) -> None:
    states = {"acme": TenantKey("ACTIVE", "local", "tenant-acme", 1, None)}

    class Events:
        listeners: list[Any] = []

        def state(self, tenant: str) -> Any:
            s = states.get(tenant)
            if s is None:
                return None
            return type(
                "S",
                (),
                {
                    "status": type("St", (), {"name": s.status})(),
                    "kms": s.kms,
                    "kek_name": s.kek_name,
                    "kek_version": s.kek_version,
                    "kek_public_key": s.public_key,
                    "tenant_id": tenant,
                },
            )()

        def add_listener(self, fn: Any) -> None:
            self.listeners.append(fn)

    events = Events()
    sealer = SealingSerializer(local, key_events=events)
    assert sealer(event()) is not None
    with pytest.raises(SealingError, match="no registration"):
        sealer(event(tenant="globex"))
    for status in ("REVOKED", "DESTROYED"):
        states["acme"] = TenantKey(status, "local", "tenant-acme", 1, None)
        for fn in events.listeners:
            fn(events.state("acme"))
        with pytest.raises(SealingError, match=status):
            sealer(event())
        assert "acme" not in sealer.keyring._sealing


def test_a_public_key_producer_seals_with_no_kms_and_cannot_open_what_it_sealed(
    tmp_path: Path, local: dict[str, str]
) -> None:
    private = x25519.X25519PrivateKey.generate()
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    keys = tmp_path / "keys"
    keys.mkdir()
    write_hpke_keyset(keys, "tenant-acme", [raw])
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    file = tmp_path / "public-keks.properties"
    file.write_text("# from embedseal tenants public-keks\nacme=local:tenant-acme:1:" + base64.b64encode(spki).decode())
    sealer = SealingSerializer({"embedseal.public-keks.file": str(file)})
    value = sealer(event()) or b""
    assert sealer.keyring.kms is None and sealer.keyring.kms_wraps == 0
    with pytest.raises(SealingError, match="no KMS is configured here"):
        sealer(event(tenant="globex"))
    opened = UnsealingDeserializer({"kms.provider": "local", "kms.local.dir": str(keys)}).unseal(
        record_key("acme", "doc-1#0"), value
    )
    assert opened.event is not None and list(opened.event.vector) == [0.5, -1.0, 2.0]


def test_a_public_keks_file_with_a_key_its_kms_cannot_hold_is_refused(tmp_path: Path) -> None:
    spki = (
        x25519.X25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    file = tmp_path / "k.properties"
    file.write_text("acme=vault:tenant-acme:1:" + base64.b64encode(spki).decode())
    with pytest.raises(ValueError, match="line 1: a X25519 key cannot be held by a vault KMS"):
        SealingSerializer({"embedseal.public-keks.file": str(file)})
    file.write_text("acme=local:tenant-acme:1:" + base64.b64encode(bytes(12) + bytes(32)).decode())
    with pytest.raises(ValueError, match="line 1"):
        SealingSerializer({"embedseal.public-keks.file": str(file)})


def test_a_small_order_x25519_key_is_refused() -> None:
    from embedseal.kms import PublicKek

    zero = bytes.fromhex("302a300506032b656e032100") + bytes(32)
    with pytest.raises(ValueError, match="small order"):
        PublicKek(env.KekRef("local", "tenant-acme", 1), zero)


def test_settings_errors_name_the_setting() -> None:
    with pytest.raises(ValueError, match="kms.local.dir"):
        SealingSerializer({"kms.provider": "local"})
    with pytest.raises(ValueError, match="kms.provider"):
        SealingSerializer({"kms.provider": "nope"})
    with pytest.raises(ValueError, match="embedseal.envelope.purpose"):
        SealingSerializer({"kms.provider": "local", "kms.local.dir": "/x", "embedseal.envelope.purpose": "a b"})
    with pytest.raises(ValueError, match="dek.max-records"):
        SealingSerializer({"kms.provider": "local", "kms.local.dir": "/x", "dek.max-records": "0"})
    with pytest.raises(ValueError, match="kms.vault.allow-insecure-http"):
        SealingSerializer({"kms.provider": "vault", "kms.vault.address": "http://127.0.0.1:1"})
    with pytest.raises(ValueError, match="dek.cache.max-size"):
        SealingSerializer({"kms.provider": "local", "kms.local.dir": "/x", "dek.cache.max-size": "-1"})


def test_dek_cache_max_size_zero_is_the_default_as_on_the_java_side() -> None:
    from embedseal.keyring import DekPolicy

    assert DekPolicy.from_settings({"dek.cache.max-size": "0"}).cache_max_size == 10_000
    assert DekPolicy.from_settings({}).cache_max_size == 10_000
    assert DekPolicy.from_settings({"dek.cache.max-size": "7"}).cache_max_size == 7


def test_reprs_hold_no_vector_or_key(local: dict[str, str]) -> None:
    e = event(vector=[0.123456])
    assert "0.123456" not in repr(e)
    sealer = SealingSerializer(local)
    sealer(e)
    dek = sealer.keyring._sealing["acme"]
    assert "AESGCM" not in repr(dek) and dek.dek_id.hex() in repr(dek)


def test_the_raw_serializer_refuses_what_the_pipeline_would_dead_letter_with_the_same_rule() -> None:
    from embedseal.serde import RawEventSerializer

    raw = RawEventSerializer.with_schema_id(1)
    for bad, rule in [
        (event(vector=[float("nan")]), Rule.NON_FINITE_VALUE),
        (event(tenant="a/b"), Rule.INVALID_TENANT_ID),
    ]:
        with pytest.raises(ValidationError) as refused:
            raw(bad, None)
        assert refused.value.rule is rule
    assert (raw(event(), None) or b"")[:5] == b"\x00\x00\x00\x00\x01"


def test_an_opener_following_key_events_stops_opening_a_revoked_or_destroyed_tenant(local: dict[str, str]) -> None:
    value = SealingSerializer(local)(event()) or b""
    status = {"acme": "ACTIVE"}

    class Events:
        def state(self, tenant: str) -> Any:
            if tenant not in status:
                return None
            st = type("St", (), {"name": status[tenant]})()
            return type(
                "S",
                (),
                {
                    "status": st,
                    "kms": "local",
                    "kek_name": "tenant-" + tenant,
                    "kek_version": 1,
                    "kek_public_key": None,
                    "tenant_id": tenant,
                },
            )()

    opener = UnsealingDeserializer(local, key_events=Events())
    assert opener.unseal(record_key("acme", "doc-1#0"), value).event is not None
    for state, reason in (("REVOKED", Reason.KEY_REVOKED), ("DESTROYED", Reason.KEY_UNKNOWN)):
        status["acme"] = state
        with pytest.raises(EnvelopeError) as refused:
            opener.unseal(record_key("acme", "doc-1#0"), value)
        assert refused.value.reason is reason, state
    # the defence off: an opener without key events still opens it (the KMS alone has not been told)
    assert UnsealingDeserializer(local).unseal(record_key("acme", "doc-1#0"), value).event is not None


def test_the_finiteness_check_over_raw_bits_agrees_with_math_isfinite_on_random_bit_patterns() -> None:
    import math
    import random
    import struct
    from array import array

    from embedseal.events import first_non_finite

    rnd = random.Random(20261206)
    for _ in range(20000):
        n = rnd.randint(1, 40)
        words = [rnd.getrandbits(32) for _ in range(n)]
        pick = rnd.random()
        if pick < 0.4:  # NaN or infinity somewhere
            k = rnd.randrange(n)
            words[k] = (words[k] & 0x807FFFFF) | 0x7F800000
        elif pick < 0.6:  # the largest finite exponent, which must not count
            k = rnd.randrange(n)
            words[k] = (words[k] & 0x807FFFFF) | 0x7F000000
        values = array("f", struct.pack(f"<{n}I", *words))
        want = next((i for i, x in enumerate(values) if not math.isfinite(x)), -1)
        assert first_non_finite(values) == want, words


# --- from the attack review: each of these was shown to go wrong before its fix -------------------------------------


def test_naming_settings_that_give_two_tenants_one_key_are_refused_as_in_java(local: dict[str, str]) -> None:
    # Before: acme's records sealed under globex's key, which then opened them.
    with pytest.raises(ValueError, match="the key the template tenant-\\{tenant\\} gives tenant globex"):
        SealingSerializer(dict(local, **{"kms.key-name.acme": "tenant-globex"}))
    with pytest.raises(ValueError, match="both mapped to KEK 'shared'"):
        SealingSerializer(dict(local, **{"kms.key-name.acme": "shared", "kms.key-name.globex": "shared"}))
    with pytest.raises(ValueError, match="kms.key-name.acme is empty"):
        SealingSerializer(dict(local, **{"kms.key-name.acme": " "}))


def test_a_delete_marker_for_an_id_that_breaks_the_rules_is_refused(local: dict[str, str]) -> None:
    sealer = SealingSerializer(local)
    for tenant, eid in (("x/../tenant-acme", "doc"), ("acme", ""), ("acme", "a\u0000b")):
        with pytest.raises(SealingError, match="delete refused"):
            sealer.delete_marker(tenant, eid)


def test_a_vault_key_name_that_would_change_the_request_path_is_never_sent() -> None:
    from embedseal.kms import KmsError, VaultTransit

    vault = VaultTransit(
        {"kms.vault.address": "http://127.0.0.1:9", "kms.vault.allow-insecure-http": "true", "kms.vault.token-env": "X"}
        | {"kms.vault.token-file": __file__}  # any readable file: no call is made
    )
    for name in ("a/../../keys/tenant-victim/rotate", "x/y", "..", "a..b"):
        with pytest.raises(KmsError, match="not a Transit key name"):
            vault.wrap(name, bytes(32), b"binding")


@pytest.mark.parametrize(
    ("status", "errors", "what", "expected"),
    [
        (0, "gateway timeout", "unwrap", "KmsUnavailable"),  # a proxy's 504: hvac has no class for it
        (501, "", "unwrap", "KmsUnavailable"),
        (400, "invalid ciphertext: version is too new", "unwrap", "UnknownKey"),
        (400, "non-AEAD cipher suite does not support associated data", "unwrap", "InvalidWrappedKey"),
        (500, "failed to RSA decrypt the ciphertext: crypto/rsa: decryption error", "unwrap", "InvalidWrappedKey"),
        (500, "internal error", "unwrap", "KmsUnavailable"),
        (400, "disallowed by policy (too old)", "unwrap", "KeyDenied"),
        (400, "cipher: message authentication failed", "unwrap", "InvalidWrappedKey"),
        (400, "cipher: message authentication failed", "wrap", "KmsError"),
        (404, "", "wrap", "UnknownKey"),
        (404, "no handler for route 'transit/encrypt/x'", "wrap", "KmsUnavailable"),
        (403, "1 error occurred:\n\t* permission denied\n\n", "unwrap", "KeyDenied"),
    ],
)
def test_vault_answers_are_typed_as_the_java_provider_types_them(
    status: int, errors: str, what: str, expected: str
) -> None:
    from embedseal import kms

    vault = kms.VaultTransit(
        {
            "kms.vault.address": "http://127.0.0.1:9",
            "kms.vault.allow-insecure-http": "true",
            "kms.vault.token-file": __file__,
        }
    )
    with pytest.raises(kms.KmsError) as e:
        vault._classify(status, errors, "tenant-acme", what)
    assert type(e.value).__name__ == expected


def test_a_two_dimensional_array_cannot_pass_for_a_short_vector(local: dict[str, str]) -> None:
    from array import array

    class Matrix:  # what a NumPy array of shape (1, 20000) answers: len() counts rows
        ndim = 2
        shape = (1, 20000)

        def __len__(self) -> int:
            return 1

        def astype(self, _t: str) -> Any:
            return array("f", [0.5] * 20000)

    e = EmbeddingEvent("acme", "doc", "m", Matrix(), 1)  # type: ignore[arg-type]
    found = check(e)
    assert found is not None and "one dimension" in found.detail
    with pytest.raises(SealingError):
        SealingSerializer(local)(e)


def test_dek_caches_are_bounded_and_swept_and_one_dek_is_made_per_rollover(
    local: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from embedseal import keyring as kr

    for i in range(10):
        write_aes_keyset(tmp_path, f"tenant-t{i}", [(1000 + i, os.urandom(32))])
    settings = {"kms.provider": "local", "kms.local.dir": str(tmp_path), "dek.cache.max-size": "3"}
    sealer = SealingSerializer(settings)
    for i in range(10):
        sealer(event(tenant=f"t{i}"))
    assert len(sealer.keyring._sealing) == 3
    now = [kr.time.monotonic()]
    monkeypatch.setattr(kr.time, "monotonic", lambda: now[0])
    now[0] += 301  # past dek.max-open-seconds (300) and the sweep's once-a-second
    sealer(event(tenant="t0"))
    assert list(sealer.keyring._sealing) == ["t0"], "expired DEKs are swept whether or not their tenant comes back"
    monkeypatch.undo()

    concurrent = SealingSerializer(dict(local, **{"dek.max-records": "100"}))

    def seal_many() -> None:
        for _ in range(500):
            concurrent(event())

    threads = [threading.Thread(target=seal_many) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert concurrent.keyring.kms_wraps == 4000 // 100, "one wrap per 100 records, not one per racing thread"


def test_settings_files_are_read_as_java_reads_them(tmp_path: Path) -> None:
    from embedseal.serde import read_properties

    f = tmp_path / "s.properties"
    f.write_text("# c\n! c\nkms.key-name.acme: tenant-acme-byok\nkms.provider local\na = b\\\n   c\nu=\\u0041\n")
    assert read_properties(f) == {
        "kms.key-name.acme": "tenant-acme-byok",
        "kms.provider": "local",
        "a": "bc",
        "u": "A",
    }
    with pytest.raises(ValueError, match="accept-v1 must be true or false"):
        UnsealingDeserializer({"kms.provider": "local", "kms.local.dir": "/x", "embedseal.envelope.accept-v1": "no"})


def test_an_envelope_naming_another_provider_is_refused_before_any_kms(local: dict[str, str]) -> None:
    value = SealingSerializer(local)(event()) or b""
    h = env.parse(value)
    other = env.key_slot(env.KekRef("vault", h.kek.key_name, 1), h.wrapped_dek)
    with pytest.raises(EnvelopeError) as e:
        UnsealingDeserializer(local).unseal(
            record_key("acme", "doc-1#0"), value[: h.associated_data_length] + other + value[h.ciphertext_offset :]
        )
    assert e.value.reason is Reason.WRONG_BINDING


def test_opened_deks_are_swept_after_max_open_even_if_never_asked_for_again(
    local: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from embedseal import keyring as kr

    sealer, opener = SealingSerializer(local), UnsealingDeserializer(local)
    a, g = sealer(event()) or b"", sealer(event(tenant="globex")) or b""
    opener.unseal(record_key("acme", "doc-1#0"), a)
    now = [kr.time.monotonic()]
    monkeypatch.setattr(kr.time, "monotonic", lambda: now[0])
    now[0] += 301
    opener.unseal(record_key("globex", "doc-1#0"), g)
    assert [k[0] for k in opener.keyring._opened] == ["globex"]


def test_a_delete_marker_is_not_held_to_a_vectors_rules(local: dict[str, str]) -> None:
    sealer = SealingSerializer(dict(local, **{"validation.dimensions.tenant.acme": "384"}))
    marker = sealer.delete_marker("acme", "doc-1#0")
    assert UnsealingDeserializer(local).unseal(record_key("acme", "doc-1#0"), marker).is_delete
