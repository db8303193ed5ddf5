package io.embedseal.sinks.lucene.encryption;

import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Decrypted blocks of encrypted index files, least recently used out first, within a byte budget: HNSW search reads
 * the same vectors and graph nodes again and again, and each would otherwise be decrypted (and its tag checked) on
 * every read. Only authenticated blocks enter. Entries are keyed by tenant, file name and the file's random salt, so a
 * file planted under another name or tenant, or a new file reusing a name, never meets another's blocks. A tenant's
 * entries are dropped (and zeroed) when its key is ({@link #forgetTenant}). Thread-safe: striped locks.
 *
 * <p>This is plaintext in memory, as the page cache holds it for an unencrypted index; it never reaches a disk.
 */
public final class BlockCache {

    private static final int STRIPES = 16;

    private final Stripe[] stripes = new Stripe[STRIPES];
    private final long budgetBytes;

    /** @param budgetBytes the most plaintext held, all tenants together; 0 disables the cache */
    public BlockCache(long budgetBytes) {
        this.budgetBytes = budgetBytes;
        for (int i = 0; i < STRIPES; i++) {
            stripes[i] = new Stripe(budgetBytes / STRIPES);
        }
    }

    public static BlockCache disabled() {
        return new BlockCache(0);
    }

    public long budgetBytes() {
        return budgetBytes;
    }

    /** What identifies one file's content: a file's salt is random, so a rewritten file is another. */
    record FileId(String tenant, String name, long salt0, long salt1, long salt2, long salt3) {
        static FileId of(String tenant, String name, byte[] salt) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(salt);
            return new FileId(tenant, name, b.getLong(), b.getLong(), b.getLong(), b.getLong());
        }
    }

    record Key(FileId file, long block) {}

    byte @org.jspecify.annotations.Nullable [] get(FileId file, long block) {
        if (budgetBytes == 0) {
            return null;
        }
        Key k = new Key(file, block);
        Stripe s = stripe(k);
        synchronized (s) {
            return s.map.get(k);
        }
    }

    void put(FileId file, long block, byte[] plaintext) {
        if (budgetBytes == 0) {
            return;
        }
        Key k = new Key(file, block);
        Stripe s = stripe(k);
        synchronized (s) {
            byte[] old = s.map.put(k, plaintext);
            if (old != null) {
                s.bytes -= old.length;
            }
            s.bytes += plaintext.length;
            Iterator<Map.Entry<Key, byte[]>> it = s.map.entrySet().iterator();
            while (s.bytes > s.budget && it.hasNext()) {
                Map.Entry<Key, byte[]> eldest = it.next();
                if (eldest.getKey().equals(k)) {
                    break;
                }
                s.bytes -= eldest.getValue().length;
                it.remove(); // not zeroed: a reader may still hold it as its current block
            }
        }
    }

    /** Drops one file's blocks (deleted or rewritten). */
    void forgetFile(String tenant, String name) {
        removeIf(k -> k.file().tenant().equals(tenant) && k.file().name().equals(name), false);
    }

    /** Drops and zeroes every block of the tenant: its key is gone from memory, so is what it decrypted. */
    public void forgetTenant(String tenant) {
        removeIf(k -> k.file().tenant().equals(tenant), true);
    }

    /** Bytes held now. */
    public long size() {
        long n = 0;
        for (Stripe s : stripes) {
            synchronized (s) {
                n += s.bytes;
            }
        }
        return n;
    }

    private void removeIf(java.util.function.Predicate<Key> which, boolean zero) {
        for (Stripe s : stripes) {
            synchronized (s) {
                Iterator<Map.Entry<Key, byte[]>> it = s.map.entrySet().iterator();
                while (it.hasNext()) {
                    Map.Entry<Key, byte[]> e = it.next();
                    if (which.test(e.getKey())) {
                        s.bytes -= e.getValue().length;
                        if (zero) {
                            Arrays.fill(e.getValue(), (byte) 0);
                        }
                        it.remove();
                    }
                }
            }
        }
    }

    private Stripe stripe(Key k) {
        int h = k.hashCode();
        return stripes[(h ^ (h >>> 16)) & (STRIPES - 1)];
    }

    private static final class Stripe {
        final LinkedHashMap<Key, byte[]> map = new LinkedHashMap<>(256, 0.75f, true);
        final long budget;
        long bytes;

        Stripe(long budget) {
            this.budget = budget;
        }
    }
}
