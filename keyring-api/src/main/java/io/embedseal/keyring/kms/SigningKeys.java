package io.embedseal.keyring.kms;

import java.security.PublicKey;

/**
 * A KMS's asymmetric signing keys: a capability of its own, beside data-key use ({@link Kms}) and key administration
 * ({@link KeyAdministration}), so that whoever may sign key events needs no right to wrap or unwrap data keys and
 * the other way round. The private half never leaves the KMS: {@link #sign} runs inside it (Vault Transit's
 * {@code sign}, the HSM's signing mechanism, a Tink keyset for development). Verification needs only the public
 * half, and happens wherever the events are read.
 *
 * <p>Signatures use the standard encoding of the key's algorithm, so any verifier reads them: Ed25519 gives the
 * 64 bytes of RFC 8032, ECDSA (P-256, SHA-256) gives DER, RSA-PSS (SHA-256, MGF1-SHA-256, 32-byte salt) gives the
 * modulus-sized block. Public keys are X.509 {@code SubjectPublicKeyInfo}.
 */
public interface SigningKeys {

    /** The provider name, as in {@code kms.provider}. */
    String provider();

    /**
     * Creates a signing key if it does not exist yet (the provider picks its algorithm: Ed25519 where it can, else
     * ECDSA P-256). Idempotent.
     *
     * @throws KeyDeniedException     if this identity may not create keys
     * @throws KmsUnavailableException if the KMS cannot be reached
     */
    void createSigningKey(String keyName);

    /**
     * The public half of the key's current version.
     *
     * @throws UnknownKeyException     if there is no such signing key
     * @throws KmsUnavailableException if the KMS cannot be reached
     */
    PublicKey publicKey(String keyName);

    /**
     * Signs {@code message} with the key's current version, inside the KMS.
     *
     * @throws UnknownKeyException     if there is no such signing key
     * @throws KeyDeniedException      if this identity may not sign with it
     * @throws KmsUnavailableException if the KMS cannot be reached
     */
    byte[] sign(String keyName, byte[] message);
}
