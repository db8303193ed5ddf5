package io.embedseal.demo.bench;

import io.embedseal.keyring.dek.Randomness;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import java.security.GeneralSecurityException;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import javax.crypto.Cipher;
import javax.crypto.NoSuchPaddingException;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The end-to-end floor for sealing: each value's Avro body encrypted with plain JCE AES-256-GCM, into a new array of
 * exactly the size a sealed envelope of the same record has, with a real envelope header of this run's shape as
 * associated data. The broker, the producer and the cipher get the same bytes and the same work as in the sealing
 * pipeline; none of embedseal's own work is done (no reading or validating of the record, no tenant, no DEK lookup,
 * no header written per record, no new key, no zeroing, no metrics). One key, a fresh nonce per record from the
 * source sealing uses, one keyed cipher per stream thread (as each DEK keeps one). For measurement only: every record
 * is under the same key and the header is not its own.
 */
final class AesGcmFloor {

    private static final int NONCE_BYTES = 12;
    private static final int TAG_BYTES = 16;
    private static final ThreadLocal<Cipher> CIPHER = ThreadLocal.withInitial(() -> {
        try {
            return Cipher.getInstance("AES/GCM/NoPadding");
        } catch (NoSuchAlgorithmException | NoSuchPaddingException e) {
            throw new IllegalStateException("this JVM has no AES/GCM/NoPadding", e);
        }
    });

    private final SecretKeySpec key;
    private final byte[] header;
    private final Randomness nonces = Randomness.secure();

    /**
     * @param header the bytes every output starts with and that are authenticated (a real envelope's header)
     */
    AesGcmFloor(byte[] header) {
        this(header, randomKey());
    }

    /** With a given key (tests). */
    AesGcmFloor(byte[] header, SecretKeySpec key) {
        this.key = key;
        this.header = header.clone();
    }

    private static SecretKeySpec randomKey() {
        byte[] k = new byte[32];
        Randomness.secure().nextBytes(k);
        SecretKeySpec key = new SecretKeySpec(k, "AES");
        Arrays.fill(k, (byte) 0);
        return key;
    }

    /** {@code header ‖ nonce ‖ AES-GCM(body of value) ‖ tag}. */
    byte[] apply(byte[] value) {
        int bodyOffset = EmbeddingEventCodec.PREFIX_LENGTH;
        int bodyLength = value.length - bodyOffset;
        byte[] out = new byte[header.length + NONCE_BYTES + bodyLength + TAG_BYTES];
        System.arraycopy(header, 0, out, 0, header.length);
        nonces.nextBytes(out, header.length, NONCE_BYTES); // straight into place, read by the cipher from there
        Cipher c = CIPHER.get();
        try {
            c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BYTES * 8, out, header.length, NONCE_BYTES));
            c.updateAAD(out, 0, header.length);
            c.doFinal(value, bodyOffset, bodyLength, out, header.length + NONCE_BYTES);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM encryption failed", e);
        }
        return out;
    }
}
