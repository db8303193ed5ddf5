package io.embedseal.serdes.envelope;

import io.embedseal.keyring.KeyMismatchException;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.dek.Dek;
import io.embedseal.keyring.dek.DekDestroyedException;
import io.embedseal.keyring.kms.InvalidWrappedKeyException;
import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.serdes.envelope.EnvelopeException.Reason;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
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
        return seal(tenantId, embeddingId, payloadType, plaintext, 0, plaintext.length);
    }

    /**
     * Seals {@code plaintext[offset, offset+length)}: the header and the ciphertext are written straight into
     * the returned envelope, with no intermediate copies.
     *
     * @throws IllegalArgumentException if the tenant id is invalid or a field exceeds its envelope limit
     * @throws KmsException             if the tenant's key cannot be used; nothing is sealed
     */
    public byte[] seal(
            String tenantId, String embeddingId, PayloadType payloadType, byte[] plaintext, int offset, int length) {
        // A DekDestroyedException (the DEK expired or was evicted between the keyring handing it out and its use) is
        // not retried here: an eviction may be a revocation, and only the caller can look at the tenant's state again.
        return sealOnce(tenantId, embeddingId, payloadType, plaintext, offset, length);
    }

    private byte[] sealOnce(
            String tenantId, String embeddingId, PayloadType payloadType, byte[] plaintext, int offset, int length) {
        byte[] tenant = tenantId.getBytes(StandardCharsets.UTF_8);
        byte[] id = embeddingId.getBytes(StandardCharsets.UTF_8);
        Dek dek = keyring.sealingDek(tenantId);
        int headerLength = EnvelopeHeader.headerLength(tenant, id, dek, length);
        byte[] envelope = new byte[headerLength + length + Dek.OVERHEAD];
        EnvelopeHeader.write(envelope, payloadType, tenant, id, dek, length);
        try {
            dek.encrypt(plaintext, offset, length, envelope, 0, headerLength, envelope, headerLength);
        } catch (GeneralSecurityException e) {
            throw new KmsException("AES-GCM encryption failed for tenant " + tenantId, e);
        }
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
            throw new EnvelopeException(
                    Reason.WRONG_BINDING,
                    "envelope belongs to tenant " + header.tenantId() + ", expected tenant " + expectedTenantId);
        }
        if (!header.embeddingId().equals(expectedEmbeddingId)) {
            throw new EnvelopeException(
                    Reason.WRONG_BINDING,
                    "envelope of tenant " + header.tenantId()
                            + " is bound to another embedding id than the record it was found in");
        }
        try {
            return open(envelope, header);
        } catch (DekDestroyedException e) {
            // Destroyed between the cache and its use (expiry, eviction). Not retried here: an eviction may be a
            // revocation, so the caller looks at the tenant's state again first (see DEK_DESTROYED).
            throw new EnvelopeException(
                    Reason.KMS_UNAVAILABLE,
                    "DEK " + header.dekId() + " of tenant " + header.tenantId() + " was destroyed while in use",
                    e);
        }
    }

    private Unsealed open(byte[] envelope, EnvelopeHeader header) {
        Dek dek = openDek(header);
        try {
            return new Unsealed(
                    header,
                    dek.decrypt(
                            envelope,
                            header.ciphertextOffset(),
                            header.ciphertextLength(),
                            envelope,
                            0,
                            header.ciphertextOffset()));
        } catch (GeneralSecurityException e) {
            throw new EnvelopeException(
                    Reason.TAMPERED,
                    "envelope of tenant " + header.tenantId() + " failed authentication under DEK " + header.dekId(),
                    e);
        }
    }

    private Dek openDek(EnvelopeHeader h) {
        try {
            return keyring.openDek(h.tenantId(), h.kek(), h.dekId(), h.wrappedDekUnsafe());
        } catch (DekDestroyedException e) {
            throw e; // an eviction raced the unwrap: the caller opens again
        } catch (KeyMismatchException e) {
            throw new EnvelopeException(Reason.WRONG_BINDING, String.valueOf(e.getMessage()), e);
        } catch (InvalidWrappedKeyException e) {
            throw new EnvelopeException(
                    Reason.TAMPERED,
                    "wrapped DEK " + h.dekId() + " of tenant " + h.tenantId() + " does not unwrap under " + h.kek(),
                    e);
        } catch (KeyDeniedException e) {
            throw new EnvelopeException(Reason.KEY_REVOKED, "KMS denied " + h.kek() + " for tenant " + h.tenantId(), e);
        } catch (UnknownKeyException e) {
            throw new EnvelopeException(
                    Reason.KEY_UNKNOWN, "KMS does not know " + h.kek() + " of tenant " + h.tenantId(), e);
        } catch (KmsUnavailableException e) {
            throw new EnvelopeException(
                    Reason.KMS_UNAVAILABLE, "KMS could not unwrap DEK " + h.dekId() + " of tenant " + h.tenantId(), e);
        } catch (KmsException e) {
            // Anything else the tenant's key does (unsupported operation, HTTP 4xx, a malformed answer, a corrupt
            // keyset) is that key's fault: retrying it would wait forever.
            throw new EnvelopeException(
                    Reason.KEY_FAILED,
                    "KMS failed to unwrap DEK " + h.dekId() + " of tenant " + h.tenantId() + " ("
                            + e.getClass().getSimpleName() + ")",
                    e);
        }
    }
}
