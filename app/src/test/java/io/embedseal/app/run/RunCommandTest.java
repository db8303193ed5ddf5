package io.embedseal.app.run;

import static io.embedseal.app.CliRun.run;
import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.app.CliRun;
import io.embedseal.app.TestPipelineConfig;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.avro.EmbeddingEventSerializer;
import io.embedseal.serdes.avro.SchemaRegistries;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.topology.EmbedsealPipeline;
import io.embedseal.topology.PipelineConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunCommandTest {

    @TempDir
    Path dir;

    private Path config(String prefix, String extra) throws Exception {
        Path f = TestPipelineConfig.write(
                dir, EmbeddedKafkaBroker.shared().bootstrapServers(), prefix, "http.port=0", extra);
        return f;
    }

    @Test
    void aPipelineFromAConfigurationFile_sealsRegisteredTenants_withEnvironmentOverrides() throws Exception {
        String prefix = "cfg-" + UUID.randomUUID().toString().substring(0, 6) + "-";
        Path file = config(prefix, "application.id=will-be-overridden");
        PipelineConfig config =
                PipelineConfig.load(file, name -> name.equals("EMBEDSEAL_APPLICATION_ID") ? prefix + "app" : null);
        assertThat(config.applicationId()).isEqualTo(prefix + "app");

        try (EmbedsealPipeline pipeline = EmbedsealPipeline.create(config)) {
            pipeline.createTopicsIfConfigured();
            new LocalKms(dir.resolve("kms")).createKek("tenant-acme");
            try (KafkaProducer<String, byte[]> p = new KafkaProducer<>(
                    Map.of(
                            ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                            EmbeddedKafkaBroker.shared().bootstrapServers()),
                    new StringSerializer(),
                    new ByteArraySerializer())) {
                p.send(new ProducerRecord<>(
                                prefix + "events",
                                "acme",
                                io.embedseal.app.TestSigning.OPERATOR.next(
                                        "acme", KeyEventType.REGISTERED, "local", "tenant-acme", 1)))
                        .get();
                pipeline.start();
                EmbeddingEventSerializer serializer = new EmbeddingEventSerializer(SchemaRegistries.inMemory(prefix));
                for (int i = 0; i < 5; i++) {
                    EmbeddingEvent e = EmbeddingEvent.newBuilder()
                            .setTenantId("acme")
                            .setEmbeddingId("d" + i)
                            .setModel("m")
                            .setVector(List.of(1f, 2f, 3f))
                            .setMetadata(null)
                            .setEventTime(Instant.now())
                            .build();
                    p.send(new ProducerRecord<>(prefix + "raw", "acme/d" + i, serializer.serialize(prefix + "raw", e)));
                }
            }
            assertThat(readCommitted(prefix + "sealed", 5)).isEqualTo(5);
            assertThat(pipeline.directory().get("acme").isActive()).isTrue();
        }
    }

    @Test
    void runStartsAndStopsCleanly_creatingItsTopics() throws Exception {
        String prefix = "run-" + UUID.randomUUID().toString().substring(0, 6) + "-";

        CliRun r = run("run", "--config", config(prefix, "").toString(), "--run-for", "3");

        assertThat(r.code()).as(r.err()).isZero();
        assertThat(EmbeddedKafkaBroker.shared().admin().listTopics().names().get(10, TimeUnit.SECONDS))
                .contains(prefix + "raw", prefix + "sealed", prefix + "dlq", prefix + "events", prefix + "audit");
    }

    @Test
    void aBadSetting_isAUsageErrorNamingIt() throws Exception {
        CliRun r = run("run", "--config", config("bad-", "dek.max-records=many").toString(), "--run-for", "1");

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("dek.max-records must be a whole number from 1 to 4294967296, got 'many'");
    }

    @Test
    void aMissingFile_isAUsageError() {
        CliRun r = run("run", "--config", dir.resolve("nope.properties").toString());

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("cannot read the configuration file");
    }

    private static int readCommitted(String topic, int expected) {
        int n = 0;
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(
                Map.of(
                        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                        EmbeddedKafkaBroker.shared().bootstrapServers(),
                        ConsumerConfig.GROUP_ID_CONFIG,
                        "r-" + topic,
                        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG,
                        "earliest",
                        ConsumerConfig.ISOLATION_LEVEL_CONFIG,
                        "read_committed"),
                new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            c.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 60_000;
            while (n < expected && System.currentTimeMillis() < deadline) {
                n += c.poll(Duration.ofMillis(200)).count();
            }
        }
        return n;
    }
}
