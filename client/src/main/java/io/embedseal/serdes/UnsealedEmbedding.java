package io.embedseal.serdes;

import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.envelope.EnvelopeHeader;

/**
 * An opened sealed record: the envelope's header and the embedding it held. The tenant and embedding ids are
 * the ones the envelope authenticates; stores must key on these. {@link #toString()} never shows the vector
 * or the metadata.
 */
public record UnsealedEmbedding(EnvelopeHeader header, EmbeddingEvent event) {

    public String tenantId() {
        return header.tenantId();
    }

    public String embeddingId() {
        return header.embeddingId();
    }

    /** The record key this embedding belongs under. */
    public SealedRecordKey key() {
        return new SealedRecordKey(header.tenantId(), header.embeddingId());
    }

    @Override
    public String toString() {
        return "UnsealedEmbedding[" + header + ", model=" + event.getModel() + ", dims="
                + event.getVector().size() + ", vector=<redacted>]";
    }
}
