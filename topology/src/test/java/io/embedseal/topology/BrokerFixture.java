package io.embedseal.topology;

import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.InMemorySchemaRegistry;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/** Topics of their own on the shared broker, a producer for raw records and key events, and read_committed reads. */
final class BrokerFixture implements AutoCloseable {

    final EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.shared();
    final String run = UUID.randomUUID().toString().substring(0, 8);
    final TopicNames topics =
            new TopicNames("raw-" + run, "sealed-" + run, "dlq-" + run, "events-" + run, "audit-" + run);
    final InMemorySchemaRegistry registry = new InMemorySchemaRegistry();
    final int schemaId;
    private final KafkaProducer<byte[], byte[]> producer;

    BrokerFixture(int partitions) {
        broker.createTopic(topics.raw(), partitions, Map.of());
        broker.createTopic(topics.sealed(), partitions, Map.of());
        broker.createTopic(topics.dlq(), 1, Map.of());
        broker.createTopic(topics.keyEvents(), 1, Map.of("cleanup.policy", "compact"));
        broker.createTopic(topics.audit(), 1, Map.of());
        schemaId = registry.register(topics.raw() + "-value", EmbeddingEventCodec.CANONICAL_SCHEMA);
        producer = new KafkaProducer<>(
                Map.of(
                        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                        broker.bootstrapServers(),
                        ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG,
                        true,
                        ProducerConfig.LINGER_MS_CONFIG,
                        1),
                new ByteArraySerializer(),
                new ByteArraySerializer());
    }

    java.util.Properties streams(String applicationId, Path stateDir) {
        Map<String, Object> overrides = new java.util.HashMap<>(StreamsSettings.allowingDependencyWait(
                Fixtures.fastOptions(false).maxDependencyWait()));
        overrides.put("commit.interval.ms", 100);
        overrides.put("num.stream.threads", 1);
        return StreamsSettings.properties(applicationId, broker.bootstrapServers(), stateDir, overrides);
    }

    void send(EmbeddingEvent e) {
        producer.send(new ProducerRecord<>(
                topics.raw(),
                (e.getTenantId() + "/" + e.getEmbeddingId()).getBytes(StandardCharsets.UTF_8),
                EmbeddingEventCodec.encodeWire(schemaId, e)));
    }

    /** Sends a raw record as it is (a poison pill, say). */
    void sendRaw(byte[] key, byte[] value) {
        producer.send(new ProducerRecord<>(topics.raw(), key, value));
    }

    /** Publishes a key event (KMS "local") and returns when the broker stored it, with its timestamp. */
    long keyEvent(String tenant, KeyEventType type, int version) throws Exception {
        return keyEvent(tenant, type, version, "local");
    }

    long keyEvent(String tenant, KeyEventType type, int version, String kms) throws Exception {
        RecordMetadata m = producer.send(new ProducerRecord<>(
                        topics.keyEvents(),
                        tenant.getBytes(StandardCharsets.UTF_8),
                        Fixtures.keyEvent(tenant, type, kms, version)))
                .get();
        return m.timestamp();
    }

    /** Publishes a REGISTERED, ROTATED or MIGRATED pinning a public KEK, and returns when the broker stored it. */
    long keyEvent(String tenant, KeyEventType type, io.embedseal.keyring.kms.PublicKek publicKek) throws Exception {
        RecordMetadata m = producer.send(new ProducerRecord<>(
                        topics.keyEvents(),
                        tenant.getBytes(StandardCharsets.UTF_8),
                        Fixtures.OPERATOR.next(tenant, type, publicKek)))
                .get();
        return m.timestamp();
    }

    void flush() {
        producer.flush();
    }

    /** Everything committed to a topic so far (read_committed), from the beginning. */
    List<ConsumerRecord<byte[], byte[]>> readAll(String topic) {
        return readUntil(topic, r -> false, Duration.ofMillis(700));
    }

    /** Reads a topic from the beginning until {@code done} holds for the records read or time runs out. */
    List<ConsumerRecord<byte[], byte[]>> readUntil(
            String topic, Predicate<List<ConsumerRecord<byte[], byte[]>>> done, Duration timeout) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(
                Map.of(
                        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                        broker.bootstrapServers(),
                        ConsumerConfig.ISOLATION_LEVEL_CONFIG,
                        "read_committed"),
                new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> parts = new ArrayList<>();
            for (PartitionInfo p : c.partitionsFor(topic)) {
                parts.add(new TopicPartition(topic, p.partition()));
            }
            c.assign(parts);
            c.seekToBeginning(parts);
            long deadline = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < deadline) {
                c.poll(Duration.ofMillis(100)).forEach(out::add);
                if (done.test(out)) {
                    break;
                }
            }
        }
        return out;
    }

    static String header(ConsumerRecord<byte[], byte[]> r, String key) {
        var h = r.headers().lastHeader(key);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    static String key(ConsumerRecord<byte[], byte[]> r) {
        return r.key() == null ? null : new String(r.key(), StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(5));
    }
}
