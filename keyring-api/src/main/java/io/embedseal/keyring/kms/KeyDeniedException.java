package io.embedseal.keyring.kms;

/**
 * The KMS refused to use the key: it is disabled, revoked, or this caller lacks permission. Treated like a
 * revocation by every caller: nothing is sealed or unsealed with the key until the tenant restores it.
 */
public class KeyDeniedException extends KmsException {
    public KeyDeniedException(String message) {
        super(message);
    }

    public KeyDeniedException(String message, Throwable cause) {
        super(message, cause);
    }
}
