package io.embedseal.sinks;

import org.apache.kafka.connect.errors.DataException;

/**
 * Why a sink did not store a sealed record; what Connect's errant-record reporter receives (its message becomes the
 * dead letter's {@code __connect.errors.exception.message} header). Messages hold ids and reasons, never values.
 */
public final class RefusedRecordException extends DataException {

    /** Why. */
    public enum Reason {
        /** The tenant is REVOKED, or its KMS refused the key: the record stays sealed and can be replayed after RESTORED. */
        TENANT_REVOKED,
        /** The record is not a well-formed, authentic envelope for its key. */
        INVALID_ENVELOPE,
        /** The record's key is not {@code tenant/embeddingId}. */
        INVALID_KEY,
        /** The store cannot take this record (e.g. a vector dimension the index does not have). */
        NOT_STORABLE
    }

    private final Reason reason;

    public RefusedRecordException(Reason reason, String message) {
        super(reason + ": " + message);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
