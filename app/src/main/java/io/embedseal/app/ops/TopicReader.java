package io.embedseal.app.ops;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import java.util.function.LongPredicate;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.jspecify.annotations.Nullable;

/**
 * Reads a topic up to the end it had when reading started (read_committed, no consumer group, nothing committed):
 * from the beginning, or from a point in time. Hands each record to a callback, so nothing needs to fit in memory.
 */
public final class TopicReader {

    private TopicReader() {}

    /**
     * @param sinceMillis a timestamp to start from, or -1 for the beginning
     * @param progress    told the number of records read so far, about every 10,000 (may be null)
     * @return records read
     * @throws IllegalArgumentException if the topic does not exist
     */
    public static long read(
            Map<String, Object> clientProps,
            String topic,
            long sinceMillis,
            Consumer<ConsumerRecord<byte[], byte[]>> each,
            @Nullable LongConsumer progress) {
        Map<String, Object> p = new HashMap<>(clientProps);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 2_000);
        p.remove(ConsumerConfig.GROUP_ID_CONFIG);
        long n = 0;
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(30));
            if (infos == null || infos.isEmpty()) {
                throw new IllegalArgumentException("topic " + topic + " does not exist");
            }
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo i : infos) {
                tps.add(new TopicPartition(topic, i.partition()));
            }
            consumer.assign(tps);
            Map<TopicPartition, Long> end = consumer.endOffsets(tps);
            if (sinceMillis < 0) {
                consumer.seekToBeginning(tps);
            } else {
                Map<TopicPartition, Long> query = new HashMap<>();
                tps.forEach(tp -> query.put(tp, sinceMillis));
                Map<TopicPartition, OffsetAndTimestamp> found = consumer.offsetsForTimes(query);
                for (TopicPartition tp : tps) {
                    OffsetAndTimestamp o = found.get(tp);
                    consumer.seek(tp, o == null ? end.getOrDefault(tp, 0L) : o.offset());
                }
            }
            long nextReport = 10_000;
            while (tps.stream().anyMatch(tp -> consumer.position(tp) < end.getOrDefault(tp, 0L))) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.offset() < end.getOrDefault(new TopicPartition(r.topic(), r.partition()), 0L)) {
                        each.accept(r);
                        n++;
                    }
                }
                if (progress != null && n >= nextReport) {
                    progress.accept(n);
                    nextReport = n + 10_000;
                }
            }
        }
        return n;
    }

    /**
     * Reads a topic from the beginning (read_committed, no consumer group), handing each record to {@code each},
     * until {@code enough} holds for the count read so far (asked after every poll) or the deadline passes; then
     * polls once more for {@code lastLook}, so records beyond what was expected (duplicates) are seen too.
     *
     * @return the records read
     */
    public static long readFromStart(
            Map<String, Object> clientProps,
            String topic,
            LongPredicate enough,
            long deadlineNanos,
            Duration lastLook,
            Consumer<ConsumerRecord<byte[], byte[]>> each) {
        Map<String, Object> p = new HashMap<>(clientProps);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.remove(ConsumerConfig.GROUP_ID_CONFIG);
        long n = 0;
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo i : consumer.partitionsFor(topic, Duration.ofSeconds(30))) {
                tps.add(new TopicPartition(topic, i.partition()));
            }
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            while (!enough.test(n) && System.nanoTime() < deadlineNanos) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    each.accept(r);
                    n++;
                }
            }
            if (!lastLook.isZero()) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(lastLook)) {
                    each.accept(r);
                    n++;
                }
            }
        }
        return n;
    }

    /** Everything committed to a topic up to the end it had when reading started. */
    public static List<ConsumerRecord<byte[], byte[]>> readAll(Map<String, Object> clientProps, String topic) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        read(clientProps, topic, -1, out::add, null);
        return out;
    }
}
