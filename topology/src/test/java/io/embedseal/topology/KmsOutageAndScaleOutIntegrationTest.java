package io.embedseal.topology;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.keyring.DekPolicy;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.kms.testsupport.OpenBao;
import io.embedseal.kms.testsupport.VaultFaultInjector;
import io.embedseal.openbao.dev.OpenBaoDevServer;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.validation.EmbeddingValidator;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.ThreadMetadata;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KmsOutageAndScaleOutIntegrationTest {

    @TempDir
    Path dir;

    @Test
    void kmsUnreachable_recordsWait_andEveryOneIsSealedExactlyOnceAfter() throws Exception {
        // A server of its own, to seal (a real 503) without disturbing other tests; a proxy in front counts requests.
        try (BrokerFixture fx = new BrokerFixture(2);
                OpenBaoDevServer bao = OpenBao.startOwn(false);
                VaultFaultInjector vault = VaultFaultInjector.inFrontOf(bao)) {
            OpenBao.Namespace ns = OpenBao.root(bao);
            Map<String, String> settings = new java.util.HashMap<>(ns.settings());
            settings.put("kms.vault.address", vault.address());
            settings.put("kms.vault.connect-timeout-ms", "500");
            settings.put("kms.vault.read-timeout-ms", "1000");
            String token = ns.token("embedseal-operator", "embedseal-pipeline");
            KmsProvider kms = KmsProviders.create(KeyringSettings.of(settings, n -> token));
            for (String t : List.of("acme", "globex", "initech")) {
                kms.createKek("tenant-" + t);
                fx.keyEvent(t, KeyEventType.REGISTERED, 1, "vault");
            }
            // 20 records per DEK: a tenant needs the KMS again every 20 records.
            EmbedsealTopology.Parts parts = Fixtures.parts(
                    fx.topics,
                    fx.registry,
                    kms,
                    EmbeddingValidator.defaults(),
                    Fixtures.fastOptions(false),
                    null,
                    DekPolicy.defaults().withMaxRecordsPerDek(20));
            try (KafkaStreams streams = new KafkaStreams(
                    EmbedsealTopology.topology(parts), fx.streams("outage-" + fx.run, dir.resolve("s")))) {
                streams.start();
                produce(fx, 0, 90);
                assertThat(fx.readUntil(fx.topics.sealed(), rs -> rs.size() >= 90, Duration.ofSeconds(60)))
                        .hasSize(90);

                bao.seal();
                int requestsAtOutage = vault.requestCount();
                long outageStart = System.nanoTime();
                produce(fx, 90, 240);
                while (parts.health().status() != PipelineHealth.Status.DEGRADED
                        && System.nanoTime() - outageStart < 10_000_000_000L) {
                    Thread.sleep(20);
                }
                assertThat(parts.health().problems()).containsKey("KMS");
                // The outage lasts until the pipeline has asked the sealed KMS again and again (records waiting,
                // retried
                // with backoff), not for a fixed time: 8 refused requests take a few seconds of backoff.
                long asked = System.nanoTime() + 60_000_000_000L;
                while (vault.requestCount() < requestsAtOutage + 8 && System.nanoTime() < asked) {
                    Thread.sleep(20);
                }
                assertThat(vault.requestCount() - requestsAtOutage)
                        .as("requests the sealed KMS refused")
                        .isGreaterThanOrEqualTo(8);
                long outageMillis = (System.nanoTime() - outageStart) / 1_000_000;
                int sealedDuringOutage = fx.readAll(fx.topics.sealed()).size();
                assertThat(sealedDuringOutage)
                        .as("records needing a new DEK wait")
                        .isLessThan(240);

                bao.unseal();
                long back = System.nanoTime();
                List<ConsumerRecord<byte[], byte[]>> sealed =
                        fx.readUntil(fx.topics.sealed(), rs -> rs.size() >= 240, Duration.ofSeconds(90));
                System.out.printf(
                        "KMS outage: %d of 240 sealed during the %d ms outage; all sealed %d ms after the KMS returned%n",
                        sealedDuringOutage, outageMillis, (System.nanoTime() - back) / 1_000_000);

                assertExactlyOnce(sealed, 240);
                assertThat(fx.readAll(fx.topics.dlq()))
                        .as("nothing dead-lettered by the outage")
                        .isEmpty();
                assertThat(parts.health().status()).isEqualTo(PipelineHealth.Status.HEALTHY);
            }
        }
    }

    @Test
    void twoInstancesSplitThePartitions_andEveryRecordIsSealedExactlyOnce() throws Exception {
        try (BrokerFixture fx = new BrokerFixture(4)) {
            LocalKms kms = new LocalKms(dir.resolve("kms"));
            for (String t : List.of("acme", "globex", "initech")) {
                kms.createKek("tenant-" + t);
                fx.keyEvent(t, KeyEventType.REGISTERED, 1);
            }
            String app = "scale-" + fx.run;
            EmbedsealTopology.Parts one = Fixtures.parts(
                    fx.topics, fx.registry, kms, EmbeddingValidator.defaults(), Fixtures.fastOptions(false), null);
            EmbedsealTopology.Parts two = Fixtures.parts(
                    fx.topics,
                    fx.registry,
                    new LocalKms(dir.resolve("kms")),
                    EmbeddingValidator.defaults(),
                    Fixtures.fastOptions(false),
                    null);
            try (KafkaStreams a = new KafkaStreams(EmbedsealTopology.topology(one), fx.streams(app, dir.resolve("a")));
                    KafkaStreams b =
                            new KafkaStreams(EmbedsealTopology.topology(two), fx.streams(app, dir.resolve("b")))) {
                a.start();
                b.start();
                long deadline = System.currentTimeMillis() + 60_000;
                while ((activeTasks(a) == 0 || activeTasks(b) == 0 || activeTasks(a) + activeTasks(b) != 4)
                        && System.currentTimeMillis() < deadline) {
                    Thread.sleep(50);
                }
                assertThat(activeTasks(a)).as("tasks on instance a").isPositive();
                assertThat(activeTasks(b)).as("tasks on instance b").isPositive();
                assertThat(activeTasks(a) + activeTasks(b)).isEqualTo(4);

                produce(fx, 0, 400);
                assertExactlyOnce(
                        fx.readUntil(fx.topics.sealed(), rs -> rs.size() >= 400, Duration.ofSeconds(60)), 400);
            }
        }
    }

    private static int activeTasks(KafkaStreams s) {
        return s.metadataForLocalThreads().stream()
                .mapToInt(t -> ((ThreadMetadata) t).activeTasks().size())
                .sum();
    }

    private static void produce(BrokerFixture fx, int from, int to) {
        String[] tenants = {"acme", "globex", "initech"};
        for (int i = from; i < to; i++) {
            fx.send(TestEvents.event(tenants[i % 3], "doc-" + i, 24, i));
        }
        fx.flush();
    }

    private static void assertExactlyOnce(List<ConsumerRecord<byte[], byte[]>> sealed, int expected) {
        Map<String, Integer> seen = new HashMap<>();
        sealed.forEach(r -> seen.merge(BrokerFixture.key(r), 1, Integer::sum));
        assertThat(sealed).hasSize(expected);
        assertThat(seen)
                .hasSize(expected)
                .allSatisfy((k, n) -> assertThat(n).as(k).isEqualTo(1));
    }
}
