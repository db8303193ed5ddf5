package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.keyring.kms.KekRef;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.testkit.EmbeddedConnect;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code embedseal.revoked.action=wait}: a revoked tenant's records hold the task (and what follows them on the
 * partition) until RESTORED, then everything is indexed; nothing is skipped, reported or lost meanwhile.
 */
class RevokedWaitIntegrationTest {

    @TempDir
    Path tmp;

    @Test
    void revokedTenantsRecords_waitUntilRestored_thenEverythingIsIndexed() throws Exception {
        Path kmsDir = tmp.resolve("kms");
        Path luceneDir = tmp.resolve("lucene");
        Sealed sealed = new Sealed(kmsDir);
        try (SinkFixture f = new SinkFixture(1)) {
            KekRef acme = sealed.onboard("acme");
            KekRef globex = sealed.onboard("globex");
            f.keyEvent("acme", KeyEventType.REGISTERED, acme);
            f.keyEvent("globex", KeyEventType.REGISTERED, globex);
            f.keyEvent("globex", KeyEventType.REVOKED, globex);
            Random random = new Random(3);
            for (int i = 0; i < 10; i++) {
                f.sendSealed("globex", "g-" + i, sealed.seal("globex", "g-" + i, Sealed.randomVector(random, 8)));
            }
            for (int i = 0; i < 10; i++) {
                f.sendSealed("acme", "a-" + i, sealed.seal("acme", "a-" + i, Sealed.randomVector(random, 8)));
            }
            f.producer.flush();

            Map<String, String> c = f.lucene(kmsDir, luceneDir);
            c.put(EmbedsealSinkConfig.REVOKED_ACTION, "wait");
            c.put(EmbedsealSinkConfig.WAIT_BACKOFF_MS, "200");
            try (EmbeddedConnect connect =
                    EmbeddedConnect.start(f.broker.bootstrapServers(), tmp.resolve("offsets"), Map.of())) {
                connect.putConnector("wait-" + f.run, c);
                connect.awaitRunning("wait-" + f.run, EmbeddedConnect.startTimeout());
                // Several redeliveries and offset-commit rounds: acme's records sit behind globex's and must not pass.
                long until = System.nanoTime() + Duration.ofSeconds(3).toNanos();
                while (System.nanoTime() < until) {
                    assertThat(TestIndexes.count(luceneDir, "acme") + TestIndexes.count(luceneDir, "globex"))
                            .as("nothing is committed past a waiting record")
                            .isZero();
                    Thread.sleep(100);
                }
                assertThat(connect.status("wait-" + f.run).tasks())
                        .allMatch(t -> t.state().equals("RUNNING"));
                assertThat(f.readAll(f.connectDlq))
                        .as("waiting is not reporting")
                        .isEmpty();

                f.keyEvent("globex", KeyEventType.RESTORED, globex);
                SinkFixture.await(
                        Duration.ofSeconds(60),
                        "both tenants indexed after RESTORED",
                        () -> TestIndexes.count(luceneDir, "globex") == 10
                                && TestIndexes.count(luceneDir, "acme") == 10,
                        () -> TestIndexes.count(luceneDir, "globex") + "/" + TestIndexes.count(luceneDir, "acme"));
            }
        } finally {
            sealed.close();
        }
    }
}
