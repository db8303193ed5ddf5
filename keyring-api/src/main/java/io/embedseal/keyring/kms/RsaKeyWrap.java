package io.embedseal.keyring.kms;

import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.MGF1ParameterSpec;
import java.util.Arrays;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.OAEPParameterSpec;
import javax.crypto.spec.PSource;
import javax.crypto.spec.SecretKeySpec;

/**
 * Wrapping a data key with a tenant's RSA <b>public</b> key, for KEKs whose private half stays in the KMS (the
 * public-key integration model, {@link PublicKek}). RSA decryption in the KMSs that hold such keys
 * takes no associated data (Vault/OpenBao Transit refuses it for RSA; PKCS#11 OAEP labels are not supported by SoftHSM
 * 2.6), so the binding to tenant, DEK id and purpose is made outside the RSA step:
 * <pre>
 *   e  ← 32 random bytes (a key used once)
 *   c1 ← RSA-OAEP(SHA-256, MGF1-SHA-256, empty label)(public key, e)
 *   c2 ← AES-256-GCM(e, nonce = 12 zero bytes, associated data)(DEK)     (a fixed nonce is safe: e encrypts once)
 *   wrapped = "ESPK" ‖ 0x01 ‖ len(c1) (2 bytes, big-endian) ‖ c1 ‖ c2
 * </pre>
 * Unwrapping asks the KMS to decrypt c1 (the only step that needs the private key), then opens c2 locally under the
 * caller's associated data: a wrapped key presented for another tenant, DEK or purpose fails its tag, as a symmetric
 * wrap would. {@link #oaepDecode} is RFC 8017's EME-OAEP decoding, for a KMS that can only do raw RSA (SunPKCS11 has no
 * OAEP; SoftHSM 2.6 does OAEP with SHA-1 only).
 */
public final class RsaKeyWrap {

    /** The private-key step, done by the KMS: RSA-OAEP-SHA256 decryption of {@code c1}. */
    @FunctionalInterface
    public interface OaepDecryptor {
        byte[] decrypt(byte[] c1);
    }

    static final byte[] MAGIC = {'E', 'S', 'P', 'K'};
    static final byte VERSION = 1;
    static final int EPHEMERAL_BYTES = 32;
    static final OAEPParameterSpec OAEP_SHA256 =
            new OAEPParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, PSource.PSpecified.DEFAULT);

    private static final SecureRandom RANDOM = new SecureRandom();

    private RsaKeyWrap() {}

    /** Wraps {@code dek} under {@code publicKey}, bound to {@code associatedData}. No KMS call. */
    public static byte[] wrap(RSAPublicKey publicKey, byte[] dek, byte[] associatedData) {
        if (publicKey.getModulus().bitLength() < 2048) {
            throw new IllegalArgumentException("an RSA KEK has at least 2048 bits");
        }
        byte[] e = new byte[EPHEMERAL_BYTES];
        RANDOM.nextBytes(e);
        try {
            Cipher rsa = Cipher.getInstance("RSA/ECB/OAEPPadding");
            rsa.init(Cipher.ENCRYPT_MODE, publicKey, OAEP_SHA256, RANDOM);
            byte[] c1 = rsa.doFinal(e);
            Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding");
            gcm.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(e, "AES"), new GCMParameterSpec(128, new byte[12]));
            gcm.updateAAD(associatedData);
            byte[] c2 = gcm.doFinal(dek);
            return ByteBuffer.allocate(MAGIC.length + 1 + 2 + c1.length + c2.length)
                    .put(MAGIC)
                    .put(VERSION)
                    .putShort((short) c1.length)
                    .put(c1)
                    .put(c2)
                    .array();
        } catch (GeneralSecurityException ex) {
            throw new IllegalStateException("RSA-OAEP or AES-GCM is unavailable: " + ex.getMessage(), ex);
        } finally {
            Arrays.fill(e, (byte) 0);
        }
    }

    /**
     * Opens a wrapped key: the KMS decrypts c1, c2 is opened here under {@code associatedData}.
     *
     * @throws InvalidWrappedKeyException if the bytes are not a wrapped key of this kind, or do not open (another
     *                                    tenant's, DEK's or purpose's, altered, or under another key pair)
     */
    public static byte[] unwrap(byte[] wrapped, byte[] associatedData, OaepDecryptor kms) {
        if (wrapped.length < MAGIC.length + 3
                || !Arrays.equals(Arrays.copyOf(wrapped, MAGIC.length), MAGIC)
                || wrapped[MAGIC.length] != VERSION) {
            throw new InvalidWrappedKeyException("not a public-key wrapped key (format ESPK v1)");
        }
        int c1Length = ((wrapped[5] & 0xff) << 8) | (wrapped[6] & 0xff);
        int c2Offset = 7 + c1Length;
        if (c1Length < 256 || c2Offset + 16 > wrapped.length) {
            throw new InvalidWrappedKeyException("a public-key wrapped key of impossible lengths");
        }
        byte[] e = kms.decrypt(Arrays.copyOfRange(wrapped, 7, c2Offset));
        try {
            if (e.length != EPHEMERAL_BYTES) {
                throw new InvalidWrappedKeyException(
                        "a public-key wrapped key whose RSA part holds " + e.length + " bytes, not " + EPHEMERAL_BYTES);
            }
            Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding");
            gcm.init(Cipher.DECRYPT_MODE, new SecretKeySpec(e, "AES"), new GCMParameterSpec(128, new byte[12]));
            gcm.updateAAD(associatedData);
            return gcm.doFinal(wrapped, c2Offset, wrapped.length - c2Offset);
        } catch (javax.crypto.AEADBadTagException ex) {
            throw new InvalidWrappedKeyException(
                    "the wrapped key does not open for this binding (another tenant's, DEK's or purpose's, or altered)");
        } catch (GeneralSecurityException ex) {
            throw new IllegalStateException("AES-GCM is unavailable: " + ex.getMessage(), ex);
        } finally {
            Arrays.fill(e, (byte) 0);
        }
    }

    /**
     * EME-OAEP decoding (RFC 8017 section 7.1.2) with SHA-256, MGF1-SHA-256 and an empty label, of the raw RSA result
     * {@code em} (k bytes, the modulus length): for a KMS that decrypts with raw RSA only. Every check runs before the
     * one verdict, so a failure does not say which check failed.
     *
     * @throws InvalidWrappedKeyException if {@code em} is not a valid encoding
     */
    public static byte[] oaepDecode(byte[] em, int k) {
        int hLen = 32;
        if (k < 2 * hLen + 2 || em.length > k) {
            throw new InvalidWrappedKeyException("decryption error");
        }
        byte[] padded = new byte[k];
        System.arraycopy(em, 0, padded, k - em.length, em.length); // raw RSA may drop leading zeros
        byte[] lHash = sha256(new byte[0]);
        byte[] maskedSeed = Arrays.copyOfRange(padded, 1, 1 + hLen);
        byte[] maskedDb = Arrays.copyOfRange(padded, 1 + hLen, k);
        byte[] seed = xor(maskedSeed, mgf1(maskedDb, hLen));
        byte[] db = xor(maskedDb, mgf1(seed, k - hLen - 1));
        int bad = padded[0] & 0xff; // Y must be 0
        bad |= MessageDigest.isEqual(Arrays.copyOf(db, hLen), lHash) ? 0 : 1;
        // After lHash: zero bytes, then 0x01, then the message. Found without branching on secret data.
        int index = 0;
        int looking = 1;
        for (int i = hLen; i < db.length; i++) {
            int b = db[i] & 0xff;
            int isOne = ((b ^ 1) - 1) >>> 31; // 1 if b == 1
            int isZero = (b - 1) >>> 31; // 1 if b == 0
            int found = looking & isOne; // 1 at the first 0x01 only
            index |= -found & i; // selected with a mask, not a branch
            bad |= looking & (1 - isOne) & (1 - isZero);
            looking &= 1 - isOne;
        }
        bad |= looking;
        Arrays.fill(seed, (byte) 0);
        Arrays.fill(padded, (byte) 0);
        Arrays.fill(maskedSeed, (byte) 0);
        Arrays.fill(maskedDb, (byte) 0);
        if (bad != 0) {
            Arrays.fill(db, (byte) 0);
            throw new InvalidWrappedKeyException("decryption error");
        }
        byte[] message = Arrays.copyOfRange(db, index + 1, db.length);
        Arrays.fill(db, (byte) 0);
        return message;
    }

    private static byte[] mgf1(byte[] seed, int length) {
        byte[] out = new byte[length];
        byte[] counter = new byte[4];
        int done = 0;
        for (int c = 0; done < length; c++) {
            counter[0] = (byte) (c >>> 24);
            counter[1] = (byte) (c >>> 16);
            counter[2] = (byte) (c >>> 8);
            counter[3] = (byte) c;
            MessageDigest d = sha256Digest();
            d.update(seed);
            d.update(counter);
            byte[] h = d.digest();
            int n = Math.min(h.length, length - done);
            System.arraycopy(h, 0, out, done, n);
            done += n;
        }
        return out;
    }

    private static byte[] xor(byte[] a, byte[] b) {
        byte[] out = new byte[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = (byte) (a[i] ^ b[i]);
        }
        return out;
    }

    private static byte[] sha256(byte[] data) {
        return sha256Digest().digest(data);
    }

    private static MessageDigest sha256Digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 is unavailable", e);
        }
    }
}
