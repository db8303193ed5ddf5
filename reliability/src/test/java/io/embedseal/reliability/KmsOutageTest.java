package io.embedseal.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.kms.testsupport.OpenBao;
import io.embedseal.kms.testsupport.VaultFaultInjector;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.InMemorySchemaRegistry;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.topology.EmbedsealPipeline;
import io.embedseal.topology.PipelineConfig;
import io.embedseal.topology.PipelineHealth;
import io.embedseal.topology.TopicNames;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Item 3: the tenants' KMS (Vault Transit on a real OpenBao, behind a proxy) goes off the network for 30 s, connections refused,
 * while records keep arriving and DEKs keep rolling over (every 50 records), so sealing needs the KMS. Nothing may be
 * lost or dead-lettered, no plaintext may reach any topic, and the pipeline must resume by itself; the time it takes
 * to resume is measured.
 */
@Tag("reliability")
@Order(40)
class KmsOutageTest {

    static final int TENANTS = 5;
    static final int DIMS = 32;
    static final int RATE = 400; // records/s
    static final Duration BEFORE = Duration.ofSeconds(8);
    static final Duration OUTAGE = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void kmsOffTheNetworkFor30Seconds_nothingIsLostOrLeaked_andSealingResumesByItself() throws Exception {
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.shared();
        String bootstrap = broker.bootstrapServers();
        String prefix = "kmsout-" + UUID.randomUUID().toString().substring(0, 6) + "-";
        TopicNames topics = Suite.topics(broker, prefix, 2);
        InMemorySchemaRegistry registry = new InMemorySchemaRegistry();
        int schemaId = registry.register(topics.raw() + "-value", EmbeddingEventCodec.CANONICAL_SCHEMA);
        OpenBao.Namespace ns = OpenBao.namespace();
        String operatorToken = ns.token("embedseal-operator");
        String pipelineToken = ns.token("embedseal-pipeline");
        Suite.secret("Vault operator token", operatorToken);
        Suite.secret("Vault pipeline token", pipelineToken);

        // The real OpenBao keeps its keys; the proxy in front of it is what goes off the network.
        try (VaultFaultInjector vault = VaultFaultInjector.inFrontOf(ns.server());
                KafkaProducer<byte[], byte[]> producer = Suite.producer(bootstrap);
                Admin admin = Suite.admin(bootstrap)) {
            Map<String, String> vaultSettings = new java.util.HashMap<>(ns.settings());
            vaultSettings.put("kms.vault.address", vault.address());
            vaultSettings.put("kms.vault.connect-timeout-ms", "500");
            vaultSettings.put("kms.vault.read-timeout-ms", "1000");
            KmsProvider operator = KmsProviders.create(KeyringSettings.of(vaultSettings, n -> operatorToken));
            for (int t = 0; t < TENANTS; t++) {
                Suite.register(producer, topics, operator, Suite.tenant(t));
            }
            Map<String, String> settings = new java.util.HashMap<>(Suite.pipelineSettings(
                    bootstrap,
                    prefix + "app",
                    topics,
                    dir.resolve("state"),
                    "mock://unused",
                    dir.resolve("unused"),
                    Map.of("dek.max-records", "50")));
            settings.putAll(vaultSettings);
            PipelineConfig config = PipelineConfig.of(settings, n -> "VAULT_TOKEN".equals(n) ? pipelineToken : null);

            try (EmbedsealPipeline pipeline = EmbedsealPipeline.create(config, registry)) {
                pipeline.start();
                long total = (BEFORE.toSeconds() + OUTAGE.toSeconds()) * RATE;
                Set<String> ids = new HashSet<>();
                long start = System.nanoTime();
                long offlineAt = start + BEFORE.toNanos();
                long onlineAt = offlineAt + OUTAGE.toNanos();
                boolean offline = false;
                boolean online = false;
                long sealedAtOutageStart = -1;
                long degradedAfterMs = -1;
                for (long i = 0; i < total; i++) {
                    long due = start + i * 1_000_000_000L / RATE;
                    long now;
                    while ((now = System.nanoTime()) < due) {
                        Thread.sleep(1);
                    }
                    if (!offline && now >= offlineAt) {
                        producer.flush();
                        sealedAtOutageStart = Suite.written(admin, topics.sealed());
                        vault.goOffline();
                        offline = true;
                    }
                    if (offline
                            && degradedAfterMs < 0
                            && pipeline.health().status() == PipelineHealth.Status.DEGRADED) {
                        degradedAfterMs = (now - offlineAt) / 1_000_000;
                    }
                    if (!online && now >= onlineAt) {
                        online = true;
                        break;
                    }
                    EmbeddingEvent e = Suite.event(i, TENANTS, DIMS);
                    ids.add(e.getEmbeddingId());
                    producer.send(new ProducerRecord<>(topics.raw(), Suite.key(e), Suite.wire(schemaId, e)));
                    if (i % 97 == 0) {
                        Suite.VECTORS.add(e.getVector());
                    }
                }
                producer.flush();
                long producedDuringOutage = ids.size() - (long) (BEFORE.toSeconds() * RATE);
                long sealedDuringOutage = Suite.written(admin, topics.sealed()) - sealedAtOutageStart;
                assertThat(pipeline.health().problems())
                        .as("the pipeline reports the KMS as the problem")
                        .containsKey("KMS");

                vault.goOnline();
                long back = System.nanoTime();
                long before = Suite.written(admin, topics.sealed());
                Suite.await(
                        Duration.ofSeconds(60),
                        "sealing to resume",
                        () -> Suite.written(admin, topics.sealed()) > before);
                long resumedMs = (System.nanoTime() - back) / 1_000_000;
                Suite.awaitCommittedToEnd(bootstrap, prefix + "app", topics.raw(), Duration.ofSeconds(90));
                long caughtUpMs = (System.nanoTime() - back) / 1_000_000;
                Suite.await(
                        Duration.ofSeconds(30),
                        "the pipeline to report HEALTHY",
                        () -> pipeline.health().status() == PipelineHealth.Status.HEALTHY);

                List<ConsumerRecord<byte[], byte[]>> sealed = Suite.readCommitted(bootstrap, topics.sealed());
                Suite.ExactlyOnce result = Suite.exactlyOnce(sealed, ids);
                long plaintextInSealed = Suite.VECTORS.scanTopic(broker.logDir(), topics.sealed());
                long plaintextInDlq = Suite.VECTORS.scanTopic(broker.logDir(), topics.dlq());
                long plaintextInRaw = Suite.VECTORS.scanTopic(broker.logDir(), topics.raw()); // the control
                System.out.printf(
                        "KMS outage: %d s off the network; DEGRADED reported %d ms after; %d records produced during"
                                + " the outage, %d sealed during it; sealing resumed %d ms and the backlog was committed %d ms after"
                                + " the KMS came back; %s; plaintext windows found: raw (control) %d, sealed %d, DLQ %d%n",
                        OUTAGE.toSeconds(),
                        degradedAfterMs,
                        producedDuringOutage,
                        sealedDuringOutage,
                        resumedMs,
                        caughtUpMs,
                        result,
                        plaintextInRaw,
                        plaintextInSealed,
                        plaintextInDlq);

                assertThat(result.holds())
                        .as("every record sealed exactly once: %s", result)
                        .isTrue();
                assertThat(Suite.readCommitted(bootstrap, topics.dlq()))
                        .as("nothing dead-lettered by the outage")
                        .isEmpty();
                assertThat(sealedDuringOutage)
                        .as("records needing a new DEK waited during the outage")
                        .isLessThan(producedDuringOutage);
                assertThat(plaintextInRaw)
                        .as("the leak scanner finds plaintext where it is (control)")
                        .isPositive();
                assertThat(plaintextInSealed + plaintextInDlq)
                        .as("plaintext in the sealed or dead-letter topic")
                        .isZero();
                assertThat(resumedMs)
                        .as("resumes within the backoff ceiling and a KMS round trip")
                        .isLessThan(15_000);
                // The operator's token may not decrypt (deploy/vault/embedseal-operator.hcl): unwrap as the pipeline.
                try (KmsProvider reader = KmsProviders.create(KeyringSettings.of(vaultSettings, n -> pipelineToken))) {
                    Suite.rememberDek(reader, sealed.get(sealed.size() - 1).value());
                }
            }
        }
    }
}
