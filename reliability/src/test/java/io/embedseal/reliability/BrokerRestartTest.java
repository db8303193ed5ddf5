package io.embedseal.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.InMemorySchemaRegistry;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.topology.EmbedsealPipeline;
import io.embedseal.topology.PipelineConfig;
import io.embedseal.topology.TopicNames;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Item 2: the broker (in-process, a broker of its own for this test) is stopped mid-stream and started again on the
 * same log directory and port while 100,000 embeddings flow; the pipeline and the producer ride it out. A
 * read_committed consumer must then find every embedding id exactly once.
 */
@Tag("reliability")
@Order(35)
class BrokerRestartTest {

    static final int RECORDS = 100_000;
    static final int TENANTS = 10;
    static final int DIMS = 32;
    static final int RATE = 5_000;
    static final Duration DOWN = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    @Test
    void brokerStoppedAndStartedMidStream_everyEmbeddingIsSealedExactlyOnce() throws Exception {
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"), true);
        try {
            String bootstrap = broker.bootstrapServers();
            String prefix = "restart-";
            TopicNames topics = Suite.topics(broker, prefix, 4);
            InMemorySchemaRegistry registry = new InMemorySchemaRegistry();
            int schemaId = registry.register(topics.raw() + "-value", EmbeddingEventCodec.CANONICAL_SCHEMA);
            PipelineConfig config = PipelineConfig.of(
                    Suite.pipelineSettings(
                            bootstrap,
                            prefix + "app",
                            topics,
                            dir.resolve("state"),
                            "mock://unused",
                            dir.resolve("kms"),
                            Map.of("streams.num.stream.threads", "2")),
                    n -> null);
            Set<String> ids = new HashSet<>();
            for (int i = 0; i < RECORDS; i++) {
                ids.add(Suite.id(i));
            }
            try (LocalKms kms = new LocalKms(dir.resolve("kms"));
                    KafkaProducer<byte[], byte[]> producer = Suite.producer(bootstrap);
                    EmbedsealPipeline pipeline = EmbedsealPipeline.create(config, registry)) {
                for (int t = 0; t < TENANTS; t++) {
                    Suite.register(producer, topics, kms, Suite.tenant(t));
                }
                pipeline.start();
                Suite.Feeder feeder = Suite.feed(producer, topics.raw(), schemaId, RECORDS, TENANTS, DIMS, RATE);

                // Stop the broker once a third of the records are sealed.
                try (Admin admin = Suite.admin(bootstrap)) {
                    Suite.await(Duration.ofSeconds(120), "a third of the records to be sealed", () -> {
                        try {
                            return Suite.written(admin, topics.sealed()) > RECORDS / 3;
                        } catch (IllegalStateException notYet) {
                            return false;
                        }
                    });
                }
                long stoppedAt = System.nanoTime();
                broker.stop();
                Thread.sleep(DOWN.toMillis());
                broker = broker.startAgain();
                long downMs = (System.nanoTime() - stoppedAt) / 1_000_000;

                feeder.finish(Duration.ofMinutes(5)); // the producer rode out the restart
                long back = System.nanoTime();
                Suite.awaitCommittedToEnd(bootstrap, prefix + "app", topics.raw(), Duration.ofMinutes(4));
                try (Admin admin = Suite.admin(bootstrap)) {
                    Suite.awaitNoOpenTransactions(admin, topics.sealed(), Duration.ofMinutes(4));
                }
                long settledMs = (System.nanoTime() - back) / 1_000_000;

                List<ConsumerRecord<byte[], byte[]>> sealed = Suite.readCommitted(bootstrap, topics.sealed());
                int written = Suite.read(bootstrap, topics.sealed(), IsolationLevel.READ_UNCOMMITTED)
                        .size();
                Suite.ExactlyOnce result = Suite.exactlyOnce(sealed, ids);
                System.out.printf(
                        "broker restart: down %d ms; %s; %d records written to the sealed topic (%d in aborted"
                                + " transactions); input committed and every transaction ended %d ms after the feeder finished;"
                                + " pipeline %s%n",
                        downMs,
                        result,
                        written,
                        written - sealed.size(),
                        settledMs,
                        pipeline.streams().state());
                Suite.rememberLocalKeks(dir.resolve("kms"));
                assertThat(result.holds())
                        .as("exactly once across a broker restart: %s", result)
                        .isTrue();
                assertThat(Suite.readCommitted(bootstrap, topics.dlq()))
                        .as("nothing dead-lettered")
                        .isEmpty();
                assertThat(pipeline.streams().state()).isEqualTo(KafkaStreams.State.RUNNING);
            }
        } finally {
            broker.close();
        }
    }
}
