package io.embedseal.keyring.dek;

import com.google.crypto.tink.Aead;
import io.embedseal.keyring.kms.KekRef;

import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.Objects;

/**
 * One tenant's data-encryption key, unwrapped, as an encrypt/decrypt handle: AES-256-GCM through Tink,
 * a fresh random 96-bit nonce per encryption, output {@code nonce(12) || ciphertext || tag(16)}.
 *
 * <p>The key bytes never leave this object; {@link #toString()} prints ids only. The wrapped form (safe to
 * store) travels with it so every envelope can carry it.
 */
public final class Dek {

    /** Bytes GCM adds to a plaintext: a 12-byte nonce and a 16-byte tag. */
    public static final int OVERHEAD = 12 + 16;

    private final String tenantId;
    private final DekId id;
    private final KekRef kek;
    private final byte[] wrapped;
    private final Aead aead;

    Dek(String tenantId, DekId id, KekRef kek, byte[] wrapped, Aead aead) {
        this.tenantId = Objects.requireNonNull(tenantId);
        this.id = Objects.requireNonNull(id);
        this.kek = Objects.requireNonNull(kek);
        this.wrapped = wrapped.clone();
        this.aead = Objects.requireNonNull(aead);
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

    /** Encrypts with a fresh random nonce; the associated data is authenticated, not included. */
    public byte[] encrypt(byte[] plaintext, byte[] associatedData) throws GeneralSecurityException {
        return aead.encrypt(plaintext, associatedData);
    }

    /**
     * Decrypts what {@link #encrypt} produced.
     *
     * @throws GeneralSecurityException if the ciphertext or the associated data was altered
     */
    public byte[] decrypt(byte[] ciphertext, byte[] associatedData) throws GeneralSecurityException {
        return aead.decrypt(ciphertext, associatedData);
    }

    @Override
    public String toString() {
        return "Dek[tenant=" + tenantId + ", id=" + id + ", kek=" + kek + ", key=<redacted>]";
    }
}
