package io.embedseal.keyring.kms;

/** The KMS could not be reached or is not ready (sealed, overloaded, I/O error). Retrying later may succeed. */
public class KmsUnavailableException extends KmsException {
    public KmsUnavailableException(String message) {
        super(message);
    }

    public KmsUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
