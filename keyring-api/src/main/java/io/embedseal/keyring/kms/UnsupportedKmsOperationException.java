package io.embedseal.keyring.kms;

/**
 * The provider cannot perform this operation at all (Vault Transit has no "disable"; a PKCS#11 token
 * reached through SunPKCS11 cannot change a key's attributes). The message says how to achieve the same
 * effect in that KMS.
 */
public class UnsupportedKmsOperationException extends KmsException {
    private final KmsOperation operation;

    public UnsupportedKmsOperationException(String provider, KmsOperation operation, String howInstead) {
        super("KMS provider '" + provider + "' cannot " + operation.verb() + " a key: " + howInstead);
        this.operation = operation;
    }

    public KmsOperation operation() {
        return operation;
    }
}
