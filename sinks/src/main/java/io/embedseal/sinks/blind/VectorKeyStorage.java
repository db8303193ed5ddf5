package io.embedseal.sinks.blind;

import java.util.Optional;

/** Where a store keeps its tenants' wrapped vector keys (one current key per tenant). */
public interface VectorKeyStorage {

    /** The tenant's wrapped key, if it has one. */
    Optional<WrappedVectorKey> read(String tenant);

    /**
     * Keeps {@code key} unless the tenant has a key already (another task made one first).
     *
     * @return the tenant's key as now stored: {@code key}, or the one that was there
     */
    WrappedVectorKey putIfAbsent(WrappedVectorKey key);

    /**
     * Replaces the tenant's key by the same key wrapped again (a KEK rotation), only if it still holds {@code old}.
     *
     * @return whether it was replaced
     */
    boolean replace(WrappedVectorKey old, WrappedVectorKey rewrapped);
}
