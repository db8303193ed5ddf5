package io.embedseal.keyring;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * A bounded map with idle expiry, an absolute lifetime and least-recently-used eviction, measured in a
 * caller-supplied clock's milliseconds. Entries not read for {@code idleMillis}, or put {@code maxLifeMillis} ago or
 * longer, are gone on the next access; at most {@code maxSize} are kept. Every entry that leaves (expired, evicted,
 * removed, cleared) is handed to {@code onRemoval} exactly once, one replaced by a {@link #put} of the same key to
 * {@code onReplace}: the keyring destroys the DEK there.
 *
 * <p>Reads are on every record's path and come from several stream threads at once, so they take no lock: a
 * {@link ConcurrentHashMap} lookup and, at most once per millisecond per entry, a write of its last access time.
 * Writes (one per DEK created or unwrapped, beside a KMS call) are serialised; a write that takes the map over its
 * size scans it once to drop expired entries and then the least recently used ones, so it costs O(entries) only
 * when the cache is full. {@link #sweep} drops expired entries without a write (the keyring runs it periodically, so
 * an expired DEK leaves memory even when nothing reads or writes its cache).
 */
final class DekCache<K, V> {

    private static final class Entry<V> {
        final V value;
        final long created;
        volatile long lastAccess;

        Entry(V value, long now) {
            this.value = value;
            this.created = now;
            this.lastAccess = now;
        }
    }

    private final int maxSize;
    private final long idleMillis;
    private final long maxLifeMillis;
    private final Consumer<? super V> onRemoval;
    private final Consumer<? super V> onReplace;
    private final ConcurrentHashMap<K, Entry<V>> map = new ConcurrentHashMap<>();
    private long lastSweep;

    DekCache(
            int maxSize,
            long idleMillis,
            long maxLifeMillis,
            Consumer<? super V> onRemoval,
            Consumer<? super V> onReplace) {
        this.maxSize = maxSize;
        this.idleMillis = idleMillis;
        this.maxLifeMillis = maxLifeMillis;
        this.onRemoval = onRemoval;
        this.onReplace = onReplace;
    }

    /** A cache whose entries need no clean-up and live as long as they are used. */
    DekCache(int maxSize, long idleMillis) {
        this(maxSize, idleMillis, Long.MAX_VALUE, v -> {}, v -> {});
    }

    private boolean expired(Entry<V> e, long now) {
        return now - e.lastAccess >= idleMillis || now - e.created >= maxLifeMillis;
    }

    @Nullable
    V get(K key, long now) {
        Entry<V> e = map.get(key);
        if (e == null) {
            return null;
        }
        if (expired(e, now)) {
            remove(key, e);
            return null;
        }
        if (now > e.lastAccess) {
            e.lastAccess = now;
        }
        return e.value;
    }

    synchronized void put(K key, V value, long now) {
        Entry<V> old = map.put(key, new Entry<>(value, now));
        if (old != null && old.value != value) {
            onReplace.accept(old.value);
        }
        if (map.size() > maxSize || now - lastSweep >= Math.min(idleMillis, maxLifeMillis)) {
            evict(key, now);
        }
    }

    /**
     * Drops expired entries, then the least recently used ones until at most {@code maxSize} are left; never
     * {@code keep}, the entry just put (others may have been used in the same millisecond).
     */
    private void evict(K keep, long now) {
        sweep(now);
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
            remove(eldest.getKey(), eldest.getValue());
        }
    }

    /** Drops every expired entry. */
    synchronized void sweep(long now) {
        lastSweep = now;
        removeEntriesIf((k, e) -> expired(e, now));
    }

    /** Drops every entry whose key matches. */
    void removeIf(Predicate<K> test) {
        removeEntriesIf((k, e) -> test.test(k));
    }

    /** Drops every entry. */
    void clear() {
        removeEntriesIf((k, e) -> true);
    }

    private void removeEntriesIf(java.util.function.BiPredicate<K, Entry<V>> test) {
        for (Map.Entry<K, Entry<V>> e : map.entrySet()) {
            if (test.test(e.getKey(), e.getValue())) {
                remove(e.getKey(), e.getValue());
            }
        }
    }

    /** Removes the entry if it is still there; whoever removes it hands its value to {@code onRemoval}. */
    private void remove(K key, Entry<V> e) {
        if (map.remove(key, e)) {
            onRemoval.accept(e.value);
        }
    }

    int size() {
        return map.size();
    }
}
