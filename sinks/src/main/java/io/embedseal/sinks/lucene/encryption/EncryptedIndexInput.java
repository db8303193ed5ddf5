package io.embedseal.sinks.lucene.encryption;

import java.io.EOFException;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.GeneralSecurityException;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import org.apache.lucene.index.CorruptIndexException;
import org.apache.lucene.store.IndexInput;

/**
 * Reads an encrypted index file at random: a read decrypts (and authenticates) only the blocks it touches, each
 * once while it stays in the {@link BlockCache}. Clones and slices share the file and its key; each keeps its own
 * position and current block. Like every Lucene input, one instance is used by one thread at a time.
 */
final class EncryptedIndexInput extends IndexInput implements org.apache.lucene.store.RandomAccessInput {

    private static final VarHandle SHORT = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final byte[] NO_BLOCK = new byte[0];

    private final EncryptedFile file;
    private boolean original;
    private IndexInput raw;
    private final long offset;
    private final long length;
    private long pos;
    private byte[] current = NO_BLOCK;
    private long currentIndex = -1;
    private long currentStart;
    /** Made on the first block this instance decrypts; clones make their own. */
    private @org.jspecify.annotations.Nullable Decryptor decryptor;

    private static final class Decryptor {
        final byte[] scratch;
        final byte[] aad;
        final byte[] nonce = new byte[IndexFileFormat.NONCE_BYTES];
        final Cipher cipher;

        Decryptor(EncryptedFile file) {
            scratch = new byte[file.blockSize + IndexFileFormat.TAG_BYTES];
            aad = file.aadPrefix.clone();
            try {
                cipher = Cipher.getInstance("AES/GCM/NoPadding");
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("AES/GCM is unavailable", e);
            }
        }
    }

    EncryptedIndexInput(String description, EncryptedFile file) {
        this(description, file, true, file.raw, 0, file.length);
    }

    private EncryptedIndexInput(
            String description, EncryptedFile file, boolean original, IndexInput raw, long offset, long length) {
        super(description);
        this.file = file;
        this.original = original;
        this.raw = raw;
        this.offset = offset;
        this.length = length;
    }

    @Override
    public long length() {
        return length;
    }

    @Override
    public long getFilePointer() {
        return pos;
    }

    @Override
    public void seek(long p) throws IOException {
        if (p < 0 || p > length) {
            throw new EOFException("seek to " + p + " outside " + this + " (length " + length + ")");
        }
        pos = p;
    }

    /** Makes the block holding absolute position {@code at} current; returns the offset of {@code at} within it. */
    private int locate(long at) throws IOException {
        long index = at >>> file.shift;
        if (index != currentIndex) {
            load(index);
        }
        return (int) (at - currentStart);
    }

    private void load(long index) throws IOException {
        var slots = file.slots;
        byte[] plain = slots == null ? null : slots.get((int) index);
        if (plain == null) {
            plain = decrypt(index);
            file.cache.admit(file, index, plain);
        }
        current = plain;
        currentIndex = index;
        currentStart = index << file.shift;
    }

    private byte[] decrypt(long index) throws IOException {
        if (file.fileKey.isDestroyed()) {
            throw new IOException("the index key of tenant " + file.tenant + " was destroyed (revoked?): " + file.name
                    + " can no longer be read");
        }
        int plainLength = file.blockLength(index);
        int sealedLength = plainLength + IndexFileFormat.TAG_BYTES;
        Decryptor d = decryptor;
        if (d == null) {
            d = new Decryptor(file);
            decryptor = d;
        }
        raw.seek(file.rawOffset(index));
        raw.readBytes(d.scratch, 0, sealedLength);
        IndexFileFormat.nonce(index, d.nonce);
        IndexFileFormat.associatedData(d.aad, index, index == file.blocks - 1);
        byte[] plain = new byte[plainLength];
        try {
            d.cipher.init(Cipher.DECRYPT_MODE, file.fileKey.key(), new GCMParameterSpec(128, d.nonce));
            d.cipher.updateAAD(d.aad);
            d.cipher.doFinal(d.scratch, 0, sealedLength, plain, 0);
        } catch (AEADBadTagException e) {
            throw new CorruptIndexException(
                    "block " + index + " of " + file.name + " (tenant " + file.tenant + ") fails authentication: "
                            + "altered, moved from another position, file or tenant, truncated, or under another key",
                    file.name);
        } catch (GeneralSecurityException | IllegalStateException e) {
            throw new IOException("cannot decrypt block " + index + " of " + file.name + ": " + e.getMessage(), e);
        }
        return plain;
    }

    private void require(long n) throws EOFException {
        if (n > length - pos) {
            throw new EOFException("read past EOF: " + this + " (at " + pos + " of " + length + ", wanted " + n + ")");
        }
    }

    @Override
    public byte readByte() throws IOException {
        require(1);
        int at = locate(offset + pos);
        pos++;
        return current[at];
    }

    @Override
    public void readBytes(byte[] b, int off, int len) throws IOException {
        require(len);
        while (len > 0) {
            int at = locate(offset + pos);
            int n = Math.min(len, current.length - at);
            System.arraycopy(current, at, b, off, n);
            pos += n;
            off += n;
            len -= n;
        }
    }

    /** The offset of the next {@code n} bytes within the current block if they lie in it, else -1. */
    private int within(int n) throws IOException {
        require(n);
        int at = locate(offset + pos);
        return at + n <= current.length ? at : -1;
    }

    @Override
    public short readShort() throws IOException {
        int at = within(Short.BYTES);
        if (at < 0) {
            return super.readShort();
        }
        pos += Short.BYTES;
        return (short) SHORT.get(current, at);
    }

    @Override
    public int readInt() throws IOException {
        int at = within(Integer.BYTES);
        if (at < 0) {
            return super.readInt();
        }
        pos += Integer.BYTES;
        return (int) INT.get(current, at);
    }

    @Override
    public long readLong() throws IOException {
        int at = within(Long.BYTES);
        if (at < 0) {
            return super.readLong();
        }
        pos += Long.BYTES;
        return (long) LONG.get(current, at);
    }

    /** The next {@code n} bytes as one array and the offset they start at: the current block, or a copy if they span two. */
    private int contiguous(int n) throws IOException {
        if (n == 0) {
            return 0; // nothing to read, even at the end of the file
        }
        int at = within(n);
        if (at >= 0) {
            pos += n;
            return at;
        }
        if (spanning.length < n) {
            spanning = new byte[n];
        }
        readBytes(spanning, 0, n);
        return -1;
    }

    private byte[] spanning = NO_BLOCK;

    @Override
    public void readFloats(float[] floats, int off, int len) throws IOException {
        int n = len * Float.BYTES;
        int at = contiguous(n);
        // A little-endian view's bulk get is one memory copy on a little-endian machine (Lucene's order).
        ByteBuffer.wrap(at >= 0 ? current : spanning, Math.max(at, 0), n)
                .order(ByteOrder.LITTLE_ENDIAN)
                .asFloatBuffer()
                .get(floats, off, len);
    }

    @Override
    public void readInts(int[] ints, int off, int len) throws IOException {
        int at = contiguous(len * Integer.BYTES);
        byte[] from = at >= 0 ? current : spanning;
        int base = Math.max(at, 0);
        for (int i = 0; i < len; i++) {
            ints[off + i] = (int) INT.get(from, base + i * Integer.BYTES);
        }
    }

    @Override
    public void readLongs(long[] longs, int off, int len) throws IOException {
        int at = contiguous(len * Long.BYTES);
        byte[] from = at >= 0 ? current : spanning;
        int base = Math.max(at, 0);
        for (int i = 0; i < len; i++) {
            longs[off + i] = (long) LONG.get(from, base + i * Long.BYTES);
        }
    }

    /** Lucene's group-varint (a flag byte, then four ints of 1 to 4 bytes), decoded from the block when it lies in it. */
    @Override
    protected void readGroupVInt(long[] dst, int off) throws IOException {
        if (length - pos >= 17) {
            int at = locate(offset + pos);
            if (at + 17 <= current.length) {
                int flag = current[at] & 0xFF;
                int p = at + 1;
                for (int i = 0; i < 4; i++) {
                    int n = ((flag >>> (6 - 2 * i)) & 0x03) + 1;
                    int v = (int) INT.get(current, p);
                    dst[off + i] = (v & (int) (0xFFFFFFFFL >>> (32 - 8 * n))) & 0xFFFFFFFFL;
                    p += n;
                }
                pos += p - at;
                return;
            }
        }
        super.readGroupVInt(dst, off);
    }

    // RandomAccessInput: absolute reads within this input, without moving its position.

    @Override
    public byte readByte(long at) throws IOException {
        checkAbsolute(at, 1);
        int i = locate(offset + at);
        return current[i];
    }

    @Override
    public short readShort(long at) throws IOException {
        checkAbsolute(at, Short.BYTES);
        int i = locate(offset + at);
        if (i + Short.BYTES <= current.length) {
            return (short) SHORT.get(current, i);
        }
        return (short) ((readByte(at) & 0xFF) | (readByte(at + 1) & 0xFF) << 8);
    }

    @Override
    public int readInt(long at) throws IOException {
        checkAbsolute(at, Integer.BYTES);
        int i = locate(offset + at);
        if (i + Integer.BYTES <= current.length) {
            return (int) INT.get(current, i);
        }
        return (readShort(at) & 0xFFFF) | (readShort(at + 2) & 0xFFFF) << 16;
    }

    @Override
    public long readLong(long at) throws IOException {
        checkAbsolute(at, Long.BYTES);
        int i = locate(offset + at);
        if (i + Long.BYTES <= current.length) {
            return (long) LONG.get(current, i);
        }
        return (readInt(at) & 0xFFFFFFFFL) | ((long) readInt(at + 4)) << 32;
    }

    private void checkAbsolute(long at, int n) throws EOFException {
        if (at < 0 || at > length - n) {
            throw new EOFException("read past EOF: " + this + " (at " + at + " of " + length + ", wanted " + n + ")");
        }
    }

    @Override
    public org.apache.lucene.store.RandomAccessInput randomAccessSlice(long off, long len) throws IOException {
        return (EncryptedIndexInput) slice("randomaccess", off, len);
    }

    @Override
    public IndexInput slice(String sliceDescription, long off, long len) throws IOException {
        if (off < 0 || len < 0 || len > length - off) {
            throw new IllegalArgumentException("slice(" + sliceDescription + ") out of bounds: offset=" + off
                    + ", length=" + len + ", fileLength=" + length + ": " + this);
        }
        EncryptedIndexInput s = new EncryptedIndexInput(
                getFullSliceDescription(sliceDescription), file, false, raw.clone(), offset + off, len);
        s.current = current;
        s.currentIndex = currentIndex;
        s.currentStart = currentStart;
        return s;
    }

    @Override
    public EncryptedIndexInput clone() {
        EncryptedIndexInput c = (EncryptedIndexInput) super.clone();
        c.original = false;
        c.raw = raw.clone();
        c.decryptor = null;
        c.spanning = NO_BLOCK;
        return c;
    }

    @Override
    public void close() throws IOException {
        if (original) {
            file.close();
            raw.close();
        }
    }
}
