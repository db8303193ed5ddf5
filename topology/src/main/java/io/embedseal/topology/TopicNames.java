package io.embedseal.topology;

import java.util.Objects;

/**
 * The topics the pipeline reads and writes. Every name is configurable; these are the defaults.
 *
 * @param raw    raw embedding events, Confluent wire format (plaintext vectors)
 * @param sealed sealed envelopes keyed {@code tenant/embeddingId}
 * @param dlq    dead letters: metadata only, never a plaintext vector
 */
public record TopicNames(String raw, String sealed, String dlq) {

    public static final String DEFAULT_RAW = "embeddings.raw";
    public static final String DEFAULT_SEALED = "embeddings.sealed";
    public static final String DEFAULT_DLQ = "embeddings.dlq";

    public TopicNames {
        Objects.requireNonNull(raw, "raw");
        Objects.requireNonNull(sealed, "sealed");
        Objects.requireNonNull(dlq, "dlq");
        if (raw.equals(sealed) || raw.equals(dlq) || sealed.equals(dlq)) {
            throw new IllegalArgumentException("raw, sealed and dead-letter topics must differ, got " + raw + ", " + sealed + ", " + dlq);
        }
    }

    public static TopicNames defaults() {
        return new TopicNames(DEFAULT_RAW, DEFAULT_SEALED, DEFAULT_DLQ);
    }
}
