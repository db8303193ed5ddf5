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
final class EncryptedIndexInput extends IndexInput {

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
        byte[] plain = file.cache.get(file.id, index);
        if (plain == null) {
            plain = decrypt(index);
            file.cache.put(file.id, index, plain);
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
            d.cipher.init(Cipher.DECRYPT_MODE, file.fileKey, new GCMParameterSpec(128, d.nonce));
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

    @Override
    public void readFloats(float[] floats, int off, int len) throws IOException {
        int bytes = len * Float.BYTES;
        int at = within(bytes);
        if (at >= 0) {
            ByteBuffer.wrap(current, at, bytes)
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .asFloatBuffer()
                    .get(floats, off, len);
            pos += bytes;
            return;
        }
        byte[] b = new byte[bytes];
        readBytes(b, 0, bytes);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(floats, off, len);
    }

    @Override
    public void readInts(int[] ints, int off, int len) throws IOException {
        int bytes = len * Integer.BYTES;
        byte[] b = new byte[bytes];
        readBytes(b, 0, bytes);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(ints, off, len);
    }

    @Override
    public void readLongs(long[] longs, int off, int len) throws IOException {
        int bytes = len * Long.BYTES;
        byte[] b = new byte[bytes];
        readBytes(b, 0, bytes);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(longs, off, len);
    }

    @Override
    public IndexInput slice(String sliceDescription, long off, long len) throws IOException {
        if (off < 0 || len < 0 || off + len > length) {
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
        return c;
    }

    @Override
    public void close() throws IOException {
        if (original) {
            file.fileKey.destroy();
            raw.close();
        }
    }
}
