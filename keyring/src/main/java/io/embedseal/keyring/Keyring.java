package io.embedseal.keyring;

import io.embedseal.keyring.dek.Dek;
import io.embedseal.keyring.dek.DekFactory;
import io.embedseal.keyring.dek.DekId;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.Kms;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.function.Predicate;

/**
 * Hands out each tenant's DEKs: one active DEK per tenant for sealing, created and wrapped on first use,
 * and the DEKs named by sealed records for unsealing, unwrapped through the KMS and kept in a bounded cache.
 *
 * <p>It refuses to open a DEK under a KEK that is not the tenant's own ({@link KeyMismatchException}).
 * Thread-safe.
 */
public final class Keyring {

    /** Default number of unwrapped DEKs kept for unsealing. */
    public static final int DEFAULT_OPEN_CACHE_SIZE = 10_000;

    private final DekFactory deks;
    private final Kms kms;
    private final KekNaming naming;
    private final ConcurrentMap<String, Dek> active = new ConcurrentHashMap<>();
    private final LruCache<OpenKey, Dek> opened;

    public Keyring(Kms kms, KekNaming naming, int openCacheSize) {
        this.kms = Objects.requireNonNull(kms, "kms");
        this.deks = new DekFactory(kms);
        this.naming = Objects.requireNonNull(naming, "naming");
        if (openCacheSize < 1) {
            throw new IllegalArgumentException("DEK cache size must be at least 1, got " + openCacheSize);
        }
        this.opened = new LruCache<>(openCacheSize);
    }

    public Keyring(Kms kms) {
        this(kms, KekNaming.defaults(), DEFAULT_OPEN_CACHE_SIZE);
    }

    /** The KMS provider name (as in KEK references). */
    public String provider() {
        return kms.provider();
    }

    /** The KEK name this keyring uses for a tenant. */
    public String kekNameFor(String tenantId) {
        return naming.kekNameFor(tenantId);
    }

    /**
     * The DEK that seals the tenant's next record: created under the tenant's current KEK on first use.
     *
     * @throws IllegalArgumentException if the tenant id is invalid
     * @throws io.embedseal.keyring.kms.KmsException as the KMS reports it
     */
    public Dek activeDek(String tenantId) {
        Dek dek = active.get(tenantId);
        if (dek != null) {
            return dek;
        }
        return active.computeIfAbsent(tenantId, t -> {
            KekRef kek = kms.currentKek(naming.kekNameFor(t));
            Dek created = deks.create(t, kek);
            opened.put(new OpenKey(t, kek, created.id()), created);
            return created;
        });
    }

    /**
     * The DEK a sealed record names, from the cache or unwrapped through the KMS.
     *
     * @throws KeyMismatchException if {@code kek} is not the tenant's KEK
     * @throws io.embedseal.keyring.kms.KmsException as the KMS reports it (an altered wrapped DEK gives
     *                                               {@link io.embedseal.keyring.kms.InvalidWrappedKeyException})
     */
    public Dek openDek(String tenantId, KekRef kek, DekId id, byte[] wrapped) {
        String expected = naming.kekNameFor(tenantId);
        if (!kms.provider().equals(kek.provider()) || !expected.equals(kek.keyName())) {
            throw new KeyMismatchException("record of tenant " + tenantId + " names KEK " + kek
                    + ", but the tenant's KEK is " + kms.provider() + ":" + expected);
        }
        OpenKey key = new OpenKey(tenantId, kek, id);
        Dek cached = opened.get(key);
        if (cached != null && cached.hasWrappedForm(wrapped)) {
            return cached;
        }
        Dek dek = deks.open(tenantId, kek, id, wrapped);
        opened.put(key, dek);
        return dek;
    }

    /** Drops every DEK of the tenant from memory, active and cached. The next use goes to the KMS. */
    public void evict(String tenantId) {
        active.remove(tenantId);
        opened.removeIf(k -> k.tenantId().equals(tenantId));
    }

    /** How many unwrapped DEKs are held for unsealing right now. */
    public int cachedDekCount() {
        return opened.size();
    }

    private record OpenKey(String tenantId, KekRef kek, DekId id) {
    }

    /** A small synchronized LRU map; enough while one stream thread per instance does the work. */
    private static final class LruCache<K, V> {
        private final Map<K, V> map;

        LruCache(int capacity) {
            this.map = new LinkedHashMap<>(16, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<K, V> eldest) {
                    return size() > capacity;
                }
            };
        }

        synchronized V get(K key) {
            return map.get(key);
        }

        synchronized void put(K key, V value) {
            map.put(key, value);
        }

        synchronized void removeIf(Predicate<K> test) {
            map.keySet().removeIf(test);
        }

        synchronized int size() {
            return map.size();
        }
    }
}
