package io.embedseal.serdes.avro;

import java.util.Locale;
import org.apache.avro.Schema;
import org.jspecify.annotations.Nullable;

/**
 * How a serializer names the subject a schema is registered under, as Confluent's serializers do.
 * Configured with {@code value.subject.name.strategy}: {@code topic} (default), {@code record},
 * {@code topic-record}, or the Confluent class names of the same strategies.
 */
public enum SubjectNameStrategy {
    /** {@code <topic>-value}: one schema lineage per topic. */
    TOPIC_NAME,
    /** {@code <record full name>}: one lineage per record type, across topics. */
    RECORD_NAME,
    /** {@code <topic>-<record full name>}: several record types per topic. */
    TOPIC_RECORD_NAME;

    public String subject(String topic, boolean isKey, Schema schema) {
        return switch (this) {
            case TOPIC_NAME -> topic + (isKey ? "-key" : "-value");
            case RECORD_NAME -> schema.getFullName();
            case TOPIC_RECORD_NAME -> topic + "-" + schema.getFullName();
        };
    }

    /**
     * @throws IllegalArgumentException naming the setting, for an unknown strategy
     */
    public static SubjectNameStrategy parse(@Nullable String value) {
        if (value == null || value.isBlank()) {
            return TOPIC_NAME;
        }
        String v = value.trim();
        String simple = v.substring(v.lastIndexOf('.') + 1).toLowerCase(Locale.ROOT);
        return switch (simple) {
            case "topic", "topicnamestrategy", "topic_name" -> TOPIC_NAME;
            case "record", "recordnamestrategy", "record_name" -> RECORD_NAME;
            case "topic-record", "topicrecordnamestrategy", "topic_record_name" -> TOPIC_RECORD_NAME;
            default ->
                throw new IllegalArgumentException("value.subject.name.strategy must be topic, record or topic-record "
                        + "(or Confluent's TopicNameStrategy, RecordNameStrategy, TopicRecordNameStrategy), got '"
                        + value + "'");
        };
    }
}
