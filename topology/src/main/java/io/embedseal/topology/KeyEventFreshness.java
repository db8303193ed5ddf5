package io.embedseal.topology;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Proves, rather than assumes, that this instance has applied every key event: about every second it asks the
 * brokers for the key-event topic's end offsets and compares them with what the global store applied (records the
 * {@link KeyEventProcessor} processed, and what it restored at start). While that cannot be confirmed for longer
 * than {@code key-events.max-staleness-seconds} (the topic unreadable, an authorisation error, the brokers gone, the
 * global thread behind), {@link #staleness()} says why: records wait instead of being sealed (a revocation this
 * instance has not seen must not be sealed past), and the pipeline is not ready. It recovers by itself.
 */
public final class KeyEventFreshness implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(KeyEventFreshness.class);
    private static final Duration CHECK_EVERY = Duration.ofSeconds(1);
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(5);

    /** Never stale: for tests of the topology alone. */
    public static final KeyEventFreshness ALWAYS_FRESH = new KeyEventFreshness(Duration.ZERO, "");

    private final Duration bound;
    private final String topic;
    private final Map<Integer, Long> appliedUpTo = new ConcurrentHashMap<>();
    private volatile long confirmedAtNanos = System.nanoTime();
    private volatile @Nullable String lastFailure;
    private volatile @Nullable Thread checker;
    private volatile boolean closed;

    private KeyEventFreshness(Duration bound, String topic) {
        this.bound = bound;
        this.topic = topic;
    }

    /**
     * Checks on a daemon thread with a consumer of its own (no group, read_committed), closed with this.
     *
     * @param clientProps Kafka client settings, at least {@code bootstrap.servers}
     */
    public static KeyEventFreshness watching(Map<String, Object> clientProps, String topic, Duration bound) {
        KeyEventFreshness f = new KeyEventFreshness(bound, topic);
        Map<String, Object> p = new HashMap<>(clientProps);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.remove(ConsumerConfig.GROUP_ID_CONFIG);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "embedseal-key-event-freshness");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 1);
        Thread t = new Thread(() -> f.run(p, topic), "embedseal-key-event-freshness");
        t.setDaemon(true);
        f.checker = t;
        t.start();
        return f;
    }

    /** The processor applied (or refused) the record at this offset. */
    void applied(int partition, long offset) {
        appliedUpTo.merge(partition, offset + 1, Math::max);
    }

    /** Records the global store restored at start (they bypass the processor). */
    public StateRestoreListener restoreListener() {
        return new StateRestoreListener() {
            @Override
            public void onRestoreStart(TopicPartition tp, String store, long startingOffset, long endingOffset) {
                if (tp.topic().equals(topic)) {
                    applied(tp.partition(), startingOffset - 1); // the store's checkpoint: everything before is in it
                }
            }

            @Override
            public void onBatchRestored(TopicPartition tp, String store, long batchEndOffset, long numRestored) {
                // The global consumer's position after the batch (GlobalStateManagerImpl): the next offset, so the
                // last one restored is one below it.
                if (tp.topic().equals(topic)) {
                    applied(tp.partition(), batchEndOffset - 1);
                }
            }

            @Override
            public void onRestoreEnd(TopicPartition tp, String store, long totalRestored) {}
        };
    }

    /**
     * Why this instance's key states cannot be relied on now, or null when every event up to at most the bound ago
     * is applied.
     */
    public @Nullable String staleness() {
        if (checker == null) {
            return null;
        }
        long age = System.nanoTime() - confirmedAtNanos;
        if (age <= bound.toNanos()) {
            return null;
        }
        String failure = lastFailure;
        return "key events not confirmed current for " + TimeUnit.NANOSECONDS.toSeconds(age) + " s (bound "
                + bound.toSeconds() + " s, key-events.max-staleness-seconds)"
                + (failure == null ? "" : ": " + failure);
    }

    private void run(Map<String, Object> props, String topic) {
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            while (!closed) {
                try {
                    check(consumer, topic);
                } catch (WakeupException | InterruptException e) {
                    return;
                } catch (RuntimeException e) { // whatever it is, the checker goes on: a dead one would be stale forever
                    String why = "cannot read the end of " + topic + " ("
                            + e.getClass().getSimpleName() + ": " + e.getMessage() + ")";
                    if (!why.equals(lastFailure)) {
                        LOG.warn("{}; records wait once key events are {} s stale", why, bound.toSeconds());
                    }
                    lastFailure = why;
                }
                try {
                    Thread.sleep(CHECK_EVERY.toMillis());
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    private void check(KafkaConsumer<byte[], byte[]> consumer, String topic) {
        long askedAt = System.nanoTime();
        List<TopicPartition> partitions = new ArrayList<>();
        List<PartitionInfo> infos = consumer.partitionsFor(topic, CALL_TIMEOUT);
        if (infos == null || infos.isEmpty()) {
            lastFailure = "the key-event topic " + topic + " does not exist";
            return;
        }
        for (PartitionInfo i : infos) {
            partitions.add(new TopicPartition(topic, i.partition()));
        }
        Map<TopicPartition, Long> end = consumer.endOffsets(partitions, CALL_TIMEOUT);
        List<String> behind = new ArrayList<>();
        for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
            long applied = appliedUpTo.getOrDefault(e.getKey().partition(), 0L);
            if (e.getValue() > applied && !onlyMarkersBetween(consumer, e.getKey(), applied, e.getValue())) {
                behind.add(e.getKey() + " at " + applied + " of " + e.getValue());
            }
        }
        if (behind.isEmpty()) {
            confirmedAtNanos = askedAt;
            if (lastFailure != null) {
                LOG.info("key events are current again");
                lastFailure = null;
            }
        } else {
            lastFailure = "the global store is behind: " + String.join(", ", behind);
        }
    }

    /**
     * Whether {@code [from, to)} holds no event a read_committed reader would see (transaction markers, aborted
     * records): then the store is caught up although its last applied offset is below the end.
     */
    private static boolean onlyMarkersBetween(
            KafkaConsumer<byte[], byte[]> consumer, TopicPartition tp, long from, long to) {
        consumer.assign(List.of(tp));
        consumer.seek(tp, from);
        long deadline = System.nanoTime() + CALL_TIMEOUT.toNanos();
        while (consumer.position(tp, CALL_TIMEOUT) < to && System.nanoTime() < deadline) {
            if (!consumer.poll(Duration.ofMillis(100)).isEmpty()) {
                return false;
            }
        }
        return consumer.position(tp, CALL_TIMEOUT) >= to;
    }

    @Override
    public void close() {
        closed = true;
        Thread t = checker;
        if (t != null) {
            t.interrupt();
            try {
                t.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
