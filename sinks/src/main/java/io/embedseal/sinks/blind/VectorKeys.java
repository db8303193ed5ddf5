package io.embedseal.sinks.blind;

import io.embedseal.keyring.KekResolver;
import io.embedseal.keyring.kms.InvalidWrappedKeyException;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.WrappedDek;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The tenants' vector keys, unwrapped through each tenant's KMS on first use and kept in memory until {@link
 * #forget} (revocation, destruction) or {@link #close}. A wrapped key is accepted only under the tenant's own KEK (the
 * one its registration names, in the KMS this process uses): a key planted in the store wrapped under any other KEK,
 * even one in the same KMS that someone else controls, is refused before the KMS is asked, so a store cannot make a
 * sink encrypt a tenant's vectors under a key the store knows. Thread-safe.
 */
public final class VectorKeys implements AutoCloseable {

    private static final SecureRandom RANDOM = new SecureRandom();

    private final Kms kms;
    private final KekResolver naming;
    private final VectorKeyStorage storage;
    private final double beta;
    /** Keys kept unwrapped, least recently used out first (destroyed; the next use asks the KMS again). */
    public static final int MAX_KEYS_IN_MEMORY = 256;

    private final Map<String, VectorKey> unwrapped = new java.util.LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, VectorKey> eldest) {
            if (size() > MAX_KEYS_IN_MEMORY) {
                eldest.getValue().destroy();
                return true;
            }
            return false;
        }
    };

    /** @param beta the approximation factor of the keys this process creates (a key keeps the β it was made with) */
    public VectorKeys(Kms kms, KekResolver naming, VectorKeyStorage storage, double beta) {
        VectorKey.checkBeta(beta);
        this.kms = Objects.requireNonNull(kms);
        this.naming = Objects.requireNonNull(naming);
        this.storage = Objects.requireNonNull(storage);
        this.beta = beta;
    }

    /**
     * The tenant's vector key: in memory, or unwrapped from the store (one KMS call), or with {@code create} and none
     * stored, a fresh key wrapped under the tenant's KEK (one KMS call) and stored; if another writer stored one
     * first, that one is used.
     *
     * @return empty if the tenant has no key and {@code create} is false
     * @throws KeyDeniedException if the stored key is wrapped under a KEK that is not the tenant's
     * @throws KmsException as the KMS reports it (denied: revoked; unknown: destroyed; unavailable)
     */
    public synchronized Optional<VectorKey> get(String tenant, boolean create) {
        VectorKey k = unwrapped.get(tenant);
        if (k != null) {
            return Optional.of(k);
        }
        Optional<WrappedVectorKey> stored = storage.read(tenant);
        if (stored.isEmpty()) {
            if (!create) {
                return Optional.empty();
            }
            byte[] id = new byte[VectorKey.ID_BYTES];
            byte[] secret = new byte[VectorKey.KEY_BYTES];
            RANDOM.nextBytes(id);
            RANDOM.nextBytes(secret);
            VectorKey fresh = new VectorKey(id, secret, beta);
            WrappedVectorKey kept;
            try {
                kept = storage.putIfAbsent(wrap(tenant, fresh));
            } catch (RuntimeException e) {
                fresh.destroy();
                throw e;
            }
            if (Arrays.equals(kept.id(), id)) {
                unwrapped.put(tenant, fresh);
                return Optional.of(fresh);
            }
            fresh.destroy();
            stored = Optional.of(kept);
        }
        VectorKey opened = unwrap(stored.get());
        unwrapped.put(tenant, opened);
        return Optional.of(opened);
    }

    private WrappedVectorKey wrap(String tenant, VectorKey key) {
        String kekName = naming.kekNameFor(tenant);
        byte[] raw = key.copyForWrapping();
        try {
            WrappedDek w = kms.wrapDek(kekName, raw, WrappedVectorKey.associatedData(tenant, key.id(), key.beta()));
            if (!w.kek().keyName().equals(kekName) || !w.kek().provider().equals(kms.provider())) {
                throw new KmsException(
                        "KMS wrapped tenant " + tenant + "'s vector key for '" + kekName + "' under " + w.kek());
            }
            return new WrappedVectorKey(tenant, key.id(), key.beta(), w.kek(), w.wrapped());
        } finally {
            Arrays.fill(raw, (byte) 0);
        }
    }

    private VectorKey unwrap(WrappedVectorKey w) {
        try {
            return unwrapChecked(w);
        } catch (IllegalArgumentException | NullPointerException e) {
            // A key row or file the store altered (β out of range, a field missing): the tenant's key does not open.
            throw new InvalidWrappedKeyException(
                    "tenant " + w.tenant() + "'s vector key is malformed: " + e.getMessage());
        }
    }

    private VectorKey unwrapChecked(WrappedVectorKey w) {
        String tenant = w.tenant();
        String kekName = naming.kekNameFor(tenant);
        if (!w.kek().provider().equals(kms.provider()) || !w.kek().keyName().equals(kekName)) {
            throw new KeyDeniedException("tenant " + tenant + "'s vector key " + w.idHex() + " is wrapped under "
                    + w.kek() + ", which is not the tenant's key (" + kms.provider() + ":" + kekName
                    + "): refused without asking the KMS");
        }
        VectorKey.checkBeta(w.beta());
        byte[] raw = kms.unwrapDek(w.kek(), w.wrapped(), WrappedVectorKey.associatedData(tenant, w.id(), w.beta()));
        if (raw.length != VectorKey.KEY_BYTES) {
            Arrays.fill(raw, (byte) 0);
            throw new InvalidWrappedKeyException(
                    "tenant " + tenant + "'s vector key " + w.idHex() + " unwrapped to " + raw.length + " bytes");
        }
        return new VectorKey(w.id(), raw, w.beta());
    }

    /**
     * ROTATED: wraps the tenant's key again under the KEK's current version (one KMS call) and stores it; the vectors
     * stay as they are.
     *
     * @return the KEK version it is now wrapped under, or empty if the tenant has no key
     */
    public Optional<KekRef> rewrap(String tenant) {
        return rewrap(tenant, storage);
    }

    /** {@link #rewrap(String)} through another handle on the same storage (another thread's connection). */
    public synchronized Optional<KekRef> rewrap(String tenant, VectorKeyStorage storage) {
        Optional<WrappedVectorKey> stored = storage.read(tenant);
        if (stored.isEmpty()) {
            return Optional.empty();
        }
        VectorKey k = unwrapped.get(tenant);
        if (k == null) {
            k = unwrap(stored.get());
            unwrapped.put(tenant, k);
        }
        if (!Arrays.equals(k.id(), stored.get().id())) {
            throw new IllegalStateException("tenant " + tenant + "'s stored vector key changed under this process");
        }
        WrappedVectorKey again = wrap(tenant, k);
        if (!storage.replace(stored.get(), again)) {
            throw new IllegalStateException("tenant " + tenant + "'s vector key was changed meanwhile; not rewrapped");
        }
        return Optional.of(again.kek());
    }

    /**
     * {@code keys rewrap} and {@code tenants migrate}: the tenant's stored vector key unwrapped through its current key
     * and wrapped under {@code targetKey} in {@code target} (another version, or another KMS), stored in place of the
     * old wrap (compare and set). The vectors stay as they are.
     *
     * @param expectedSource the tenant's current key: a stored key wrapped under any other is refused, not re-wrapped
     * @param done           whether a KEK reference is already the target (nothing to do)
     * @return the KEK reference the key is wrapped under now, or empty if the tenant has no vector key
     * @throws KmsException if the KMS refuses, or the stored key names another key than the tenant's
     */
    public static Optional<KekRef> rewrapStored(
            VectorKeyStorage storage,
            String tenant,
            KekRef expectedSource,
            Kms source,
            Kms target,
            String targetKey,
            java.util.function.Predicate<KekRef> done) {
        Optional<WrappedVectorKey> stored = storage.read(tenant);
        if (stored.isEmpty()) {
            return Optional.empty();
        }
        WrappedVectorKey w = stored.get();
        if (done.test(w.kek())) {
            return Optional.of(w.kek());
        }
        if (!w.kek().sameKeyAs(expectedSource)) {
            throw new KeyDeniedException("tenant " + tenant + "'s vector key is wrapped under " + w.kek()
                    + ", which is not the tenant's key " + expectedSource + ": not re-wrapped");
        }
        byte[] aad = WrappedVectorKey.associatedData(tenant, w.id(), w.beta());
        byte[] raw = source.unwrapDek(w.kek(), w.wrapped(), aad);
        try {
            if (raw.length != VectorKey.KEY_BYTES) {
                throw new InvalidWrappedKeyException(
                        "tenant " + tenant + "'s vector key " + w.idHex() + " unwrapped to " + raw.length + " bytes");
            }
            WrappedDek again = target.wrapDek(targetKey, raw, aad);
            if (!again.kek().keyName().equals(targetKey)
                    || !again.kek().provider().equals(target.provider())) {
                throw new KmsException(
                        "KMS wrapped tenant " + tenant + "'s vector key for '" + targetKey + "' under " + again.kek());
            }
            WrappedVectorKey moved = new WrappedVectorKey(tenant, w.id(), w.beta(), again.kek(), again.wrapped());
            if (!storage.replace(w, moved)) {
                throw new KmsException("tenant " + tenant + "'s vector key changed while it was re-wrapped; run again");
            }
            return Optional.of(moved.kek());
        } finally {
            Arrays.fill(raw, (byte) 0);
        }
    }

    /** Zeroes the tenant's key in memory (revoked, destroyed): the next use asks the KMS again. */
    public synchronized void forget(String tenant) {
        VectorKey k = unwrapped.remove(tenant);
        if (k != null) {
            k.destroy();
        }
    }

    public synchronized boolean inMemory(String tenant) {
        return unwrapped.containsKey(tenant);
    }

    @Override
    public synchronized void close() {
        unwrapped.values().forEach(VectorKey::destroy);
        unwrapped.clear();
    }

    @Override
    public String toString() {
        return "VectorKeys[" + kms.provider() + "]";
    }
}
