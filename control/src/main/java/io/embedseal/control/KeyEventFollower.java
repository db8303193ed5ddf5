package io.embedseal.control;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows the key-event topic outside Kafka Streams (sink tasks, the CLI): a background thread reads
 * every partition from the beginning, without a consumer group, passes each record through a {@link KeyEventGate}
 * (which applies what it admits to its tenant directory) and tells a listener. {@link #awaitCaughtUp} returns once everything present at start has been applied, so a
 * caller can refuse to act before it knows every tenant's state. Refused records are logged with the reason, never
 * their bytes: they never make a tenant usable.
 */
public final class KeyEventFollower implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(KeyEventFollower.class);

    /** Told about each record's decision on the follower's thread; must not block for long. */
    public interface Listener {
        /** A record of the topic, applied, refused or (verification disabled) a tombstone that forgot a tenant. */
        void onKeyEvent(KeyEventGate.Decision decision);
    }

    private final KafkaConsumer<String, byte[]> consumer;
    private final String topic;
    private final KeyEventGate gate;
    private final Listener listener;
    private final CountDownLatch caughtUp = new CountDownLatch(1);
    private final Thread thread;
    private volatile boolean closed;
    private final java.util.concurrent.atomic.AtomicLong applied = new java.util.concurrent.atomic.AtomicLong();

    private KeyEventFollower(
            Map<String, Object> clientProps, String topic, KeyEventGate gate, Listener listener, String name) {
        Map<String, Object> p = new HashMap<>(clientProps);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.remove(ConsumerConfig.GROUP_ID_CONFIG);
        p.putIfAbsent(ConsumerConfig.CLIENT_ID_CONFIG, "embedseal-key-events-" + name);
        this.consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
        this.topic = Objects.requireNonNull(topic, "topic");
        this.gate = Objects.requireNonNull(gate, "gate");
        this.listener = Objects.requireNonNull(listener, "listener");
        this.thread = new Thread(this::run, "embedseal-key-events-" + name);
        this.thread.setDaemon(true);
    }

    /**
     * Starts following.
     *
     * @param clientProps Kafka consumer settings, at least {@code bootstrap.servers}; a group id is ignored
     * @param name        a short name for the thread and client id
     */
    public static KeyEventFollower start(
            Map<String, Object> clientProps, String topic, KeyEventGate gate, Listener listener, String name) {
        KeyEventFollower f = new KeyEventFollower(clientProps, topic, gate, listener, name);
        f.thread.start();
        return f;
    }

    /** Waits until every event present when following started has been applied; false on timeout. */
    public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
        return caughtUp.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    public boolean isCaughtUp() {
        return caughtUp.getCount() == 0;
    }

    /** Events applied (or refused) so far. */
    public long eventsSeen() {
        return applied.get();
    }

    public String topic() {
        return topic;
    }

    private void run() {
        try {
            List<TopicPartition> partitions = awaitPartitions();
            if (partitions == null) {
                return;
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            while (!closed) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    apply(r);
                }
                if (caughtUp.getCount() > 0
                        && partitions.stream()
                                .allMatch(tp -> consumer.position(tp) >= end.getOrDefault(tp, Long.MAX_VALUE))) {
                    LOG.info(
                            "key events of {} tenants read from {}",
                            gate.directory().snapshot().size(),
                            topic);
                    caughtUp.countDown();
                }
            }
        } catch (WakeupException e) {
            if (!closed) {
                LOG.error("the key-event follower of {} was woken up unexpectedly", topic, e);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.error("the key-event follower of {} stopped: tenant states are no longer updated", topic, e);
        } finally {
            consumer.close(CloseOptions.timeout(Duration.ofSeconds(5)));
        }
    }

    /** The topic's partitions, waiting (and saying so) while the topic does not exist yet; null if closed meanwhile. */
    /** The topic's partitions once it exists, or null when the follower was closed before. */
    private @Nullable List<TopicPartition> awaitPartitions() throws InterruptedException {
        long warnAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!closed) {
            List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(10));
            if (infos != null && !infos.isEmpty()) {
                List<TopicPartition> out = new ArrayList<>();
                for (PartitionInfo i : infos) {
                    out.add(new TopicPartition(topic, i.partition()));
                }
                return out;
            }
            if (System.nanoTime() > warnAt) {
                LOG.warn("the key-event topic {} does not exist yet; waiting for it", topic);
                warnAt = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
            }
            Thread.sleep(500);
        }
        return null;
    }

    private void apply(ConsumerRecord<String, byte[]> r) {
        applied.incrementAndGet();
        KeyEventGate.Decision d = gate.admit(r.key(), r.value());
        if (d.outcome() == KeyEventGate.Outcome.REFUSED) {
            LOG.warn(
                    "{} ({}, at {}-{}@{})",
                    d.describe(),
                    java.util.Objects.requireNonNull(d.refusal()).label(),
                    r.topic(),
                    r.partition(),
                    r.offset());
        }
        try {
            listener.onKeyEvent(d);
        } catch (RuntimeException e) {
            LOG.error("acting on a key event for tenant {} failed", r.key(), e);
        }
    }

    /** The gate this follower applies events through. */
    public KeyEventGate gate() {
        return gate;
    }

    @Override
    public void close() {
        closed = true;
        consumer.wakeup();
        try {
            thread.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
