package io.embedseal.control.audit;

import io.embedseal.control.KmsSigner;
import io.embedseal.keyring.kms.SigningKeys;
import java.security.PublicKey;

/**
 * Signs audit checkpoints with a key held in a KMS: each producer of audit entries (pipeline instances, sink tasks,
 * operator runs) signs with its role's key ({@code audit-pipeline}, {@code audit-sink}, {@code audit-operator} by
 * default), so one role cannot write another's checkpoints. The message is the context string
 * {@code embedseal/audit-checkpoint/v1}, a zero byte, then the checkpoint entry's canonical JSON without its
 * {@code signature} and {@code hash}: a key-event signature never verifies as a checkpoint, nor the other way round.
 */
public final class AuditSigner {

    static final String CONTEXT = "embedseal/audit-checkpoint/v1";

    private final KmsSigner signer;

    /** @throws io.embedseal.keyring.kms.UnknownKeyException if the KMS has no such signing key */
    public AuditSigner(SigningKeys keys, String keyName) {
        this.signer = new KmsSigner(keys, keyName, CONTEXT);
    }

    public String keyId() {
        return signer.keyId();
    }

    public String keyName() {
        return signer.keyName();
    }

    public PublicKey publicKey() {
        return signer.publicKey();
    }

    byte[] sign(byte[] canonical) {
        return signer.sign(canonical);
    }

    static boolean verify(PublicKey key, byte[] canonical, byte[] signature) {
        return KmsSigner.verify(key, CONTEXT, canonical, signature);
    }

    @Override
    public String toString() {
        return "AuditSigner[" + signer.provider() + ":" + signer.keyName() + ", " + signer.keyId() + "]";
    }
}
