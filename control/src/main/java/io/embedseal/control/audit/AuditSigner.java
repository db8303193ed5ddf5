package io.embedseal.control.audit;

import io.embedseal.control.KeyEventSignatures;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.SigningKeys;
import java.nio.charset.StandardCharsets;
import java.security.PublicKey;
import java.util.Objects;

/**
 * Signs audit checkpoints with a key held in a KMS: each producer of audit entries (pipeline instances, sink tasks,
 * operator runs) signs with its role's key ({@code audit-pipeline}, {@code audit-sink}, {@code audit-operator} by
 * default), so one role cannot write another's checkpoints. The message is the context string
 * {@code embedseal/audit-checkpoint/v1}, a zero byte, then the checkpoint entry's canonical JSON without its
 * {@code signature} and {@code hash}: a key-event signature never verifies as a checkpoint, nor the other way round.
 */
public final class AuditSigner {

    static final byte[] CONTEXT = "embedseal/audit-checkpoint/v1\0".getBytes(StandardCharsets.US_ASCII);

    private final SigningKeys keys;
    private final String keyName;
    private final PublicKey publicKey;
    private final String keyId;

    /** @throws io.embedseal.keyring.kms.UnknownKeyException if the KMS has no such signing key */
    public AuditSigner(SigningKeys keys, String keyName) {
        this.keys = Objects.requireNonNull(keys, "keys");
        this.keyName = Objects.requireNonNull(keyName, "keyName");
        this.publicKey = keys.publicKey(keyName);
        this.keyId = KeyEventSignatures.keyId(publicKey);
    }

    public String keyId() {
        return keyId;
    }

    public String keyName() {
        return keyName;
    }

    public PublicKey publicKey() {
        return publicKey;
    }

    static byte[] message(byte[] canonical) {
        byte[] m = new byte[CONTEXT.length + canonical.length];
        System.arraycopy(CONTEXT, 0, m, 0, CONTEXT.length);
        System.arraycopy(canonical, 0, m, CONTEXT.length, canonical.length);
        return m;
    }

    byte[] sign(byte[] canonical) {
        byte[] m = message(canonical);
        byte[] sig = keys.sign(keyName, m);
        if (!verify(publicKey, canonical, sig)) {
            throw new KmsException("the audit checkpoint signature made with '" + keyName
                    + "' does not verify with its public key " + keyId);
        }
        return sig;
    }

    static boolean verify(PublicKey key, byte[] canonical, byte[] signature) {
        return KeyEventSignatures.verifyMessage(key, message(canonical), signature);
    }

    @Override
    public String toString() {
        return "AuditSigner[" + keys.provider() + ":" + keyName + ", " + keyId + "]";
    }
}
