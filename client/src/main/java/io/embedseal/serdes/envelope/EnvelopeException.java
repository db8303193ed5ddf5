package io.embedseal.serdes.envelope;

import java.util.Objects;

/**
 * A sealed envelope could not be read or opened. The {@link Reason} says why, for dead-letter reasons,
 * metrics and retries; the message names fields and lengths, never key or plaintext bytes.
 */
public class EnvelopeException extends RuntimeException {

    /** Why an envelope was refused. Only {@link #KMS_UNAVAILABLE} is worth retrying. */
    public enum Reason {
        /** Too short for a header, or the magic bytes are not {@code ESL}. */
        NOT_AN_ENVELOPE,
        /** A format version this reader does not know. */
        UNSUPPORTED_VERSION,
        /** A payload type this reader does not know. */
        UNSUPPORTED_PAYLOAD,
        /** A field or length runs past the end of the input. */
        TRUNCATED,
        /** A declared length is outside the range its field allows. */
        FIELD_OUT_OF_BOUNDS,
        /** A field's content is invalid (bad UTF-8, bad tenant id or KEK reference, bytes after the end). */
        MALFORMED,
        /** Authentication failed: the header, ciphertext or wrapped DEK was altered. */
        TAMPERED,
        /** The envelope belongs to another tenant or record, or names a KEK that is not its tenant's. */
        WRONG_BINDING,
        /** The tenant's KMS refused the key (revoked, disabled, access denied). */
        KEY_REVOKED,
        /** The tenant's KMS does not know the key or key version (never created, or destroyed). */
        KEY_UNKNOWN,
        /** The tenant's KMS could not be reached; retrying later may succeed. */
        KMS_UNAVAILABLE,
        /**
         * The tenant's KMS failed the operation in a way that is neither a denial, an unknown key nor an outage (an
         * unsupported operation, a request it calls bad, an answer that does not parse, a corrupt key): a fault of
         * that tenant's key, not retried.
         */
        KEY_FAILED
    }

    private final Reason reason;

    public EnvelopeException(Reason reason, String message) {
        super(message);
        this.reason = Objects.requireNonNull(reason);
    }

    public EnvelopeException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = Objects.requireNonNull(reason);
    }

    public Reason reason() {
        return reason;
    }

    /** True only for failures a later retry may cure. */
    public boolean isRetryable() {
        return reason == Reason.KMS_UNAVAILABLE;
    }

    @Override
    public String getMessage() {
        return reason + ": " + super.getMessage();
    }
}
