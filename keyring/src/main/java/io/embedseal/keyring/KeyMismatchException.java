package io.embedseal.keyring;

/**
 * A sealed record names a KEK that is not its tenant's KEK. Opening it would unseal one tenant's record
 * with another tenant's key, so it is refused.
 */
public class KeyMismatchException extends RuntimeException {
    public KeyMismatchException(String message) {
        super(message);
    }
}
