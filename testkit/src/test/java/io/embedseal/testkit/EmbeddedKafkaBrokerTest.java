package io.embedseal.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

class EmbeddedKafkaBrokerTest {

    @Test
    void sharedBroker_supportsTransactions_andReadCommittedHidesAborts() {
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.shared();
        broker.createTopic("tx-test", 1, Map.of());

        try (KafkaProducer<String, String> producer = new KafkaProducer<>(
                Map.of(
                        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                        broker.bootstrapServers(),
                        ProducerConfig.TRANSACTIONAL_ID_CONFIG,
                        "tx-test-producer"),
                new StringSerializer(),
                new StringSerializer())) {
            producer.initTransactions();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>("tx-test", "k", "aborted"));
            producer.abortTransaction();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>("tx-test", "k", "committed"));
            producer.commitTransaction();
        }

        List<String> seen = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(
                Map.of(
                        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                        ConsumerConfig.GROUP_ID_CONFIG, "tx-test-reader",
                        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                        ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                new StringDeserializer(),
                new StringDeserializer())) {
            consumer.subscribe(List.of("tx-test"));
            long deadline = System.currentTimeMillis() + 30_000;
            while (seen.isEmpty() && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    seen.add(r.value());
                }
            }
        }

        assertThat(seen).containsExactly("committed");
        assertThat(EmbeddedKafkaBroker.shared()).isSameAs(broker);
        assertThat(broker.logDir().resolve("tx-test-0")).isDirectory();
    }

    @Test
    void aStoppedBroker_startsAgainOnItsLogDirectoryAndPort_withItsRecords() throws Exception {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("embedseal-restart-");
        EmbeddedKafkaBroker first = EmbeddedKafkaBroker.start(dir, true);
        String bootstrap = first.bootstrapServers();
        first.createTopic("kept", 1, Map.of());
        try (KafkaProducer<String, String> p = new KafkaProducer<>(
                Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap),
                new StringSerializer(),
                new StringSerializer())) {
            p.send(new ProducerRecord<>("kept", "k", "before the restart")).get();
        }
        first.stop();
        try (EmbeddedKafkaBroker again = first.startAgain()) {
            assertThat(again.bootstrapServers()).isEqualTo(bootstrap);
            try (KafkaConsumer<String, String> c = new KafkaConsumer<>(
                    Map.of(
                            ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                            bootstrap,
                            ConsumerConfig.AUTO_OFFSET_RESET_CONFIG,
                            "earliest",
                            ConsumerConfig.GROUP_ID_CONFIG,
                            "restart-check"),
                    new StringDeserializer(),
                    new StringDeserializer())) {
                c.subscribe(List.of("kept"));
                List<String> values = new ArrayList<>();
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (values.isEmpty() && System.nanoTime() < deadline) {
                    c.poll(Duration.ofMillis(200)).forEach(r -> values.add(r.value()));
                }
                assertThat(values).containsExactly("before the restart");
            }
        }
        assertThat(dir).doesNotExist(); // closing the restarted broker deletes the directory it took over
    }
}
