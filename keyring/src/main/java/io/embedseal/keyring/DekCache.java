package io.embedseal.keyring;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * A bounded map with idle expiry and least-recently-used eviction, measured in a caller-supplied clock's
 * milliseconds. Entries not read for {@code idleMillis} are gone on the next access; at most {@code maxSize} are
 * kept.
 *
 * <p>Reads are on every record's path and come from several stream threads at once, so they take no lock: a
 * {@link ConcurrentHashMap} lookup and, at most once per millisecond per entry, a write of its last access time.
 * Writes (one per DEK created or unwrapped, beside a KMS call) are serialised; a write that takes the map over its
 * size scans it once to drop expired entries and then the least recently used ones, so it costs O(entries) only
 * when the cache is full.
 */
final class DekCache<K, V> {

    private static final class Entry<V> {
        final V value;
        volatile long lastAccess;

        Entry(V value, long now) {
            this.value = value;
            this.lastAccess = now;
        }
    }

    private final int maxSize;
    private final long idleMillis;
    private final ConcurrentHashMap<K, Entry<V>> map = new ConcurrentHashMap<>();
    private long lastSweep;

    DekCache(int maxSize, long idleMillis) {
        this.maxSize = maxSize;
        this.idleMillis = idleMillis;
    }

    @Nullable
    V get(K key, long now) {
        Entry<V> e = map.get(key);
        if (e == null) {
            return null;
        }
        long last = e.lastAccess;
        if (now - last >= idleMillis) {
            map.remove(key, e);
            return null;
        }
        if (now > last) {
            e.lastAccess = now;
        }
        return e.value;
    }

    synchronized void put(K key, V value, long now) {
        map.put(key, new Entry<>(value, now));
        if (map.size() > maxSize || now - lastSweep >= idleMillis) {
            evict(key, now);
        }
    }

    /**
     * Drops expired entries, then the least recently used ones until at most {@code maxSize} are left; never
     * {@code keep}, the entry just put (others may have been used in the same millisecond).
     */
    private void evict(K keep, long now) {
        lastSweep = now;
        map.values().removeIf(e -> now - e.lastAccess >= idleMillis);
        while (map.size() > maxSize) {
            Map.Entry<K, Entry<V>> eldest = null;
            long eldestAccess = Long.MAX_VALUE;
            for (Map.Entry<K, Entry<V>> e : map.entrySet()) {
                if (e.getKey().equals(keep)) {
                    continue;
                }
                long access = e.getValue().lastAccess;
                if (access < eldestAccess) {
                    eldestAccess = access;
                    eldest = e;
                }
            }
            if (eldest == null) {
                return;
            }
            map.remove(eldest.getKey(), eldest.getValue());
        }
    }

    void removeIf(Predicate<K> test) {
        map.keySet().removeIf(test);
    }

    int size() {
        return map.size();
    }
}
