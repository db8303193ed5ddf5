package io.embedseal.topology;

import io.embedseal.serdes.avro.WireFormatException;
import io.embedseal.serdes.validation.EmbeddingValidator;

/**
 * Why a raw record went to the dead-letter topic instead of being sealed. Written as the
 * {@value DeadLetters#REASON_HEADER} header and the {@code reason} field of the dead-letter value.
 */
public enum DeadLetterReason {
    /** The record had no value (a tombstone); deletions are not taken from the raw topic. */
    NULL_VALUE,
    /** The value does not start with the Confluent wire-format magic byte 0. */
    WRONG_MAGIC_BYTE,
    /** The value names a schema id the schema registry does not have. */
    UNKNOWN_SCHEMA_ID,
    /** The writer schema cannot be read as an embedding event. */
    INCOMPATIBLE_SCHEMA,
    /** The value is shorter than the wire-format prefix, or its Avro body does not decode. */
    UNDECODABLE,
    /** The tenant id is empty. */
    MISSING_TENANT,
    /** The tenant id breaks the tenant id rule. */
    INVALID_TENANT_ID,
    /** The embedding id is empty. */
    MISSING_EMBEDDING_ID,
    /** The embedding id is longer than an envelope allows. */
    INVALID_EMBEDDING_ID,
    /** The vector has no values. */
    EMPTY_VECTOR,
    /** The vector has more values than the configured maximum. */
    TOO_MANY_DIMENSIONS,
    /** A vector value is NaN or infinite. */
    NON_FINITE_VALUE;

    static DeadLetterReason of(EmbeddingValidator.Rule rule) {
        return valueOf(rule.name());
    }

    static DeadLetterReason of(WireFormatException.Reason reason) {
        return switch (reason) {
            case WRONG_MAGIC_BYTE -> WRONG_MAGIC_BYTE;
            case UNKNOWN_SCHEMA_ID -> UNKNOWN_SCHEMA_ID;
            case INCOMPATIBLE_SCHEMA -> INCOMPATIBLE_SCHEMA;
            case TRUNCATED, UNDECODABLE -> UNDECODABLE;
            case REGISTRY_UNAVAILABLE -> throw new IllegalArgumentException("an unreachable registry is retried, not dead-lettered");
        };
    }
}
