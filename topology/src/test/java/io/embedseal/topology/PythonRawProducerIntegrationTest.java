package io.embedseal.topology;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.EmbeddingUnsealer;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.serdes.validation.EmbeddingValidator;
import io.embedseal.testkit.PythonClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Python producer's raw events (the Python client's validation, then Confluent's own {@code AvroSerializer}, Confluent
 * wire format) are sealed by the Java pipeline on a real broker, and a Java reader opens each to the vector Python made.
 * The schema id is 1 on both sides: the pipeline's in-memory registry and the Python serializer's mock registry hold the
 * same schema under it (the bytes a real registry round trip gives; the wire format itself is a shared test vector).
 */
class PythonRawProducerIntegrationTest {

    private static final int N = 25;
    private static final int DIMS = 24;

    @TempDir
    Path dir;

    @Test
    void rawEventsFromPython_areSealedByThePipeline_andOpenToPythonsVectors() throws Exception {
        assumeTrue(
                PythonClient.unavailableBecause().isEmpty(),
                () -> PythonClient.unavailableBecause().orElse(""));
        try (BrokerFixture fx = new BrokerFixture(2)) {
            assertThat(fx.schemaId).isEqualTo(1);
            EmbedsealTopology.Parts parts = Fixtures.parts(
                    fx.topics,
                    fx.registry,
                    new LocalKms(dir.resolve("kms")),
                    EmbeddingValidator.defaults(),
                    Fixtures.fastOptions(true),
                    new LocalKms(dir.resolve("kms")));
            try (KafkaStreams streams = new KafkaStreams(
                    EmbedsealTopology.topology(parts), fx.streams("py-" + fx.run, dir.resolve("state")))) {
                streams.start();
                List<String> out = PythonClient.run(
                        "raw",
                        "--bootstrap",
                        fx.broker.bootstrapServers(),
                        "--topic",
                        fx.topics.raw(),
                        "--tenant",
                        "acme",
                        "--count",
                        "" + N,
                        "--dims",
                        "" + DIMS,
                        "--schema-id",
                        "1");
                assertThat(out).containsExactly("{\"sent\": " + N + "}");
                List<ConsumerRecord<byte[], byte[]>> sealed =
                        fx.readUntil(fx.topics.sealed(), l -> l.size() >= N, Duration.ofSeconds(60));
                assertThat(sealed).hasSize(N);
                assertThat(fx.readAll(fx.topics.dlq())).isEmpty();
                EmbeddingUnsealer reader =
                        new EmbeddingUnsealer(new Sealer(Keyring.of(new LocalKms(dir.resolve("kms")))), null);
                for (ConsumerRecord<byte[], byte[]> r : sealed) {
                    EmbeddingEvent e = reader.unseal(r.key(), r.value()).event();
                    int i = Integer.parseInt(e.getEmbeddingId().substring("doc-".length()));
                    assertThat(new String(r.key(), StandardCharsets.UTF_8)).isEqualTo("acme/doc-" + i);
                    float[] want = PythonClient.vector(i, DIMS);
                    assertThat(e.getVector()).hasSize(DIMS);
                    for (int j = 0; j < DIMS; j++) {
                        assertThat(Float.floatToIntBits(e.getVector().get(j))).isEqualTo(Float.floatToIntBits(want[j]));
                    }
                    assertThat(e.getModel()).isEqualTo("crosslang");
                }
            }
        }
    }
}
