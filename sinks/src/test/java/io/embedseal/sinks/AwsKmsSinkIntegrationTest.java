package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.kms.testsupport.Moto;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.testkit.EmbeddedConnect;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Both sinks on AWS KMS (moto's server), with the key states AWS has. With no key event (the KMS alone), a tenant whose
 * key was disabled in AWS and one whose key is pending deletion are both refused and kept sealed for replay (a
 * deletion AWS still waits on can be cancelled), while the healthy tenant is stored. Then {@code keys destroy} as it
 * runs on AWS (ScheduleKeyDeletion, then the signed DESTROYED): the sinks ask AWS, which refuses the key pending
 * deletion, and shred the tenant at once. The Lucene sink in index mode and the PostgreSQL sink in sealed mode (which
 * authenticates every envelope under the tenant's key) run on one Connect worker.
 */
class AwsKmsSinkIntegrationTest {

    private static final int PER_TENANT = 20;
    private static final Duration WAIT = Duration.ofSeconds(90);

    @TempDir
    Path tmp;

    @Test
    void disabledAndPendingDeletionKeysAreRefused_andKeysDestroyShreds_inBothSinks() throws Exception {
        Map<String, String> kms = Moto.settingsWithCredentialsFile();
        try (SinkFixture f = new SinkFixture(1);
                KmsProvider provider = KmsProviders.create(KeyringSettings.of(kms, Moto.environment()::apply));
                EmbeddedConnect connect = EmbeddedConnect.start(
                        f.broker.bootstrapServers(),
                        Files.createTempDirectory("aws-sink").resolve("offsets"),
                        Map.of())) {
            String healthy = "acme-" + f.run;
            String disabled = "globex-" + f.run;
            String deleted = "initech-" + f.run;
            // The sinks sign their audit checkpoints with this key, which the KMS administrator creates.
            provider.signingKeys().orElseThrow().createSigningKey("audit-sink");
            Keyring keyring = Keyring.builder(provider).build();
            Sealer sealer = new Sealer(keyring);
            Random random = new Random(7);
            for (String t : List.of(healthy, disabled, deleted)) {
                KekRef kek = provider.createKek("tenant-" + t);
                f.keyEvent(t, KeyEventType.REGISTERED, kek);
                for (int i = 0; i < PER_TENANT; i++) {
                    String id = "doc-" + i;
                    f.sendSealed(
                            t,
                            id,
                            sealer.seal(
                                    t,
                                    id,
                                    io.embedseal.serdes.envelope.RecordVersion.now(),
                                    PayloadType.EMBEDDING_EVENT_AVRO,
                                    EmbeddingEventCodec.toCanonicalAvro(
                                            Sealed.event(t, id, Sealed.randomVector(random, 16)))));
                }
            }
            f.producer.flush();
            keyring.close();
            // The tenants' own acts in AWS KMS, with no key event: DisableKey, ScheduleKeyDeletion.
            provider.disable("tenant-" + disabled);
            provider.destroy("tenant-" + deleted);

            Path luceneDir = tmp.resolve("lucene");
            Map<String, String> lucene = f.lucene(tmp.resolve("unused"), luceneDir);
            lucene.putAll(kms);
            lucene.remove("kms.local.dir");
            TestIndexes.register(luceneDir, lucene);
            String pgDlq = "pg-dlq-" + f.run;
            f.broker.createTopic(pgDlq, 1, Map.of());
            String table = "aws_" + f.run.replace('-', '_');
            Map<String, String> postgres = f.postgres(tmp.resolve("unused"), table, pgDlq);
            postgres.putAll(kms);
            postgres.remove("kms.local.dir");
            connect.putConnector("lucene-" + f.run, lucene);
            connect.putConnector("postgres-" + f.run, postgres);

            long deadline = System.nanoTime() + WAIT.toNanos();
            Map<String, List<String>> luceneDead = new TreeMap<>();
            Map<String, List<String>> pgDead = new TreeMap<>();
            while (System.nanoTime() < deadline) {
                luceneDead = reasons(f, f.connectDlq);
                pgDead = reasons(f, pgDlq);
                if (TestIndexes.count(luceneDir, healthy) == PER_TENANT
                        && SinkFixture.pgRows(table, healthy).size() == PER_TENANT
                        && count(luceneDead) == 2L * PER_TENANT
                        && count(pgDead) == 2L * PER_TENANT) {
                    break;
                }
                Thread.sleep(200);
            }
            System.out.printf(
                    "AWS KMS sinks: Lucene dead letters %s; PostgreSQL dead letters %s%n", luceneDead, pgDead);

            assertThat(TestIndexes.count(luceneDir, healthy)).isEqualTo(PER_TENANT);
            assertThat(SinkFixture.pgRows(table, healthy)).hasSize(PER_TENANT);
            assertThat(SinkFixture.pgRows(table, disabled)).isEmpty();
            assertThat(SinkFixture.pgRows(table, deleted)).isEmpty();
            // From the KMS alone both are refused and kept sealed for replay: a deletion AWS still waits on can be
            // cancelled, and nothing is deleted from the store on the KMS's word alone.
            for (Map<String, List<String>> dead : List.of(luceneDead, pgDead)) {
                assertThat(dead.get(disabled))
                        .hasSize(PER_TENANT)
                        .allSatisfy(
                                m -> assertThat(m).startsWith("TENANT_REVOKED").contains("KEY_REVOKED"));
                assertThat(dead.get(deleted))
                        .hasSize(PER_TENANT)
                        .allSatisfy(
                                m -> assertThat(m).startsWith("TENANT_REVOKED").contains("KEY_UNKNOWN"));
                assertThat(dead).doesNotContainKey(healthy);
            }

            // keys destroy on AWS: ScheduleKeyDeletion, then the signed DESTROYED. The sinks ask AWS, which refuses the
            // key pending deletion, so they shred the tenant at once, not when the waiting period ends.
            provider.destroy("tenant-" + healthy);
            f.keyEvent(healthy, KeyEventType.DESTROYED, new KekRef("aws", "tenant-" + healthy, 1));
            SinkFixture.await(
                    WAIT,
                    "shred receipts of " + healthy + " from the Lucene and the PostgreSQL sink",
                    () -> receipts(f, healthy).stream()
                                    .map(r -> r.get("sink"))
                                    .distinct()
                                    .count()
                            == 2,
                    () -> receipts(f, healthy));
            assertThat(SinkFixture.pgRows(table, healthy)).isEmpty();
            assertThat(Files.exists(io.embedseal.sinks.lucene.LuceneVectorStore.tenantDir(luceneDir, healthy)))
                    .isFalse();
            for (String name : List.of("lucene-" + f.run, "postgres-" + f.run)) {
                assertThat(connect.status(name).tasks())
                        .allSatisfy(t -> assertThat(t.state()).isEqualTo("RUNNING"));
            }
        }
    }

    /** Each dead-lettered record's reason (the start of the error Connect recorded), by tenant. */
    private static Map<String, List<String>> reasons(SinkFixture f, String topic) {
        Map<String, List<String>> out = new TreeMap<>();
        for (ConsumerRecord<byte[], byte[]> r : f.readAll(topic)) {
            String key = new String(r.key(), StandardCharsets.UTF_8);
            Header h = r.headers().lastHeader("__connect.errors.exception.message");
            String message = h == null ? "?" : new String(h.value(), StandardCharsets.UTF_8);
            out.computeIfAbsent(key.substring(0, key.indexOf('/')), k -> new ArrayList<>())
                    .add(message);
        }
        return out;
    }

    private static List<Map<String, Object>> receipts(SinkFixture f, String tenant) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : f.readAll(f.audit)) {
            try {
                @SuppressWarnings("unchecked")
                Map<String, Object> m =
                        new com.fasterxml.jackson.databind.ObjectMapper().readValue(r.value(), Map.class);
                if (ShredReceipts.KIND.equals(m.get("kind")) && tenant.equals(m.get("tenant"))) {
                    out.add(m);
                }
            } catch (java.io.IOException e) {
                throw new AssertionError(e);
            }
        }
        return out;
    }

    private static long count(Map<String, List<String>> dead) {
        return dead.values().stream().mapToLong(List::size).sum();
    }
}
