package io.embedseal.topology;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.InMemorySchemaRegistry;
import io.embedseal.serdes.validation.EmbeddingValidator;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.testkit.VectorLeakScanner;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kcat (librdkafka), a client nobody here wrote, produces every raw record, valid and malformed, and reads the
 * dead-letter and sealed topics back: the reasons must be right and the sealed bytes must hold no vector.
 */
@DisplayName("independent client check with kcat (librdkafka)")
class KcatIndependentClientTest {

    private static final int VALID = 20;

    @TempDir
    Path dir;

    @BeforeAll
    static void requireKcat() {
        boolean present;
        try {
            present = new ProcessBuilder("kcat", "-V")
                            .redirectErrorStream(true)
                            .start()
                            .waitFor()
                    == 0;
        } catch (IOException e) {
            present = false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            present = false;
        }
        if (!present) {
            String message = "needs kcat, an independent Kafka client (apt-get install kcat)";
            if ("1".equals(System.getenv("EMBEDSEAL_REQUIRE_KCAT"))) {
                Assertions.fail(message + "; EMBEDSEAL_REQUIRE_KCAT=1 makes this a failure");
            }
            Assumptions.abort(message);
        }
    }

    @Test
    void malformedRecordsFromKcat_areDeadLetteredWithTheirReasons_andSealedBytesHoldNoVector() throws Exception {
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.shared();
        String run = UUID.randomUUID().toString().substring(0, 8);
        TopicNames topics = new TopicNames(
                "kcat-raw-" + run, "kcat-sealed-" + run, "kcat-dlq-" + run, "events-" + run, "audit-" + run);
        broker.createTopic(topics.keyEvents(), 1, Map.of("cleanup.policy", "compact"));
        broker.createTopic(topics.raw(), 2, Map.of());
        broker.createTopic(topics.sealed(), 2, Map.of());
        broker.createTopic(topics.dlq(), 1, Map.of());
        InMemorySchemaRegistry registry = new InMemorySchemaRegistry();
        int schemaId = registry.register(topics.raw() + "-value", EmbeddingEventCodec.CANONICAL_SCHEMA);
        EmbedsealTopology.Parts parts = Fixtures.parts(
                topics,
                registry,
                new LocalKms(dir.resolve("kms")),
                EmbeddingValidator.defaults(),
                Fixtures.fastOptions(true),
                new LocalKms(dir.resolve("kms")));

        VectorLeakScanner scanner = new VectorLeakScanner();
        try (KafkaStreams streams = new KafkaStreams(
                EmbedsealTopology.topology(parts),
                StreamsSettings.properties("kcat-" + run, broker.bootstrapServers(), dir.resolve("state"), Map.of()))) {
            streams.start();

            for (int i = 0; i < VALID; i++) {
                EmbeddingEvent e = TestEvents.event("acme", "doc-" + i, 96, 1000 + i);
                scanner.add(e.getVector());
                kcatProduce(broker, topics.raw(), "acme/doc-" + i, EmbeddingEventCodec.encodeWire(schemaId, e));
            }
            byte[] random = new byte[700];
            new Random(3).nextBytes(random);
            random[0] = 0x7b;
            kcatProduce(broker, topics.raw(), "bad-random", random);
            EmbeddingEvent victim = TestEvents.event("acme", "doc-x", 96, 77);
            scanner.add(victim.getVector());
            byte[] wrongMagic = EmbeddingEventCodec.encodeWire(schemaId, victim);
            wrongMagic[0] = 1;
            kcatProduce(broker, topics.raw(), "bad-magic", wrongMagic);
            byte[] full = EmbeddingEventCodec.encodeWire(schemaId, victim);
            kcatProduce(broker, topics.raw(), "bad-truncated", Arrays.copyOf(full, full.length - 40));

            List<String> deadLetters = awaitLines(broker, topics.dlq(), "%k\t%h\n", 3);
            assertThat(deadLetters).hasSize(3);
            assertThat(deadLetters)
                    .anySatisfy(l ->
                            assertThat(l).startsWith("bad-random\t").contains("embedseal.dlq.reason=WRONG_MAGIC_BYTE"));
            assertThat(deadLetters)
                    .anySatisfy(l ->
                            assertThat(l).startsWith("bad-magic\t").contains("embedseal.dlq.reason=WRONG_MAGIC_BYTE"));
            assertThat(deadLetters)
                    .anySatisfy(l ->
                            assertThat(l).startsWith("bad-truncated\t").contains("embedseal.dlq.reason=UNDECODABLE"));

            List<String> sealedKeys = awaitLines(broker, topics.sealed(), "%k\n", VALID);
            assertThat(sealedKeys).hasSize(VALID).allMatch(k -> k.startsWith("acme/doc-"));
        }

        byte[] sealedValues = kcatConsume(broker, topics.sealed(), "%s");
        byte[] deadValues = kcatConsume(broker, topics.dlq(), "%s");
        byte[] rawValues = kcatConsume(broker, topics.raw(), "%s");
        assertThat(sealedValues.length).as("sealed bytes read by kcat").isGreaterThan(VALID * 96 * 4);
        assertThat(scanner.scan(rawValues))
                .as("control: kcat reads the vectors from the raw topic")
                .isPositive();
        assertThat(scanner.scan(sealedValues))
                .as("vector bytes in the sealed values kcat read")
                .isZero();
        assertThat(scanner.scan(deadValues))
                .as("vector bytes in the dead letters kcat read")
                .isZero();
    }

    private void kcatProduce(EmbeddedKafkaBroker broker, String topic, String key, byte[] value) throws Exception {
        Path file = Files.createTempFile(dir, "msg-", ".bin");
        Files.write(file, value);
        run(List.of("kcat", "-P", "-b", broker.bootstrapServers(), "-t", topic, "-k", key, file.toString()));
    }

    private static byte[] kcatConsume(EmbeddedKafkaBroker broker, String topic, String format) throws Exception {
        return run(List.of(
                "kcat",
                "-C",
                "-b",
                broker.bootstrapServers(),
                "-t",
                topic,
                "-o",
                "beginning",
                "-e",
                "-q",
                "-X",
                "isolation.level=read_committed",
                "-f",
                format));
    }

    private static List<String> awaitLines(EmbeddedKafkaBroker broker, String topic, String format, int expected)
            throws Exception {
        long deadline = System.currentTimeMillis() + 60_000;
        List<String> lines = List.of();
        while (System.currentTimeMillis() < deadline) {
            String out = new String(kcatConsume(broker, topic, format), StandardCharsets.UTF_8);
            lines = new ArrayList<>(out.lines().filter(l -> !l.isBlank()).toList());
            if (lines.size() >= expected) {
                return lines;
            }
            Thread.sleep(300);
        }
        return lines;
    }

    private static byte[] run(List<String> command) throws Exception {
        Process p = new ProcessBuilder(command)
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed (" + p.exitValue() + ")");
        }
        return out;
    }
}
