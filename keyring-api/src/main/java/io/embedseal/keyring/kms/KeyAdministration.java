package io.embedseal.keyring.kms;

import java.util.EnumSet;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Key administration in a tenant's KMS: the lifecycle an operator drives (create, rotate, restrict, disable,
 * enable, destroy). Only the operator command line holds one; the pipeline, sinks and serializers hold a
 * {@link Kms}, which can use keys but not change them.
 *
 * <p>Failures are typed as for {@link Kms}, plus {@link UnsupportedKmsOperationException} for an operation the
 * provider cannot carry out at all; {@link #ownerAdvice} then says what the key's owner does instead.
 */
public interface KeyAdministration extends AutoCloseable {

    /** The provider name, as in {@link KekRef#provider()}. */
    String provider();

    /** The key's versions and state. */
    KeyDescription describe(String keyName);

    /** Creates the key if it does not exist and returns its current version. */
    KekRef createKek(String keyName);

    /**
     * Creates a key of the given kind if it does not exist and returns its current version. A key that exists is
     * left as it is, whatever its kind ({@link #publicKek} tells). The default creates symmetric keys only.
     *
     * @throws UnsupportedKmsOperationException if the provider has no keys of that kind
     */
    default KekRef createKek(String keyName, KekKind kind) {
        if (kind == KekKind.SYMMETRIC) {
            return createKek(keyName);
        }
        throw new UnsupportedKmsOperationException(
                provider(), KmsOperation.CREATE, "it has no public-key KEKs (use vault, pkcs11 or local)");
    }

    /**
     * The public half of a version of a public-key KEK, read from the KMS; null when the key is symmetric. The CLI
     * reads it once, when it registers the tenant or rotates its key, and pins it in the signed key event: sealers
     * take it from there, never from the KMS.
     *
     * @throws UnknownKeyException if there is no such key or version
     */
    default @Nullable PublicKek publicKek(String keyName, int version) {
        return null;
    }

    /**
     * Key import ({@link KeyImport}): key material the tenant made, wrapped for this KMS's transport key, becomes a key
     * the KMS keeps and never exports. Empty where the provider cannot import.
     */
    default java.util.Optional<KeyImport> keyImport() {
        return java.util.Optional.empty();
    }

    /** Adds a version that wraps from now on; older versions still unwrap unless restricted. */
    KekRef rotate(String keyName);

    /**
     * Refuses to unwrap under versions older than {@code minDecryptionVersion} (between 1 and the latest
     * version). Reversible: a lower value lets old versions unwrap again.
     */
    void restrictVersions(String keyName, int minDecryptionVersion);

    /** Refuses every wrap and unwrap with the key until {@link #enable}. */
    void disable(String keyName);

    /** Lets a disabled key be used again. */
    void enable(String keyName);

    /** Deletes every version of the key for good. Everything wrapped under it becomes unreadable. */
    void destroy(String keyName);

    /**
     * What an operator should know about a key's destruction once {@link #destroy} returned, where the KMS completes it
     * later (AWS KMS deletes a key only when its waiting period ends); empty where destruction is done when
     * {@code destroy} returns. {@code keys destroy} prints it.
     */
    default java.util.Optional<String> destructionNote(String keyName) {
        return java.util.Optional.empty();
    }

    /** The administrative operations this provider can carry out; the others throw {@link UnsupportedKmsOperationException}. */
    default Set<KmsOperation> supportedOperations() {
        return EnumSet.allOf(KmsOperation.class);
    }

    /**
     * The administrative operations this provider can carry out on this key; the default, {@link #supportedOperations()}.
     * A provider may use some keys it cannot administer (AWS KMS: a key in the tenant's own account, named by its ARN).
     */
    default Set<KmsOperation> supportedOperations(String keyName) {
        return supportedOperations();
    }

    /**
     * What the key's owner does in this KMS, with its own tools, to achieve {@code operation} on {@code keyName}
     * where this provider cannot do it itself (see {@link #supportedOperations()}). Written for an operator: it
     * names this provider's settings as configured (a Vault mount, an HSM label), never a secret.
     */
    default String ownerAdvice(KmsOperation operation, String keyName) {
        return "the " + provider() + " provider cannot " + operation.verb() + " keys here";
    }

    /** Releases connections or sessions. The default does nothing. */
    @Override
    default void close() {}
}
