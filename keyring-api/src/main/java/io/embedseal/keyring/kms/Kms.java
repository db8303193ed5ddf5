package io.embedseal.keyring.kms;

/**
 * Data-key use of a tenant's key management system: wrap and unwrap data-encryption keys (DEKs) under
 * key-encryption keys (KEKs) that never leave the KMS, and read a key's state. This is all the pipeline, the
 * sinks, search and the serializers hold; none of them can create, rotate, disable or destroy a key
 * ({@link KeyAdministration} does that, and only the operator command line is given one).
 *
 * <p>Providers are chosen by the name in configuration ({@link #provider()}), never by what happens to be
 * on the classpath. Implementations are thread-safe. Cross-cutting concerns (retry, metrics, audit) wrap a
 * {@code Kms} ({@link io.embedseal.keyring.kms.decorator.KmsInterceptor}); providers know nothing of them.
 *
 * <p>Failures are unchecked and typed, and keep their cause:
 * <ul>
 *   <li>{@link KmsUnavailableException}: the KMS could not be reached or is not ready; retry later;</li>
 *   <li>{@link KeyDeniedException}: the KMS refused (disabled key, restricted version, no permission):
 *       treat as revoked;</li>
 *   <li>{@link UnknownKeyException}: no such key or version (never created, or destroyed);</li>
 *   <li>{@link InvalidWrappedKeyException}: a wrapped DEK that does not open (altered, other associated data);</li>
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

    /** Releases connections or sessions. The default does nothing. */
    @Override
    default void close() {}
}
