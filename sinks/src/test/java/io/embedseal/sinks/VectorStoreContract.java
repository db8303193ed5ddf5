package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.keyring.tenant.TenantStatus;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.envelope.RecordVersion;
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

    /** Offsets grow as on a partition: each record arrives after the one before. */
    long offset = 100;

    StoredRecord record(String tenant, String id) {
        return sealed.stored(tenant, id, Sealed.randomVector(random, 8), store.needsPlaintext(), offset++);
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

    StoredRecord record(String tenant, String id, RecordVersion version) {
        return sealed.stored(tenant, id, Sealed.randomVector(random, 8), store.needsPlaintext(), offset++, version);
    }

    StoredRecord marker(String tenant, String id, RecordVersion version) {
        StoredRecord m = sealed.marker(tenant, id, version);
        return new StoredRecord(m.key(), m.header(), m.envelope(), null, m.sourceTopic(), 0, offset++);
    }

    @Test
    void redelivery_ofWhatTheStoreAlreadyWentPast_isSkipped_notRefused() {
        StoredRecord older = record("acme", "e-1", v(100));
        StoredRecord newer = record("acme", "e-1", v(200));
        StoredRecord delete = marker("acme", "e-2", v(300));
        assertThat(store.upsert(older)).isTrue();
        assertThat(store.upsert(newer)).isTrue();
        assertThat(store.upsert(record("acme", "e-2", v(100)))).isTrue();
        assertThat(store.delete(delete)).isTrue();
        endPut();

        // Connect redelivers from its last committed offset after a restart: the same records, at the same offsets.
        assertThat(store.upsert(older)).isFalse();
        assertThat(store.upsert(newer))
                .as("an equal version, already stored: skipped too")
                .isFalse();
        assertThat(store.delete(delete)).isFalse();
        endPut();
        assertThat(storedVersions("acme")).containsExactly(java.util.Map.entry("e-1", v(200)));
    }

    @Test
    void aReplayOfTheVersionHeld_fromALaterOffset_isSkipped_soItCannotPutBackAReplacedKeySlot() {
        StoredRecord held = record("acme", "e-1", v(100));
        assertThat(store.upsert(held)).isTrue();
        endPut();
        // The same envelope written to the topic again (after a rewrap had replaced its key slot in the store).
        StoredRecord replay = new StoredRecord(
                held.key(), held.header(), held.envelope(), held.opened(), held.sourceTopic(), 0, offset++);
        assertThat(store.upsert(replay)).isFalse();
        endPut();
        assertThat(storedVersions("acme")).containsEntry("e-1", v(100));

        // With the check off, the replay is written over what the store holds (a rewrapped slot would be lost).
        store.close();
        store = openWithoutVersionCheck(tmp);
        StoredRecord again = new StoredRecord(
                held.key(), held.header(), held.envelope(), held.opened(), held.sourceTopic(), 0, offset++);
        assertThat(store.upsert(again)).isTrue();
    }

    @Test
    void aRecordAtTheVersionOfADelete_doesNotBringItBack() {
        store.upsert(record("acme", "e-1", v(100)));
        store.delete(marker("acme", "e-1", v(200)));
        endPut();

        assertThatThrownBy(() -> store.upsert(record("acme", "e-1", v(200))))
                .isInstanceOf(RefusedRecordException.class);
        endPut();
        assertThat(storedIds("acme")).isEmpty();
    }

    static RecordVersion v(long time) {
        return new RecordVersion(time, 0);
    }

    @Test
    void deleteMarker_deletesTheRecord() {
        store.upsert(record("acme", "e-1", v(1)));
        store.upsert(record("acme", "e-2", v(1)));
        endPut();
        store.delete(marker("acme", "e-1", v(2)));
        store.delete(marker("acme", "never-stored", v(2)));
        endPut();
        assertThat(storedIds("acme")).containsExactly("e-2");
        assertThat(storedCount("acme")).isEqualTo(1);
    }

    @Test
    void bareDelete_whereAllowed_deletesUnchecked() {
        store.upsert(record("acme", "e-1", v(5)));
        endPut();
        store.deleteUnchecked(new SealedRecordKey("acme", "e-1"));
        store.deleteUnchecked(new SealedRecordKey("acme", "never-stored"));
        endPut();
        assertThat(storedIds("acme")).isEmpty();
    }

    @Test
    void lastOperationInABatch_wins() {
        store.upsert(record("acme", "deleted-last", v(1)));
        store.delete(marker("acme", "deleted-last", v(2)));
        store.delete(marker("acme", "stored-last", v(1)));
        store.upsert(record("acme", "stored-last", v(2)));
        endPut();
        assertThat(storedIds("acme")).containsExactly("stored-last");
    }

    /** The store under test with the version check switched off: what envelope v1 handling did. */
    abstract VectorStore openWithoutVersionCheck(Path dir);

    /** The record versions a reader sees for the tenant after commit, by id. */
    abstract java.util.Map<String, RecordVersion> storedVersions(String tenant);

    @Test
    void rollback_anOlderVersionOfARecord_isRefused_andTheNewerOneStays() {
        store.upsert(record("acme", "e-1", v(200)));
        endPut();

        assertThatThrownBy(() -> store.upsert(record("acme", "e-1", v(100))))
                .isInstanceOfSatisfying(
                        RefusedRecordException.class,
                        e -> assertThat(e.reason()).isEqualTo(RefusedRecordException.Reason.STALE_VERSION));
        store.upsert(record("acme", "e-1", v(200))); // a redelivery of the same version passes
        endPut();
        assertThat(storedVersions("acme")).containsEntry("e-1", v(200));

        // The same check inside one put, before anything is committed.
        store.upsert(record("acme", "e-2", v(300)));
        assertThatThrownBy(() -> store.upsert(record("acme", "e-2", v(299))))
                .isInstanceOf(RefusedRecordException.class);
        endPut();
        assertThat(storedVersions("acme")).containsEntry("e-2", v(300));
    }

    @Test
    void rollback_afterATenantsFirstCommit_isRefused() {
        // A new tenant writes several records before its index has any commit (a store may remember that there is
        // none yet), then commits: what it committed must be what the next record is checked against.
        store.upsert(record("newco", "a", v(200)));
        store.upsert(record("newco", "b", v(200)));
        store.upsert(record("newco", "c", v(200)));
        endPut();

        assertThatThrownBy(() -> store.upsert(record("newco", "b", v(100))))
                .isInstanceOfSatisfying(
                        RefusedRecordException.class,
                        e -> assertThat(e.reason()).isEqualTo(RefusedRecordException.Reason.STALE_VERSION));
        endPut();
        assertThat(storedVersions("newco")).containsEntry("b", v(200));
    }

    @Test
    void rollback_withTheCheckSwitchedOff_replacesTheNewerRecord_whichIsTheAttack() {
        store.close();
        store = openWithoutVersionCheck(tmp);
        store.upsert(record("acme", "e-1", v(200)));
        endPut();
        store.upsert(record("acme", "e-1", v(100)));
        endPut();
        assertThat(storedVersions("acme")).containsEntry("e-1", v(100));
    }

    @Test
    void resurrection_anOlderRecordAfterADelete_isRefused_andAnOlderDeleteToo() {
        store.upsert(record("acme", "e-1", v(100)));
        store.upsert(record("acme", "e-2", v(300)));
        endPut();
        store.delete(marker("acme", "e-1", v(200)));
        endPut();

        assertThatThrownBy(() -> store.upsert(record("acme", "e-1", v(150))))
                .as("the deleted record's older version comes back")
                .isInstanceOf(RefusedRecordException.class);
        assertThatThrownBy(() -> store.delete(marker("acme", "e-2", v(250))))
                .as("a delete older than the record")
                .isInstanceOf(RefusedRecordException.class);
        endPut();
        assertThat(storedIds("acme")).containsExactly("e-2");

        store.upsert(record("acme", "e-1", v(201))); // a newer version after the delete is a re-creation
        endPut();
        assertThat(storedIds("acme")).containsExactlyInAnyOrder("e-1", "e-2");
    }

    @Test
    void versions_surviveARestart_andAVersion1RecordNeverReplacesAVersion2One() {
        store.upsert(record("acme", "e-1", v(100)));
        endPut();
        store.close();
        store = open(tmp);

        assertThatThrownBy(() -> store.upsert(record("acme", "e-1", v(99)))).isInstanceOf(RefusedRecordException.class);
        byte[] v1 = sealed.sealer.sealVersion1(
                "acme",
                "e-1",
                io.embedseal.serdes.envelope.PayloadType.EMBEDDING_EVENT_AVRO,
                io.embedseal.serdes.avro.EmbeddingEventCodec.toCanonicalAvro(
                        Sealed.event("acme", "e-1", Sealed.randomVector(random, 8))));
        SealedRecordKey key = new SealedRecordKey("acme", "e-1");
        StoredRecord old = new StoredRecord(
                key,
                io.embedseal.serdes.envelope.EnvelopeHeader.parse(v1),
                v1,
                store.needsPlaintext() ? sealed.unsealer.unseal(key.toBytes(), v1) : null,
                "embeddings.sealed",
                0,
                offset++);
        assertThatThrownBy(() -> store.upsert(old)).isInstanceOf(RefusedRecordException.class);
        store.prepare(java.util.List.of(key, new SealedRecordKey("acme", "new")));
        assertThatThrownBy(() -> store.upsert(record("acme", "e-1", v(98)))).isInstanceOf(RefusedRecordException.class);
        store.upsert(record("acme", "new", v(1)));
        endPut();
        assertThat(storedVersions("acme")).containsEntry("e-1", v(100)).containsEntry("new", v(1));
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
