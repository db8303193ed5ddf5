package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.keyring.kms.KekRef;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.envelope.EnvelopeHeader;
import io.embedseal.serdes.envelope.RecordVersion;
import io.embedseal.sinks.lucene.LuceneSinkTask;
import io.embedseal.sinks.postgres.PostgresSinkTask;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.apache.kafka.connect.sink.ErrantRecordReporter;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTask;
import org.apache.kafka.connect.sink.SinkTaskContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rollbacks and forged deletes on the sealed topic, against the real sink tasks (a real broker for key events, a real
 * PostgreSQL server, a real Lucene index): a writer of {@code embeddings.sealed} replays an older genuine envelope of a
 * record, resurrects a deleted one, deletes with a bare null, or forges a delete marker. Each is refused and reported
 * with its reason; each of the last two is first shown succeeding with the defence switched off
 * ({@code embedseal.delete.bare-null=delete}, {@code embedseal.envelope.verify=false}), as envelope v1 handling did.
 */
class SinkRollbackIntegrationTest {

    @TempDir
    Path tmp;

    static SinkFixture fixture;

    @BeforeAll
    static void broker() {
        fixture = new SinkFixture(1);
    }

    @AfterAll
    static void stopBroker() {
        fixture.close();
    }

    private final List<Throwable> reported = new ArrayList<>();

    private SinkTask start(SinkTask task, Map<String, String> config) {
        ErrantRecordReporter reporter = (record, error) -> {
            reported.add(error);
            return CompletableFuture.completedFuture(null);
        };
        task.initialize((SinkTaskContext) Proxy.newProxyInstance(
                SinkTaskContext.class.getClassLoader(), new Class<?>[] {SinkTaskContext.class}, (p, m, a) -> {
                    if (m.getName().equals("errantRecordReporter")) {
                        return reporter;
                    }
                    if (m.getName().equals("assignment")) {
                        return java.util.Set.of();
                    }
                    return m.getName().equals("configs") ? Map.of() : null;
                }));
        task.start(config);
        return task;
    }

    private long offset;

    private void put(SinkTask task, String key, byte[] value) {
        put(task, key, value, offset++);
    }

    private void put(SinkTask task, String key, byte[] value, long at) {
        task.put(List.of(new SinkRecord("sealed", 0, null, key.getBytes(StandardCharsets.UTF_8), null, value, at)));
        task.preCommit(new HashMap<>());
    }

    private List<String> reasons() {
        List<String> out = new ArrayList<>();
        for (Throwable t : reported) {
            out.add(
                    t instanceof RefusedRecordException r
                            ? r.reason().name()
                            : t.getClass().getSimpleName());
        }
        reported.clear();
        return out;
    }

    private static RecordVersion v(long t) {
        return new RecordVersion(t, 0);
    }

    /** An envelope with its version raised in place: the header says newer, the tag says otherwise. */
    private static byte[] withVersionRaised(byte[] marker, RecordVersion to) {
        byte[] forged = marker.clone();
        EnvelopeHeader h = EnvelopeHeader.parse(forged);
        to.writeTo(forged, h.associatedDataLength() - 4 - 16 - 1 - RecordVersion.BYTES);
        return forged;
    }

    @Test
    void lucene_refusesRollbackResurrectionBareNullsAndForgedDeletes() throws Exception {
        try (Sealed sealed = new Sealed(tmp.resolve("kms"))) {
            String tenant = "lrb";
            KekRef kek = sealed.onboard(tenant);
            fixture.keyEvent(tenant, KeyEventType.REGISTERED, kek);
            Map<String, String> c =
                    new HashMap<>(fixture.luceneCommittingEachTime(sealed.kmsDir, tmp.resolve("lucene")));
            c.put("name", "rollback-lucene");
            Supplier<Long> count = () -> TestIndexes.count(tmp.resolve("lucene"), tenant);
            attack(sealed, tenant, start(new LuceneSinkTask(), c), count);
        }
    }

    @Test
    void postgresSealedMode_refusesRollbackResurrectionBareNullsAndForgedDeletes_andShowsThemWithTheDefencesOff()
            throws Exception {
        PostgresTestDatabase.assumeAvailable();
        String table = PostgresTestDatabase.freshTable("rollback");
        try (Sealed sealed = new Sealed(tmp.resolve("kms"))) {
            String tenant = "prb";
            KekRef kek = sealed.onboard(tenant);
            fixture.keyEvent(tenant, KeyEventType.REGISTERED, kek);
            Map<String, String> c = new HashMap<>(fixture.postgres(sealed.kmsDir, table, "dlq-rollback"));
            c.put("name", "rollback-pg");
            c.put("tasks.max", "1");
            c.put(EmbedsealSinkConfig.TASK_INDEX, "0");
            Supplier<Long> count =
                    () -> (long) SinkFixture.pgRows(table, tenant).size();
            attack(sealed, tenant, start(new PostgresSinkTask(), c), count);

            // The defences off, as envelope v1 handling was: a bare null deletes, and an envelope whose version was
            // raised
            // replaces the good record with one that does not open.
            Random random = new Random(2);
            SinkTask unchecked = start(
                    new PostgresSinkTask(),
                    with(
                            c,
                            Map.of(
                                    EmbedsealSinkConfig.BARE_NULL,
                                    "delete",
                                    EmbedsealSinkConfig.ENVELOPE_VERIFY,
                                    "false")));
            try {
                put(unchecked, tenant + "/x-1", sealed.seal(tenant, "x-1", Sealed.randomVector(random, 8), v(500)));
                put(unchecked, tenant + "/x-2", sealed.seal(tenant, "x-2", Sealed.randomVector(random, 8), v(500)));
                assertThat(SinkFixture.pgRows(table, tenant)).containsKeys("x-1", "x-2");
                put(unchecked, tenant + "/x-1", null);
                byte[] forged =
                        withVersionRaised(sealed.seal(tenant, "x-2", Sealed.randomVector(random, 8), v(1)), v(999));
                put(unchecked, tenant + "/x-2", forged);
                assertThat(SinkFixture.pgRows(table, tenant))
                        .as("deleted by anyone who can write the sealed topic")
                        .doesNotContainKey("x-1");
                assertThat(SinkFixture.pgEnvelope(table, tenant, "x-2"))
                        .as("the good version replaced by one that does not open")
                        .isEqualTo(forged);
                assertThat(reasons()).isEmpty();
            } finally {
                unchecked.stop();
            }
        }
    }

    @Test
    void aRecordNamingARestrictedOldVersion_isRefusedAlone_butCountsForTheTenantOnceItsCurrentKeyIsRefusedToo()
            throws Exception {
        try (Sealed sealed = new Sealed(tmp.resolve("kms"))) {
            String tenant = "lov";
            KekRef v1 = sealed.onboard(tenant);
            Random random = new Random(3);
            // Sealed under version 1 (the keyring's first DEK), then the key rotates and version 1 is restricted.
            byte[] old1 = sealed.seal(tenant, "old-1", Sealed.randomVector(random, 8), v(10));
            byte[] old2 = sealed.seal(tenant, "old-2", Sealed.randomVector(random, 8), v(11));
            KekRef v2 = sealed.kms.rotate(v1.keyName());
            sealed.kms.restrictVersions(v1.keyName(), 2);
            fixture.keyEvent(tenant, KeyEventType.REGISTERED, v1);
            fixture.keyEvent(tenant, KeyEventType.ROTATED, v2);
            io.embedseal.serdes.envelope.Sealer current = new io.embedseal.serdes.envelope.Sealer(
                    io.embedseal.keyring.Keyring.of(new io.embedseal.keyring.kms.local.LocalKms(sealed.kmsDir)));
            Map<String, String> c =
                    new HashMap<>(fixture.luceneCommittingEachTime(sealed.kmsDir, tmp.resolve("lucene")));
            c.put("name", "old-version-lucene");
            SinkTask task = start(new LuceneSinkTask(), c);
            try {
                put(task, tenant + "/new-1", sealV2(current, tenant, "new-1", random, v(20)));
                put(task, tenant + "/old-1", old1);
                put(task, tenant + "/new-2", sealV2(current, tenant, "new-2", random, v(21)));
                assertThat(reasons()).containsExactly("INVALID_ENVELOPE");
                assertThat(((EmbedsealSinkTask) task).counters().tenantFaults()).isZero();
                assertThat(TestIndexes.count(tmp.resolve("lucene"), tenant)).isEqualTo(2);

                // Now the tenant's key itself is refused (revoked in the KMS, no event yet): the same kind of record
                // is the tenant's fault, and its records are set aside as revoked.
                sealed.kms.disable(v1.keyName());
                put(task, tenant + "/old-2", old2);
                assertThat(reasons()).containsExactly("TENANT_REVOKED");
                assertThat(((EmbedsealSinkTask) task).counters().tenantFaults()).isEqualTo(1);
            } finally {
                task.stop();
            }
        }
    }

    private static byte[] sealV2(
            io.embedseal.serdes.envelope.Sealer sealer,
            String tenant,
            String id,
            Random random,
            RecordVersion version) {
        return sealer.seal(
                tenant,
                id,
                version,
                io.embedseal.serdes.envelope.PayloadType.EMBEDDING_EVENT_AVRO,
                io.embedseal.serdes.avro.EmbeddingEventCodec.toCanonicalAvro(
                        Sealed.event(tenant, id, Sealed.randomVector(random, 8))));
    }

    private static Map<String, String> with(Map<String, String> base, Map<String, String> more) {
        Map<String, String> m = new HashMap<>(base);
        m.putAll(more);
        return m;
    }

    /** The attacks, in order, against one started task; {@code count} reads the tenant's live records. */
    private void attack(Sealed sealed, String tenant, SinkTask task, Supplier<Long> count) {
        Random random = new Random(1);
        try {
            byte[] old1 = sealed.seal(tenant, "e-1", Sealed.randomVector(random, 8), v(100));
            byte[] new1 = sealed.seal(tenant, "e-1", Sealed.randomVector(random, 8), v(200));
            byte[] old2 = sealed.seal(tenant, "e-2", Sealed.randomVector(random, 8), v(100));
            long first = offset;
            put(task, tenant + "/e-1", old1);
            put(task, tenant + "/e-1", new1);
            put(task, tenant + "/e-2", old2);
            assertThat(count.get()).isEqualTo(2);
            assertThat(reasons()).isEmpty();

            // 0. Connect redelivers the same records at the same offsets (a restart before its offset commit): skipped
            // quietly, not reported.
            put(task, tenant + "/e-1", old1, first);
            put(task, tenant + "/e-1", new1, first + 1);
            assertThat(reasons()).isEmpty();
            assertThat(((EmbedsealSinkTask) task).counters().redelivered()).isEqualTo(2);

            // 1. Rollback: the genuine older envelope of e-1, replayed.
            put(task, tenant + "/e-1", old1);
            assertThat(reasons()).containsExactly("STALE_VERSION");

            // 2. A bare null deletes nothing.
            put(task, tenant + "/e-2", null);
            assertThat(reasons()).containsExactly("BARE_NULL");
            assertThat(count.get()).isEqualTo(2);

            // 3. Forged deletes: another record's marker moved to e-2, and e-2's own marker with its version raised.
            byte[] otherMarker = sealed.sealer.sealDeleteMarker(tenant, "e-1", v(900));
            put(task, tenant + "/e-2", otherMarker);
            byte[] raised = withVersionRaised(sealed.sealer.sealDeleteMarker(tenant, "e-2", v(50)), v(999));
            put(task, tenant + "/e-2", raised);
            // A genuine delete that is older than the record.
            put(task, tenant + "/e-2", sealed.sealer.sealDeleteMarker(tenant, "e-2", v(99)));
            // An old record of e-2 with its version raised above the stored one.
            put(
                    task,
                    tenant + "/e-2",
                    withVersionRaised(sealed.seal(tenant, "e-2", Sealed.randomVector(random, 8), v(1)), v(999)));
            assertThat(reasons())
                    .containsExactly("INVALID_ENVELOPE", "INVALID_ENVELOPE", "STALE_VERSION", "INVALID_ENVELOPE");
            assertThat(count.get()).isEqualTo(2);

            // 4. A genuine, newer delete deletes; the deleted record's older envelope cannot come back.
            put(task, tenant + "/e-2", sealed.sealer.sealDeleteMarker(tenant, "e-2", v(300)));
            assertThat(count.get()).isEqualTo(1);
            put(task, tenant + "/e-2", old2);
            assertThat(reasons()).containsExactly("STALE_VERSION");
            assertThat(count.get()).isEqualTo(1);

            // 5. A newer version of e-1 still replaces it; a newer e-2 re-creates it.
            put(task, tenant + "/e-1", sealed.seal(tenant, "e-1", Sealed.randomVector(random, 8), v(400)));
            put(task, tenant + "/e-2", sealed.seal(tenant, "e-2", Sealed.randomVector(random, 8), v(301)));
            assertThat(reasons()).isEmpty();
            assertThat(count.get()).isEqualTo(2);
            assertThat(((EmbedsealSinkTask) task).counters().staleVersions()).isEqualTo(3);
        } finally {
            task.stop();
        }
    }
}
