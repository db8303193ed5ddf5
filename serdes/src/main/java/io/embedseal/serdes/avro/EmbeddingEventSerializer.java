package io.embedseal.serdes.avro;

import io.embedseal.schemas.EmbeddingEvent;
import org.apache.kafka.common.serialization.Serializer;

import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * A producer-side serializer writing {@link EmbeddingEvent}s in the Confluent wire format. It registers the
 * canonical schema under the subject {@code <topic>-value} (topic-name strategy) on first use per topic.
 */
public final class EmbeddingEventSerializer implements Serializer<EmbeddingEvent> {

    private final SchemaRegistry registry;
    private final ConcurrentMap<String, Integer> schemaIdByTopic = new ConcurrentHashMap<>();

    public EmbeddingEventSerializer(SchemaRegistry registry) {
        this.registry = Objects.requireNonNull(registry, "registry");
    }

    @Override
    public byte[] serialize(String topic, EmbeddingEvent event) {
        if (event == null) {
            return null;
        }
        int id = schemaIdByTopic.computeIfAbsent(topic,
                t -> registry.register(t + "-value", EmbeddingEventCodec.CANONICAL_SCHEMA));
        return EmbeddingEventCodec.encodeWire(id, event);
    }
}
