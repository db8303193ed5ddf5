package io.embedseal.keyring.dek;

import io.embedseal.keyring.kms.KekRef;
import java.security.GeneralSecurityException;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Objects;
import javax.crypto.Cipher;
import javax.crypto.NoSuchPaddingException;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.jspecify.annotations.Nullable;

/**
 * One tenant's data-encryption key, unwrapped, as an encrypt/decrypt handle: AES-256-GCM with a fresh random
 * 96-bit nonce per encryption and a 128-bit tag, output {@code nonce(12) || ciphertext || tag(16)}. That is
 * exactly Tink's AES256_GCM with no output prefix (a test checks both open each other's output); the cipher
 * is used through JCE directly so a record can be encrypted straight into its envelope, without copies.
 *
 * <p>Each DEK keeps one JCE cipher already keyed with it, lent to one thread at a time: re-keying a cipher costs
 * an AES key expansion (in Java code on JDK 17), which a cipher shared by all of a thread's tenants would pay on
 * nearly every record when tenants interleave. A thread that finds the DEK's cipher lent out uses its own.
 *
 * <p>The key bytes never leave this object (the expanded key lives in its cipher, as long as the DEK does);
 * {@link #toString()} prints ids only. The wrapped form (safe to
 * store) travels with it so every envelope can carry it.
 */
public final class Dek {

    /** Bytes GCM adds to a plaintext: a 12-byte nonce and a 16-byte tag. */
    public static final int OVERHEAD = 12 + 16;

    static final int NONCE_BYTES = 12;
    private static final int TAG_BITS = 128;
    private static final ThreadLocal<Cipher> CIPHER = ThreadLocal.withInitial(Dek::newCipher);

    private final String tenantId;
    private final DekId id;
    private final KekRef kek;
    private final byte[] wrapped;
    private final byte[] kekRefAscii;
    private final SecretKeySpec key;
    private final Randomness randomness;
    private final java.util.concurrent.atomic.AtomicBoolean ownCipherLent =
            new java.util.concurrent.atomic.AtomicBoolean();
    private volatile @Nullable Cipher ownCipher;

    Dek(String tenantId, DekId id, KekRef kek, byte[] wrapped, byte[] rawKey, Randomness randomness) {
        this.tenantId = Objects.requireNonNull(tenantId);
        this.id = Objects.requireNonNull(id);
        this.kek = Objects.requireNonNull(kek);
        this.wrapped = wrapped.clone();
        this.kekRefAscii = kek.toString().getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        this.key = new SecretKeySpec(rawKey, "AES"); // copies the bytes; the caller zeroes its array
        this.randomness = Objects.requireNonNull(randomness);
    }

    public String tenantId() {
        return tenantId;
    }

    public DekId id() {
        return id;
    }

    /** The KEK version that wrapped this DEK. */
    public KekRef kek() {
        return kek;
    }

    /** Length of {@code kek().toString()} in ASCII bytes. */
    public int kekRefLength() {
        return kekRefAscii.length;
    }

    /** Writes {@code kek().toString()} as ASCII into {@code target} at {@code offset}. */
    public void copyKekRefTo(byte[] target, int offset) {
        System.arraycopy(kekRefAscii, 0, target, offset, kekRefAscii.length);
    }

    /** Length of the wrapped form, without copying it. */
    public int wrappedLength() {
        return wrapped.length;
    }

    /** Writes the wrapped form into {@code target} at {@code offset}. */
    public void copyWrappedTo(byte[] target, int offset) {
        System.arraycopy(wrapped, 0, target, offset, wrapped.length);
    }

    /** True when {@code candidate} is exactly this DEK's wrapped form. */
    public boolean hasWrappedForm(byte[] candidate) {
        return Arrays.equals(wrapped, candidate);
    }

    /** A copy of the wrapped form. */
    public byte[] wrapped() {
        return wrapped.clone();
    }

    /**
     * Encrypts {@code plaintext[ptOffset, ptOffset+ptLength)} into {@code out} at {@code outOffset} as
     * {@code nonce || ciphertext || tag}, with a fresh random nonce, authenticating
     * {@code aad[aadOffset, aadOffset+aadLength)}. {@code out} needs {@code ptLength + OVERHEAD} bytes from
     * {@code outOffset}; the associated data may lie in {@code out} before that range.
     *
     * @return the number of bytes written, always {@code ptLength + OVERHEAD}
     */
    public int encrypt(
            byte[] plaintext,
            int ptOffset,
            int ptLength,
            byte[] aad,
            int aadOffset,
            int aadLength,
            byte[] out,
            int outOffset)
            throws GeneralSecurityException {
        byte[] nonce = new byte[NONCE_BYTES];
        randomness.nextBytes(nonce);
        Cipher c = borrowCipher();
        try {
            c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
            c.updateAAD(aad, aadOffset, aadLength);
            System.arraycopy(nonce, 0, out, outOffset, NONCE_BYTES);
            return NONCE_BYTES + c.doFinal(plaintext, ptOffset, ptLength, out, outOffset + NONCE_BYTES);
        } finally {
            giveBack(c);
        }
    }

    /** Encrypts into a new array; see {@link #encrypt(byte[], int, int, byte[], int, int, byte[], int)}. */
    public byte[] encrypt(byte[] plaintext, byte[] associatedData) throws GeneralSecurityException {
        byte[] out = new byte[plaintext.length + OVERHEAD];
        encrypt(plaintext, 0, plaintext.length, associatedData, 0, associatedData.length, out, 0);
        return out;
    }

    /**
     * Decrypts {@code nonce || ciphertext || tag} found at {@code in[offset, offset+length)}.
     *
     * @throws GeneralSecurityException if it is shorter than the overhead or was altered, or the associated
     *                                  data differs (javax.crypto.AEADBadTagException)
     */
    public byte[] decrypt(byte[] in, int offset, int length, byte[] aad, int aadOffset, int aadLength)
            throws GeneralSecurityException {
        if (length < OVERHEAD) {
            throw new javax.crypto.AEADBadTagException("ciphertext shorter than nonce and tag");
        }
        Cipher c = borrowCipher();
        try {
            c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, in, offset, NONCE_BYTES));
            c.updateAAD(aad, aadOffset, aadLength);
            return c.doFinal(in, offset + NONCE_BYTES, length - NONCE_BYTES);
        } finally {
            giveBack(c);
        }
    }

    /** Decrypts what {@link #encrypt(byte[], byte[])} produced. */
    public byte[] decrypt(byte[] ciphertext, byte[] associatedData) throws GeneralSecurityException {
        return decrypt(ciphertext, 0, ciphertext.length, associatedData, 0, associatedData.length);
    }

    /**
     * This DEK's own cipher (created on first use) if no other thread holds it, else the thread's shared one. Every
     * use starts with {@code init}, so a cipher left in any state by a failed operation is safe to lend again.
     */
    private Cipher borrowCipher() {
        if (ownCipherLent.compareAndSet(false, true)) {
            Cipher c = ownCipher;
            if (c == null) {
                c = newCipher();
                ownCipher = c;
            }
            return c;
        }
        return CIPHER.get();
    }

    private void giveBack(Cipher c) {
        if (c == ownCipher) {
            ownCipherLent.set(false);
        }
    }

    private static Cipher newCipher() {
        try {
            return Cipher.getInstance("AES/GCM/NoPadding");
        } catch (NoSuchAlgorithmException | NoSuchPaddingException e) {
            throw new IllegalStateException("this JVM has no AES/GCM/NoPadding", e);
        }
    }

    @Override
    public String toString() {
        return "Dek[tenant=" + tenantId + ", id=" + id + ", kek=" + kek + ", key=<redacted>]";
    }
}
