package io.embedseal.control;

import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.SigningKeys;
import java.nio.charset.StandardCharsets;
import java.security.PublicKey;
import java.util.Objects;

/**
 * One signing key of a KMS, used for one purpose: every message it signs is the purpose's context string, a zero
 * byte, then the payload, so a signature made for one purpose (a key event) never verifies for another (an audit
 * checkpoint). The private key stays in the KMS; each signature is checked against the public key before it is
 * used, so a KMS that signed with another key (one rotated meanwhile) fails here and not at every reader.
 */
public final class KmsSigner {

    private final SigningKeys keys;
    private final String keyName;
    private final byte[] context;
    private final PublicKey publicKey;
    private final String keyId;

    /**
     * @param context the purpose, e.g. {@code embedseal/key-event/v1}
     * @throws io.embedseal.keyring.kms.UnknownKeyException if the KMS has no such signing key
     */
    public KmsSigner(SigningKeys keys, String keyName, String context) {
        this.keys = Objects.requireNonNull(keys, "keys");
        this.keyName = Objects.requireNonNull(keyName, "keyName");
        this.context = contextBytes(context);
        this.publicKey = keys.publicKey(keyName);
        this.keyId = KeyEventSignatures.keyId(publicKey);
    }

    static byte[] contextBytes(String context) {
        return (context + "\0").getBytes(StandardCharsets.US_ASCII);
    }

    /** The message signed for {@code payload} under {@code context}: the context, a zero byte, the payload. */
    public static byte[] message(String context, byte[] payload) {
        return concat(contextBytes(context), payload);
    }

    private static byte[] concat(byte[] prefix, byte[] payload) {
        byte[] m = new byte[prefix.length + payload.length];
        System.arraycopy(prefix, 0, m, 0, prefix.length);
        System.arraycopy(payload, 0, m, prefix.length, payload.length);
        return m;
    }

    /** True if {@code signature} is {@code key}'s over {@code payload} under {@code context}. */
    public static boolean verify(PublicKey key, String context, byte[] payload, byte[] signature) {
        return KeyEventSignatures.verifyMessage(key, message(context, payload), signature);
    }

    /** Signs {@code payload} under this signer's context, in the KMS. */
    public byte[] sign(byte[] payload) {
        byte[] message = concat(context, payload);
        byte[] signature = keys.sign(keyName, message);
        if (!KeyEventSignatures.verifyMessage(publicKey, message, signature)) {
            throw new KmsException("the signature " + keys.provider() + " made with '" + keyName
                    + "' does not verify with its public key " + keyId
                    + " (was the signing key rotated meanwhile?); nothing was published");
        }
        return signature;
    }

    public String provider() {
        return keys.provider();
    }

    public String keyName() {
        return keyName;
    }

    public PublicKey publicKey() {
        return publicKey;
    }

    /** Hex of the first 16 bytes of SHA-256 over the public key: what verifiers look the signer up by. */
    public String keyId() {
        return keyId;
    }

    @Override
    public String toString() {
        return "KmsSigner[" + keys.provider() + ":" + keyName + ", " + keyId + "]";
    }
}
