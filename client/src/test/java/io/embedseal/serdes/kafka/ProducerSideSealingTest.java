package io.embedseal.serdes.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.EmbeddingUnsealer;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.UnsealedEmbedding;
import io.embedseal.serdes.envelope.EnvelopeException;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.testkit.VectorLeakScanner;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.RecordDeserializationException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A plain KafkaProducer seals on the client, configured by properties only; no plaintext vector reaches the broker. */
class ProducerSideSealingTest {

    @TempDir
    Path dir;

    private static EmbeddingEvent event(String tenant, int i, Random random) {
        List<Float> v = new ArrayList<>();
        for (int d = 0; d < 64; d++) {
            v.add(random.nextFloat() - 0.5f);
        }
        return EmbeddingEvent.newBuilder()
                .setTenantId(tenant)
                .setEmbeddingId("doc-" + i)
                .setModel("m")
                .setVector(v)
                .setMetadata(Map.of("lang", "en"))
                .setEventTime(Instant.ofEpochMilli(i))
                .build();
    }

    @Test
    void sealedOnTheProducer_openedOnTheConsumer_andNoPlaintextOnTheBroker() {
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.shared();
        String topic = "sealed-by-producer-" + UUID.randomUUID().toString().substring(0, 8);
        broker.createTopic(topic, 2, Map.of());
        Map<String, Object> kms =
                Map.of("kms.provider", "local", "kms.local.dir", dir.toString(), "kms.create-missing-keys", "true");

        Map<String, Object> producerProps = new HashMap<>(kms);
        producerProps.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        producerProps.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        producerProps.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, SealingSerializer.class.getName());
        Map<String, EmbeddingEvent> sent = new HashMap<>();
        VectorLeakScanner scanner = new VectorLeakScanner();
        Random random = new Random(7);
        try (KafkaProducer<byte[], EmbeddingEvent> producer = new KafkaProducer<>(producerProps)) {
            for (int i = 0; i < 50; i++) {
                EmbeddingEvent e = event(i % 2 == 0 ? "acme" : "globex", i, random);
                sent.put(e.getTenantId() + "/" + e.getEmbeddingId(), e);
                scanner.add(e.getVector());
                producer.send(new ProducerRecord<>(
                        topic, new SealedRecordKey(e.getTenantId(), e.getEmbeddingId()).toBytes(), e));
            }
            EmbeddingEvent bad = EmbeddingEvent.newBuilder(event("acme", 999, random))
                    .setVector(List.of(1f, Float.NaN, 2f))
                    .build();
            assertThatThrownBy(() -> producer.send(new ProducerRecord<>(topic, "acme/doc-999".getBytes(), bad)))
                    .isInstanceOf(SerializationException.class)
                    .hasMessageContaining("NON_FINITE_VALUE")
                    .hasMessageContaining("vector[1]");
        }

        Map<String, Object> consumerProps = new HashMap<>(kms);
        consumerProps.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        consumerProps.put(ConsumerConfig.GROUP_ID_CONFIG, "reader-" + topic);
        consumerProps.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        consumerProps.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        consumerProps.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, UnsealingDeserializer.class.getName());
        Map<String, UnsealedEmbedding> read = new HashMap<>();
        try (KafkaConsumer<byte[], UnsealedEmbedding> consumer = new KafkaConsumer<>(consumerProps)) {
            consumer.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 30_000;
            while (read.size() < 50 && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], UnsealedEmbedding> r : consumer.poll(Duration.ofMillis(200))) {
                    assertThat(r.value().key()).isEqualTo(SealedRecordKey.parse(r.key()));
                    read.put(r.value().key().toString(), r.value());
                }
            }
        }
        assertThat(read).hasSize(50);
        read.forEach((k, u) -> assertThat(u.event()).isEqualTo(sent.get(k)));
        assertThat(read.get("acme/doc-0").header().kek()).hasToString("local:tenant-acme:1");
        assertThat(read.get("acme/doc-0").toString())
                .contains("redacted")
                .doesNotContain(sent.get("acme/doc-0").getVector().get(0).toString());

        assertThat(scanner.scanTopic(broker.logDir(), topic))
                .as("plaintext vector bytes on the broker's disk")
                .isZero();
    }

    /**
     * A producer that seals with the tenant's public key alone: its configuration names a file of pinned public KEKs
     * and no KMS at all, so it holds no credential; a tenant not in the file is refused at send, never sent in clear.
     * The consumer side opens through the KMS that holds the private key.
     */
    @Test
    void aProducerWithOnlyPublicKeys_seals_andHoldsNoKms() throws Exception {
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.shared();
        String topic = "public-key-producer-" + UUID.randomUUID().toString().substring(0, 8);
        broker.createTopic(topic, 1, Map.of());
        LocalKms tenantsKms = new LocalKms(dir.resolve("tenants-kms"));
        tenantsKms.createKek("tenant-acme", io.embedseal.keyring.kms.KekKind.PUBLIC_KEY);
        Path pinned = dir.resolve("public-keks.properties");
        java.nio.file.Files.writeString(
                pinned,
                "acme="
                        + io.embedseal.keyring.PinnedPublicKeks.value(
                                java.util.Objects.requireNonNull(tenantsKms.publicKek("tenant-acme", 1)))
                        + "\n");

        Map<String, Object> producerProps = new HashMap<>();
        producerProps.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        producerProps.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        producerProps.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, SealingSerializer.class.getName());
        producerProps.put("embedseal.public-keks.file", pinned.toString()); // and no kms.* setting at all
        Random random = new Random(11);
        EmbeddingEvent e = event("acme", 1, random);
        try (KafkaProducer<byte[], EmbeddingEvent> producer = new KafkaProducer<>(producerProps)) {
            producer.send(new ProducerRecord<>(topic, new SealedRecordKey("acme", e.getEmbeddingId()).toBytes(), e))
                    .get();
            EmbeddingEvent other = event("globex", 2, random);
            assertThatThrownBy(() -> producer.send(new ProducerRecord<>(
                            topic, new SealedRecordKey("globex", other.getEmbeddingId()).toBytes(), other)))
                    .isInstanceOf(SerializationException.class)
                    .hasMessageContaining("no KMS is configured here");
        }
        byte[] value;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(
                Map.of(
                        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                        broker.bootstrapServers(),
                        ConsumerConfig.GROUP_ID_CONFIG,
                        "reader-" + topic,
                        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG,
                        "earliest"),
                new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic));
            List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 30_000;
            while (got.isEmpty() && System.currentTimeMillis() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(got::add);
            }
            assertThat(got).hasSize(1);
            value = got.get(0).value();
        }
        try (Keyring sink = Keyring.of(tenantsKms)) {
            UnsealedEmbedding u = new EmbeddingUnsealer(new Sealer(sink), null)
                    .unseal(new SealedRecordKey("acme", e.getEmbeddingId()).toBytes(), value);
            assertThat(u.event()).isEqualTo(e);
            assertThat(u.header().kek()).hasToString("local:tenant-acme:1");
        }
    }

    @Test
    void aReaderForOneTenant_refusesAnotherTenantsRecord_withATypedError() {
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.shared();
        String topic = "one-tenant-" + UUID.randomUUID().toString().substring(0, 8);
        broker.createTopic(topic, 1, Map.of());
        Keyring keyring = Keyring.builder(new LocalKms(dir))
                .createMissingKeys(new LocalKms(dir)::createKek)
                .build();
        try (KafkaProducer<byte[], EmbeddingEvent> producer = new KafkaProducer<>(
                Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()),
                new ByteArraySerializer(),
                new SealingSerializer(keyring))) {
            producer.send(new ProducerRecord<>(topic, "globex/doc-1".getBytes(), event("globex", 1, new Random(1))));
        }
        Map<String, Object> props = new HashMap<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                broker.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG,
                "only-acme-" + topic,
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG,
                "earliest"));
        try (KafkaConsumer<byte[], UnsealedEmbedding> consumer = new KafkaConsumer<>(
                props, new ByteArrayDeserializer(), new UnsealingDeserializer(Keyring.of(new LocalKms(dir)), "acme"))) {
            consumer.subscribe(List.of(topic));
            RecordDeserializationException failure = null;
            long deadline = System.currentTimeMillis() + 30_000;
            while (failure == null && System.currentTimeMillis() < deadline) {
                try {
                    consumer.poll(Duration.ofMillis(200));
                } catch (RecordDeserializationException e) {
                    failure = e;
                }
            }
            assertThat(failure).isNotNull();
            assertThat(failure.offset()).isZero();
            assertThat(failure.getCause())
                    .isInstanceOfSatisfying(
                            EnvelopeException.class,
                            e -> assertThat(e.reason()).isEqualTo(EnvelopeException.Reason.WRONG_BINDING));
        }
    }

    @Test
    void theRecordLevelUnsealer_checksTheKey() {
        Keyring keyring = Keyring.builder(new LocalKms(dir))
                .createMissingKeys(new LocalKms(dir)::createKek)
                .build();
        byte[] value = new SealingSerializer(keyring).serialize("t", event("acme", 1, new Random(1)));
        EmbeddingUnsealer unsealer = new EmbeddingUnsealer(new Sealer(Keyring.of(new LocalKms(dir))), null);

        assertThat(unsealer.unseal("acme/doc-1".getBytes(), value).embeddingId())
                .isEqualTo("doc-1");
        assertThatThrownBy(() -> unsealer.unseal("acme/doc-2".getBytes(), value))
                .isInstanceOfSatisfying(
                        EnvelopeException.class,
                        e -> assertThat(e.reason()).isEqualTo(EnvelopeException.Reason.WRONG_BINDING));
        assertThatThrownBy(() -> unsealer.unseal(null, value))
                .isInstanceOfSatisfying(
                        EnvelopeException.class,
                        e -> assertThat(e.reason()).isEqualTo(EnvelopeException.Reason.WRONG_BINDING));
    }

    @Test
    void misconfiguration_isAConfigExceptionNamingTheSetting() {
        assertThatThrownBy(() -> new SealingSerializer().configure(Map.of("kms.provider", "azure"), false))
                .isInstanceOf(org.apache.kafka.common.config.ConfigException.class)
                .hasMessageContaining("kms.provider");
        assertThatThrownBy(() -> new SealingSerializer().configure(Map.of(), true))
                .hasMessageContaining("value.serializer");
    }
}
