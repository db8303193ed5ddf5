package io.embedseal.keyring.kms;

/** The KMS does not know the key or key version: never created, or destroyed (crypto-shredded). */
public class UnknownKeyException extends KmsException {
    public UnknownKeyException(String message) {
        super(message);
    }

    public UnknownKeyException(String message, Throwable cause) {
        super(message, cause);
    }
}
