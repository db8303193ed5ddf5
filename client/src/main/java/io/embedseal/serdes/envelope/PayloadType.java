package io.embedseal.serdes.envelope;

import org.jspecify.annotations.Nullable;

/** What the plaintext inside an envelope is, so a reader knows how to decode it after unsealing. */
public enum PayloadType {
    /**
     * An {@code io.embedseal.schemas.EmbeddingEvent} in Avro binary encoding (no wire-format prefix), written
     * with the schema shipped in {@code embedseal-schemas} of envelope version 1.
     */
    EMBEDDING_EVENT_AVRO(1),
    /**
     * A raw-topic record value, verbatim, as a dead letter keeps it for replay. Its envelope's embedding id is
     * the record's source, {@code dlq/<topic>/<partition>/<offset>}.
     */
    RAW_RECORD_VALUE(2),
    /**
     * A sealed delete (envelope version 2 only): an empty payload whose envelope carries the tenant, the embedding id
     * and the record version of the delete, so a store deletes only what the tenant's key vouches for, and never a
     * version newer than the delete.
     */
    DELETE_MARKER(3);

    private final int code;

    PayloadType(int code) {
        this.code = code;
    }

    /** The byte written into the envelope. */
    public int code() {
        return code;
    }

    /** {@code values()} once: it copies the array on every call, and this is read for every envelope opened. */
    private static final PayloadType[] ALL = values();

    /** The payload type for a byte read from an envelope, or null if unknown. */
    public static @Nullable PayloadType ofCode(int code) {
        for (PayloadType t : ALL) {
            if (t.code == code) {
                return t;
            }
        }
        return null;
    }
}
