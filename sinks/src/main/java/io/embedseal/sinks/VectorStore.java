package io.embedseal.sinks;

import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.serdes.SealedRecordKey;
import java.util.Optional;

/**
 * Where a sink task puts sealed records: one implementation per store. Called from the task's thread only.
 * Failures are {@link StoreException}s saying whether a retry may help; their messages never hold vector values.
 */
public interface VectorStore extends AutoCloseable {

    /** What and where the store is, for logs and shred receipts (never a password). */
    String describe();

    /** True if the store needs the plaintext vector (index mode): the task then unseals every record first. */
    boolean needsPlaintext();

    /**
     * Called at the start of each {@code put} with its records' keys, so a store can read the versions it holds for
     * them at once rather than one by one. Optional: {@link #upsert} and {@link #delete} check versions either way.
     */
    default void prepare(java.util.Collection<SealedRecordKey> keys) {}

    /**
     * Inserts or replaces the record stored for {@code record.key()} under {@link RecordVersions}' rule: unless the
     * store holds a newer version (a record or a delete), when nothing changes and either it is a redelivery (false)
     * or {@link RefusedRecordException} ({@code STALE_VERSION}) is thrown. Idempotent.
     *
     * @return true if applied, false if skipped as a redelivery of what the store already went past
     */
    boolean upsert(StoredRecord record);

    /**
     * Applies a sealed delete marker (authenticated by the caller) under the same rule: what is stored for the key is
     * deleted, and the marker's version kept, so an older record cannot come back.
     *
     * @return true if applied, false if skipped as a redelivery
     */
    boolean delete(StoredRecord marker);

    /**
     * Deletes everything stored for the key, versions unchecked: a bare null value, honoured only where
     * {@code embedseal.delete.bare-null=delete}. Nothing if absent.
     */
    void deleteUnchecked(SealedRecordKey key);

    /** Ends one {@code put}: writes what was buffered (the SQL batch). */
    void flush();

    /** Makes everything written so far durable; called before Connect commits the offsets of those records. */
    void commit();

    /**
     * Commits if the store's own interval has passed or the flow is {@code idle} (nothing arrived since the last call),
     * and says whether it did; if not, the caller commits no offset past the last commit. The default always commits.
     */
    default boolean commitIfDue(boolean idle) {
        commit();
        return true;
    }

    /** What this task already shredded for the tenant, if it did. */
    Optional<ShredRecord> shredRecord(String tenantId);

    /**
     * Deletes everything stored for a DESTROYED tenant and records that it did (durably, before returning), so a
     * restart neither shreds twice nor loses the counts. Idempotent: returns the existing record if there is one.
     */
    ShredRecord shred(TenantState destroyed);

    /**
     * A tenant's key event was applied (called from the key-event follower's thread, so implementations synchronise):
     * a store holding per-tenant key material closes what it opened for a tenant no longer ACTIVE, and re-wraps it
     * after a rotation ({@code rotated}). The default does nothing: a store that holds no key of the tenant's.
     */
    default void tenantChanged(TenantState state, boolean rotated) {}

    /** Notes that the receipt for the tenant's shred reached the audit topic. */
    void markReceipted(String tenantId);

    @Override
    void close();
}
