package io.embedseal.app;

import io.embedseal.keyring.kms.KekRef;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.avro.EmbeddingEventSerializer;
import io.embedseal.serdes.avro.SchemaRegistries;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * What a test feeds a pipeline whose topics share a prefix: raw embedding events as a producer sends them (Avro in
 * the Confluent wire format, the in-memory registry named after the prefix) and key events as the operator publishes
 * them. Ids are {@code e-0}, {@code e-1}, ...
 */
public final class TestTraffic implements AutoCloseable {

    private final KafkaProducer<String, byte[]> producer;
    private final EmbeddingEventSerializer serializer;
    private final String prefix;
    private final List<Float> vector;
    private int sent;

    /** @param vector the vector every event carries */
    public TestTraffic(String bootstrapServers, String prefix, List<Float> vector) {
        this.producer = new KafkaProducer<>(
                Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers, ProducerConfig.ACKS_CONFIG, "all"),
                new StringSerializer(),
                new ByteArraySerializer());
        this.serializer = new EmbeddingEventSerializer(SchemaRegistries.inMemory(prefix));
        this.prefix = prefix;
        this.vector = List.copyOf(vector);
    }

    /** Sends {@code n} events of the tenant to {@code <prefix>raw} and waits until the broker has them. */
    public void send(String tenant, int n) {
        for (int i = 0; i < n; i++) {
            String id = "e-" + (sent++);
            EmbeddingEvent e = EmbeddingEvent.newBuilder()
                    .setTenantId(tenant)
                    .setEmbeddingId(id)
                    .setModel("m")
                    .setVector(vector)
                    .setMetadata(null)
                    .setEventTime(Instant.now())
                    .build();
            var unused = producer.send(
                    new ProducerRecord<>(prefix + "raw", tenant + "/" + id, serializer.serialize(prefix + "raw", e)));
        }
        producer.flush();
    }

    /** Publishes a key event to {@code <prefix>events} and waits until the broker has it. */
    public void keyEvent(String tenant, KeyEventType type, KekRef k) throws ExecutionException, InterruptedException {
        producer.send(new ProducerRecord<>(
                        prefix + "events",
                        tenant,
                        TestSigning.OPERATOR.next(tenant, type, k.provider(), k.keyName(), k.version())))
                .get();
    }

    /** Sends one record as it is (junk, a forged entry) and waits until the broker has it. */
    public void sendAsIs(String topic, String key, byte[] value) throws ExecutionException, InterruptedException {
        producer.send(new ProducerRecord<>(topic, key, value)).get();
    }

    @Override
    public void close() {
        producer.close();
    }
}
