package io.embedseal.serdes.envelope;

import io.embedseal.keyring.KeyMismatchException;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.dek.Dek;
import io.embedseal.keyring.kms.InvalidWrappedKeyException;
import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.serdes.envelope.EnvelopeException.Reason;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.Objects;

/**
 * Seals payloads into version-1 envelopes under the tenant's active DEK, and opens them again.
 *
 * <p>Sealing never falls back: if the tenant has no usable key the KMS error propagates and nothing is
 * produced. Opening checks that the envelope belongs to the tenant and record the caller expects before it
 * asks the KMS for anything, and reports every failure as an {@link EnvelopeException} with a reason.
 * Thread-safe.
 */
public final class Sealer {

    private final Keyring keyring;

    public Sealer(Keyring keyring) {
        this.keyring = Objects.requireNonNull(keyring, "keyring");
    }

    public Keyring keyring() {
        return keyring;
    }

    /**
     * Seals one record's payload under the tenant's active DEK.
     *
     * @throws IllegalArgumentException if the tenant id is invalid or a field exceeds its envelope limit
     * @throws KmsException             if the tenant's key cannot be used; nothing is sealed
     */
    public byte[] seal(String tenantId, String embeddingId, PayloadType payloadType, byte[] plaintext) {
        Dek dek = keyring.sealingDek(tenantId);
        byte[] header = EnvelopeHeader.write(payloadType, tenantId.getBytes(StandardCharsets.UTF_8),
                embeddingId.getBytes(StandardCharsets.UTF_8), dek, plaintext.length);
        byte[] ciphertext;
        try {
            ciphertext = dek.encrypt(plaintext, header);
        } catch (GeneralSecurityException e) {
            throw new KmsException("AES-GCM encryption failed for tenant " + tenantId, e);
        }
        if (ciphertext.length != plaintext.length + Dek.OVERHEAD) {
            throw new IllegalStateException("AEAD produced " + ciphertext.length + " bytes for a "
                    + plaintext.length + "-byte plaintext; expected GCM with a 12-byte nonce and 16-byte tag");
        }
        byte[] envelope = Arrays.copyOf(header, header.length + ciphertext.length);
        System.arraycopy(ciphertext, 0, envelope, header.length, ciphertext.length);
        return envelope;
    }

    /**
     * Opens an envelope that must belong to the given tenant and record.
     *
     * @throws EnvelopeException with the reason it was refused
     */
    public Unsealed unseal(byte[] envelope, String expectedTenantId, String expectedEmbeddingId) {
        EnvelopeHeader header = EnvelopeHeader.parse(envelope);
        if (!header.tenantId().equals(expectedTenantId)) {
            throw new EnvelopeException(Reason.WRONG_BINDING, "envelope belongs to tenant " + header.tenantId()
                    + ", expected tenant " + expectedTenantId);
        }
        if (!header.embeddingId().equals(expectedEmbeddingId)) {
            throw new EnvelopeException(Reason.WRONG_BINDING, "envelope of tenant " + header.tenantId()
                    + " is bound to another embedding id than the record it was found in");
        }
        Dek dek = openDek(header);
        byte[] associatedData = Arrays.copyOfRange(envelope, 0, header.ciphertextOffset());
        byte[] ciphertext = Arrays.copyOfRange(envelope, header.ciphertextOffset(), envelope.length);
        try {
            return new Unsealed(header, dek.decrypt(ciphertext, associatedData));
        } catch (GeneralSecurityException e) {
            throw new EnvelopeException(Reason.TAMPERED, "envelope of tenant " + header.tenantId()
                    + " failed authentication under DEK " + header.dekId(), e);
        }
    }

    private Dek openDek(EnvelopeHeader h) {
        try {
            return keyring.openDek(h.tenantId(), h.kek(), h.dekId(), h.wrappedDekUnsafe());
        } catch (KeyMismatchException e) {
            throw new EnvelopeException(Reason.WRONG_BINDING, e.getMessage(), e);
        } catch (InvalidWrappedKeyException e) {
            throw new EnvelopeException(Reason.TAMPERED, "wrapped DEK " + h.dekId() + " of tenant " + h.tenantId()
                    + " does not unwrap under " + h.kek(), e);
        } catch (KeyDeniedException e) {
            throw new EnvelopeException(Reason.KEY_REVOKED, "KMS denied " + h.kek() + " for tenant " + h.tenantId(), e);
        } catch (UnknownKeyException e) {
            throw new EnvelopeException(Reason.KEY_UNKNOWN, "KMS does not know " + h.kek() + " of tenant " + h.tenantId(), e);
        } catch (KmsException e) {
            throw new EnvelopeException(Reason.KMS_UNAVAILABLE, "KMS could not unwrap DEK " + h.dekId()
                    + " of tenant " + h.tenantId(), e);
        }
    }
}
