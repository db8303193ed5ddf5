package io.embedseal.keyring.kms;

/**
 * A wrapped DEK did not unwrap: it was altered, truncated, bound to other associated data, or wrapped by
 * another key. Never retried: the same bytes will fail again.
 */
public class InvalidWrappedKeyException extends KmsException {
    public InvalidWrappedKeyException(String message) {
        super(message);
    }

    public InvalidWrappedKeyException(String message, Throwable cause) {
        super(message, cause);
    }
}
