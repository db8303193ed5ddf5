package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.keyring.tenant.TenantStatus;
import io.embedseal.serdes.SealedRecordKey;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every store must do, run against each one (Lucene, PostgreSQL sealed mode here; pgvector index mode where
 * Docker runs): idempotent upserts, tombstones, last operation per key wins, shredding one tenant only, once, and
 * remembering it across a restart.
 */
abstract class VectorStoreContract {

    @TempDir
    Path tmp;

    Sealed sealed;
    VectorStore store;
    final Random random = new Random(42);

    /** Opens the store under test (again, for the restart case). */
    abstract VectorStore open(Path dir);

    /** The ids a reader sees for the tenant after commit. */
    abstract Set<String> storedIds(String tenant);

    /** How many records a reader sees for the tenant (duplicates would count twice). */
    abstract long storedCount(String tenant);

    @BeforeEach
    void openStore() {
        sealed = new Sealed(tmp.resolve("kms"));
        sealed.onboard("acme");
        sealed.onboard("globex");
        store = open(tmp);
    }

    @AfterEach
    void closeStore() {
        if (store != null) {
            store.close();
        }
        sealed.close();
    }

    StoredRecord record(String tenant, String id) {
        return sealed.stored(tenant, id, Sealed.randomVector(random, 8), store.needsPlaintext(), 7);
    }

    void endPut() {
        store.flush();
        store.commit();
    }

    static TenantState destroyed(String tenant) {
        return new TenantState(
                tenant,
                TenantStatus.DESTROYED,
                "local",
                "tenant-" + tenant,
                1,
                "DESTROYED",
                Instant.parse("2026-11-28T00:00:00Z"));
    }

    @Test
    void redeliveredRecord_isStoredOnce() {
        StoredRecord r = record("acme", "e-1");
        store.upsert(r);
        endPut();
        store.upsert(r); // Connect redelivers after a restart
        store.upsert(record("acme", "e-1")); // and a re-sealed copy of the same embedding
        endPut();
        assertThat(storedIds("acme")).containsExactly("e-1");
        assertThat(storedCount("acme")).isEqualTo(1);
    }

    @Test
    void tombstone_deletesTheRecord() {
        store.upsert(record("acme", "e-1"));
        store.upsert(record("acme", "e-2"));
        endPut();
        store.delete(new SealedRecordKey("acme", "e-1"));
        store.delete(new SealedRecordKey("acme", "never-stored"));
        endPut();
        assertThat(storedIds("acme")).containsExactly("e-2");
    }

    @Test
    void lastOperationInABatch_wins() {
        store.upsert(record("acme", "deleted-last"));
        store.delete(new SealedRecordKey("acme", "deleted-last"));
        store.delete(new SealedRecordKey("acme", "stored-last"));
        store.upsert(record("acme", "stored-last"));
        endPut();
        assertThat(storedIds("acme")).containsExactly("stored-last");
    }

    @Test
    void shred_deletesOnlyThatTenant_onceAndForAll() {
        for (int i = 0; i < 3; i++) {
            store.upsert(record("acme", "a-" + i));
        }
        store.upsert(record("globex", "g-1"));
        store.upsert(record("globex", "g-2"));
        endPut();
        store.upsert(record("acme", "a-uncommitted"));

        assertThat(store.shredRecord("acme")).isEmpty();
        ShredRecord shred = store.shred(destroyed("acme"));
        assertThat(shred.tenantId()).isEqualTo("acme");
        assertThat(shred.receipted()).isFalse();
        assertThat(shred.deleted().values()).anyMatch(n -> n >= 3);
        store.flush();
        store.commit();
        assertThat(storedIds("acme")).isEmpty();
        assertThat(storedIds("globex")).containsExactlyInAnyOrder("g-1", "g-2");

        ShredRecord again = store.shred(destroyed("acme"));
        assertThat(again.shreddedAt()).isEqualTo(shred.shreddedAt()); // nothing deleted twice, counts kept
        assertThat(again.deleted()).isEqualTo(shred.deleted());

        store.markReceipted("acme");
        store.close();
        store = open(tmp); // a restarted task remembers both the shred and its receipt
        assertThat(store.shredRecord("acme")).hasValueSatisfying(r -> {
            assertThat(r.receipted()).isTrue();
            assertThat(r.deleted()).isEqualTo(shred.deleted());
        });
        assertThat(store.shredRecord("globex")).isEmpty();
    }

    @Test
    void describe_namesTheStore_withoutSecrets() {
        assertThat(store.describe()).isNotBlank().doesNotContainIgnoringCase("password=" + "embedseal");
    }
}
