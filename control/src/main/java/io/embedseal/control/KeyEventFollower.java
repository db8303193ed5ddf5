package io.embedseal.control;

import io.embedseal.keyring.tenant.TenantDirectory;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.schemas.KeyEvent;
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
 * Follows the compacted key-event topic outside Kafka Streams (sink tasks, the CLI): a background thread reads
 * every partition from the beginning, without a consumer group, applies each event to a {@link TenantDirectory}
 * and tells a listener. {@link #awaitCaughtUp} returns once everything present at start has been applied, so a
 * caller can refuse to act before it knows every tenant's state. Undecodable events are logged and skipped: they
 * never make a tenant usable.
 */
public final class KeyEventFollower implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(KeyEventFollower.class);

    /** Told about each event on the follower's thread; must not block for long. */
    public interface Listener {
        /**
         * @param applied false if the directory refused it (the tenant is DESTROYED, which is terminal)
         */
        void onKeyEvent(KeyEvent event, TenantState state, boolean applied);

        /** The tenant's entry was deleted from the topic (a tombstone). */
        default void onForgotten(String tenantId) {}
    }

    private final KafkaConsumer<String, byte[]> consumer;
    private final String topic;
    private final TenantDirectory directory;
    private final Listener listener;
    private final CountDownLatch caughtUp = new CountDownLatch(1);
    private final Thread thread;
    private volatile boolean closed;
    private final java.util.concurrent.atomic.AtomicLong applied = new java.util.concurrent.atomic.AtomicLong();

    private KeyEventFollower(
            Map<String, Object> clientProps, String topic, TenantDirectory directory, Listener listener, String name) {
        Map<String, Object> p = new HashMap<>(clientProps);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.remove(ConsumerConfig.GROUP_ID_CONFIG);
        p.putIfAbsent(ConsumerConfig.CLIENT_ID_CONFIG, "embedseal-key-events-" + name);
        this.consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
        this.topic = Objects.requireNonNull(topic, "topic");
        this.directory = Objects.requireNonNull(directory, "directory");
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
            Map<String, Object> clientProps, String topic, TenantDirectory directory, Listener listener, String name) {
        KeyEventFollower f = new KeyEventFollower(clientProps, topic, directory, listener, name);
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
                            directory.snapshot().size(),
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
        String tenant = r.key();
        if (tenant == null) {
            LOG.warn("skipping a key event without a key at {}-{}@{}", r.topic(), r.partition(), r.offset());
            return;
        }
        if (r.value() == null) {
            directory.forget(tenant);
            try {
                listener.onForgotten(tenant);
            } catch (RuntimeException e) {
                LOG.error("acting on the deletion of tenant {} failed", tenant, e);
            }
            return;
        }
        KeyEvent event;
        try {
            event = KeyEvents.decode(tenant, r.value());
        } catch (KeyEvents.InvalidKeyEventException e) {
            LOG.warn(
                    "skipping an invalid key event at {}-{}@{}: {}",
                    r.topic(),
                    r.partition(),
                    r.offset(),
                    e.getMessage());
            return;
        }
        TenantState state = KeyEvents.toState(event);
        boolean ok = directory.apply(state);
        try {
            listener.onKeyEvent(event, state, ok);
        } catch (RuntimeException e) {
            LOG.error("acting on {} for tenant {} failed", event.getType(), tenant, e);
        }
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
