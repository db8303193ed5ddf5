package io.embedseal.serdes;

import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.WireFormatException;
import io.embedseal.serdes.envelope.EnvelopeException;
import io.embedseal.serdes.envelope.EnvelopeException.Reason;
import io.embedseal.serdes.envelope.EnvelopeHeader;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.serdes.envelope.Unsealed;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Opens sealed records for consumers and sinks: checks the envelope against the record key (and, if set, the
 * one tenant this reader serves), opens it through the tenant's KMS, and decodes the embedding. Every failure
 * is an {@link EnvelopeException} with a reason; nothing else escapes for any input bytes.
 */
public final class EmbeddingUnsealer {

    private final Sealer sealer;
    private final @Nullable String onlyTenant;

    /**
     * @param onlyTenant if not null, records of any other tenant are refused with {@code WRONG_BINDING}
     */
    public EmbeddingUnsealer(Sealer sealer, @Nullable String onlyTenant) {
        this.sealer = Objects.requireNonNull(sealer, "sealer");
        this.onlyTenant = onlyTenant;
    }

    /**
     * Opens a record from the sealed topic; its key must be the {@code tenant/embeddingId} the envelope is bound to.
     *
     * @throws EnvelopeException with {@code WRONG_BINDING} if the key is missing, malformed or names another record
     */
    public UnsealedEmbedding unseal(byte[] key, byte[] value) {
        SealedRecordKey expected = expectedKey(key);
        return open(value, expected.tenantId(), expected.embeddingId());
    }

    /**
     * Opens an envelope without a record key to compare with (a Kafka value deserializer never sees the key).
     * The ids returned are the ones the envelope authenticates.
     */
    public UnsealedEmbedding unsealValue(byte[] value) {
        EnvelopeHeader header = EnvelopeHeader.parse(value);
        return open(value, header.tenantId(), header.embeddingId());
    }

    /**
     * Authenticates a record from the sealed topic without decoding its payload: any payload type, the plaintext
     * zeroed at once. What a store that keeps envelopes sealed checks before it lets a record (or a delete marker)
     * change what it holds: the header returned, record version included, is what the tenant's key vouches for.
     *
     * @throws EnvelopeException as {@link #unseal} does
     */
    public EnvelopeHeader authenticate(byte[] key, byte[] value) {
        SealedRecordKey expected = expectedKey(key);
        requireServed(expected.tenantId());
        Unsealed opened = sealer.unseal(value, expected.tenantId(), expected.embeddingId());
        java.util.Arrays.fill(opened.plaintext(), (byte) 0);
        return opened.header();
    }

    /**
     * Opens a record and returns its model and vector only, the vector read where it lies in the plaintext (no Avro objects, no boxed
     * floats): for a search that re-ranks many candidates. The same checks as {@link #unseal}; a payload the in-place
     * reader does not take is decoded by Avro as {@link #unseal} decodes it.
     *
     * @throws EnvelopeException as {@link #unseal} does
     */
    public UnsealedVector unsealVector(byte[] key, byte[] value) {
        SealedRecordKey expected = expectedKey(key);
        requireServed(expected.tenantId());
        Unsealed opened = sealer.unseal(value, expected.tenantId(), expected.embeddingId());
        byte[] plaintext = opened.plaintext();
        try {
            if (opened.header().payloadType() != PayloadType.EMBEDDING_EVENT_AVRO) {
                throw new EnvelopeException(
                        Reason.UNSUPPORTED_PAYLOAD,
                        "payload type " + opened.header().payloadType() + " is not an embedding");
            }
            io.embedseal.serdes.avro.CanonicalEmbedding c =
                    io.embedseal.serdes.avro.CanonicalEmbedding.tryRead(plaintext, 0, plaintext.length);
            if (c == null) {
                EmbeddingEvent event =
                        open(value, expected.tenantId(), expected.embeddingId()).event();
                java.util.List<Float> v = event.getVector();
                float[] out = new float[v.size()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = v.get(i);
                }
                return new UnsealedVector(event.getModel(), out);
            }
            if (!expected.tenantId().equals(c.tenantId())
                    || !expected.embeddingId().equals(c.embeddingId())) {
                throw new EnvelopeException(
                        Reason.MALFORMED, "the sealed event's ids differ from its envelope's header");
            }
            return new UnsealedVector(c.model(), c.readVector(plaintext));
        } finally {
            java.util.Arrays.fill(plaintext, (byte) 0);
        }
    }

    /** The record key as the envelope's expected binding; a key that is not one is {@code WRONG_BINDING}. */
    private static SealedRecordKey expectedKey(byte[] key) {
        try {
            return SealedRecordKey.parse(key);
        } catch (IllegalArgumentException e) {
            throw new EnvelopeException(
                    Reason.WRONG_BINDING,
                    "record key is not tenant/embeddingId, so the envelope's binding cannot be checked",
                    e);
        }
    }

    /** Refuses a record of a tenant this reader does not serve ({@code onlyTenant}). */
    private void requireServed(String tenantId) {
        if (onlyTenant != null && !onlyTenant.equals(tenantId)) {
            throw new EnvelopeException(
                    Reason.WRONG_BINDING,
                    "record of tenant " + tenantId + " reached a reader for tenant " + onlyTenant);
        }
    }

    private UnsealedEmbedding open(byte[] value, String tenantId, String embeddingId) {
        requireServed(tenantId);
        Unsealed opened = sealer.unseal(value, tenantId, embeddingId);
        if (opened.header().payloadType() != PayloadType.EMBEDDING_EVENT_AVRO) {
            throw new EnvelopeException(
                    Reason.UNSUPPORTED_PAYLOAD,
                    "payload type " + opened.header().payloadType() + " is not an embedding");
        }
        EmbeddingEvent event;
        try {
            event = EmbeddingEventCodec.fromCanonicalAvro(opened.plaintext());
        } catch (WireFormatException e) {
            throw new EnvelopeException(
                    Reason.MALFORMED, "authenticated payload is not a canonical embedding event", e);
        } finally {
            java.util.Arrays.fill(opened.plaintext(), (byte) 0);
        }
        if (!tenantId.equals(event.getTenantId()) || !embeddingId.equals(event.getEmbeddingId())) {
            throw new EnvelopeException(Reason.MALFORMED, "the sealed event's ids differ from its envelope's header");
        }
        return new UnsealedEmbedding(opened.header(), event);
    }
}
