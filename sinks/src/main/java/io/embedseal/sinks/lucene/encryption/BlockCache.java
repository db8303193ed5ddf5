package io.embedseal.sinks.lucene.encryption;

import java.util.Arrays;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Decrypted blocks of open encrypted index files, within a byte budget shared by all tenants: HNSW search and merges
 * read the same vectors and graph nodes again and again, and each would otherwise be decrypted (and its tag checked)
 * on every read. A block lives in a slot of the open file it came from (so a lookup is an array read, and a file
 * planted under another name or tenant, or a new file reusing a name, never meets another file's blocks); the first
 * admitted is the first evicted once the budget is full. Only authenticated blocks enter. A tenant's blocks are dropped
 * and zeroed when its key is ({@link #forgetTenant}); a file's when it is closed. Thread-safe.
 *
 * <p>This is plaintext in memory, as the page cache holds it for an unencrypted index; it never reaches a disk.
 */
public final class BlockCache {

    private record Entry(EncryptedFile file, int block, byte[] plain) {}

    private final long budgetBytes;
    private final ConcurrentLinkedQueue<Entry> admitted = new ConcurrentLinkedQueue<>();
    private final AtomicLong bytes = new AtomicLong();

    /** @param budgetBytes the most plaintext held, all tenants together; 0 disables the cache */
    public BlockCache(long budgetBytes) {
        this.budgetBytes = budgetBytes;
    }

    public static BlockCache disabled() {
        return new BlockCache(0);
    }

    public long budgetBytes() {
        return budgetBytes;
    }

    /** Keeps a block just decrypted (and authenticated) in its file's slot, evicting the oldest beyond the budget. */
    void admit(EncryptedFile file, long block, byte[] plain) {
        var slots = file.slots;
        if (budgetBytes == 0 || slots == null || file.closed) {
            return;
        }
        int b = (int) block;
        slots.set(b, plain);
        admitted.add(new Entry(file, b, plain));
        long now = bytes.addAndGet(plain.length);
        while (now > budgetBytes) {
            Entry eldest = admitted.poll();
            if (eldest == null) {
                break;
            }
            // Not zeroed: a reader may hold it as its current block (the key that decrypted it is still in memory).
            var eldestSlots = eldest.file().slots;
            if (eldestSlots != null) {
                eldestSlots.compareAndSet(eldest.block(), eldest.plain(), null);
            }
            now = bytes.addAndGet(-eldest.plain().length);
        }
    }

    /** Drops a closed file's blocks. */
    void forgetFile(EncryptedFile file) {
        removeIf(e -> e.file() == file, false);
    }

    /** Drops and zeroes every block of the tenant: its key is gone from memory, so is what it decrypted. */
    public void forgetTenant(String tenant) {
        removeIf(e -> e.file().tenant.equals(tenant), true);
    }

    /** Bytes held now. */
    public long size() {
        return bytes.get();
    }

    private void removeIf(java.util.function.Predicate<Entry> which, boolean zero) {
        admitted.removeIf(e -> {
            if (!which.test(e)) {
                return false;
            }
            var slots = e.file().slots;
            if (slots != null) {
                slots.compareAndSet(e.block(), e.plain(), null);
            }
            bytes.addAndGet(-e.plain().length);
            if (zero) {
                Arrays.fill(e.plain(), (byte) 0);
            }
            return true;
        });
    }
}
