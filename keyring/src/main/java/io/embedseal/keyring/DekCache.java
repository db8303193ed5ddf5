package io.embedseal.keyring;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Predicate;

/**
 * A small synchronized LRU map with idle expiry, measured in a caller-supplied clock's milliseconds.
 * Entries not read for {@code idleMillis} are gone on the next access; at most {@code maxSize} are kept.
 */
final class DekCache<K, V> {

    private static final class Entry<V> {
        final V value;
        long lastAccess;

        Entry(V value, long now) {
            this.value = value;
            this.lastAccess = now;
        }
    }

    private final int maxSize;
    private final long idleMillis;
    private final LinkedHashMap<K, Entry<V>> map = new LinkedHashMap<>(16, 0.75f, true);

    DekCache(int maxSize, long idleMillis) {
        this.maxSize = maxSize;
        this.idleMillis = idleMillis;
    }

    synchronized V get(K key, long now) {
        Entry<V> e = map.get(key);
        if (e == null) {
            return null;
        }
        if (now - e.lastAccess >= idleMillis) {
            map.remove(key);
            return null;
        }
        e.lastAccess = now;
        return e.value;
    }

    synchronized void put(K key, V value, long now) {
        map.put(key, new Entry<>(value, now));
        // Access order: the head is the least recently used, so expired entries sit at the front.
        Iterator<Map.Entry<K, Entry<V>>> it = map.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<K, Entry<V>> eldest = it.next();
            if (map.size() > maxSize || now - eldest.getValue().lastAccess >= idleMillis) {
                it.remove();
            } else {
                break;
            }
        }
    }

    synchronized void removeIf(Predicate<K> test) {
        map.keySet().removeIf(test);
    }

    synchronized int size() {
        return map.size();
    }
}
