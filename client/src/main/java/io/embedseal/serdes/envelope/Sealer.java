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
import org.jspecify.annotations.Nullable;

/**
 * Seals payloads into version-2 envelopes under the tenant's active DEK, and opens version-2 and (unless told not to)
 * version-1 envelopes again.
 *
 * <p>Sealing never falls back: if the tenant has no usable key the KMS error propagates and nothing is
 * produced. Opening checks that the envelope belongs to the tenant and record the caller expects, and was sealed for
 * this sealer's purpose, before it asks the KMS for anything, and reports every failure as an
 * {@link EnvelopeException} with a reason. Thread-safe.
 */
public final class Sealer {

    /** The purpose of envelopes on the sealed topic unless configured otherwise. */
    public static final String DEFAULT_PURPOSE = "embeddings.sealed";

    private final Keyring keyring;
    private final String purpose;
    private final byte[] purposeBytes;
    private final boolean acceptVersion1;

    /** A sealer for {@value #DEFAULT_PURPOSE} that also opens version-1 envelopes. */
    public Sealer(Keyring keyring) {
        this(keyring, DEFAULT_PURPOSE, true);
    }

    /**
     * @param purpose        what envelopes are sealed for, and what an envelope must have been sealed for to open: 1 to
     *                       64 printable ASCII characters (the sealed topic's logical name, a deployment id)
     * @param acceptVersion1 whether version-1 envelopes (no purpose, no record version) open; a reader that no longer
     *                       meets any can refuse them
     * @throws IllegalArgumentException if the purpose breaks that rule
     */
    public Sealer(Keyring keyring, String purpose, boolean acceptVersion1) {
        this.keyring = Objects.requireNonNull(keyring, "keyring");
        this.purpose = requirePurpose(purpose);
        this.purposeBytes = purpose.getBytes(StandardCharsets.US_ASCII);
        this.acceptVersion1 = acceptVersion1;
    }

    /**
     * Checks a purpose against the envelope's rule.
     *
     * @throws IllegalArgumentException naming the rule
     */
    public static String requirePurpose(String purpose) {
        if (purpose == null
                || purpose.isEmpty()
                || purpose.length() > EnvelopeHeader.MAX_PURPOSE_BYTES
                || !purpose.chars().allMatch(c -> c >= 0x21 && c <= 0x7e)) {
            throw new IllegalArgumentException("an envelope purpose is 1 to " + EnvelopeHeader.MAX_PURPOSE_BYTES
                    + " printable ASCII characters without spaces");
        }
        return purpose;
    }

    /** The same keyring, sealing and opening for another purpose (dead letters, for example). */
    public Sealer withPurpose(String otherPurpose) {
        return new Sealer(keyring, otherPurpose, acceptVersion1);
    }

    public Keyring keyring() {
        return keyring;
    }

    public String purpose() {
        return purpose;
    }

    /**
     * Seals one record's payload under the tenant's active DEK.
     *
     * @throws IllegalArgumentException if the tenant id is invalid or a field exceeds its envelope limit
     * @throws KmsException             if the tenant's key cannot be used; nothing is sealed
     */
    public byte[] seal(
            String tenantId, String embeddingId, RecordVersion version, PayloadType payloadType, byte[] plaintext) {
        return seal(tenantId, embeddingId, version, payloadType, plaintext, 0, plaintext.length);
    }

    /**
     * Seals {@code plaintext[offset, offset+length)} into a version-2 envelope: the header and the ciphertext are
     * written straight into the returned envelope, with no intermediate copies.
     *
     * <p>A {@link DekDestroyedException} (the DEK expired or was evicted between the keyring handing it out and its
     * use) is not retried here: an eviction may be a revocation, and only the caller can look at the tenant's state
     * again.
     *
     * @throws IllegalArgumentException if the tenant id is invalid or a field exceeds its envelope limit
     * @throws KmsException             if the tenant's key cannot be used; nothing is sealed
     */
    public byte[] seal(
            String tenantId,
            String embeddingId,
            RecordVersion version,
            PayloadType payloadType,
            byte[] plaintext,
            int offset,
            int length) {
        EnvelopeHeader.Fields2 fields = new EnvelopeHeader.Fields2(
                payloadType,
                tenantId.getBytes(StandardCharsets.UTF_8),
                embeddingId.getBytes(StandardCharsets.UTF_8),
                purposeBytes,
                Objects.requireNonNull(version, "version"));
        Dek dek = keyring.sealingDek(tenantId);
        int headerLength = EnvelopeHeader.headerLength(fields, dek, length);
        byte[] envelope = new byte[headerLength + length + Dek.OVERHEAD];
        EnvelopeHeader.write(envelope, fields, dek, length);
        try {
            dek.encrypt(
                    plaintext,
                    offset,
                    length,
                    envelope,
                    0,
                    EnvelopeHeader.associatedDataLength(fields),
                    envelope,
                    headerLength);
        } catch (GeneralSecurityException e) {
            throw new KmsException("AES-GCM encryption failed for tenant " + tenantId, e);
        }
        return envelope;
    }

    /**
     * A sealed delete of the record: a version-2 envelope with an empty payload that a store honours only if it opens
     * under the tenant's key and its version is not older than what the store holds.
     *
     * @throws IllegalArgumentException if the tenant id is invalid or a field exceeds its envelope limit
     * @throws KmsException             if the tenant's key cannot be used; nothing is sealed
     */
    public byte[] sealDeleteMarker(String tenantId, String embeddingId, RecordVersion version) {
        return seal(tenantId, embeddingId, version, PayloadType.DELETE_MARKER, new byte[0]);
    }

    /**
     * Seals into a version-1 envelope, which this project no longer writes: for compatibility tests and the
     * benchmark that compares the two versions. Not for production use.
     */
    public byte[] sealVersion1(String tenantId, String embeddingId, PayloadType payloadType, byte[] plaintext) {
        if (payloadType == PayloadType.DELETE_MARKER) {
            throw new IllegalArgumentException("version 1 has no delete markers");
        }
        byte[] tenant = tenantId.getBytes(StandardCharsets.UTF_8);
        byte[] id = embeddingId.getBytes(StandardCharsets.UTF_8);
        Dek dek = keyring.sealingDek(tenantId);
        int headerLength = EnvelopeHeader.headerLength1(tenant, id, dek, plaintext.length);
        byte[] envelope = new byte[headerLength + plaintext.length + Dek.OVERHEAD];
        EnvelopeHeader.write1(envelope, payloadType, tenant, id, dek, plaintext.length);
        try {
            dek.encrypt(plaintext, 0, plaintext.length, envelope, 0, headerLength, envelope, headerLength);
        } catch (GeneralSecurityException e) {
            throw new KmsException("AES-GCM encryption failed for tenant " + tenantId, e);
        }
        return envelope;
    }

    /**
     * Opens an envelope that must belong to the given tenant and record, and (version 2) have been sealed for this
     * sealer's purpose.
     *
     * @throws EnvelopeException with the reason it was refused
     */
    public Unsealed unseal(byte[] envelope, String expectedTenantId, String expectedEmbeddingId) {
        KnownDeks known = knownDeks.get();
        Unsealed fast = unsealKnown(envelope, expectedTenantId, expectedEmbeddingId, known);
        if (fast != null) {
            return fast;
        }
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
        if (header.formatVersion() == EnvelopeHeader.VERSION_1 && !acceptVersion1) {
            throw new EnvelopeException(
                    Reason.UNSUPPORTED_VERSION,
                    "a version-1 envelope of tenant " + header.tenantId()
                            + " (no record version, so a possible rollback) and this reader refuses version 1");
        }
        if (header.purpose() != null && !purpose.equals(header.purpose())) {
            throw new EnvelopeException(
                    Reason.WRONG_BINDING,
                    "envelope of tenant " + header.tenantId() + " was sealed for '" + header.purpose()
                            + "', this reader opens '" + purpose + "'");
        }
        try {
            Dek dek = openDek(header);
            Unsealed opened = open(envelope, header, dek);
            if (header.formatVersion() == EnvelopeHeader.VERSION_2) {
                known.remember(envelope, header, dek, System.nanoTime());
            }
            return opened;
        } catch (DekDestroyedException e) {
            // Destroyed between the cache and its use (expiry, eviction). Not retried here: an eviction may be a
            // revocation, so the caller looks at the tenant's state again first (see DEK_DESTROYED).
            throw new EnvelopeException(
                    Reason.KMS_UNAVAILABLE,
                    "DEK " + header.dekId() + " of tenant " + header.tenantId() + " was destroyed while in use",
                    e);
        }
    }

    /**
     * Opens with {@code dek}; a delete marker must have an empty payload.
     *
     * @throws DekDestroyedException if the DEK was destroyed before the decryption began
     */
    private static Unsealed open(byte[] envelope, EnvelopeHeader header, Dek dek) {
        byte[] plaintext;
        try {
            plaintext = dek.decrypt(
                    envelope,
                    header.ciphertextOffset(),
                    header.ciphertextLength(),
                    envelope,
                    0,
                    header.associatedDataLength());
        } catch (GeneralSecurityException e) {
            throw new EnvelopeException(
                    Reason.TAMPERED,
                    "envelope of tenant " + header.tenantId() + " failed authentication under DEK " + header.dekId(),
                    e);
        }
        if (header.payloadType() == PayloadType.DELETE_MARKER && plaintext.length != 0) {
            throw new EnvelopeException(Reason.MALFORMED, "a delete marker's payload is not empty");
        }
        return new Unsealed(header, plaintext);
    }

    /**
     * How long a DEK this thread opened an envelope with serves the next envelopes under it before the keyring's
     * {@link Keyring#openDek} is asked again (which keeps the DEK's place in the keyring's cache, its idle expiry
     * current, and applies its absolute lifetime, {@code dek.max-open-seconds}, which this can extend by at most this
     * much). A DEK the keyring destroys (its tenant revoked or evicted, expired, the keyring closed) stops serving at
     * once, and whether the KEK is still the tenant's is asked on every use ({@link Keyring#reuseOpened}).
     */
    private static final long RECHECK_NANOS = 100_000_000L;

    /** Per thread: the DEKs it recently opened envelopes with (see {@link KnownDeks}). */
    private final ThreadLocal<KnownDeks> knownDeks = ThreadLocal.withInitial(KnownDeks::new);

    /**
     * The fast path: an envelope of the expected tenant, record and purpose under a DEK this thread opened an envelope
     * with in the last 0.1 s ({@link #RECHECK_NANOS}), which is not destroyed and whose KEK is still the tenant's, opens
     * without decoding the header into strings or looking the DEK up; null when that does not hold (the full path then
     * decides). Tampering is refused here as there, and a DEK destroyed while in use is reported as there.
     */
    private @Nullable Unsealed unsealKnown(
            byte @Nullable [] envelope,
            @Nullable String expectedTenantId,
            @Nullable String expectedEmbeddingId,
            KnownDeks known) {
        if (envelope == null || expectedTenantId == null || expectedEmbeddingId == null) {
            return null; // the full path says what is wrong
        }
        EnvelopeHeader header = EnvelopeHeader.parseKnown(
                envelope, expectedTenantId, expectedEmbeddingId, purposeBytes, purpose, known);
        KnownDeks.Slot slot = known.matched;
        known.matched = null;
        if (header == null || slot == null) {
            return null;
        }
        if (System.nanoTime() - slot.checkedAtNanos() > RECHECK_NANOS
                || slot.dek().isDestroyed()
                || !keyring.reuseOpened(expectedTenantId, slot.kek())) {
            known.forget(slot); // the full path asks the keyring, which decides
            return null;
        }
        try {
            return open(envelope, header, slot.dek());
        } catch (DekDestroyedException e) {
            // Destroyed between the check and its use: as on the full path, not retried here, since an eviction may be
            // a revocation and only the caller can look at the tenant's state again (see DEK_DESTROYED).
            known.forget(slot);
            throw new EnvelopeException(
                    Reason.KMS_UNAVAILABLE,
                    "DEK " + header.dekId() + " of tenant " + header.tenantId() + " was destroyed while in use",
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
