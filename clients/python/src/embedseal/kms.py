"""Key-encryption keys: what wraps and unwraps a DEK, in the same formats the Java providers write.

- ``PublicKek``: a tenant's public key, pinned in its signed key events. RSA (Vault Transit ``rsa-3072``, an RSA pair
  in a PKCS#11 token): ``"ESPK" 0x01 len(c1) c1 c2`` (RSA-OAEP-SHA256 of a one-use AES key, then AES-256-GCM of the
  DEK under the binding); X25519 (the local development KMS): ``"ESPK" 0x02 enc ciphertext tag``, HPKE base mode,
  DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, the binding as HPKE's info. No KMS call, no credential.
- ``VaultTransit``: Vault or OpenBao Transit through ``hvac``: ``encrypt``/``decrypt`` with ``associated_data``.
- ``Pkcs11Token``: AES-GCM inside a PKCS#11 token (``python-pkcs11``): ``nonce ct tag`` under the binding; raw RSA in
  the token and OAEP decoding here for public-key wraps.
- ``LocalKeysets``: the local development KMS's cleartext Tink keysets (``<dir>/<key>.keyset.json``).

Failures are typed as the Java side types them: ``KeyDenied`` (revoked, disabled, denied), ``UnknownKey`` (never
created, or destroyed), ``KmsUnavailable`` (worth retrying), ``InvalidWrappedKey`` (a tampered or misplaced wrap).
Messages name keys and versions, never key bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from .envelope import KekRef

ESPK = b"ESPK"
RSA_FORMAT = 1
HPKE_FORMAT = 2
_HPKE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
_HPKE_WRAPPED_BYTES = 5 + 32 + 32 + 16
_X25519_SPKI_PREFIX = bytes.fromhex("302a300506032b656e032100")
_P = 2**255 - 19


class KmsError(Exception):
    """A KMS call that failed for a reason other than the ones below (a key's own fault, not retried)."""


class KeyDenied(KmsError):
    """The KMS refused the key: revoked, disabled, or the caller has no grant."""


class UnknownKey(KmsError):
    """The KMS does not know the key or version: never created, or destroyed."""


class KmsUnavailable(KmsError):
    """The KMS could not be reached or answered with a server fault: retry."""


class InvalidWrappedKey(KmsError):
    """The wrapped DEK does not open for this binding: another tenant's, DEK's or purpose's, or altered."""


class Kms(Protocol):
    """Wraps and unwraps DEKs under a named key; ``provider`` is the first part of every ``KekRef`` it makes."""

    provider: str

    def wrap(self, key_name: str, dek: bytes, binding: bytes) -> tuple[KekRef, bytes]: ...

    def unwrap(self, kek: KekRef, wrapped: bytes, binding: bytes) -> bytes: ...

    def close(self) -> None: ...


def fingerprint(spki: bytes) -> str:
    """``SHA256:`` and the hex SHA-256 of a SubjectPublicKeyInfo: what an operator compares."""
    return "SHA256:" + hashlib.sha256(spki).hexdigest()


def is_public_key_wrap(wrapped: bytes) -> bool:
    return len(wrapped) > 4 and wrapped[:4] == ESPK and wrapped[4] in (RSA_FORMAT, HPKE_FORMAT)


class PublicKek:
    """The public half of one version of a tenant's key pair: wraps DEKs, never unwraps them."""

    def __init__(self, kek: KekRef, spki: bytes) -> None:
        self.kek = kek
        self.spki = bytes(spki)
        self._x25519: x25519.X25519PublicKey | None = None
        self._rsa: rsa.RSAPublicKey | None = None
        if len(spki) == 44 and spki[:12] == _X25519_SPKI_PREFIX:
            raw = spki[12:]
            if not _usable_x25519(raw):
                raise ValueError(
                    f"the X25519 public key of {kek} is not canonical, or a point of small order (every wrap under it "
                    "would be readable)"
                )
            self._x25519 = x25519.X25519PublicKey.from_public_bytes(raw)
            self.bits = 255
            return
        try:
            key = serialization.load_der_public_key(spki)
        except ValueError:
            raise ValueError(
                f"the public key of {kek} is neither an RSA nor an X25519 SubjectPublicKeyInfo (DER)"
            ) from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError(f"the public key of {kek} is neither an RSA nor an X25519 SubjectPublicKeyInfo (DER)")
        if key.key_size < 2048:
            raise ValueError(
                f"the RSA public key of {kek} has {key.key_size} bits; a public-key KEK needs 2048 or more"
            )
        self._rsa = key
        self.bits = key.key_size

    @property
    def algorithm(self) -> str:
        return "X25519" if self._x25519 is not None else f"RSA-{self.bits}"

    def suits_provider(self, provider: str) -> bool:
        """X25519 pairs are the local development KMS's, RSA pairs every other provider's."""
        return (self._x25519 is not None) == (provider == "local")

    def wrap(self, dek: bytes, binding: bytes) -> bytes:
        if self._x25519 is not None:
            return ESPK + bytes((HPKE_FORMAT,)) + _HPKE.encrypt(dek, self._x25519, info=binding)
        assert self._rsa is not None
        one_use = os.urandom(32)
        c1 = self._rsa.encrypt(
            one_use, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
        )
        c2 = AESGCM(one_use).encrypt(bytes(12), dek, binding)
        return ESPK + bytes((RSA_FORMAT,)) + len(c1).to_bytes(2, "big") + c1 + c2

    def __repr__(self) -> str:
        return f"PublicKek[{self.kek}, {self.algorithm}, {fingerprint(self.spki)}]"


def _usable_x25519(raw: bytes) -> bool:
    if len(raw) != 32 or raw[31] & 0x80 or int.from_bytes(raw, "little") >= _P:
        return False
    try:
        x25519.X25519PrivateKey.generate().exchange(x25519.X25519PublicKey.from_public_bytes(raw))
    except ValueError:  # an all-zero shared secret: a point of small order
        return False
    return True


def rsa_unwrap(wrapped: bytes, binding: bytes, decrypt_c1: Callable[[bytes], bytes]) -> bytes:
    """Opens an ``ESPK 1`` wrap: the KMS decrypts the RSA part, the DEK is opened here under the binding."""
    if len(wrapped) < 7 or wrapped[:4] != ESPK or wrapped[4] != RSA_FORMAT:
        raise InvalidWrappedKey("not a public-key wrapped key (format ESPK v1)")
    c1_len = int.from_bytes(wrapped[5:7], "big")
    c2_at = 7 + c1_len
    if c1_len < 256 or c2_at + 16 > len(wrapped):
        raise InvalidWrappedKey("a public-key wrapped key of impossible lengths")
    one_use = decrypt_c1(wrapped[7:c2_at])
    if len(one_use) != 32:
        raise InvalidWrappedKey(f"a public-key wrapped key whose RSA part holds {len(one_use)} bytes, not 32")
    try:
        return AESGCM(one_use).decrypt(bytes(12), wrapped[c2_at:], binding)
    except InvalidTag:
        raise InvalidWrappedKey(
            "the wrapped key does not open for this binding (another tenant's, DEK's or purpose's, or altered)"
        ) from None


def oaep_sha256_decode(em: bytes, k: int) -> bytes:
    """EME-OAEP decoding (RFC 8017, 7.1.2) with SHA-256, MGF1-SHA-256 and an empty label, of a raw RSA result: for a
    token that decrypts with raw RSA only. All checks run before the one verdict."""
    h_len = 32
    if k < 2 * h_len + 2 or len(em) > k:
        raise InvalidWrappedKey("decryption error")
    padded = bytes(k - len(em)) + em
    masked_seed, masked_db = padded[1 : 1 + h_len], padded[1 + h_len :]
    seed = bytes(a ^ b for a, b in zip(masked_seed, _mgf1(masked_db, h_len), strict=True))
    db = bytes(a ^ b for a, b in zip(masked_db, _mgf1(seed, k - h_len - 1), strict=True))
    bad = padded[0]
    bad |= 0 if hmac.compare_digest(db[:h_len], hashlib.sha256(b"").digest()) else 1
    index, looking = 0, 1
    for i in range(h_len, len(db)):
        b = db[i]
        is_one = 1 if b == 1 else 0
        is_zero = 1 if b == 0 else 0
        found = looking & is_one
        index |= -found & i
        bad |= looking & (1 - is_one) & (1 - is_zero)
        looking &= 1 - is_one
    bad |= looking
    if bad:
        raise InvalidWrappedKey("decryption error")
    return db[index + 1 :]


def _mgf1(seed: bytes, length: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:length]


# ---------------------------------------------------------------------------------------------------------------------
# Vault / OpenBao Transit


_VAULT_CIPHERTEXT = re.compile(r"vault:v(\d{1,9}):([A-Za-z0-9+/=]+)")
_HVAC_STATUS = {
    "InvalidRequest": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "InvalidPath": 404,
    "RateLimitExceeded": 429,
    "InternalServerError": 500,
    "VaultNotInitialized": 501,
    "BadGateway": 502,
    "VaultDown": 503,
}
# Transit key names go into the request path: what the Java provider URL-encodes, this client refuses outright.
_VAULT_KEY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,199}")


class VaultTransit:
    """Vault or OpenBao Transit: ``encrypt/<key>`` and ``decrypt/<key>`` with ``associated_data``.

    Settings (as the Java provider names them): ``kms.vault.address``, ``kms.vault.token-file`` (or
    ``kms.vault.token-env``, default ``VAULT_TOKEN``), ``kms.vault.mount`` (``transit``), ``kms.vault.namespace``,
    ``kms.vault.ca-file``, ``kms.vault.allow-insecure-http``, ``kms.vault.read-timeout-ms``.
    """

    provider = "vault"

    def __init__(self, settings: Mapping[str, str]) -> None:
        import hvac  # imported here: a producer with public keys only needs no Vault client

        address = settings.get("kms.vault.address")
        if not address:
            raise ValueError("kms.vault.address: the Vault (or OpenBao) address is required for kms.provider=vault")
        if address.startswith("http://") and settings.get("kms.vault.allow-insecure-http", "false") != "true":
            raise ValueError(
                "kms.vault.address: plain http sends the token and every DEK in clear; use https, or set "
                "kms.vault.allow-insecure-http=true for a local development server"
            )
        self._token_file = settings.get("kms.vault.token-file")
        self._token_env = settings.get("kms.vault.token-env", "VAULT_TOKEN")
        token = self._read_token()
        self.mount = settings.get("kms.vault.mount", "transit").rstrip("/")
        timeout = int(settings.get("kms.vault.read-timeout-ms", "30000")) / 1000
        verify: bool | str = settings.get("kms.vault.ca-file") or True
        self._client = hvac.Client(
            url=address, token=token, namespace=settings.get("kms.vault.namespace"), verify=verify, timeout=timeout
        )
        self._lock = threading.RLock()

    def _read_token(self) -> str:
        if self._token_file:
            try:
                token = Path(self._token_file).read_text(encoding="utf-8").strip()
            except OSError as e:
                raise ValueError(f"kms.vault.token-file: cannot read {self._token_file}: {e.strerror}") from None
        else:
            token = os.environ.get(self._token_env, "").strip()
        if not token:
            where = f"kms.vault.token-file ({self._token_file})" if self._token_file else f"${self._token_env}"
            raise ValueError(f"no Vault token in {where}")
        return token

    @staticmethod
    def _require_name(key_name: str) -> str:
        if _VAULT_KEY_NAME.fullmatch(key_name) is None or ".." in key_name:
            raise KmsError(
                f"'{key_name}' is not a Transit key name this client sends (letters, digits, . _ -; no '/' or '..'): "
                "check kms.key-name-template and kms.key-name.<tenant>"
            )
        return key_name

    def wrap(self, key_name: str, dek: bytes, binding: bytes) -> tuple[KekRef, bytes]:
        self._require_name(key_name)
        answer = self._call(
            key_name,
            "wrap",
            lambda: self._client.secrets.transit.encrypt_data(
                name=key_name,
                plaintext=base64.b64encode(dek).decode("ascii"),
                associated_data=base64.b64encode(binding).decode("ascii"),
                mount_point=self.mount,
            ),
        )
        ciphertext = str(answer.get("data", {}).get("ciphertext", ""))
        m = _VAULT_CIPHERTEXT.fullmatch(ciphertext)
        if m is None:
            raise KmsUnavailable(f"Vault answered encrypt/{key_name} without a ciphertext")
        return KekRef(self.provider, key_name, int(m.group(1))), ciphertext.encode("ascii")

    def unwrap(self, kek: KekRef, wrapped: bytes, binding: bytes) -> bytes:
        if kek.provider != self.provider:
            raise KmsError(f"Vault does not hold {kek}")
        if is_public_key_wrap(wrapped):
            return rsa_unwrap(wrapped, binding, lambda c1: self._decrypt(kek, self._ciphertext(kek, c1), None))
        text = wrapped.decode("ascii", "replace")
        m = _VAULT_CIPHERTEXT.fullmatch(text)
        if m is None:
            raise InvalidWrappedKey(f"wrapped DEK under {kek} is not a Vault Transit ciphertext")
        if int(m.group(1)) != kek.version:
            raise InvalidWrappedKey(f"wrapped DEK is of version {m.group(1)}, its envelope says {kek}")
        return self._decrypt(kek, text, binding)

    @staticmethod
    def _ciphertext(kek: KekRef, c1: bytes) -> str:
        return f"vault:v{kek.version}:" + base64.b64encode(c1).decode("ascii")

    def _decrypt(self, kek: KekRef, ciphertext: str, binding: bytes | None) -> bytes:
        self._require_name(kek.key_name)
        args: dict[str, Any] = {"name": kek.key_name, "ciphertext": ciphertext, "mount_point": self.mount}
        if binding is not None:
            args["associated_data"] = base64.b64encode(binding).decode("ascii")
        answer = self._call(kek.key_name, "unwrap", lambda: self._client.secrets.transit.decrypt_data(**args))
        try:
            return base64.b64decode(str(answer["data"]["plaintext"]), validate=True)
        except (KeyError, TypeError, ValueError):
            raise KmsUnavailable(f"Vault answered decrypt/{kek.key_name} without a plaintext") from None

    def _call(self, key_name: str, what: str, call: Callable[[], Any]) -> dict[str, Any]:
        """One Transit call, its failure typed as the Java provider types it (``VaultTransitKms.requireSuccess``)."""
        import hvac.exceptions as he
        import requests

        try:
            with self._lock:  # hvac's client (a requests session, the token) is shared by the producer's threads
                answer = call()
        except requests.RequestException as e:
            raise KmsUnavailable(
                f"Vault could not be reached ({what} under '{key_name}'): {type(e).__name__}"
            ) from None
        except he.VaultError as e:
            status = _HVAC_STATUS.get(type(e).__name__, 0)
            errors = ", ".join(str(x) for x in e.errors) if e.errors else str(e.args[0] if e.args else "")
            self._classify(status, errors, key_name, what)
            raise AssertionError("unreachable") from None
        if not isinstance(answer, dict):
            raise KmsUnavailable(f"Vault answered {what} under '{key_name}' with no JSON body")
        return answer

    def _classify(self, status: int, errors: str, key_name: str, what: str) -> None:
        unwrap = what == "unwrap"
        where = f"{what} under Vault Transit key '{key_name}': HTTP {status or '?'} {errors}".rstrip()
        if status == 403:
            # Vault's answer both to a policy without the grant (the tenant's revocation; a valid token's ACL refusal
            # comes as "1 error occurred") and to a dead token (this client's problem, never a revocation).
            if "error occurred" in errors or self._token_valid():
                raise KeyDenied(f"permission denied for {where}") from None
            raise KmsUnavailable(
                f"Vault does not accept this client's token for {what} under '{key_name}': give it a valid token"
            ) from None
        if "no handler for route" in errors:
            raise KmsUnavailable(f"no Transit engine at {self.mount}/: check kms.vault.mount; {where}") from None
        if status == 404 or "not found" in errors or "could be found" in errors or "no existing key" in errors:
            raise UnknownKey(f"no such key: {where}") from None
        if unwrap and ("failed to RSA decrypt" in errors or "non-AEAD cipher suite" in errors):
            raise InvalidWrappedKey(f"wrapped DEK does not open: {where}") from None
        if status == 429 or status >= 500 or status == 0:  # 0: a status hvac has no class for (a proxy's 504)
            raise KmsUnavailable(f"Vault unavailable: {where}") from None
        if "disallowed by policy" in errors:
            raise KeyDenied(f"key version restricted (min_decryption_version): {where}") from None
        if "too new" in errors:
            raise UnknownKey(f"key version unknown: {where}") from None
        if unwrap and ("invalid ciphertext" in errors or "message authentication failed" in errors):
            raise InvalidWrappedKey(f"wrapped DEK does not open: {where}") from None
        raise KmsError(f"Vault refused {where}") from None

    def _token_valid(self) -> bool:
        """Whether Vault still takes the token: ``lookup-self`` answers, or refuses by policy (a valid token without
        that grant). The token file is read again first (Vault Agent rewrites it)."""
        import hvac.exceptions as he

        if self._token_file:
            try:
                self._client.token = self._read_token()
            except ValueError:
                return False
        try:
            with self._lock:
                self._client.auth.token.lookup_self()
            return True
        except he.Forbidden as e:
            return "error occurred" in ", ".join(str(x) for x in (e.errors or []))
        except (he.VaultDown, he.InternalServerError, he.BadGateway, he.RateLimitExceeded, he.UnexpectedError):
            raise KmsUnavailable("Vault is unavailable (looking up this client's token)") from None
        except Exception:  # noqa: BLE001 - anything else: the token is not usable
            return False

    def public_key(self, key_name: str, version: int) -> bytes:
        """A version's public key (SubjectPublicKeyInfo, DER) from ``keys/<key>``."""
        answer = self._call(
            key_name, "read", lambda: self._client.secrets.transit.read_key(name=key_name, mount_point=self.mount)
        )
        pem = answer["data"]["keys"][str(version)]["public_key"]
        key = serialization.load_pem_public_key(str(pem).encode("ascii"))
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    def close(self) -> None:
        self._client.adapter.close()


# ---------------------------------------------------------------------------------------------------------------------
# PKCS#11


class Pkcs11Token:
    """AES-GCM inside a PKCS#11 token, as the Java provider uses it: version ``N`` of key ``k`` is the token object
    labelled ``k.vN``; a wrapped DEK is ``nonce(12) ciphertext(32) tag(16)`` with the binding as associated data.

    Settings: ``kms.pkcs11.library``, ``kms.pkcs11.slot`` (a slot id) or ``kms.pkcs11.slot-list-index`` (default 0),
    ``kms.pkcs11.pin-file`` or ``kms.pkcs11.pin-env``.
    """

    provider = "pkcs11"

    def __init__(self, settings: Mapping[str, str]) -> None:
        import pkcs11
        import pkcs11.exceptions

        library = settings.get("kms.pkcs11.library")
        if not library:
            raise ValueError("kms.pkcs11.library: the PKCS#11 module (.so) is required for kms.provider=pkcs11")
        pin_file, pin_env = settings.get("kms.pkcs11.pin-file"), settings.get("kms.pkcs11.pin-env")
        if pin_file:
            pin = Path(pin_file).read_text(encoding="utf-8").strip()
        elif pin_env:
            pin = os.environ.get(pin_env, "")
        else:
            raise ValueError("kms.pkcs11.pin-file or kms.pkcs11.pin-env: the token's user PIN is required")
        lib = pkcs11.lib(library)
        slots = lib.get_slots(token_present=True)
        if "kms.pkcs11.slot" in settings:
            wanted = int(settings["kms.pkcs11.slot"])
            chosen = [s for s in slots if s.slot_id == wanted]
            if not chosen:
                raise ValueError(f"kms.pkcs11.slot: no token in slot {wanted}")
            slot = chosen[0]
        else:
            index = int(settings.get("kms.pkcs11.slot-list-index", "0"))
            if index >= len(slots):
                raise ValueError(f"kms.pkcs11.slot-list-index: only {len(slots)} slots hold a token")
            slot = slots[index]
        self._lock = threading.Lock()
        token = slot.get_token()
        try:
            self._session = token.open(user_pin=pin)
        except pkcs11.exceptions.UserAlreadyLoggedIn:
            # PKCS#11 logs in per application: another session of this process (another opener) already did.
            self._session = token.open()
        self._pkcs11 = pkcs11

    def _key(self, kek: KekRef, object_class: Any) -> Any:
        import pkcs11.exceptions as pe

        try:
            return self._session.get_key(object_class=object_class, label=f"{kek.key_name}.v{kek.version}")
        except pe.NoSuchKey:
            return None
        except pe.MultipleObjectsReturned:
            raise KmsError(f"PKCS#11 token holds more than one object labelled {kek.key_name}.v{kek.version}") from None
        except pe.PKCS11Error as e:
            raise KmsUnavailable(f"PKCS#11 token could not look up {kek}: {type(e).__name__}") from None

    def _private_key_of_certificate(self, kek: KekRef) -> Any:
        """The private key Java's SunPKCS11 key store made: the label is on its certificate, and the key shares the
        certificate's ``CKA_ID``."""
        import pkcs11.exceptions as pe

        label = f"{kek.key_name}.v{kek.version}"
        try:
            certs = list(
                self._session.get_objects(
                    {
                        self._pkcs11.Attribute.CLASS: self._pkcs11.ObjectClass.CERTIFICATE,
                        self._pkcs11.Attribute.LABEL: label,
                    }
                )
            )
            if len(certs) != 1:
                return None
            key_id = certs[0][self._pkcs11.Attribute.ID]
            return self._session.get_key(object_class=self._pkcs11.ObjectClass.PRIVATE_KEY, id=key_id)
        except pe.NoSuchKey:
            return None
        except pe.PKCS11Error as e:
            raise KmsUnavailable(f"PKCS#11 token could not look up {kek}: {type(e).__name__}") from None

    def wrap(self, key_name: str, dek: bytes, binding: bytes) -> tuple[KekRef, bytes]:
        raise KmsError("this client unwraps with a PKCS#11 token; it seals with the tenant's public key or Vault")

    def unwrap(self, kek: KekRef, wrapped: bytes, binding: bytes) -> bytes:
        # One session, used by one thread at a time: PKCS#11 sessions are not for concurrent use (the Java provider has
        # a pool; a consumer here unwraps once per DEK, so one session under a lock does).
        if kek.provider != self.provider:
            raise KmsError(f"the PKCS#11 token does not hold {kek}")
        with self._lock:
            return self._unwrap(kek, wrapped, binding)

    def _unwrap(self, kek: KekRef, wrapped: bytes, binding: bytes) -> bytes:
        import pkcs11.exceptions as pe

        oc, mech, attr = self._pkcs11.ObjectClass, self._pkcs11.Mechanism, self._pkcs11.Attribute
        if is_public_key_wrap(wrapped):
            private = self._key(kek, oc.PRIVATE_KEY) or self._private_key_of_certificate(kek)
            if private is None:
                if self._key(kek, oc.SECRET_KEY) is not None:
                    raise InvalidWrappedKey(f"wrapped DEK was made with a public key, but {kek} is an AES key")
                raise UnknownKey(f"PKCS#11 token has no key pair {kek}")
            n = int.from_bytes(private[attr.MODULUS], "big")
            k = (n.bit_length() + 7) // 8

            def raw_rsa(c1: bytes) -> bytes:
                # Every value below the modulus decrypts: the record's own fault is caught here, so that what the
                # token then refuses is the token's (as the Java provider does).
                if len(c1) != k or int.from_bytes(c1, "big") >= n:
                    raise InvalidWrappedKey(
                        f"the RSA part of a wrapped DEK under {kek} is not a value below its modulus"
                    )
                try:
                    em = bytes(private.decrypt(c1, mechanism=mech.RSA_X_509))
                except pe.PKCS11Error as e:
                    if _denied(e):
                        raise KeyDenied(f"PKCS#11 token does not allow unwrapping under {kek} (CKA_DECRYPT)") from None
                    raise KmsUnavailable(f"PKCS#11 token failed raw RSA under {kek}: {type(e).__name__}") from None
                return oaep_sha256_decode(em, k)

            return rsa_unwrap(wrapped, binding, raw_rsa)
        key = self._key(kek, oc.SECRET_KEY)
        if key is None:
            if self._key(kek, oc.PRIVATE_KEY) is not None or self._private_key_of_certificate(kek) is not None:
                raise InvalidWrappedKey(f"wrapped DEK is not a public-key wrap, but {kek} is a key pair")
            raise UnknownKey(f"PKCS#11 token has no key {kek}")
        if len(wrapped) < 12 + 16:
            raise InvalidWrappedKey(f"wrapped DEK under {kek} is too short")
        try:
            return bytes(
                key.decrypt(
                    wrapped[12:],
                    mechanism=mech.AES_GCM,
                    mechanism_param=self._pkcs11.mechanisms.GCMParams(wrapped[:12], binding, 128),
                )
            )
        except (pe.EncryptedDataInvalid, pe.EncryptedDataLenRange, pe.DataInvalid):
            raise InvalidWrappedKey(f"wrapped DEK does not open under {kek} for this binding") from None
        except pe.PKCS11Error as e:
            if _denied(e):
                raise KeyDenied(f"PKCS#11 token does not allow unwrapping under {kek} (CKA_DECRYPT is false)") from None
            if isinstance(e, pe.GeneralError) and self._gcm_works(key):
                # SoftHSM 2.6 reports a failed GCM tag as CKR_GENERAL_ERROR. The same key just sealed and opened a
                # probe, so the token is fine: it is the wrapped DEK's fault (not retried), as a tag failure is.
                raise InvalidWrappedKey(f"wrapped DEK does not open under {kek} for this binding") from None
            raise KmsUnavailable(f"PKCS#11 token failed to unwrap under {kek}: {type(e).__name__}") from None

    def _gcm_works(self, key: Any) -> bool:
        """Whether this key's AES-GCM works in the token right now: a probe sealed and opened with it."""
        gcm = self._pkcs11.mechanisms.GCMParams(os.urandom(12), b"embedseal-probe", 128)
        try:
            sealed = key.encrypt(bytes(16), mechanism=self._pkcs11.Mechanism.AES_GCM, mechanism_param=gcm)
            return bytes(key.decrypt(sealed, mechanism=self._pkcs11.Mechanism.AES_GCM, mechanism_param=gcm)) == bytes(
                16
            )
        except Exception:  # noqa: BLE001 - a token that cannot do it is not answering as it should
            return False

    def close(self) -> None:
        self._session.close()


def _denied(e: Exception) -> bool:
    """CKR_KEY_FUNCTION_NOT_PERMITTED (a key whose CKA_DECRYPT was cleared: an HSM's revocation), however the binding
    names it."""
    text = f"{type(e).__name__} {e!r}".upper().replace("_", "")
    return "FUNCTIONNOTPERMITTED" in text or "FUNCTIONREJECTED" in text


# ---------------------------------------------------------------------------------------------------------------------
# The local development KMS (cleartext Tink keysets)


def _proto_fields(data: bytes) -> dict[int, list[int | bytes]]:
    """The fields of a protobuf message: varints and length-delimited values, by field number."""
    out: dict[int, list[int | bytes]] = {}
    i = 0
    while i < len(data):
        tag, i = _varint(data, i)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = _varint(data, i)
            out.setdefault(number, []).append(value)
        elif wire == 2:
            n, i = _varint(data, i)
            if i + n > len(data):
                raise ValueError("truncated protobuf")
            out.setdefault(number, []).append(data[i : i + n])
            i += n
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
    return out


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ValueError("bad protobuf varint")
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def _bytes_field(fields: dict[int, list[int | bytes]], number: int) -> bytes:
    value = fields.get(number, [b""])[-1]
    if not isinstance(value, bytes):
        raise ValueError(f"protobuf field {number} is not bytes")
    return value


class LocalKeysets:
    """The local development KMS: ``<dir>/<key>.keyset.json`` holds Tink keysets in cleartext (version ``n`` is the
    keyset's n-th key), ``<key>.state.properties`` the minimum decryption version and whether the key is disabled.
    Development only, as on the Java side. Setting: ``kms.local.dir``."""

    provider = "local"

    def __init__(self, settings: Mapping[str, str]) -> None:
        directory = settings.get("kms.local.dir")
        if not directory:
            raise ValueError(
                "kms.local.dir: the directory of the local KMS's keysets is required for kms.provider=local"
            )
        self.dir = Path(directory)

    def _keys(self, key_name: str) -> list[dict[str, Any]]:
        file = self.dir / f"{key_name}.keyset.json"
        try:
            keyset = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UnknownKey(f"local KMS has no key '{key_name}'") from None
        except (OSError, ValueError) as e:
            raise KmsError(f"local KMS cannot read the keyset of '{key_name}': {type(e).__name__}") from None
        keys = keyset.get("key")
        if not isinstance(keys, list) or not keys:
            raise UnknownKey(f"local KMS key '{key_name}' has no versions (destroyed)")
        return keys

    def _state(self, key_name: str) -> tuple[int, bool]:
        file = self.dir / f"{key_name}.state.properties"
        props: dict[str, str] = {}
        if file.exists():
            for line in file.read_text(encoding="utf-8").splitlines():
                if "=" in line and not line.lstrip().startswith("#"):
                    k, v = line.split("=", 1)
                    props[k.strip()] = v.strip()
        try:
            return int(props.get("min_decryption_version", "1")), props.get("disabled", "false").lower() == "true"
        except ValueError:
            raise KmsUnavailable(f"local KMS cannot read {file}") from None

    def wrap(self, key_name: str, dek: bytes, binding: bytes) -> tuple[KekRef, bytes]:
        keys = self._keys(key_name)
        _, disabled = self._state(key_name)
        if disabled:
            raise KeyDenied(f"local KMS key '{key_name}' is disabled")
        key = keys[-1]
        kek = KekRef(self.provider, key_name, len(keys))
        if "AesGcmKey" not in key["keyData"]["typeUrl"]:
            raise KmsError(f"local KMS key '{key_name}' is a key pair: wrap with its public key")
        raw = _bytes_field(_proto_fields(base64.b64decode(key["keyData"]["value"])), 3)
        nonce = os.urandom(12)
        prefix = b"\x01" + int(key["keyId"]).to_bytes(4, "big")
        return kek, prefix + nonce + AESGCM(raw).encrypt(nonce, dek, binding)

    def unwrap(self, kek: KekRef, wrapped: bytes, binding: bytes) -> bytes:
        if kek.provider != self.provider:
            raise KmsError(f"the local KMS does not hold {kek}")
        keys = self._keys(kek.key_name)
        min_version, disabled = self._state(kek.key_name)
        if disabled:
            raise KeyDenied(f"local KMS key '{kek.key_name}' is disabled")
        if kek.version > len(keys):
            raise UnknownKey(f"local KMS has no {kek} (newest is {len(keys)})")
        if kek.version < min_version:
            raise KeyDenied(f"local KMS restricts {kek}: versions below {min_version} may not unwrap")
        key = keys[kek.version - 1]
        value = base64.b64decode(key["keyData"]["value"])
        if "HpkePrivateKey" in key["keyData"]["typeUrl"]:
            if len(wrapped) != _HPKE_WRAPPED_BYTES or wrapped[:5] != ESPK + bytes((HPKE_FORMAT,)):
                raise InvalidWrappedKey(f"not an HPKE-wrapped data key (format ESPK 2, {_HPKE_WRAPPED_BYTES} bytes)")
            private = x25519.X25519PrivateKey.from_private_bytes(_bytes_field(_proto_fields(value), 3))
            try:
                return _HPKE.decrypt(wrapped[5:], private, info=binding)
            except (InvalidTag, ValueError):
                raise InvalidWrappedKey(f"wrapped DEK does not open under {kek} with the given binding") from None
        if is_public_key_wrap(wrapped):
            raise InvalidWrappedKey(f"wrapped DEK was made with a public key, but local KEK {kek} is symmetric")
        raw = _bytes_field(_proto_fields(value), 3)
        prefix = b"\x01" + int(key["keyId"]).to_bytes(4, "big")
        if len(wrapped) < 5 + 12 + 16 or wrapped[:5] != prefix:
            raise InvalidWrappedKey(f"wrapped DEK was not made by {kek}")
        try:
            return AESGCM(raw).decrypt(wrapped[5:17], wrapped[17:], binding)
        except InvalidTag:
            raise InvalidWrappedKey(f"wrapped DEK does not open under {kek} with the given binding") from None

    def close(self) -> None:
        pass


def open_kms(settings: Mapping[str, str]) -> Kms | None:
    """The KMS ``kms.provider`` names (``vault``, ``pkcs11``, ``local``), or None when it names none."""
    provider = settings.get("kms.provider")
    if not provider:
        return None
    if provider == "vault":
        return VaultTransit(settings)
    if provider == "pkcs11":
        return Pkcs11Token(settings)
    if provider == "local":
        return LocalKeysets(settings)
    raise ValueError(
        f"kms.provider: '{provider}' is not a provider this client ships (vault, pkcs11, local); aws is Java-only"
    )
