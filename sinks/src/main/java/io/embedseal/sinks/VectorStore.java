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

    /** Inserts or replaces the record stored for {@code record.key()}; idempotent. */
    void upsert(StoredRecord record);

    /** Deletes what is stored for the key (a tombstone); nothing if absent. */
    void delete(SealedRecordKey key);

    /** Ends one {@code put}: writes what was buffered (the SQL batch). */
    void flush();

    /** Makes everything written so far durable; called before Connect commits the offsets of those records. */
    void commit();

    /** What this task already shredded for the tenant, if it did. */
    Optional<ShredRecord> shredRecord(String tenantId);

    /**
     * Deletes everything stored for a DESTROYED tenant and records that it did (durably, before returning), so a
     * restart neither shreds twice nor loses the counts. Idempotent: returns the existing record if there is one.
     */
    ShredRecord shred(TenantState destroyed);

    /** Notes that the receipt for the tenant's shred reached the audit topic. */
    void markReceipted(String tenantId);

    @Override
    void close();
}
