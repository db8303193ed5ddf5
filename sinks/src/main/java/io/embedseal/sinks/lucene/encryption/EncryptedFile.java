package io.embedseal.sinks.lucene.encryption;

import java.io.IOException;
import org.apache.lucene.store.IndexInput;

/** What every reader of one open encrypted file shares: its header, its key and where its blocks are. */
final class EncryptedFile {

    final String tenant;
    final String name;
    final IndexFileFormat.Header header;
    final KeyBytes fileKey;
    final byte[] aadPrefix;
    final long length;
    final long blocks;
    final int shift;
    final int blockSize;
    final BlockCache cache;
    /** Decrypted blocks kept by the {@link BlockCache}, by block number; null if the file has too many to count. */
    final java.util.concurrent.atomic.@org.jspecify.annotations.Nullable AtomicReferenceArray<byte[]> slots;

    volatile boolean closed;
    /** The ciphertext, as the wrapped directory opened it; closed with the first reader. */
    final IndexInput raw;

    EncryptedFile(
            String tenant, String name, IndexInput raw, IndexKey key, IndexFileFormat.Header header, BlockCache cache)
            throws IOException {
        this.tenant = tenant;
        this.name = name;
        this.raw = raw;
        this.header = header;
        this.shift = header.blockShift();
        this.blockSize = header.blockSize();
        long plain = IndexFileFormat.plaintextLength(raw.length(), shift);
        if (plain < 0) {
            throw new org.apache.lucene.index.CorruptIndexException(
                    "encrypted index file has an impossible length " + raw.length() + " (truncated?)", name);
        }
        this.length = plain;
        this.blocks = IndexFileFormat.blocks(plain, shift);
        this.fileKey = new KeyBytes(key.fileKey(header));
        this.aadPrefix = IndexFileFormat.associatedDataPrefix(tenant, name);
        this.cache = cache;
        this.slots = cache.budgetBytes() > 0 && blocks <= Integer.MAX_VALUE / 2
                ? new java.util.concurrent.atomic.AtomicReferenceArray<>((int) blocks)
                : null;
    }

    /** Plaintext bytes in the block. */
    int blockLength(long block) {
        return block == blocks - 1 ? (int) (length - (block << shift)) : blockSize;
    }

    /** The original input closed: its blocks leave the cache, its key is zeroed. */
    void close() {
        closed = true;
        cache.forgetFile(this);
        fileKey.destroy();
    }

    long rawOffset(long block) {
        return IndexFileFormat.HEADER_BYTES + block * (blockSize + IndexFileFormat.TAG_BYTES);
    }
}
