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
        NOT_STORABLE,
        /** The tenant never registered (or was forgotten): nothing of it is stored, as the pipeline seals nothing. */
        TENANT_UNREGISTERED,
        /**
         * The tenant's key failed (unsupported operation, HTTP 4xx, a malformed answer, a corrupt keyset), or its KMS
         * answers but not for its key: the record stays sealed and can be replayed once the key works.
         */
        KEY_FAILED,
        /**
         * The record (or delete marker) is older than what the store holds for its tenant and id: a rollback, a late
         * replay, or a delete of a version that was since replaced. The store keeps what it has.
         */
        STALE_VERSION,
        /**
         * A null value on the sealed topic: nothing vouches for it, so it deletes nothing (the pipeline writes sealed
         * delete markers); {@code embedseal.delete.bare-null=delete} honours it.
         */
        BARE_NULL
    }

    private final Reason reason;

    public RefusedRecordException(Reason reason, String message) {
        super(reason + ": " + message);
        this.reason = reason;
    }

    /**
     * No stack trace: this classifies a record (its reason and message say everything), and Connect's dead-letter
     * reporter would write a stack into every refused record's headers, at a cost the other tenants' records pay.
     */
    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }

    public Reason reason() {
        return reason;
    }
}
