package io.embedseal.topology;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.control.KeyEventSignatures;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.InMemorySchemaRegistry;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pipeline fails closed when key events stop: with its broker gone it cannot prove it has every key event, so
 * within {@code key-events.max-staleness-seconds} it says why (records wait, {@code /health/ready} is DOWN), and it
 * is current again by itself once the broker is back. A broker of its own, so it can be stopped.
 */
class KeyEventFreshnessIntegrationTest {

    @TempDir
    Path tmp;

    @Test
    void aBrokerThatGoesAway_makesKeyEventsStale_untilItIsBack() throws Exception {
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(tmp.resolve("broker"), true);
        EmbeddedKafkaBroker again = null;
        try {
            TopicNames t = new TopicNames("raw", "sealed", "dlq", "events", "audit");
            for (String topic : new String[] {t.raw(), t.sealed(), t.dlq(), t.keyEvents(), t.audit()}) {
                broker.createTopic(topic, 1, Map.of());
            }
            new LocalKms(tmp.resolve("kms")).createKek("tenant-acme");
            try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(
                    Map.of("bootstrap.servers", broker.bootstrapServers()),
                    new ByteArraySerializer(),
                    new ByteArraySerializer())) {
                p.send(new ProducerRecord<>(
                                t.keyEvents(),
                                "acme".getBytes(StandardCharsets.UTF_8),
                                Fixtures.keyEvent("acme", KeyEventType.REGISTERED, 1, "local")))
                        .get();
            }
            Map<String, String> s = new HashMap<>();
            s.put("bootstrap.servers", broker.bootstrapServers());
            s.put("application.id", "freshness");
            s.put("state.dir", tmp.resolve("state").toString());
            s.put("topics.raw", t.raw());
            s.put("topics.sealed", t.sealed());
            s.put("topics.dlq", t.dlq());
            s.put("topics.key-events", t.keyEvents());
            s.put("topics.audit", t.audit());
            s.put("kms.provider", "local");
            s.put("kms.local.dir", tmp.resolve("kms").toString());
            s.put(
                    "kms.events.trusted-signers",
                    KeyEventSignatures.encode(Fixtures.OPERATOR.signer().publicKey()));
            s.put("key-events.max-staleness-seconds", "2");
            s.put("audit.enabled", "false");
            s.put("http.enabled", "false");
            InMemorySchemaRegistry registry = new InMemorySchemaRegistry();
            registry.register(t.raw() + "-value", EmbeddingEventCodec.CANONICAL_SCHEMA);
            try (EmbedsealPipeline pipeline = EmbedsealPipeline.create(PipelineConfig.of(s, n -> null), registry)) {
                pipeline.start();
                await("RUNNING", () -> pipeline.streams().state() == KafkaStreams.State.RUNNING);
                await("acme applied", () -> pipeline.directory().get("acme") != null);
                await("key events current", () -> pipeline.keyEventStaleness() == null);

                broker.stop();
                long cut = System.nanoTime();
                await("key events stale", () -> pipeline.keyEventStaleness() != null);
                System.out.printf(
                        "broker gone: the pipeline reported its key events stale after %d ms: %s%n",
                        (System.nanoTime() - cut) / 1_000_000, pipeline.keyEventStaleness());
                assertThat(pipeline.keyEventStaleness()).contains("key-events.max-staleness-seconds");

                again = broker.startAgain();
                long back = System.nanoTime();
                await("key events current again", () -> pipeline.keyEventStaleness() == null);
                System.out.printf(
                        "broker back: key events current again after %d ms%n", (System.nanoTime() - back) / 1_000_000);
            }
        } finally {
            if (again != null) {
                again.close();
            }
            broker.close();
        }
    }

    private static void await(String what, BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(100);
        }
    }
}
