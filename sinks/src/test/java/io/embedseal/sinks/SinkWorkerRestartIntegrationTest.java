package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.schemas.KeyEventType;
import io.embedseal.testkit.EmbeddedConnect;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Connect worker stopped while records stream in and started again on the same offsets: every embedding ends
 * up in the Lucene index and the PostgreSQL table exactly once.
 */
class SinkWorkerRestartIntegrationTest {

    static final int PER_TENANT = 1500;
    static final List<String> TENANTS = List.of("acme", "globex");
    static final Duration WAIT = Duration.ofSeconds(120);

    @TempDir
    Path tmp;

    @Test
    void workerRestartMidStream_losesNothing_andDuplicatesNothing() throws Exception {
        boolean postgres = SinkEndToEndIntegrationTest.pgAvailable();
        String table = PostgresTestDatabase.freshTable("restart");
        Path kmsDir = tmp.resolve("kms");
        Path luceneDir = tmp.resolve("lucene");
        Sealed sealed = new Sealed(kmsDir);
        try (SinkFixture f = new SinkFixture(4)) {
            for (String t : TENANTS) {
                f.keyEvent(t, KeyEventType.REGISTERED, sealed.onboard(t));
            }
            Random random = new Random(21);
            int half = PER_TENANT / 2;
            produce(f, sealed, random, 0, half);

            String lucene = "lucene-restart-" + f.run;
            String pg = "pg-restart-" + f.run;
            Path offsets = tmp.resolve("connect.offsets");
            long countAtStop;
            CompletableFuture<Void> rest;
            boolean streamingAtStop;
            // Index commits every 2 s against offset commits every 1 s: every other offset commit must stop at what the
            // last index commit made durable, and the stop falls between the two.
            Map<String, String> luceneConnector = f.lucene(kmsDir, luceneDir);
            luceneConnector.put(io.embedseal.sinks.lucene.LuceneSinkConfig.COMMIT_INTERVAL_MS, "2000");
            try (EmbeddedConnect first = EmbeddedConnect.start(f.broker.bootstrapServers(), offsets, Map.of())) {
                first.putConnector(lucene, luceneConnector);
                if (postgres) {
                    first.putConnector(pg, f.postgres(kmsDir, table, f.connectDlq + "-pg"));
                }
                first.awaitRunning(lucene, EmbeddedConnect.startTimeout());
                // The rest streams in while the worker goes down and comes back.
                rest = CompletableFuture.runAsync(() -> produce(f, sealed, new Random(22), half, PER_TENANT));
                SinkFixture.await(
                        WAIT,
                        "part of the stream committed before the stop",
                        () -> luceneTotal(luceneDir) >= 400,
                        () -> luceneTotal(luceneDir));
                streamingAtStop = !rest.isDone();
            }
            countAtStop = luceneTotal(luceneDir);
            assertThat(streamingAtStop)
                    .as("records were still streaming in when the worker stopped")
                    .isTrue();
            assertThat(countAtStop).as("the worker stopped mid-stream").isLessThan((long) PER_TENANT * TENANTS.size());

            try (EmbeddedConnect second = EmbeddedConnect.start(f.broker.bootstrapServers(), offsets, Map.of())) {
                second.putConnector(lucene, luceneConnector);
                if (postgres) {
                    second.putConnector(pg, f.postgres(kmsDir, table, f.connectDlq + "-pg"));
                }
                rest.get();
                SinkFixture.await(
                        WAIT,
                        "every record in the Lucene indexes after the restart",
                        () -> luceneTotal(luceneDir) == (long) PER_TENANT * TENANTS.size(),
                        () -> luceneTotal(luceneDir));
                if (postgres) {
                    SinkFixture.await(
                            WAIT,
                            "every row in PostgreSQL after the restart",
                            () -> TENANTS.stream()
                                            .mapToInt(t ->
                                                    SinkFixture.pgRows(table, t).size())
                                            .sum()
                                    == PER_TENANT * TENANTS.size(),
                            () -> TENANTS.stream()
                                    .mapToInt(t -> SinkFixture.pgRows(table, t).size())
                                    .sum());
                }
            }
            for (String t : TENANTS) {
                assertThat(LuceneVectorStoreContractTest.committedIds(luceneDir, t))
                        .isEqualTo(SinkFixture.ids("e-", PER_TENANT));
                assertThat(TestIndexes.count(luceneDir, t))
                        .as("live documents of " + t)
                        .isEqualTo(PER_TENANT);
                if (postgres) {
                    Map<String, Integer> rows = SinkFixture.pgRows(table, t);
                    assertThat(rows.keySet()).isEqualTo(SinkFixture.ids("e-", PER_TENANT));
                    assertThat(rows.values()).allMatch(n -> n == 1);
                }
            }
        } finally {
            sealed.close();
        }
    }

    static long luceneTotal(Path dir) {
        return TENANTS.stream().mapToLong(t -> TestIndexes.count(dir, t)).sum();
    }

    static void produce(SinkFixture f, Sealed sealed, Random random, int from, int to) {
        for (int i = from; i < to; i++) {
            for (String t : TENANTS) {
                f.sendSealed(t, "e-" + i, sealed.seal(t, "e-" + i, Sealed.randomVector(random, 32)));
            }
            if (from > 0) {
                try {
                    Thread.sleep(10); // a stream, not one burst: ~8 s for the second half
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
        f.producer.flush();
    }
}
