package io.embedseal.keyring.kms;

/**
 * A KMS could not do what was asked. Subclasses say why; callers decide from the type whether to retry
 * ({@link KmsUnavailableException}) or to stop using the key (everything else). Messages name keys and
 * tenants, never key material.
 */
public class KmsException extends RuntimeException {
    public KmsException(String message) {
        super(message);
    }

    public KmsException(String message, Throwable cause) {
        super(message, cause);
    }
}
