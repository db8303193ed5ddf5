package io.embedseal.keyring.dek;

import io.embedseal.keyring.kms.KekRef;
import java.security.GeneralSecurityException;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import javax.crypto.Cipher;
import javax.crypto.NoSuchPaddingException;
import javax.crypto.spec.GCMParameterSpec;
import javax.security.auth.Destroyable;

/**
 * One tenant's data-encryption key, unwrapped, as an encrypt/decrypt handle: AES-256-GCM with a fresh random
 * 96-bit nonce per encryption and a 128-bit tag, output {@code nonce(12) || ciphertext || tag(16)}. That is
 * exactly Tink's AES256_GCM with no output prefix (a test checks both open each other's output); the cipher
 * is used through JCE directly so a record can be encrypted straight into its envelope, without copies.
 *
 * <p>Each DEK keeps the JCE ciphers already keyed with it (usually one; one per thread using it at once, up to 8),
 * each lent to one thread at a time: re-keying a cipher costs an AES key expansion (in Java code on JDK 17), which a
 * cipher shared by all of a thread's tenants would pay on nearly every record when tenants interleave, and a cipher
 * shared across DEKs would keep the last DEK's key alive after that DEK is destroyed.
 *
 * <p><b>Destruction.</b> {@link #destroy()} erases the key: the DEK's own copy of the key bytes is zeroed and its
 * ciphers are dropped; the keyring calls it when a DEK leaves memory (eviction, idle or absolute expiry, its tenant's
 * revocation, the keyring's close). An operation already under way completes with the key (the zeroing is deferred
 * to the last operation to finish, not waited for); one that begins after {@code destroy()} throws
 * {@link DekDestroyedException} ("DEK destroyed") and touches nothing, so no ciphertext is ever produced under a partly
 * erased key. Uses are counted in one atomic integer rather than a lock: encryption takes no lock and
 * {@code destroy()} never waits.
 *
 * <p>What this cannot erase, said plainly: the JVM gives no control over copies it makes. Every {@code Cipher.init}
 * asks the key for its bytes and gets a fresh copy ({@link javax.crypto.SecretKey#getEncoded()} must return one),
 * which the provider keeps or drops as it likes; the JDK's AES-GCM keeps the last key and its expanded key schedule
 * inside the cipher object, and a dropped cipher's arrays stay in the heap, unzeroed, until the garbage collector
 * reuses that memory (a moving collector may also have left older copies behind). Destruction therefore guarantees
 * that no reachable object this project holds can use or yield the key, and that the one long-lived copy it owns is
 * zeroed; it does not scrub the heap. The key bytes never leave this object otherwise; {@link #toString()} prints ids
 * only. The wrapped form (safe to store) travels with it so every envelope can carry it, and stays readable after
 * destruction, as do the ids.
 */
public final class Dek implements Destroyable {

    /** Bytes GCM adds to a plaintext: a 12-byte nonce and a 16-byte tag. */
    public static final int OVERHEAD = 12 + 16;

    static final int NONCE_BYTES = 12;
    private static final int TAG_BITS = 128;
    /** Set in {@link #state} once {@link #destroy()} was called; the bits below count the operations under way. */
    private static final int DESTROYED = 1 << 30;
    /** Keyed ciphers a DEK keeps for threads using it at once; a thread finding none free makes one (rare). */
    private static final int CIPHER_SLOTS =
            Math.max(2, Math.min(8, Runtime.getRuntime().availableProcessors()));

    private final String tenantId;
    private final DekId id;
    private final KekRef kek;
    private final byte[] wrapped;
    private final byte[] kekRefAscii;
    /** The one copy of the key this object owns; zeroed when destroyed. */
    private final byte[] keyBytes;
    /** The key as JCE sees it: a view of {@link #keyBytes}, holding no copy of its own. */
    private final RawAesKey key;

    private final Randomness randomness;
    /** Ciphers keyed with this DEK, not lent out now (null slots are free). Emptied when destroyed. */
    private final AtomicReferenceArray<Cipher> idleCiphers = new AtomicReferenceArray<>(CIPHER_SLOTS);
    /** {@link #DESTROYED} or not, plus the number of operations under way. */
    private final AtomicInteger state = new AtomicInteger();

    Dek(String tenantId, DekId id, KekRef kek, byte[] wrapped, byte[] rawKey, Randomness randomness) {
        this.tenantId = Objects.requireNonNull(tenantId);
        this.id = Objects.requireNonNull(id);
        this.kek = Objects.requireNonNull(kek);
        this.wrapped = wrapped.clone();
        this.kekRefAscii = kek.toString().getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        this.keyBytes = rawKey.clone(); // the caller zeroes its array
        this.key = new RawAesKey(keyBytes);
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
     * @throws DekDestroyedException if this DEK was destroyed before the encryption began; nothing was written
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
        if (aad == out && aadOffset + aadLength > outOffset && outOffset + ptLength + OVERHEAD > aadOffset) {
            throw new IllegalArgumentException("the associated data overlaps the output");
        }
        begin();
        try {
            // The nonce is drawn straight into its place in the output, and the cipher reads it from there.
            randomness.nextBytes(out, outOffset, NONCE_BYTES);
            Cipher c = borrowCipher();
            try {
                c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, out, outOffset, NONCE_BYTES));
                c.updateAAD(aad, aadOffset, aadLength);
                return NONCE_BYTES + c.doFinal(plaintext, ptOffset, ptLength, out, outOffset + NONCE_BYTES);
            } finally {
                giveBack(c);
            }
        } finally {
            end();
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
     * @throws DekDestroyedException    if this DEK was destroyed before the decryption began
     */
    public byte[] decrypt(byte[] in, int offset, int length, byte[] aad, int aadOffset, int aadLength)
            throws GeneralSecurityException {
        begin();
        try {
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
        } finally {
            end();
        }
    }

    /** Decrypts what {@link #encrypt(byte[], byte[])} produced. */
    public byte[] decrypt(byte[] ciphertext, byte[] associatedData) throws GeneralSecurityException {
        return decrypt(ciphertext, 0, ciphertext.length, associatedData, 0, associatedData.length);
    }

    /**
     * Erases this DEK: its key bytes are zeroed and its ciphers dropped, now or, if operations are under way, as soon
     * as the last of them completes (microseconds). Every operation that begins afterwards throws
     * {@link DekDestroyedException}. Idempotent; ids and the wrapped form stay readable. See the class comment for
     * what the JVM may still hold.
     */
    @Override
    public void destroy() {
        while (true) {
            int s = state.get();
            if ((s & DESTROYED) != 0) {
                return;
            }
            if (state.compareAndSet(s, s | DESTROYED)) {
                if (s == 0) {
                    erase();
                }
                return;
            }
        }
    }

    /** True once {@link #destroy()} was called (the bytes are zeroed once the operations under way have finished). */
    @Override
    public boolean isDestroyed() {
        return (state.get() & DESTROYED) != 0;
    }

    /** Whether the key bytes are zeroed and no keyed cipher is held: for tests of destruction. */
    boolean isErased() {
        for (byte b : keyBytes) {
            if (b != 0) {
                return false;
            }
        }
        for (int i = 0; i < CIPHER_SLOTS; i++) {
            if (idleCiphers.get(i) != null) {
                return false;
            }
        }
        return true;
    }

    /** Counts an operation in, unless this DEK is destroyed. */
    private void begin() {
        while (true) {
            int s = state.get();
            if ((s & DESTROYED) != 0) {
                throw new DekDestroyedException("DEK destroyed: DEK " + id + " of tenant " + tenantId
                        + " left memory (evicted, expired, revoked or its keyring closed); ask the keyring again");
            }
            if (state.compareAndSet(s, s + 1)) {
                return;
            }
        }
    }

    /** Counts an operation out; the last one out of a destroyed DEK erases it. */
    private void end() {
        if (state.decrementAndGet() == DESTROYED) {
            erase();
        }
    }

    /** Runs exactly once, when destroyed and no operation is under way (so no cipher is lent out). */
    private void erase() {
        Arrays.fill(keyBytes, (byte) 0);
        for (int i = 0; i < CIPHER_SLOTS; i++) {
            idleCiphers.set(i, null);
        }
    }

    /**
     * An idle cipher keyed with this DEK, or a new one. Every use starts with {@code init}, so a cipher left in any
     * state by a failed operation is safe to lend again.
     */
    private Cipher borrowCipher() {
        for (int i = 0; i < CIPHER_SLOTS; i++) {
            if (idleCiphers.get(i) != null) {
                Cipher c = idleCiphers.getAndSet(i, null);
                if (c != null) {
                    return c;
                }
            }
        }
        return newCipher();
    }

    /**
     * Keeps the cipher for the next use, if a slot is free. Called before {@link #end()}, so a cipher given back is
     * always there for {@link #erase()} to drop.
     */
    private void giveBack(Cipher c) {
        if (isDestroyed()) {
            return;
        }
        for (int i = 0; i < CIPHER_SLOTS; i++) {
            if (idleCiphers.compareAndSet(i, null, c)) {
                return;
            }
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
