package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.control.audit.AuditVerifier;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.InMemorySchemaRegistry;
import io.embedseal.sinks.lucene.LuceneSearch;
import io.embedseal.sinks.lucene.LuceneVectorStore;
import io.embedseal.sinks.postgres.PostgresSealedSearch;
import io.embedseal.sinks.search.SearchHit;
import io.embedseal.sinks.search.SearchRefusedException;
import io.embedseal.testkit.EmbeddedConnect;
import io.embedseal.testkit.VectorLeakScanner;
import io.embedseal.topology.EmbedsealPipeline;
import io.embedseal.topology.PipelineConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole path on real parts: raw events through the sealing pipeline, sealed records through an in-process
 * Connect worker into a Lucene index per tenant and a real PostgreSQL table, then the key lifecycle reaching the
 * stores: a revoked tenant is not unsealed (its records go, still sealed, to the connector's dead-letter topic and
 * are replayed after RESTORED); a destroyed tenant's index and rows are deleted with a receipt in the audit topic
 * while the other tenants stay searchable. The tests run in order on one worker.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SinkEndToEndIntegrationTest {

    static final int PER_TENANT = 150;
    static final int DIMS = 64;
    static final List<String> TENANTS = List.of("acme", "globex", "initech");
    static final Duration WAIT = Duration.ofSeconds(90);

    @TempDir
    static Path tmp;

    static SinkFixture f;
    static Sealed sealed;
    static EmbedsealPipeline pipeline;
    static EmbeddedConnect connect;
    static boolean postgres;
    static final String table = PostgresTestDatabase.freshTable("e2e");
    static final Map<String, KekRef> keks = new HashMap<>();
    static final Map<String, float[]> vectors = new HashMap<>();
    static Path luceneDir;

    @BeforeAll
    static void start() throws Exception {
        f = new SinkFixture(3);
        Path kmsDir = tmp.resolve("kms");
        sealed = new Sealed(kmsDir);
        for (String t : TENANTS) {
            keks.put(t, sealed.onboard(t));
        }
        Map<String, String> p = f.pipeline("sink-e2e-" + f.run, tmp.resolve("streams"), kmsDir);
        p.put("streams.commit.interval.ms", "100");
        InMemorySchemaRegistry registry = new InMemorySchemaRegistry();
        pipeline = EmbedsealPipeline.create(PipelineConfig.of(p, name -> null), registry);
        for (String t : TENANTS) {
            f.keyEvent(t, KeyEventType.REGISTERED, keks.get(t));
        }
        pipeline.start();

        int schemaId = registry.register(f.raw + "-value", EmbeddingEventCodec.CANONICAL_SCHEMA);
        Random random = new Random(11);
        for (int i = 0; i < PER_TENANT; i++) {
            for (String t : TENANTS) {
                float[] v = Sealed.randomVector(random, DIMS);
                String id = "e-" + i;
                vectors.put(t + "/" + id, v);
                EmbeddingEvent e = Sealed.event(t, id, v);
                f.producer.send(new ProducerRecord<>(
                        f.raw,
                        (t + "/" + id).getBytes(StandardCharsets.UTF_8),
                        EmbeddingEventCodec.encodeWire(schemaId, e)));
            }
        }
        f.producer.flush();

        luceneDir = tmp.resolve("lucene");
        connect = EmbeddedConnect.start(f.broker.bootstrapServers(), tmp.resolve("connect.offsets"), Map.of());
        connect.putConnector("lucene-" + f.run, f.lucene(kmsDir, luceneDir));
        postgres = pgAvailable();
        if (postgres) {
            connect.putConnector("pg-" + f.run, f.postgres(kmsDir, table, f.connectDlq + "-pg"));
        }
        connect.awaitRunning("lucene-" + f.run, EmbeddedConnect.startTimeout());
        if (postgres) {
            connect.awaitRunning("pg-" + f.run, EmbeddedConnect.startTimeout());
        }
    }

    static boolean pgAvailable() {
        try {
            PostgresTestDatabase.assumeAvailable();
            return true;
        } catch (org.opentest4j.TestAbortedException e) {
            System.out.println("PostgreSQL part skipped: " + e.getMessage());
            return false;
        }
    }

    @AfterAll
    static void stop() {
        if (connect != null) {
            connect.close();
        }
        if (pipeline != null) {
            pipeline.close(Duration.ofSeconds(10));
        }
        if (sealed != null) {
            sealed.close();
        }
        if (f != null) {
            f.close();
        }
    }

    static void restartSinks() {
        connect.restart("lucene-" + f.run, EmbeddedConnect.startTimeout());
        if (postgres) {
            connect.restart("pg-" + f.run, EmbeddedConnect.startTimeout());
        }
    }

    static Map<String, Long> luceneCounts() {
        Map<String, Long> out = new TreeMap<>();
        for (String t : TENANTS) {
            out.put(t, LuceneSearch.shredded(luceneDir, t).isPresent() ? -1 : TestIndexes.count(luceneDir, t));
        }
        return out;
    }

    @Test
    @Order(1)
    void rawEmbeddings_becomeSearchableUnderEachTenantsKey_inLuceneAndPostgres() throws Exception {
        SinkFixture.await(
                WAIT,
                "every tenant's records in its Lucene index",
                () -> luceneCounts().values().stream().allMatch(n -> n == PER_TENANT),
                SinkEndToEndIntegrationTest::luceneCounts);
        for (String t : TENANTS) {
            String target = "e-" + (PER_TENANT / 2);
            List<SearchHit> hits = TestIndexes.search(
                    luceneDir, t, vectors.get(t + "/" + target), 10, LuceneSearch.DEFAULT_CANDIDATES);
            assertThat(hits).hasSize(10);
            assertThat(hits.get(0).embeddingId())
                    .as("nearest to its own vector, tenant " + t)
                    .isEqualTo(target);
            assertThat(hits.get(0).score()).isGreaterThan(0.999f);
            assertThat(LuceneVectorStoreContractTest.committedIds(luceneDir, t))
                    .isEqualTo(SinkFixture.ids("e-", PER_TENANT));
        }
        if (!postgres) {
            return;
        }
        SinkFixture.await(
                WAIT,
                "every tenant's rows in PostgreSQL",
                () -> TENANTS.stream()
                        .allMatch(t -> SinkFixture.pgRows(table, t).size() == PER_TENANT),
                () -> TENANTS.stream()
                        .map(t -> t + "=" + SinkFixture.pgRows(table, t).size())
                        .toList());
        try (Connection c = PostgresTestDatabase.connect()) {
            for (String t : TENANTS) {
                assertThat(SinkFixture.pgRows(table, t).values()).allMatch(n -> n == 1);
                PostgresSealedSearch.Result r = PostgresSealedSearch.search(
                        c,
                        table,
                        t,
                        sealed.unsealer,
                        vectors.get(t + "/e-3"),
                        5,
                        VectorSimilarityFunction.COSINE,
                        null);
                assertThat(r.hits().get(0).embeddingId()).isEqualTo("e-3");
                assertThat(r.rowsScanned()).isEqualTo(PER_TENANT);
            }
        }
    }

    @Test
    @Order(2)
    void revokedTenant_isNotUnsealed_itsRecordsWaitSealedInTheDeadLetterTopic_andReplayAfterRestore() throws Exception {
        f.keyEvent("globex", KeyEventType.REVOKED, keks.get("globex"));
        // A task reads every key event before its first record, so after a restart the sinks know for certain;
        // without one they learn within milliseconds, which a test cannot wait for without a signal.
        restartSinks();
        // Backlog sealed before the revocation reaches the sinks after it.
        Random random = new Random(12);
        VectorLeakScanner scanner = new VectorLeakScanner();
        int late = 20;
        for (int i = 0; i < late; i++) {
            float[] v = Sealed.randomVector(random, DIMS);
            scanner.add(v);
            f.sendSealed("globex", "late-" + i, sealed.seal("globex", "late-" + i, v));
        }
        f.producer.flush();

        SinkFixture.await(
                WAIT,
                "the revoked tenant's records in the Lucene connector's dead-letter topic",
                () -> f.readAll(f.connectDlq).size() >= late,
                () -> f.readAll(f.connectDlq).size());
        List<ConsumerRecord<byte[], byte[]>> dead = f.readAll(f.connectDlq);
        assertThat(dead).hasSize(late);
        for (ConsumerRecord<byte[], byte[]> r : dead) {
            Header message = r.headers().lastHeader("__connect.errors.exception.message");
            assertThat(new String(message.value(), StandardCharsets.UTF_8))
                    .contains("TENANT_REVOKED")
                    .contains("globex");
            assertThat(scanner.scan(r.value())).as("plaintext in a dead letter").isZero();
            assertThat(scanner.scan(message.value())).isZero();
        }
        assertThat(TestIndexes.count(luceneDir, "globex")).isEqualTo(PER_TENANT);
        if (postgres) {
            SinkFixture.await(
                    WAIT,
                    "the PostgreSQL connector's dead letters",
                    () -> f.readAll(f.connectDlq + "-pg").size() >= late,
                    () -> f.readAll(f.connectDlq + "-pg").size());
            assertThat(SinkFixture.pgRows(table, "globex")).hasSize(PER_TENANT);
        }

        // RESTORED, then the documented replay: the dead letters' values go back to the sealed topic, as they are,
        // once the sinks have applied RESTORED (a record that overtook the event would be set aside again, not lost).
        f.keyEvent("globex", KeyEventType.RESTORED, keks.get("globex"));
        restartSinks();
        for (ConsumerRecord<byte[], byte[]> r : dead) {
            f.producer.send(new ProducerRecord<>(f.sealedTopic, r.key(), r.value()));
        }
        f.producer.flush();
        SinkFixture.await(
                WAIT,
                "the replayed records indexed",
                () -> TestIndexes.count(luceneDir, "globex") == PER_TENANT + late,
                () -> TestIndexes.count(luceneDir, "globex"));
        assertThat(f.readAll(f.connectDlq)).hasSize(late); // nothing new refused after RESTORED
    }

    @Test
    @Order(3)
    void destroyedTenant_isShreddedFromEveryStore_withAReceipt_whileOthersStaySearchable() throws Exception {
        byte[] sealedBeforeDestroy = sealed.seal("initech", "straggler", Sealed.randomVector(new Random(13), DIMS));
        sealed.kms.destroy(keks.get("initech").keyName());
        f.keyEvent("initech", KeyEventType.DESTROYED, keks.get("initech"));

        SinkFixture.await(
                WAIT,
                "shred receipts in the audit topic",
                () -> receipts().size() >= (postgres ? 3 : 1),
                () -> receipts());
        Map<String, Map<String, Object>> bySink = new HashMap<>();
        for (Map<String, Object> r : receipts()) {
            assertThat(r.get("tenant")).isEqualTo("initech");
            bySink.merge(r.get("sink") + "-" + r.get("task"), r, (a, b) -> {
                throw new AssertionError("two receipts from one task: " + a + " and " + b);
            });
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> luceneDeleted =
                (Map<String, Object>) bySink.get("lucene-0").get("deleted");
        // The index was encrypted under initech's index key, whose KEK is gone: only a task that still held the key
        // when DESTROYED arrived can count documents; files and bytes are always counted.
        assertThat(((Number) luceneDeleted.get("files")).longValue()).isPositive();
        assertThat(((Number) luceneDeleted.get("bytes")).longValue()).isPositive();
        if (luceneDeleted.containsKey("documents")) {
            assertThat(((Number) luceneDeleted.get("documents")).longValue()).isEqualTo(PER_TENANT);
        }
        assertThat(bySink.get("lucene-0").get("kek"))
                .isEqualTo(keks.get("initech").toString());
        assertThat(Files.exists(LuceneVectorStore.tenantDir(luceneDir, "initech")))
                .isFalse();
        assertThatThrownBy(() -> TestIndexes.search(luceneDir, "initech", vectors.get("initech/e-1"), 10, 100))
                .isInstanceOf(SearchRefusedException.class)
                .hasMessageContaining("destroyed");
        if (postgres) {
            long deletedRows = 0;
            for (String task : List.of("postgresql-0", "postgresql-1")) {
                @SuppressWarnings("unchecked")
                Map<String, Object> d = (Map<String, Object>) bySink.get(task).get("deleted");
                deletedRows += ((Number) d.get("rows")).longValue();
            }
            assertThat(deletedRows).isEqualTo(PER_TENANT);
            assertThat(SinkFixture.pgRows(table, "initech")).isEmpty();
        }

        AuditVerifier verifier = new AuditVerifier();
        for (ConsumerRecord<byte[], byte[]> r : f.readAll(f.audit)) {
            verifier.accept(r.offset(), r.value());
        }
        assertThat(verifier.result().breaks()).isEmpty();

        // A straggler sealed before the destruction arrives after it: dropped, the index stays gone. An acme record
        // behind it on the same partition shows the sink got past it.
        f.producer
                .send(new ProducerRecord<>(
                        f.sealedTopic, 0, "initech/straggler".getBytes(StandardCharsets.UTF_8), sealedBeforeDestroy))
                .get();
        float[] marker = Sealed.randomVector(new Random(14), DIMS);
        f.producer
                .send(new ProducerRecord<>(
                        f.sealedTopic,
                        0,
                        "acme/after-shred".getBytes(StandardCharsets.UTF_8),
                        sealed.seal("acme", "after-shred", marker)))
                .get();
        SinkFixture.await(
                WAIT,
                "acme's record behind the straggler",
                () -> TestIndexes.count(luceneDir, "acme") == PER_TENANT + 1,
                () -> TestIndexes.count(luceneDir, "acme"));
        assertThat(Files.exists(LuceneVectorStore.tenantDir(luceneDir, "initech")))
                .isFalse();
        assertThat(TestIndexes.search(luceneDir, "acme", marker, 1, 100).get(0).embeddingId())
                .isEqualTo("after-shred");
        assertThat(TestIndexes.search(luceneDir, "globex", vectors.get("globex/e-7"), 1, 100)
                        .get(0)
                        .embeddingId())
                .isEqualTo("e-7");
    }

    static List<Map<String, Object>> receipts() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : f.readAll(f.audit)) {
            try {
                @SuppressWarnings("unchecked")
                Map<String, Object> m =
                        new com.fasterxml.jackson.databind.ObjectMapper().readValue(r.value(), Map.class);
                if (ShredReceipts.KIND.equals(m.get("kind"))) {
                    out.add(m);
                }
            } catch (java.io.IOException e) {
                throw new AssertionError(e);
            }
        }
        return out;
    }
}
