"""Shared fixtures: the shared test vectors, local development keysets written as the Java local KMS writes them."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REPO / "testvectors" / "envelope-vectors.json").read_text(encoding="utf-8"))
    return data


def write_aes_keyset(directory: Path, key_name: str, keys: list[tuple[int, bytes]]) -> None:
    """A Tink AES-256-GCM keyset in cleartext JSON (TINK output prefix), as the Java local KMS stores one."""
    entries = [
        {
            "keyData": {
                "typeUrl": "type.googleapis.com/google.crypto.tink.AesGcmKey",
                "value": base64.b64encode(b"\x1a\x20" + raw).decode(),
                "keyMaterialType": "SYMMETRIC",
            },
            "status": "ENABLED",
            "keyId": key_id,
            "outputPrefixType": "TINK",
        }
        for key_id, raw in keys
    ]
    (directory / f"{key_name}.keyset.json").write_text(json.dumps({"primaryKeyId": keys[-1][0], "key": entries}))


def write_hpke_keyset(directory: Path, key_name: str, private_keys: list[bytes]) -> None:
    """A Tink HPKE private keyset (X25519, RAW output prefix): field 3 of HpkePrivateKey is the private key."""
    entries = [
        {
            "keyData": {
                "typeUrl": "type.googleapis.com/google.crypto.tink.HpkePrivateKey",
                "value": base64.b64encode(b"\x1a\x20" + raw).decode(),
                "keyMaterialType": "ASYMMETRIC_PRIVATE",
            },
            "status": "ENABLED",
            "keyId": 1000 + i,
            "outputPrefixType": "RAW",
        }
        for i, raw in enumerate(private_keys)
    ]
    (directory / f"{key_name}.keyset.json").write_text(json.dumps({"primaryKeyId": 1000, "key": entries}))
