package io.embedseal.keyring.kms;

/**
 * A tenant's key management system, seen from embedseal: it keeps key-encryption keys (KEKs) that never
 * leave it, and wraps and unwraps data-encryption keys (DEKs) under them.
 *
 * <p>Providers are chosen by the name in configuration ({@link #provider()}), never by what happens to be
 * on the classpath. Implementations are thread-safe. Cross-cutting concerns (retry, caching, metrics) wrap
 * a {@code Kms}; providers themselves know nothing of them.
 *
 * <p>Every method may throw {@link KmsUnavailableException} (retry later), {@link KeyDeniedException}
 * (treat as revoked), {@link UnknownKeyException} (unknown or destroyed key) or, when unwrapping,
 * {@link InvalidWrappedKeyException} (never retry).
 */
public interface Kms extends AutoCloseable {

    /** The provider name this KMS was configured under, as it appears in {@link KekRef#provider()}. */
    String provider();

    /**
     * The version of the named KEK that wraps new DEKs (the newest enabled one).
     *
     * @throws UnknownKeyException if the KMS has no key of that name (a provider may create it instead, if
     *                             it is configured to)
     */
    KekRef currentKek(String keyName);

    /**
     * Wraps a DEK under the given KEK version. The associated data is authenticated, not stored: the same
     * bytes must be given to {@link #unwrapDek} or it fails.
     *
     * @param dek the raw key bytes; the caller keeps ownership and zeroes them afterwards
     * @return the wrapped DEK, opaque and safe to store anywhere
     */
    byte[] wrapDek(KekRef kek, byte[] dek, byte[] associatedData);

    /**
     * Unwraps a DEK wrapped by {@link #wrapDek} under the same KEK version and associated data.
     *
     * @return the raw key bytes; the caller zeroes them once it has built its cipher
     * @throws InvalidWrappedKeyException if the bytes or the associated data do not match
     */
    byte[] unwrapDek(KekRef kek, byte[] wrappedDek, byte[] associatedData);

    /** Releases connections or sessions. The default does nothing. */
    @Override
    default void close() {
    }
}
