package io.embedseal.keyring.kms;

/**
 * Key import, the seed's second integration model: the tenant makes the key material in its own HSM or tool, wraps it
 * for transport with a public key of the KMS ({@link #parameters}), and the KMS unwraps it into a new key that it
 * keeps and never exports. Nobody between the tenant and the KMS (the operator included) sees the key material. The
 * tenant then proves the KMS holds the key it made: for a symmetric key, the KMS opens a check ciphertext only that key
 * can have made ({@link #checkAsWrappedDek}, {@link KeyImportWrap#check}); for a key pair, the public key the KMS reports is the
 * one the tenant computed ({@link KeyAdministration#publicKek}).
 *
 * <p>Offered through {@link KeyAdministration#keyImport()}: only the operator's command line holds it.
 */
public interface KeyImport {

    /** The kinds of KEK this KMS can import; the default, both. */
    default java.util.Set<KekKind> kinds() {
        return java.util.EnumSet.allOf(KekKind.class);
    }

    /**
     * How key material for {@code keyName} must be wrapped: the KMS's transport public key, the wrapping and the
     * format of the key material. A KMS whose transport key is its own (PKCS#11, local) makes it on the first call.
     */
    ImportParameters parameters(String keyName, KekKind kind);

    /**
     * Refuses (a {@link KmsException} saying why) a key that is not held as an import should be: one version only
     * (version 1, the one the tenant's proof is about: no version the KMS made, none anybody added since), not
     * exportable. {@code tenants add --import-key} checks it after importing, and of a key that was there already.
     */
    void requireImportedOnly(String keyName);

    /**
     * Imports wrapped key material as version 1 of a new key named {@code keyName}, of the given kind, not exportable.
     *
     * @param wrapped the key material as {@link KeyImportWrap#wrap} makes it for {@link #parameters}
     * @throws KmsException if a key of that name exists already (nothing is imported over it), or the KMS refuses the
     *     material (not unwrappable with its transport key, or not a key of that kind)
     */
    KekRef importKek(String keyName, KekKind kind, byte[] wrapped);

    /**
     * The tenant's key-check ciphertext ({@link KeyImportWrap#check}) in the form this provider's
     * {@link Kms#unwrapDek} takes for symmetric KEK version {@code kek} (Transit's {@code vault:v<N>:<base64>}, say).
     * No KMS call: the check is then opened by {@code unwrapDek(kek, form, KeyImportWrap.checkLabel())}, as an identity
     * that may use the key (an operator's may not), and yields 16 zero bytes only if the KMS holds the very key the
     * tenant computed it with ({@link KeyImportWrap#verify}).
     */
    byte[] checkAsWrappedDek(KekRef kek, byte[] check);
}
