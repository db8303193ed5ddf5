package io.embedseal.control;

import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.SigningKeys;
import io.embedseal.schemas.KeyEvent;
import java.security.PublicKey;
import java.util.Objects;

/**
 * Signs key events with a key held in a KMS ({@link SigningKeys}): the operator's key for registrations, or a
 * tenant's own authority key for its later events. The private key never leaves the KMS; each signature is checked
 * against the public key before it is published, so a KMS that signed with another key (a rotated signing key the
 * readers do not trust yet) fails here and not silently at every reader.
 */
public final class KeyEventSigner {

    private final SigningKeys keys;
    private final String keyName;
    private final PublicKey publicKey;
    private final String keyId;

    /**
     * @throws io.embedseal.keyring.kms.UnknownKeyException if the KMS has no such signing key
     */
    public KeyEventSigner(SigningKeys keys, String keyName) {
        this.keys = Objects.requireNonNull(keys, "keys");
        this.keyName = Objects.requireNonNull(keyName, "keyName");
        this.publicKey = keys.publicKey(keyName);
        this.keyId = KeyEventSignatures.keyId(publicKey);
    }

    /** The record value to publish: the event's bytes, this key's id and the signature. */
    public byte[] sign(KeyEvent event) {
        byte[] eventBytes = KeyEvents.encode(event);
        byte[] signature = keys.sign(keyName, KeyEventSignatures.message(eventBytes));
        if (!KeyEventSignatures.verify(publicKey, eventBytes, signature)) {
            throw new KmsException("the signature " + keys.provider() + " made with '" + keyName
                    + "' does not verify with its public key " + keyId
                    + " (was the signing key rotated meanwhile?); nothing was published");
        }
        return KeyEvents.encodeSigned(eventBytes, keyId, signature);
    }

    public String keyName() {
        return keyName;
    }

    public String provider() {
        return keys.provider();
    }

    public PublicKey publicKey() {
        return publicKey;
    }

    /** Hex of the first 16 bytes of SHA-256 over the public key: what readers look the signer up by. */
    public String keyId() {
        return keyId;
    }

    @Override
    public String toString() {
        return "KeyEventSigner[" + keys.provider() + ":" + keyName + ", " + keyId + "]";
    }
}
