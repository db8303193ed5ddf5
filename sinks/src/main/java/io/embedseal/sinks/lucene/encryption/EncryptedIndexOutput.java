package io.embedseal.sinks.lucene.encryption;

import java.io.IOException;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.zip.CRC32;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import org.apache.lucene.store.IndexOutput;

/**
 * Writes one encrypted index file ({@link IndexFileFormat}): the plaintext is buffered a block at a time and each
 * block sealed once the next byte shows it is not the last; {@link #close()} seals the last one. The checksum Lucene
 * asks for is of the plaintext, as Lucene's own footers expect.
 */
final class EncryptedIndexOutput extends IndexOutput {

    private final IndexOutput out;
    private final KeyBytes fileKey;
    private final byte[] aad;
    private final byte[] block;
    private final byte[] sealed;
    private final byte[] nonce = new byte[IndexFileFormat.NONCE_BYTES];
    private final Cipher cipher;
    private final CRC32 crc = new CRC32();
    private int used;
    /** How much of the current block the checksum covers: it is brought up to date in bulk, not per byte. */
    private int summed;

    private long blockIndex;
    private long written;
    private boolean closed;

    EncryptedIndexOutput(String name, IndexOutput out, String tenant, IndexKey key, int blockShift, byte[] salt)
            throws IOException {
        super("EncryptedIndexOutput(" + name + ")", name);
        this.out = out;
        IndexFileFormat.Header header = new IndexFileFormat.Header(blockShift, key.id(), salt);
        this.fileKey = new KeyBytes(key.fileKey(header));
        this.aad = IndexFileFormat.associatedDataPrefix(tenant, name);
        this.block = new byte[header.blockSize()];
        this.sealed = new byte[header.blockSize() + IndexFileFormat.TAG_BYTES];
        try {
            this.cipher = Cipher.getInstance("AES/GCM/NoPadding");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES/GCM is unavailable", e);
        }
        out.writeBytes(header.encode(), IndexFileFormat.HEADER_BYTES);
    }

    @Override
    public void writeByte(byte b) throws IOException {
        if (used == block.length) {
            seal(false);
        }
        block[used++] = b;
        written++;
    }

    @Override
    public void writeBytes(byte[] b, int offset, int length) throws IOException {
        written += length;
        while (length > 0) {
            if (used == block.length) {
                seal(false);
            }
            int n = Math.min(length, block.length - used);
            System.arraycopy(b, offset, block, used, n);
            used += n;
            offset += n;
            length -= n;
        }
    }

    private void seal(boolean last) throws IOException {
        sum();
        try {
            IndexFileFormat.nonce(blockIndex, nonce);
            IndexFileFormat.associatedData(aad, blockIndex, last);
            cipher.init(Cipher.ENCRYPT_MODE, fileKey.key(), new GCMParameterSpec(128, nonce));
            cipher.updateAAD(aad);
            int n = cipher.doFinal(block, 0, used, sealed, 0);
            out.writeBytes(sealed, n);
        } catch (GeneralSecurityException | IllegalStateException e) {
            throw new IOException("cannot encrypt block " + blockIndex + " of " + getName() + ": " + e.getMessage(), e);
        }
        blockIndex++;
        used = 0;
        summed = 0;
    }

    private void sum() {
        crc.update(block, summed, used - summed);
        summed = used;
    }

    @Override
    public long getFilePointer() {
        return written;
    }

    @Override
    public long getChecksum() {
        sum();
        return crc.getValue();
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try (IndexOutput o = out) {
            seal(true);
        } finally {
            Arrays.fill(block, (byte) 0);
            fileKey.destroy();
        }
    }
}
