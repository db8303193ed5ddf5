package io.embedseal.sinks;

import io.embedseal.control.KeyEventAuthor;
import io.embedseal.control.KeyEventSignatures;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.sinks.lucene.LuceneSinkConfig;
import io.embedseal.sinks.lucene.LuceneSinkConnector;
import io.embedseal.sinks.postgres.PostgresSinkConfig;
import io.embedseal.sinks.postgres.PostgresSinkConnector;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.jspecify.annotations.Nullable;

/** Topics of a test's own on the shared broker, connector settings, and waiting for stores to fill. */
final class SinkFixture implements AutoCloseable {

    final EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.shared();
    final String run = UUID.randomUUID().toString().substring(0, 8);
    final String raw = "raw-" + run;
    final String sealedTopic = "sealed-" + run;
    final String dlq = "dlq-" + run;
    final String keyEvents = "events-" + run;
    final String audit = "audit-" + run;
    final String connectDlq = "connect-dlq-" + run;
    final int partitions;
    final KafkaProducer<byte[], byte[]> producer;

    SinkFixture(int partitions) {
        this.partitions = partitions;
        broker.createTopic(raw, partitions, Map.of());
        broker.createTopic(sealedTopic, partitions, Map.of());
        broker.createTopic(dlq, 1, Map.of());
        broker.createTopic(keyEvents, 1, Map.of("cleanup.policy", "compact"));
        broker.createTopic(audit, 1, Map.of());
        broker.createTopic(connectDlq, 1, Map.of());
        producer = new KafkaProducer<>(
                Map.of(
                        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                        broker.bootstrapServers(),
                        ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG,
                        true,
                        ProducerConfig.LINGER_MS_CONFIG,
                        2),
                new ByteArraySerializer(),
                new ByteArraySerializer());
    }

    /** The tests' operator: a development signing key; connectors pin its public key. */
    static final KeyEventAuthor OPERATOR = operator();

    private static KeyEventAuthor operator() {
        try {
            Path dir = Files.createTempDirectory("embedseal-sink-signing");
            return KeyEventAuthor.creatingKey(
                    new LocalKms(dir).signingKeys().orElseThrow(), "embedseal-operator-signing", "sink-test");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The tests' operator's public key, pinned in {@code kms.events.trusted-signers}. */
    static String operatorPublicKey() {
        return KeyEventSignatures.encode(OPERATOR.signer().publicKey());
    }

    /** Publishes a key event signed by the tests' operator and waits until the broker has it. */
    void keyEvent(String tenant, KeyEventType type, KekRef kek) throws Exception {
        publishKeyEvent(
                tenant, OPERATOR.next(tenant, type, kek.provider(), kek.keyName(), kek.version(), "test", null));
    }

    /** Publishes any record value (or a tombstone) on the key-event topic: what an attacker with write access can. */
    void publishKeyEvent(String tenant, byte[] value) throws Exception {
        producer.send(new ProducerRecord<>(keyEvents, tenant.getBytes(StandardCharsets.UTF_8), value))
                .get();
    }

    void sendSealed(String tenant, String id, byte[] envelope) {
        producer.send(
                new ProducerRecord<>(sealedTopic, (tenant + "/" + id).getBytes(StandardCharsets.UTF_8), envelope));
    }

    /**
     * A sealing pipeline's settings on this fixture's topics: a local KMS in {@code kmsDir}, the tests' operator
     * key pinned as the trusted signer of key events.
     */
    Map<String, String> pipeline(String applicationId, Path stateDir, Path kmsDir) {
        Map<String, String> p = new HashMap<>();
        p.put("bootstrap.servers", broker.bootstrapServers());
        p.put("application.id", applicationId);
        p.put("state.dir", stateDir.toString());
        p.put("topics.raw", raw);
        p.put("topics.sealed", sealedTopic);
        p.put("topics.dlq", dlq);
        p.put("topics.key-events", keyEvents);
        p.put("topics.audit", audit);
        p.put("kms.provider", "local");
        p.put("kms.local.dir", kmsDir.toString());
        p.put("kms.events.trusted-signers", operatorPublicKey());
        return p;
    }

    /** The settings every embedseal connector of this fixture gets. */
    Map<String, String> common(Path kmsDir, String connectDlqTopic) {
        Map<String, String> c = new HashMap<>();
        c.put("topics", sealedTopic);
        c.put("tasks.max", "1");
        c.put(EmbedsealSinkConfig.BOOTSTRAP_SERVERS, broker.bootstrapServers());
        c.put(EmbedsealSinkConfig.KEY_EVENTS_TOPIC, keyEvents);
        c.put(EmbedsealSinkConfig.AUDIT_TOPIC, audit);
        c.put("kms.provider", "local");
        c.put("kms.local.dir", kmsDir.toString());
        c.put(
                "kms.events.trusted-signers",
                KeyEventSignatures.encode(OPERATOR.signer().publicKey()));
        c.put("errors.tolerance", "all");
        c.put("errors.deadletterqueue.topic.name", connectDlqTopic);
        c.put("errors.deadletterqueue.topic.replication.factor", "1");
        c.put("errors.deadletterqueue.context.headers.enable", "true");
        return c;
    }

    Map<String, String> lucene(Path kmsDir, Path dir) {
        Map<String, String> c = common(kmsDir, connectDlq);
        c.put("connector.class", LuceneSinkConnector.class.getName());
        c.put(LuceneSinkConfig.DIR, dir.toString());
        TestIndexes.register(dir, c);
        return c;
    }

    /**
     * A Lucene connector's settings for a test that drives a task's {@code put} and {@code preCommit} itself and reads
     * the index after each: every {@code preCommit} commits the index.
     */
    Map<String, String> luceneCommittingEachTime(Path kmsDir, Path dir) {
        Map<String, String> c = lucene(kmsDir, dir);
        c.put(LuceneSinkConfig.COMMIT_INTERVAL_MS, "0");
        return c;
    }

    Map<String, String> postgres(Path kmsDir, String table, String dlqTopic) {
        Map<String, String> c = common(kmsDir, dlqTopic);
        c.put("connector.class", PostgresSinkConnector.class.getName());
        c.put(PostgresSinkConfig.URL, PostgresTestDatabase.URL);
        c.put(PostgresSinkConfig.USER, PostgresTestDatabase.USER);
        c.put(PostgresSinkConfig.PASSWORD, PostgresTestDatabase.PASSWORD);
        c.put(PostgresSinkConfig.TABLE, table);
        c.put("tasks.max", "2");
        return c;
    }

    /** Rows per embedding id of a tenant in a PostgreSQL table (a duplicate would show as 2). */
    static Map<String, Integer> pgRows(String table, String tenant) {
        Map<String, Integer> out = new HashMap<>();
        try (Connection c = PostgresTestDatabase.connect();
                PreparedStatement ps =
                        c.prepareStatement("SELECT embedding_id FROM " + table + " WHERE tenant = ? AND NOT deleted")) {
            ps.setString(1, tenant);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.merge(rs.getString(1), 1, Integer::sum);
                }
            }
        } catch (SQLException e) {
            if ("42P01".equals(e.getSQLState())) {
                return out; // the task has not created the table yet
            }
            throw new IllegalStateException(e);
        }
        return out;
    }

    /** The envelope stored for one record, or null. */
    static byte @Nullable [] pgEnvelope(String table, String tenant, String id) {
        try (Connection c = PostgresTestDatabase.connect();
                PreparedStatement ps = c.prepareStatement(
                        "SELECT envelope FROM " + table + " WHERE tenant = ? AND embedding_id = ?")) {
            ps.setString(1, tenant);
            ps.setString(2, id);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getBytes(1) : null;
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Everything in a topic now (read_committed). */
    List<ConsumerRecord<byte[], byte[]>> readAll(String topic) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(
                Map.of(
                        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                        broker.bootstrapServers(),
                        ConsumerConfig.ISOLATION_LEVEL_CONFIG,
                        "read_committed"),
                new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo p : consumer.partitionsFor(topic)) {
                tps.add(new TopicPartition(topic, p.partition()));
            }
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            Map<TopicPartition, Long> end = consumer.endOffsets(tps);
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (tps.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp)) && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(100)).forEach(out::add);
            }
        }
        return out;
    }

    /** Waits for a condition, failing with what was last seen. */
    static void await(Duration timeout, String what, BooleanSupplier done, Supplier<Object> seen) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(
                        "timed out after " + timeout + " waiting for " + what + "; last seen: " + seen.get());
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    static Set<String> ids(String prefix, int n) {
        Set<String> out = new HashSet<>();
        for (int i = 0; i < n; i++) {
            out.add(prefix + i);
        }
        return out;
    }

    @Override
    public void close() {
        producer.close();
    }
}
