package io.embedseal.keyring.dek;

import io.embedseal.keyring.kms.KmsUnavailableException;

/**
 * A DEK that is gone from memory was asked to work: it was destroyed (evicted, expired, its tenant revoked, its
 * keyring closed) before the operation began, or it was unwrapped while its tenant was being evicted and so never
 * handed out. Nothing was encrypted or decrypted.
 *
 * <p>It is a {@link KmsUnavailableException} because that is what the caller should do with it: ask the keyring again,
 * which asks the KMS (and meets the tenant's revocation there, or in the caller's own check of the tenant's state). An
 * operation already under way when its DEK is destroyed completes with the key; one that begins afterwards gets this
 * exception, never a result under a partly erased key.
 */
public class DekDestroyedException extends KmsUnavailableException {

    public DekDestroyedException(String message) {
        super(message);
    }
}
