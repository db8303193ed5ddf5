"""Opening envelopes through a real PKCS#11 token (SoftHSM2, python-pkcs11): a symmetric KEK (AES-GCM inside the
token, as the Java provider wraps) and a key pair (the DEK wrapped with its public key here, the RSA part decrypted by
the token with raw RSA and OAEP-decoded here). Skipped without SoftHSM2, unless EMBEDSEAL_REQUIRE_SOFTHSM=1."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from embedseal import envelope as env
from embedseal.envelope import EnvelopeError, KekRef, PayloadType, Reason, RecordVersion
from embedseal.events import EmbeddingEvent, encode_canonical
from embedseal.kms import PublicKek
from embedseal.serde import UnsealingDeserializer, record_key

LIBRARY = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "1234"


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if not (Path(LIBRARY).exists() and shutil.which("softhsm2-util")):
        if os.environ.get("EMBEDSEAL_REQUIRE_SOFTHSM") == "1":
            pytest.fail("EMBEDSEAL_REQUIRE_SOFTHSM=1 but SoftHSM2 is missing (apt-get install softhsm2)")
        pytest.skip("needs SoftHSM2 (apt-get install softhsm2)")
    d = tmp_path_factory.mktemp("softhsm")
    (d / "tokens").mkdir()
    conf = d / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {d / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", "embedseal", "--so-pin", "5678", "--pin", PIN],
        check=True,
        capture_output=True,
    )
    pin_file = d / "pin"
    pin_file.write_text(PIN)
    yield {"kms.provider": "pkcs11", "kms.pkcs11.library": LIBRARY, "kms.pkcs11.pin-file": str(pin_file)}
    if old is None:
        del os.environ["SOFTHSM2_CONF"]
    else:
        os.environ["SOFTHSM2_CONF"] = old


def _session() -> object:
    import pkcs11
    import pkcs11.exceptions

    token = pkcs11.lib(LIBRARY).get_token(token_label="embedseal")
    try:
        return token.open(user_pin=PIN, rw=True)
    except pkcs11.exceptions.UserAlreadyLoggedIn:  # an opener's session of this process logged in
        return token.open(rw=True)


def _envelope(kek: KekRef, wrapped: bytes, dek: bytes, dek_id: bytes, tenant: str) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    e = EmbeddingEvent(tenant, "doc-1", "m", [1.5, -2.0], 1_700_000_000_000)
    return env.seal(
        AESGCM(dek),
        dek_id,
        env.key_slot(kek, wrapped),
        PayloadType.EMBEDDING_EVENT_AVRO,
        tenant,
        "doc-1",
        env.DEFAULT_PURPOSE,
        RecordVersion(1, 1),
        encode_canonical(e),
    )


def test_a_dek_wrapped_by_aes_gcm_inside_the_token_opens(token: dict[str, str]) -> None:
    import pkcs11

    with _session() as s:  # type: ignore[attr-defined]
        key = s.generate_key(pkcs11.KeyType.AES, 256, label="tenant-acme.v1", store=True)
        dek, dek_id, nonce = os.urandom(32), os.urandom(16), os.urandom(12)
        binding = env.dek_binding("acme", dek_id)
        gcm = pkcs11.mechanisms.GCMParams(nonce, binding, 128)
        wrapped = nonce + bytes(key.encrypt(dek, mechanism=pkcs11.Mechanism.AES_GCM, mechanism_param=gcm))
    value = _envelope(KekRef("pkcs11", "tenant-acme", 1), wrapped, dek, dek_id, "acme")
    opener = UnsealingDeserializer(token)
    u = opener.unseal(record_key("acme", "doc-1"), value)
    assert u.event is not None and list(u.event.vector) == [1.5, -2.0]
    # another DEK id in the header: the binding inside the token refuses the wrapped DEK
    h = env.parse(value)
    bad = bytearray(value)
    bad[h.associated_data_length - 5] ^= 1
    with pytest.raises(EnvelopeError) as e:
        UnsealingDeserializer(token).unseal(record_key("acme", "doc-1"), bytes(bad))
    assert e.value.reason is Reason.TAMPERED
    # a version the token does not hold
    with pytest.raises(EnvelopeError) as unknown:
        UnsealingDeserializer(token).unseal(
            record_key("acme", "doc-1"), _envelope(KekRef("pkcs11", "tenant-acme", 2), wrapped, dek, dek_id, "acme")
        )
    assert unknown.value.reason is Reason.KEY_UNKNOWN


def test_a_dek_wrapped_with_the_tokens_public_key_opens_through_raw_rsa(token: dict[str, str]) -> None:
    import pkcs11
    from pkcs11.util.rsa import encode_rsa_public_key

    with _session() as s:  # type: ignore[attr-defined]
        public, _private = s.generate_keypair(pkcs11.KeyType.RSA, 3072, label="tenant-pair.v1", store=True)
        der = encode_rsa_public_key(public)
    kek = KekRef("pkcs11", "tenant-pair", 1)
    pk = PublicKek(kek, rsa_spki_from_pkcs1(der))
    dek, dek_id = os.urandom(32), os.urandom(16)
    wrapped = pk.wrap(dek, env.dek_binding("pair", dek_id))
    value = _envelope(kek, wrapped, dek, dek_id, "pair")
    u = UnsealingDeserializer(token).unseal(record_key("pair", "doc-1"), value)
    assert u.event is not None and list(u.event.vector) == [1.5, -2.0]


def rsa_spki_from_pkcs1(der: bytes) -> bytes:
    """python-pkcs11 gives the public key as PKCS#1 ``RSAPublicKey``; the KEK is pinned as SubjectPublicKeyInfo."""
    n, e = _pkcs1_numbers(der)
    return spki_bytes(rsa.RSAPublicNumbers(e, n).public_key())


def _pkcs1_numbers(der: bytes) -> tuple[int, int]:
    def tlv(pos: int) -> tuple[int, int, int]:
        tag, length = der[pos], der[pos + 1]
        pos += 2
        if length & 0x80:
            k = length & 0x7F
            length = int.from_bytes(der[pos : pos + k], "big")
            pos += k
        return tag, pos, length

    _, body, _ = tlv(0)
    _, at, n_len = tlv(body)
    n = int.from_bytes(der[at : at + n_len], "big")
    _, at2, e_len = tlv(at + n_len)
    return n, int.from_bytes(der[at2 : at2 + e_len], "big")


def spki_bytes(key: object) -> bytes:
    assert isinstance(key, rsa.RSAPublicKey)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_a_forged_rsa_part_is_tampered_not_an_outage(token: dict[str, str]) -> None:
    """Anyone can write ``ESPK 01`` with an RSA part at or above the modulus: refused as the record's fault."""
    import pkcs11

    with _session() as s:  # type: ignore[attr-defined]
        s.generate_keypair(pkcs11.KeyType.RSA, 3072, label="tenant-forged.v1", store=True)
    dek, dek_id = os.urandom(32), os.urandom(16)
    forged = b"ESPK\x01" + (384).to_bytes(2, "big") + b"\xff" * 384 + bytes(48)
    value = _envelope(KekRef("pkcs11", "tenant-forged", 1), forged, dek, dek_id, "forged")
    with pytest.raises(EnvelopeError) as e:
        UnsealingDeserializer(token).unseal(record_key("forged", "doc-1"), value)
    assert e.value.reason is Reason.TAMPERED and not e.value.retryable


def test_many_threads_open_through_one_token_without_crashing_it(token: dict[str, str]) -> None:
    """Before the session lock, 8 threads opening 400 DEKs crashed the process in 5 of 6 runs (heap corruption)."""
    import threading

    import pkcs11

    with _session() as s:  # type: ignore[attr-defined]
        key = s.generate_key(pkcs11.KeyType.AES, 256, label="tenant-busy.v1", store=True)
        values = []
        for _ in range(160):
            dek, dek_id, nonce = os.urandom(32), os.urandom(16), os.urandom(12)
            gcm = pkcs11.mechanisms.GCMParams(nonce, env.dek_binding("busy", dek_id), 128)
            wrapped = nonce + bytes(key.encrypt(dek, mechanism=pkcs11.Mechanism.AES_GCM, mechanism_param=gcm))
            values.append(_envelope(KekRef("pkcs11", "tenant-busy", 1), wrapped, dek, dek_id, "busy"))
    opener = UnsealingDeserializer(token)
    failures: list[BaseException] = []

    def open_some(part: list[bytes]) -> None:
        try:
            for v in part:
                assert opener.unseal(record_key("busy", "doc-1"), v).event is not None
        except BaseException as e:  # noqa: BLE001 - collected for the assertion below
            failures.append(e)

    threads = [threading.Thread(target=open_some, args=(values[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures and opener.keyring.kms_unwraps == 160
