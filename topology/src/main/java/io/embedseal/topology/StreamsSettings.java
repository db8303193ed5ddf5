package io.embedseal.topology;

import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsConfig;

/**
 * The Kafka Streams settings embedseal runs with: exactly-once v2 by default, byte-array serdes (the
 * topology does its own decoding so bad input becomes a dead letter, not a crash), and the producer and
 * consumer tuning that measured best for multi-kilobyte records.
 */
public final class StreamsSettings {

    private StreamsSettings() {}

    /**
     * Settings that let one record wait up to {@code maxDependencyWait} for the KMS or the schema registry inside its
     * transaction: the producer's transaction timeout and the consumer's poll interval must outlast the wait.
     */
    public static Map<String, Object> allowingDependencyWait(java.time.Duration maxDependencyWait) {
        long waitMs = maxDependencyWait.toMillis();
        return Map.of(
                StreamsConfig.producerPrefix(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG),
                        (int) Math.min(Integer.MAX_VALUE, waitMs + 60_000),
                StreamsConfig.consumerPrefix(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG),
                        (int) Math.min(Integer.MAX_VALUE, Math.max(300_000, waitMs + 120_000)));
    }

    /**
     * @param overrides any Streams, producer ({@code producer.}) or consumer ({@code consumer.}) setting,
     *                  applied last
     */
    public static Properties properties(
            String applicationId, String bootstrapServers, Path stateDir, Map<String, ?> overrides) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toAbsolutePath().toString());
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class.getName());
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class.getName());
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, -1); // the broker's default
        // Opt in now to what Kafka 5.0 makes the default (and silence the warning about it).
        p.put("processing.exception.handler.global.enabled", true);
        p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), 5);
        p.put(StreamsConfig.producerPrefix(ProducerConfig.BATCH_SIZE_CONFIG), 262_144);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG), 4 * 1024 * 1024);
        p.putAll(overrides);
        return p;
    }
}
