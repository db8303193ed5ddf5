package io.embedseal.topology;

import java.util.HashSet;
import java.util.List;
import java.util.Objects;

/**
 * The topics the pipeline reads and writes. Every name is configurable; these are the defaults.
 *
 * @param raw       raw embedding events, Confluent wire format (plaintext vectors)
 * @param sealed    sealed envelopes keyed {@code tenant/embeddingId}
 * @param dlq       dead letters: metadata only, never a plaintext vector
 * @param keyEvents key events, signed, keyed by tenant id, kept forever
 * @param audit     the append-only audit trail
 */
public record TopicNames(String raw, String sealed, String dlq, String keyEvents, String audit) {

    public static final String DEFAULT_RAW = "embeddings.raw";
    public static final String DEFAULT_SEALED = "embeddings.sealed";
    public static final String DEFAULT_DLQ = "embeddings.dlq";
    public static final String DEFAULT_KEY_EVENTS = "keyring.events";
    public static final String DEFAULT_AUDIT = "keyring.audit";

    public TopicNames {
        List<String> all = java.util.Arrays.asList(raw, sealed, dlq, keyEvents, audit);
        all.forEach(t -> Objects.requireNonNull(t, "topic names must be set"));
        if (new HashSet<>(all).size() != all.size()) {
            throw new IllegalArgumentException(
                    "the raw, sealed, dead-letter, key-event and audit topics must all differ, got " + all);
        }
    }

    /** Default key-event and audit topics with the given data topics. */
    public TopicNames(String raw, String sealed, String dlq) {
        this(raw, sealed, dlq, DEFAULT_KEY_EVENTS, DEFAULT_AUDIT);
    }

    public static TopicNames defaults() {
        return new TopicNames(DEFAULT_RAW, DEFAULT_SEALED, DEFAULT_DLQ, DEFAULT_KEY_EVENTS, DEFAULT_AUDIT);
    }

    /** The same names with a prefix on each, so tests and tenants of one cluster can keep apart. */
    public TopicNames withPrefix(String prefix) {
        return new TopicNames(prefix + raw, prefix + sealed, prefix + dlq, prefix + keyEvents, prefix + audit);
    }
}
