package io.embedseal.serdes.avro;

import io.embedseal.config.Setting;
import io.embedseal.schemas.EmbeddingEvent;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serializer;
import org.jspecify.annotations.Nullable;

/**
 * A producer-side serializer writing {@link EmbeddingEvent}s in the Confluent wire format, usable from a plain
 * {@code KafkaProducer} ({@code value.serializer}). Settings: {@code schema.registry.url} and the other
 * {@code schema.registry.*} settings of {@link ConfluentSchemaRegistryClient.Settings},
 * {@code value.subject.name.strategy} ({@link SubjectNameStrategy}), {@code auto.register.schemas} (default
 * true; when false the schema must already be registered under the subject).
 */
public final class EmbeddingEventSerializer implements Serializer<EmbeddingEvent> {

    public static final Setting<Boolean> AUTO_REGISTER = Setting.bool("auto.register.schemas", true)
            .doc(
                    "EmbeddingEventSerializer: register the schema under its subject when missing (else it must be registered).");
    public static final Setting<String> VALUE_SUBJECT_STRATEGY = Setting.string("value.subject.name.strategy", "topic")
            .check(
                    v -> {
                        SubjectNameStrategy.parse(v);
                        return v;
                    },
                    "topic, record, topic-record (or Confluent's class names)")
            .doc(
                    "EmbeddingEventSerializer: the subject a value schema is registered under, as Confluent's strategies name it.");

    @SuppressWarnings("NullAway.Init") // set in configure(), which Kafka calls before any use
    private SchemaRegistry registry;

    private SubjectNameStrategy strategy = SubjectNameStrategy.TOPIC_NAME;
    private boolean autoRegister = true;
    private boolean isKey;
    private final ConcurrentMap<String, Integer> schemaIdByTopic = new ConcurrentHashMap<>();

    public EmbeddingEventSerializer() {}

    /** A serializer on an existing registry, registering under {@code <topic>-value}. */
    public EmbeddingEventSerializer(SchemaRegistry registry) {
        this.registry = registry;
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        this.isKey = isKey;
        try {
            strategy = SubjectNameStrategy.parse(
                    str(configs, isKey ? "key.subject.name.strategy" : VALUE_SUBJECT_STRATEGY.name()));
            String auto = str(configs, AUTO_REGISTER.name());
            if (auto != null) {
                autoRegister = AUTO_REGISTER.parse(AUTO_REGISTER.name(), auto);
            }
            if (registry == null) {
                registry = SchemaRegistries.fromConfig(configs);
            }
        } catch (IllegalArgumentException e) {
            ConfigException c = new ConfigException(e.getMessage());
            c.initCause(e);
            throw c;
        }
    }

    @Override
    public byte @Nullable [] serialize(String topic, EmbeddingEvent event) {
        if (event == null) {
            return null;
        }
        int id;
        try {
            id = schemaIdByTopic.computeIfAbsent(topic, t -> {
                String subject = strategy.subject(t, isKey, EmbeddingEventCodec.CANONICAL_SCHEMA);
                return autoRegister
                        ? registry.register(subject, EmbeddingEventCodec.CANONICAL_SCHEMA)
                        : registry.lookup(subject, EmbeddingEventCodec.CANONICAL_SCHEMA);
            });
        } catch (SchemaRegistryException e) {
            throw new SerializationException("cannot get a schema id for topic " + topic + ": " + e.getMessage(), e);
        }
        return EmbeddingEventCodec.encodeWire(id, event);
    }

    private static @Nullable String str(Map<String, ?> configs, String key) {
        Object v = configs.get(key);
        return v == null ? null : v.toString();
    }
}
