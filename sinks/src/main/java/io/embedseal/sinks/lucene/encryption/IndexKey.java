package io.embedseal.sinks.lucene.encryption;

import java.util.HexFormat;
import java.util.Objects;

/**
 * One index key of a tenant: 32 random bytes, known by a 16-byte id that every file written under it names. Held in
 * memory only while the tenant's index is open; {@link #destroy()} zeroes it. Never printed.
 */
public final class IndexKey implements AutoCloseable {

    public static final int KEY_BYTES = 32;

    private final byte[] id;
    private final KeyBytes key;

    /** Takes ownership of {@code key} (zeroed by {@link #destroy()}). */
    public IndexKey(byte[] id, byte[] key) {
        if (Objects.requireNonNull(id).length != IndexFileFormat.KEY_ID_BYTES) {
            throw new IllegalArgumentException("an index key id has " + IndexFileFormat.KEY_ID_BYTES + " bytes");
        }
        if (key.length != KEY_BYTES) {
            throw new IllegalArgumentException("an index key has " + KEY_BYTES + " bytes");
        }
        this.id = id.clone();
        this.key = new KeyBytes(key);
    }

    public byte[] id() {
        return id.clone();
    }

    public String idHex() {
        return HexFormat.of().formatHex(id);
    }

    boolean hasId(byte[] other) {
        return java.util.Arrays.equals(id, other);
    }

    /** A file's own key, derived under this key's lock, so a concurrent {@link #destroy()} cannot half-zero it. */
    synchronized byte[] fileKey(IndexFileFormat.Header header) {
        return IndexFileFormat.fileKey(key.raw(), header);
    }

    /** A copy of the key bytes, for wrapping by the KMS; the caller zeroes it. */
    public synchronized byte[] copyForWrapping() {
        return key.copy();
    }

    public boolean isDestroyed() {
        return key.isDestroyed();
    }

    public synchronized void destroy() {
        key.destroy();
    }

    @Override
    public void close() {
        destroy();
    }

    @Override
    public String toString() {
        return "IndexKey[" + idHex() + (isDestroyed() ? ", destroyed" : "") + "]";
    }
}
