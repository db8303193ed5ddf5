package io.embedseal.serdes.avro;

import io.embedseal.schemas.EmbeddingEvent;
import java.util.Map;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.jspecify.annotations.Nullable;

/**
 * Reads Confluent-wire-format {@link EmbeddingEvent}s with a plain {@code KafkaConsumer}: looks the writer
 * schema up by id and resolves it to the canonical schema. A value that cannot be read fails with a
 * {@link SerializationException} whose cause is a {@link WireFormatException} carrying the reason.
 */
public final class EmbeddingEventDeserializer implements Deserializer<EmbeddingEvent> {

    @SuppressWarnings("NullAway.Init") // set in configure(), which Kafka calls before any use
    private EmbeddingEventCodec codec;

    public EmbeddingEventDeserializer() {}

    public EmbeddingEventDeserializer(SchemaRegistry registry) {
        this.codec = new EmbeddingEventCodec(registry);
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        if (codec == null) {
            try {
                codec = new EmbeddingEventCodec(SchemaRegistries.fromConfig(configs));
            } catch (IllegalArgumentException e) {
                ConfigException c = new ConfigException(e.getMessage());
                c.initCause(e);
                throw c;
            }
        }
    }

    @Override
    public @Nullable EmbeddingEvent deserialize(String topic, byte[] data) {
        if (data == null) {
            return null;
        }
        try {
            return codec.decode(data).event();
        } catch (WireFormatException e) {
            throw new SerializationException("cannot read an embedding event from " + topic + ": " + e.getMessage(), e);
        }
    }
}
