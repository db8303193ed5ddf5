package io.embedseal.keyring.kms;

/** How a KMS call ended, as metrics and audit events record it. */
public enum KmsOutcome {
    OK,
    DENIED,
    UNKNOWN_KEY,
    UNAVAILABLE,
    INVALID_WRAPPED_KEY,
    UNSUPPORTED,
    ERROR;

    /** The outcome a failure stands for. */
    public static KmsOutcome of(Throwable failure) {
        if (failure == null) {
            return OK;
        }
        if (failure instanceof KeyDeniedException) {
            return DENIED;
        }
        if (failure instanceof UnknownKeyException) {
            return UNKNOWN_KEY;
        }
        if (failure instanceof KmsUnavailableException) {
            return UNAVAILABLE;
        }
        if (failure instanceof InvalidWrappedKeyException) {
            return INVALID_WRAPPED_KEY;
        }
        if (failure instanceof UnsupportedKmsOperationException) {
            return UNSUPPORTED;
        }
        return ERROR;
    }
}
