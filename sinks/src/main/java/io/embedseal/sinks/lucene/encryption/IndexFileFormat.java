package io.embedseal.sinks.lucene.encryption;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.apache.lucene.index.CorruptIndexException;

/**
 * The layout of an encrypted index file (docs/index-encryption.md has the specification and a test vector).
 *
 * <pre>
 * header (56 bytes)  "ESIX" | 0x01 | block shift | 0x0000 | index key id (16) | salt (32)
 * blocks             block 0 | block 1 | ... | block n-1      (n >= 1; only the last may be short, even empty)
 * block i            AES-256-GCM(file key, nonce_i, aad_i, plaintext_i): ciphertext | tag (16)
 *
 * file key  = HKDF-SHA256(ikm = index key, salt = salt, info = "embedseal.index.file.v1" | 0x00 | key id | shift), 32 bytes
 * nonce_i   = 0x00000000 | i (8 bytes, big-endian)
 * aad_i     = "embedseal.index.block.v1" | 0x00 | len(tenant) (1) | tenant | len(name) (2, BE) | name | i (8, BE) | last (1)
 * </pre>
 *
 * The salt makes every file's key its own, so block numbers are unique nonces under it (the STREAM construction of
 * Hoang, Reyhanitabar, Rogaway and Vizár, "Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance",
 * CRYPTO 2015, with the position in the associated data as well). Changing the header changes the key; a block altered,
 * moved to another position, file or tenant, or a file cut at a block boundary (the new last block was not written as
 * the last) fails its tag.
 */
public final class IndexFileFormat {

    static final byte[] MAGIC = {'E', 'S', 'I', 'X'};
    static final byte VERSION = 1;
    public static final int KEY_ID_BYTES = 16;
    static final int SALT_BYTES = 32;
    public static final int HEADER_BYTES = 4 + 1 + 1 + 2 + KEY_ID_BYTES + SALT_BYTES;
    static final int TAG_BYTES = 16;
    static final int NONCE_BYTES = 12;
    /** 4 KiB blocks: a random read (one vector, one graph node) decrypts at most a few kilobytes. */
    public static final int DEFAULT_BLOCK_SHIFT = 12;

    static final int MIN_BLOCK_SHIFT = 10;
    static final int MAX_BLOCK_SHIFT = 20;

    private static final byte[] FILE_INFO = "embedseal.index.file.v1".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] BLOCK_CONTEXT = "embedseal.index.block.v1".getBytes(StandardCharsets.US_ASCII);

    private IndexFileFormat() {}

    /** A parsed header. */
    record Header(int blockShift, byte[] keyId, byte[] salt) {
        int blockSize() {
            return 1 << blockShift;
        }

        byte[] encode() {
            byte[] h = new byte[HEADER_BYTES];
            System.arraycopy(MAGIC, 0, h, 0, 4);
            h[4] = VERSION;
            h[5] = (byte) blockShift;
            System.arraycopy(keyId, 0, h, 8, KEY_ID_BYTES);
            System.arraycopy(salt, 0, h, 8 + KEY_ID_BYTES, SALT_BYTES);
            return h;
        }
    }

    static Header parseHeader(byte[] h, String resource) throws IOException {
        if (h.length < HEADER_BYTES || !Arrays.equals(h, 0, 4, MAGIC, 0, 4)) {
            throw new CorruptIndexException(
                    "not an encrypted index file (no ESIX header): a plaintext or foreign file in an encrypted index",
                    resource);
        }
        if (h[4] != VERSION) {
            throw new CorruptIndexException("encrypted index file format " + h[4] + " is not supported", resource);
        }
        int shift = h[5];
        if (shift < MIN_BLOCK_SHIFT || shift > MAX_BLOCK_SHIFT || h[6] != 0 || h[7] != 0) {
            throw new CorruptIndexException("encrypted index file header is malformed", resource);
        }
        return new Header(
                shift,
                Arrays.copyOfRange(h, 8, 8 + KEY_ID_BYTES),
                Arrays.copyOfRange(h, 8 + KEY_ID_BYTES, HEADER_BYTES));
    }

    /** The plaintext length of a file of {@code rawLength} bytes, or -1 if no file of this layout has that length. */
    static long plaintextLength(long rawLength, int blockShift) {
        long data = rawLength - HEADER_BYTES;
        long stride = (1L << blockShift) + TAG_BYTES;
        if (data < TAG_BYTES) {
            return -1;
        }
        long blocks = (data + stride - 1) / stride;
        long last = data - (blocks - 1) * stride;
        if (last < TAG_BYTES) {
            return -1;
        }
        return data - blocks * TAG_BYTES;
    }

    /** Blocks of a file with this plaintext length: at least one (an empty file has one empty block). */
    static long blocks(long plaintextLength, int blockShift) {
        return plaintextLength == 0 ? 1 : (plaintextLength + (1L << blockShift) - 1) >>> blockShift;
    }

    /** HKDF-SHA256 (RFC 5869) of one 32-byte output: the file's own AES-256 key. */
    static byte[] fileKey(byte[] indexKey, Header header) {
        try {
            Mac extract = Mac.getInstance("HmacSHA256");
            extract.init(new SecretKeySpec(header.salt(), "HmacSHA256"));
            byte[] prk = extract.doFinal(indexKey);
            try {
                Mac expand = Mac.getInstance("HmacSHA256");
                expand.init(new SecretKeySpec(prk, "HmacSHA256"));
                expand.update(FILE_INFO);
                expand.update((byte) 0);
                expand.update(header.keyId());
                expand.update((byte) header.blockShift());
                expand.update((byte) 1);
                return expand.doFinal();
            } finally {
                Arrays.fill(prk, (byte) 0);
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is unavailable", e);
        }
    }

    static void nonce(long block, byte[] into) {
        Arrays.fill(into, 0, 4, (byte) 0);
        for (int i = 0; i < 8; i++) {
            into[4 + i] = (byte) (block >>> (56 - 8 * i));
        }
    }

    /** The associated data of every block of one file, with room for the block number and the last flag at the end. */
    static byte[] associatedDataPrefix(String tenant, String fileName) {
        byte[] t = tenant.getBytes(StandardCharsets.UTF_8);
        byte[] n = fileName.getBytes(StandardCharsets.UTF_8);
        if (t.length > 255 || n.length > 65535) {
            throw new IllegalArgumentException("tenant id or file name too long");
        }
        byte[] aad = new byte[BLOCK_CONTEXT.length + 1 + 1 + t.length + 2 + n.length + 8 + 1];
        int p = 0;
        System.arraycopy(BLOCK_CONTEXT, 0, aad, p, BLOCK_CONTEXT.length);
        p += BLOCK_CONTEXT.length;
        aad[p++] = 0;
        aad[p++] = (byte) t.length;
        System.arraycopy(t, 0, aad, p, t.length);
        p += t.length;
        aad[p++] = (byte) (n.length >>> 8);
        aad[p++] = (byte) n.length;
        System.arraycopy(n, 0, aad, p, n.length);
        return aad;
    }

    /** Completes {@link #associatedDataPrefix} for one block. */
    static void associatedData(byte[] aad, long block, boolean last) {
        int p = aad.length - 9;
        for (int i = 0; i < 8; i++) {
            aad[p + i] = (byte) (block >>> (56 - 8 * i));
        }
        aad[aad.length - 1] = (byte) (last ? 1 : 0);
    }
}
