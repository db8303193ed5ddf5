"""Per-tenant DEKs: made and wrapped for sealing, unwrapped and cached for opening, bounded as the Java keyring
bounds them (``dek.max-records``, ``dek.max-age-seconds``, ``dek.max-open-seconds``, ``dek.cache.max-size``,
``dek.cache.idle-expiry-seconds``), and refused for a tenant its signed key events say is revoked or destroyed."""

from __future__ import annotations

import base64
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .envelope import KekRef, dek_binding, is_valid_tenant_id, key_slot
from .kms import InvalidWrappedKey, Kms, KmsError, PublicKek, UnknownKey

GCM_RANDOM_NONCE_LIMIT = 1 << 32


class TenantRefused(KmsError):
    """The tenant's key may not be used: revoked, destroyed, or not registered (from its signed key events)."""

    def __init__(self, message: str, status: str | None = None) -> None:
        super().__init__(message)
        self.status = status  # REVOKED, DESTROYED, or None for a tenant with no registration


class NoKeyForTenant(KmsError):
    """Neither a public key nor a KMS is configured for the tenant."""


@dataclass(frozen=True)
class DekPolicy:
    max_records: int = 10_000_000
    max_age_s: float = 3600.0
    max_open_s: float = 300.0
    cache_max_size: int = 10_000
    cache_idle_expiry_s: float = 600.0

    @staticmethod
    def from_settings(settings: Mapping[str, str]) -> DekPolicy:
        def number(name: str, default: float, low: float, high: float) -> float:
            text = settings.get(name)
            if text is None:
                return default
            try:
                value = int(text)
            except ValueError:
                raise ValueError(f"{name} must be a whole number, got '{text}'") from None
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low:.0f} and {high:.0f}, got {value}")
            return value

        return DekPolicy(
            int(number("dek.max-records", 10_000_000, 1, GCM_RANDOM_NONCE_LIMIT)),
            number("dek.max-age-seconds", 3600, 1, 2**53),
            number("dek.max-open-seconds", 300, 1, 2**53),
            # 0 is the Java side's default ("a share of the heap"); a Python producer keeps 10,000 for it.
            int(number("dek.cache.max-size", 10_000, 0, 2**31 - 1)) or 10_000,
            number("dek.cache.idle-expiry-seconds", 600, 1, 2**53),
        )

    @property
    def sealing_lifetime_s(self) -> float:
        """A sealing DEK is replaced after ``min(max-age, max-open)``."""
        return min(self.max_age_s, self.max_open_s)


class KekNaming:
    """A tenant's KEK name: ``kms.key-name.<tenant>`` when the tenant brings its own key, else ``kms.key-name-template``
    (default ``tenant-{tenant}``). Refuses, as the Java side does, settings that give two tenants one key: two tenants
    mapped to one name, or a tenant mapped to the name the template gives another.

    :raises ValueError: naming the setting
    """

    def __init__(self, settings: Mapping[str, str]) -> None:
        self.template = settings.get("kms.key-name-template", "tenant-{tenant}")
        if self.template.count("{tenant}") != 1:
            raise ValueError(f"kms.key-name-template must contain {{tenant}} exactly once, got: '{self.template}'")
        self.prefix, _, self.suffix = self.template.partition("{tenant}")
        self.explicit: dict[str, str] = {}
        owners: dict[str, str] = {}
        for key, name in settings.items():
            if not key.startswith("kms.key-name."):
                continue
            tenant = key[len("kms.key-name.") :]
            if not is_valid_tenant_id(tenant):
                raise ValueError(f"{key}: '{tenant}' is not a tenant id")
            if not name.strip():
                raise ValueError(f"{key} is empty")
            if name in owners:
                raise ValueError(
                    f"tenants {owners[name]} and {tenant} are both mapped to KEK '{name}'; "
                    "every tenant needs its own key"
                )
            owners[name] = tenant
            self.explicit[tenant] = name
        for tenant, name in self.explicit.items():
            owner = self._templated_owner(name)
            if owner is not None and owner != tenant and owner not in self.explicit:
                raise ValueError(
                    f"kms.key-name.{tenant} names '{name}', the key the template {self.template} gives tenant {owner}; "
                    "every tenant needs its own key"
                )

    def _templated_owner(self, name: str) -> str | None:
        if (
            len(name) > len(self.prefix) + len(self.suffix)
            and name.startswith(self.prefix)
            and name.endswith(self.suffix)
        ):
            candidate = name[len(self.prefix) : len(name) - len(self.suffix)]
            return candidate if is_valid_tenant_id(candidate) else None
        return None

    def kek_name_for(self, tenant: str) -> str:
        if not is_valid_tenant_id(tenant):
            raise ValueError("tenant id must be 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit")
        name = self.explicit.get(tenant) or self.prefix + tenant + self.suffix
        if len(name) > 200:
            raise ValueError(f"KEK name for tenant {tenant} is longer than 200 characters; shorten the template")
        return name


def read_public_keks(path: str | Path) -> dict[str, PublicKek]:
    """``embedseal tenants public-keks`` output: ``<tenant>=<provider>:<key>:<version>:<SubjectPublicKeyInfo, base64>``
    per line. Not signed: protect it as the producer's configuration.

    :raises ValueError: naming the line, for a line that is not of that shape or a key its KMS could not hold
    """
    out: dict[str, PublicKek] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        tenant, eq, rest = line.partition("=")
        parts = rest.rsplit(":", 1)
        if not eq or len(parts) != 2 or not is_valid_tenant_id(tenant.strip()):
            raise ValueError(f"embedseal.public-keks.file line {number}: not <tenant>=<provider>:<key>:<version>:<key>")
        try:
            kek = KekRef.parse(parts[0])
            pk = PublicKek(kek, base64.b64decode(parts[1], validate=True))
        except ValueError as e:
            raise ValueError(f"embedseal.public-keks.file line {number}: {e}") from None
        if not pk.suits_provider(kek.provider):
            raise ValueError(
                f"embedseal.public-keks.file line {number}: a {pk.algorithm} key cannot be held by a {kek.provider} KMS"
            )
        out[tenant.strip()] = pk
    return out


class SealingDek:
    """A tenant's current DEK: its id, key slot bytes and cipher. Never printed with its key."""

    __slots__ = ("aead", "dek_id", "kek", "made", "max_records", "slot", "tenant", "used")

    def __init__(self, tenant: str, dek_id: bytes, kek: KekRef, wrapped: bytes, aead: AESGCM, max_records: int) -> None:
        self.tenant = tenant
        self.dek_id = dek_id
        self.kek = kek
        self.slot = key_slot(kek, wrapped)
        self.aead = aead
        self.made = time.monotonic()
        self.used = 0
        self.max_records = max_records

    def __repr__(self) -> str:
        return f"SealingDek[{self.tenant}, {self.dek_id.hex()}, {self.kek}, {self.used} records]"


# What the key events say about a tenant, for the keyring: ``None`` when events are not followed.
TenantView = Callable[[str], "TenantKey | None"]


@dataclass(frozen=True)
class TenantKey:
    """A tenant's key as its signed key events leave it: which KMS and KEK, its status, the pinned public key."""

    status: str  # ACTIVE, REVOKED, DESTROYED
    kms: str
    kek_name: str
    kek_version: int
    public_key: bytes | None


class Keyring:
    """Sealing and opening DEKs for many tenants; thread-safe.

    :param kms: the KMS of the tenants with symmetric KEKs (and of opening), or None
    :param public_keks: tenants sealed with a public key from a file (``embedseal.public-keks.file``)
    :param tenants: what signed key events say of a tenant (``KeyEventFollower``); when given, a tenant that is not
        ACTIVE is refused, an unregistered one too, and a key pair's public key comes from its events
    """

    def __init__(
        self,
        kms: Kms | None,
        naming: KekNaming,
        policy: DekPolicy = DekPolicy(),
        public_keks: Mapping[str, PublicKek] | None = None,
        tenants: TenantView | None = None,
    ) -> None:
        self.kms = kms
        self.naming = naming
        self.policy = policy
        self.public_keks = dict(public_keks or {})
        self.tenants = tenants
        self._lock = threading.Lock()
        self._sealing: OrderedDict[str, SealingDek] = OrderedDict()
        self._making: dict[str, threading.Lock] = {}
        self._swept = time.monotonic()
        self._opened: OrderedDict[tuple[str, bytes, KekRef, bytes], tuple[AESGCM, float, float]] = OrderedDict()
        self.kms_wraps = 0
        self.kms_unwraps = 0

    def _registered(self, tenant: str) -> TenantKey | None:
        if self.tenants is None:
            return None
        key = self.tenants(tenant)
        if key is None:
            raise TenantRefused(f"tenant {tenant} has no registration in the signed key events")
        if key.status != "ACTIVE":
            raise TenantRefused(f"tenant {tenant}'s key is {key.status}", key.status)
        return key

    def sealing_dek(self, tenant: str) -> SealingDek:
        """The tenant's current DEK, made (one KMS call, or none with a public key) when there is none, its lifetime
        ended or it sealed ``dek.max-records`` records. Counts the record it is taken for."""
        if not is_valid_tenant_id(tenant):
            raise KmsError("tenant id must be 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit")
        registered = self._registered(tenant)
        dek = self._take(tenant, registered)
        if dek is not None:
            return dek
        with self._lock:
            making = self._making.setdefault(tenant, threading.Lock())
        with making:  # one DEK made per tenant at a time: the others wait for it rather than each wrap their own
            dek = self._take(tenant, registered)
            if dek is not None:
                return dek
            fresh = self._make(tenant, registered)
            with self._lock:
                fresh.used += 1
                self._sealing[tenant] = fresh
                self._sealing.move_to_end(tenant)
                while len(self._sealing) > self.policy.cache_max_size:
                    self._sealing.popitem(last=False)
            return fresh

    def _take(self, tenant: str, registered: TenantKey | None) -> SealingDek | None:
        """The tenant's current DEK if it may seal one more record (and counts it), else None."""
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            dek = self._sealing.get(tenant)
            if (
                dek is not None
                and dek.used < dek.max_records
                and now - dek.made < self.policy.sealing_lifetime_s
                and (registered is None or _matches(dek.kek, registered))
            ):
                dek.used += 1
                self._sealing.move_to_end(tenant)
                return dek
            return None

    def _sweep(self, now: float) -> None:
        """Drops DEKs past their lifetime, at most once a second (called with the lock held): nothing is kept in memory
        longer than the Java side keeps it, whether or not the tenant is seen again."""
        if now - self._swept < 1.0:
            return
        self._swept = now
        for t in [t for t, d in self._sealing.items() if now - d.made >= self.policy.sealing_lifetime_s]:
            del self._sealing[t]
        for k in [
            k
            for k, (_, opened, last) in self._opened.items()
            if now - opened >= self.policy.max_open_s or now - last >= self.policy.cache_idle_expiry_s
        ]:
            del self._opened[k]

    def _make(self, tenant: str, registered: TenantKey | None) -> SealingDek:
        raw = os.urandom(32)
        dek_id = os.urandom(16)
        binding = dek_binding(tenant, dek_id)
        pinned = self._public_kek(tenant, registered)
        if pinned is not None:
            kek, wrapped = pinned.kek, pinned.wrap(raw, binding)
        else:
            if self.kms is None:
                raise NoKeyForTenant(
                    f"tenant {tenant} has no public KEK here and no KMS is configured here (kms.provider)"
                )
            name = registered.kek_name if registered is not None else self.naming.kek_name_for(tenant)
            if registered is not None and registered.kms != self.kms.provider:
                raise TenantRefused(f"tenant {tenant}'s KEK is in the {registered.kms} KMS, not {self.kms.provider}")
            kek, wrapped = self.kms.wrap(name, raw, binding)
            self.kms_wraps += 1
            if kek.key_name != name or kek.provider != self.kms.provider:
                raise KmsError(f"KMS wrapped a DEK for key '{name}' under {kek}")
        return SealingDek(tenant, dek_id, kek, wrapped, AESGCM(raw), self.policy.max_records)

    def _public_kek(self, tenant: str, registered: TenantKey | None) -> PublicKek | None:
        if registered is not None:
            if registered.public_key is None:
                return None
            kek = KekRef(registered.kms, registered.kek_name, registered.kek_version)
            return PublicKek(kek, registered.public_key)
        return self.public_keks.get(tenant)

    def open_dek(self, tenant: str, kek: KekRef, dek_id: bytes, wrapped: bytes) -> AESGCM:
        """The DEK of an envelope, from the cache or unwrapped by the tenant's KMS.

        :raises KeyMismatch: (a ``KmsError``) when the KEK is not the tenant's own
        """
        registered = self._registered(tenant)
        expected_name = registered.kek_name if registered is not None else self.naming.kek_name_for(tenant)
        provider = registered.kms if registered is not None else (self.kms.provider if self.kms else None)
        if (
            kek.key_name != expected_name
            or (provider is not None and kek.provider != provider)
            or (self.kms is not None and kek.provider != self.kms.provider)
        ):
            raise KeyMismatch(
                f"record of tenant {tenant} names KEK {kek}, but the tenant's KEK is {provider}:{expected_name}"
            )
        cache_key = (tenant, dek_id, kek, wrapped)
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            hit = self._opened.get(cache_key)
            if hit is not None:
                aead, opened, last = hit
                if now - opened < self.policy.max_open_s and now - last < self.policy.cache_idle_expiry_s:
                    self._opened[cache_key] = (aead, opened, now)
                    self._opened.move_to_end(cache_key)
                    return aead
                del self._opened[cache_key]
        if self.kms is None:
            raise UnknownKey("no KMS is configured here (kms.provider): this client cannot open envelopes")
        raw = self.kms.unwrap(kek, wrapped, dek_binding(tenant, dek_id))
        self.kms_unwraps += 1
        if len(raw) != 32:
            # The wrapped DEK's fault (an RSA wrap of a shorter key, say), as the Java side's DekFactory reads it.
            raise InvalidWrappedKey(f"a wrapped DEK under {kek} holds {len(raw)} bytes; DEKs are 32 bytes")
        aead = AESGCM(raw)
        with self._lock:
            self._opened[cache_key] = (aead, now, now)
            while len(self._opened) > self.policy.cache_max_size:
                self._opened.popitem(last=False)
        return aead

    def forget(self, tenant: str) -> None:
        """Drops every DEK of the tenant held here (its key was revoked or destroyed)."""
        with self._lock:
            self._sealing.pop(tenant, None)
            for k in [k for k in self._opened if k[0] == tenant]:
                del self._opened[k]

    def close(self) -> None:
        with self._lock:
            self._sealing.clear()
            self._opened.clear()
        if self.kms is not None:
            self.kms.close()


class KeyMismatch(KmsError):
    """An envelope names a KEK that is not its tenant's."""


def _matches(kek: KekRef, registered: TenantKey) -> bool:
    """Whether a DEK made earlier is still under the tenant's current key (a rotation or migration makes a new one)."""
    return (
        kek.provider == registered.kms
        and kek.key_name == registered.kek_name
        and (
            kek.version == registered.kek_version
            if registered.public_key is not None
            else kek.version >= registered.kek_version
        )
    )
