package io.embedseal.topology;

import io.embedseal.serdes.avro.WireFormatException;
import io.embedseal.serdes.validation.EmbeddingValidator;

/**
 * Why a raw record went to the dead-letter topic instead of being sealed. Written as the
 * {@value DeadLetters#REASON_HEADER} header and the {@code reason} field of the dead-letter value.
 */
public enum DeadLetterReason {
    /**
     * The record had no value and its key is not {@code tenant/embeddingId} (a tombstone with such a key is a delete,
     * sealed as a delete marker).
     */
    NULL_VALUE,
    /**
     * The event time (or a delete's record timestamp) is further ahead of the pipeline's clock than
     * {@code validation.max-event-time-ahead-seconds}: as the record's version it would freeze the record.
     */
    EVENT_TIME_AHEAD,
    /** A delete (a tombstone keyed {@code tenant/embeddingId}) without a record timestamp to version it by. */
    DELETE_WITHOUT_TIME,
    /** The value does not start with the Confluent wire-format magic byte 0. */
    WRONG_MAGIC_BYTE,
    /** The value names a schema id the schema registry does not have. */
    UNKNOWN_SCHEMA_ID,
    /** The writer schema cannot be read as an embedding event. */
    INCOMPATIBLE_SCHEMA,
    /** The value names a schema that is not Avro (PROTOBUF, JSON), or whose Avro text does not parse. */
    NOT_AVRO_SCHEMA,
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
    /** The vector's dimension differs from the one configured for its model or tenant. */
    DIMENSION_MISMATCH,
    /** A vector value is NaN or infinite. */
    NON_FINITE_VALUE,
    /** The metadata has more entries or bytes than configured. */
    METADATA_TOO_LARGE,
    /** The tenant never registered (and auto-registration is off): fail closed. */
    UNKNOWN_TENANT,
    /** The tenant's key is revoked: nothing of it is sealed until it is restored. */
    TENANT_REVOKED,
    /** The tenant's key is destroyed: nothing of it is ever sealed again. */
    TENANT_DESTROYED,
    /** The tenant's KMS refused the key (disabled, restricted, no permission): treated as a revocation. */
    KEY_DENIED,
    /** The tenant's KMS does not know the key: treated as a revocation. */
    KEY_UNKNOWN,
    /**
     * The tenant's key failed otherwise (unsupported operation, HTTP 4xx, a malformed answer, a corrupt keyset, a
     * token attribute forbidding the operation): a fault of that tenant, cooled down like a denial.
     */
    KEY_FAILED,
    /** The tenant's KMS answers, but not for its key (timeouts, 5xx on that key alone): a fault of that tenant. */
    KEY_UNAVAILABLE,
    /** The tenant registered with another KMS provider than this pipeline's. */
    UNSUPPORTED_KMS;

    static DeadLetterReason of(EmbeddingValidator.Rule rule) {
        return valueOf(rule.name());
    }

    static DeadLetterReason of(WireFormatException.Reason reason) {
        return switch (reason) {
            case WRONG_MAGIC_BYTE -> WRONG_MAGIC_BYTE;
            case UNKNOWN_SCHEMA_ID -> UNKNOWN_SCHEMA_ID;
            case INCOMPATIBLE_SCHEMA -> INCOMPATIBLE_SCHEMA;
            case NOT_AVRO_SCHEMA -> NOT_AVRO_SCHEMA;
            case TRUNCATED, UNDECODABLE -> UNDECODABLE;
            case REGISTRY_UNAVAILABLE ->
                throw new IllegalArgumentException("an unreachable registry is retried, not dead-lettered");
        };
    }
}
