package io.embedseal.topology;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.EmbeddingEventSerializer;
import io.embedseal.serdes.avro.InMemorySchemaRegistry;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.serdes.validation.EmbeddingValidator;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.testkit.VectorLeakScanner;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The whole slice on a real broker: exactly-once Streams, read_committed readers, bytes on disk. */
class SealingPipelineIntegrationTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(90);

    @TempDir
    Path dir;

    @Test
    void everyValidRecordIsSealedExactlyOnce_invalidOnesAreDeadLettered_andNoVectorReachesDisk() throws Exception {
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.shared();
        String run = UUID.randomUUID().toString().substring(0, 8);
        TopicNames topics =
                new TopicNames("raw-" + run, "sealed-" + run, "dlq-" + run, "events-" + run, "audit-" + run);
        broker.createTopic(topics.keyEvents(), 1, Map.of("cleanup.policy", "compact"));
        broker.createTopic(topics.raw(), 3, Map.of());
        broker.createTopic(topics.sealed(), 3, Map.of());
        broker.createTopic(topics.dlq(), 1, Map.of());

        InMemorySchemaRegistry registry = new InMemorySchemaRegistry();
        Path kms = dir.resolve("kms");
        EmbedsealTopology.Parts parts = Fixtures.parts(
                topics,
                registry,
                new LocalKms(kms),
                EmbeddingValidator.defaults(),
                Fixtures.fastOptions(true),
                new LocalKms(kms));

        Map<String, EmbeddingEvent> produced = new HashMap<>();
        VectorLeakScanner scanner = new VectorLeakScanner();
        try (KafkaStreams streams = new KafkaStreams(
                EmbedsealTopology.topology(parts),
                StreamsSettings.properties("it-" + run, broker.bootstrapServers(), dir.resolve("state"), Map.of()))) {
            streams.start();

            EmbeddingEventSerializer serializer = new EmbeddingEventSerializer(registry);
            try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(
                    Map.of(
                            ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                            broker.bootstrapServers(),
                            ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG,
                            true),
                    new ByteArraySerializer(),
                    new ByteArraySerializer())) {
                for (String tenant : List.of("acme", "globex")) {
                    for (int i = 0; i < 150; i++) {
                        EmbeddingEvent e = TestEvents.event(tenant, "doc-" + i, 64, tenant.hashCode() * 1000L + i);
                        produced.put(tenant + "/doc-" + i, e);
                        scanner.add(e.getVector());
                        producer.send(new ProducerRecord<>(
                                topics.raw(), utf8(tenant + "/doc-" + i), serializer.serialize(topics.raw(), e)));
                    }
                }
                EmbeddingEvent bad = TestEvents.event("acme", "bad-1", 64, 77);
                List<Float> nan = new ArrayList<>(bad.getVector());
                nan.set(3, Float.NaN);
                scanner.add(bad.getVector());
                producer.send(new ProducerRecord<>(
                        topics.raw(),
                        utf8("bad-1"),
                        serializer.serialize(topics.raw(), TestEvents.withVector(bad, nan))));
                producer.send(
                        new ProducerRecord<>(topics.raw(), utf8("bad-2"), "garbage".getBytes(StandardCharsets.UTF_8)));
            }

            List<ConsumerRecord<byte[], byte[]>> sealed = readCommitted(broker, topics.sealed(), produced.size());
            List<ConsumerRecord<byte[], byte[]>> dead = readCommitted(broker, topics.dlq(), 2);

            assertThat(sealed).hasSize(produced.size());
            assertThat(dead).hasSize(2);
            Sealer reader = new Sealer(Keyring.of(new LocalKms(kms)));
            Map<String, Integer> seen = new HashMap<>();
            for (ConsumerRecord<byte[], byte[]> r : sealed) {
                SealedRecordKey key = SealedRecordKey.parse(r.key());
                seen.merge(key.toString(), 1, Integer::sum);
                EmbeddingEvent opened = EmbeddingEventCodec.fromCanonicalAvro(
                        reader.unseal(r.value(), key.tenantId(), key.embeddingId())
                                .plaintext());
                assertThat(opened).isEqualTo(produced.get(key.toString()));
            }
            assertThat(seen)
                    .hasSize(produced.size())
                    .allSatisfy((k, n) -> assertThat(n).as(k).isEqualTo(1));
            assertThat(dead)
                    .extracting(r -> new String(
                            r.headers().lastHeader(DeadLetters.REASON_HEADER).value(), StandardCharsets.UTF_8))
                    .containsExactlyInAnyOrder("NON_FINITE_VALUE", "WRONG_MAGIC_BYTE");
        }

        assertThat(scanner.scanTopic(broker.logDir(), topics.raw()))
                .as("control: plaintext is found on the raw topic")
                .isPositive();
        assertThat(scanner.scanTopic(broker.logDir(), topics.sealed()))
                .as("vector bytes in sealed segments")
                .isZero();
        assertThat(scanner.scanTopic(broker.logDir(), topics.dlq()))
                .as("vector bytes in dead-letter segments")
                .isZero();
    }

    private static List<ConsumerRecord<byte[], byte[]>> readCommitted(
            EmbeddedKafkaBroker broker, String topic, int expected) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(
                Map.of(
                        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                        broker.bootstrapServers(),
                        ConsumerConfig.GROUP_ID_CONFIG,
                        "reader-" + UUID.randomUUID(),
                        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG,
                        "earliest",
                        ConsumerConfig.ISOLATION_LEVEL_CONFIG,
                        "read_committed"),
                new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (out.size() < expected && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(out::add);
            }
            // One more short poll: anything beyond the expected count would be a duplicate.
            consumer.poll(Duration.ofMillis(500)).forEach(out::add);
        }
        return out;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
