package io.embedseal.control;

import io.embedseal.keyring.kms.SigningKeys;
import io.embedseal.schemas.KeyEvent;
import java.security.PublicKey;

/**
 * Signs key events with a key held in a KMS ({@link SigningKeys}): the operator's key for registrations, or a
 * tenant's own authority key for its later events, under the key-event context ({@link KeyEventSignatures}).
 */
public final class KeyEventSigner {

    private final KmsSigner signer;

    /**
     * @throws io.embedseal.keyring.kms.UnknownKeyException if the KMS has no such signing key
     */
    public KeyEventSigner(SigningKeys keys, String keyName) {
        this.signer = new KmsSigner(keys, keyName, KeyEventSignatures.CONTEXT);
    }

    /** The record value to publish: the event's bytes, this key's id and the signature. */
    public byte[] sign(KeyEvent event) {
        byte[] eventBytes = KeyEvents.encode(event);
        return KeyEvents.encodeSigned(eventBytes, signer.keyId(), signer.sign(eventBytes));
    }

    public String keyName() {
        return signer.keyName();
    }

    public String provider() {
        return signer.provider();
    }

    public PublicKey publicKey() {
        return signer.publicKey();
    }

    /** Hex of the first 16 bytes of SHA-256 over the public key: what readers look the signer up by. */
    public String keyId() {
        return signer.keyId();
    }

    @Override
    public String toString() {
        return "KeyEventSigner[" + signer.provider() + ":" + signer.keyName() + ", " + signer.keyId() + "]";
    }
}
