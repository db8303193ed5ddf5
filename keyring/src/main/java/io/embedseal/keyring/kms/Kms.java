package io.embedseal.keyring.kms;

import java.util.EnumSet;
import java.util.Set;

/**
 * A tenant's key management system, seen from embedseal: it keeps key-encryption keys (KEKs) that never
 * leave it, wraps and unwraps data-encryption keys (DEKs) under them, and carries out the key lifecycle an
 * operator drives.
 *
 * <p>Providers are chosen by the name in configuration ({@link #provider()}), never by what happens to be
 * on the classpath. Implementations are thread-safe. Cross-cutting concerns (retry, metrics, audit) wrap a
 * {@code Kms}; providers know nothing of them.
 *
 * <p>Failures are unchecked and typed, and keep their cause:
 * <ul>
 *   <li>{@link KmsUnavailableException}: the KMS could not be reached or is not ready; retry later;</li>
 *   <li>{@link KeyDeniedException}: the KMS refused (disabled key, restricted version, no permission):
 *       treat as revoked;</li>
 *   <li>{@link UnknownKeyException}: no such key or version (never created, or destroyed);</li>
 *   <li>{@link InvalidWrappedKeyException}: a wrapped DEK that does not open (altered, other associated data);</li>
 *   <li>{@link UnsupportedKmsOperationException}: the provider cannot do this at all;</li>
 *   <li>{@link KmsException}: anything else the KMS refused.</li>
 * </ul>
 * Messages name keys and versions, never key material or tokens.
 */
public interface Kms extends AutoCloseable {

    /** The provider name this KMS was configured under, as it appears in {@link KekRef#provider()}. */
    String provider();

    /**
     * Wraps a DEK under the named key's current version, in one call to the KMS. The associated data is
     * authenticated, not stored: the same bytes must be given to {@link #unwrapDek} or it fails.
     *
     * @param dek the raw key bytes; the caller keeps ownership and zeroes them afterwards
     * @return the wrapped DEK and the KEK version that wrapped it
     */
    WrappedDek wrapDek(String keyName, byte[] dek, byte[] associatedData);

    /**
     * Unwraps a DEK wrapped under {@code kek} with the same associated data.
     *
     * @return the raw key bytes; the caller zeroes them once it has built its cipher
     */
    byte[] unwrapDek(KekRef kek, byte[] wrappedDek, byte[] associatedData);

    /** The key's versions and state. */
    KeyDescription describe(String keyName);

    /** Creates the key if it does not exist and returns its current version. */
    KekRef createKek(String keyName);

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

    /** The operations this provider can carry out; the others throw {@link UnsupportedKmsOperationException}. */
    default Set<KmsOperation> supportedOperations() {
        return EnumSet.allOf(KmsOperation.class);
    }

    /** Releases connections or sessions. The default does nothing. */
    @Override
    default void close() {
    }
}
