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
import org.apache.kafka.common.KafkaException;
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
    private volatile boolean stopped;
    private volatile @Nullable String lastFailure;
    private volatile long confirmedAtNanos;

    /** How often a caught-up follower proves it is current (asks the end offsets). */
    static final Duration FRESHNESS_CHECK = Duration.ofSeconds(1);

    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(5);
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

    /**
     * Reads until closed. A failure of the consumer (an authorisation error, an expired credential, a broker that
     * is gone) does not end the thread: it is logged, kept for {@link #staleness}, and retried with backoff, so the
     * follower recovers by itself when the topic is readable again. Freshness is proven, not assumed: about every
     * {@link #FRESHNESS_CHECK} the topic's end offsets are asked for, and only a position at or past them moves
     * {@link #confirmedAtNanos}.
     */
    private void run() {
        long backoff = 100;
        List<TopicPartition> partitions = null;
        Map<TopicPartition, Long> end = Map.of();
        long endAskedAt = 0;
        long nextCheck = System.nanoTime();
        try {
            while (!closed) {
                try {
                    if (partitions == null) {
                        partitions = awaitPartitions();
                        if (partitions == null) {
                            return;
                        }
                        consumer.assign(partitions);
                        consumer.seekToBeginning(partitions);
                        endAskedAt = System.nanoTime();
                        end = consumer.endOffsets(partitions, CALL_TIMEOUT);
                    }
                    for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                        apply(r);
                    }
                    if (caughtUp.getCount() > 0 && atOrPast(partitions, end)) {
                        LOG.info(
                                "key events of {} tenants read from {}",
                                gate.directory().snapshot().size(),
                                topic);
                        confirmedAtNanos = endAskedAt;
                        caughtUp.countDown();
                    }
                    long now = System.nanoTime();
                    if (caughtUp.getCount() == 0 && now - nextCheck >= 0) {
                        // Events written before this instant are applied once the position reaches these offsets.
                        long askedAt = System.nanoTime();
                        // Partitions added to the topic since: read them from the beginning too, or events of tenants
                        // that hash there would never arrive while the follower called itself current.
                        List<PartitionInfo> infos = consumer.partitionsFor(topic, CALL_TIMEOUT);
                        if (infos != null && infos.size() != partitions.size()) {
                            List<TopicPartition> current = new ArrayList<>();
                            for (PartitionInfo i : infos) {
                                current.add(new TopicPartition(topic, i.partition()));
                            }
                            List<TopicPartition> added = new ArrayList<>(current);
                            added.removeAll(partitions);
                            LOG.warn(
                                    "the key-event topic {} has new partitions {}: reading them from the beginning",
                                    topic,
                                    added);
                            consumer.assign(current);
                            consumer.seekToBeginning(added);
                            partitions = current;
                        }
                        Map<TopicPartition, Long> latest = consumer.endOffsets(partitions, CALL_TIMEOUT);
                        while (!atOrPast(partitions, latest) && !closed) {
                            for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                                apply(r);
                            }
                            if (System.nanoTime() - askedAt > CALL_TIMEOUT.toNanos()) {
                                break; // behind: confirmed later, when it has caught up
                            }
                        }
                        if (atOrPast(partitions, latest)) {
                            confirmedAtNanos = askedAt;
                        }
                        nextCheck = System.nanoTime() + FRESHNESS_CHECK.toNanos();
                    }
                    if (lastFailure != null) {
                        LOG.info("the key-event follower of {} reads again", topic);
                        lastFailure = null;
                    }
                    backoff = 100;
                } catch (WakeupException e) {
                    if (closed) {
                        return;
                    }
                    throw e;
                } catch (KafkaException e) {
                    // Authorisation, authentication, a timeout asking a broker: the topic may be readable again later.
                    String why = e.getClass().getSimpleName() + ": " + e.getMessage();
                    if (lastFailure == null || !lastFailure.equals(why)) {
                        LOG.error(
                                "the key-event follower of {} cannot read it ({}); tenant states are not updated "
                                        + "meanwhile, and readers relying on them stop once they are stale; retrying",
                                topic,
                                why);
                    }
                    lastFailure = why;
                    Thread.sleep(backoff);
                    backoff = Math.min(backoff * 2, 5_000);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException | Error e) {
            lastFailure = "stopped: " + e.getClass().getSimpleName() + ": " + e.getMessage();
            LOG.error("the key-event follower of {} stopped: tenant states are no longer updated", topic, e);
            throw e;
        } finally {
            stopped = true;
            consumer.close(CloseOptions.timeout(Duration.ofSeconds(5)));
        }
    }

    private boolean atOrPast(List<TopicPartition> partitions, Map<TopicPartition, Long> end) {
        for (TopicPartition tp : partitions) {
            if (consumer.position(tp, CALL_TIMEOUT) < end.getOrDefault(tp, Long.MAX_VALUE)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Why the tenant states this follower keeps cannot be relied on now, or null when they can: they were confirmed
     * current (every event on the topic up to a moment at most {@code bound} ago applied), and the follower runs.
     * Readers that unseal stop while this is non-null (fail closed), and go on by themselves once it is null again.
     */
    public @Nullable String staleness(Duration bound) {
        if (stopped && !closed) {
            return "the key-event follower of " + topic + " stopped (" + lastFailure + ")";
        }
        if (caughtUp.getCount() > 0) {
            return "the key-event follower of " + topic + " has not read the topic to its end yet"
                    + (lastFailure == null ? "" : " (" + lastFailure + ")");
        }
        long age = System.nanoTime() - confirmedAtNanos;
        if (age > bound.toNanos()) {
            return "key events from " + topic + " not confirmed current for " + TimeUnit.NANOSECONDS.toSeconds(age)
                    + " s (bound " + bound.toSeconds() + " s)"
                    + (lastFailure == null ? "" : ": " + lastFailure);
        }
        return null;
    }

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
