package io.embedseal.topology.audit;

import io.embedseal.control.audit.AuditChain;
import io.embedseal.control.audit.AuditSigner;
import io.embedseal.keyring.kms.decorator.KmsAuditEvent;
import io.embedseal.keyring.kms.decorator.KmsAuditListener;
import io.embedseal.schemas.KeyEvent;
import io.embedseal.topology.KeyEventApplied;
import io.embedseal.topology.PipelineHealth;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Appends one hash-chained entry to the audit topic for every KMS operation (as the keyring's audit hook) and
 * every key event applied or refused. Entries are keyed by this producer's id, so each chain lives in one
 * partition in order; the producer is idempotent with {@code acks=all}. Entries hold ids, outcomes and
 * timings, never key material or record values.
 */
public final class AuditTrail implements KmsAuditListener, Consumer<KeyEventApplied>, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(AuditTrail.class);

    private final Producer<String, byte[]> producer;
    private final boolean ownsProducer;
    private final String topic;
    private final AuditChain chain;
    private final PipelineHealth health;
    private final @Nullable AuditSigner signer;
    private final @Nullable ScheduledExecutorService checkpoints;
    private final AtomicLong sinceCheckpoint = new AtomicLong();
    private volatile long lastCheckpointNanos = System.nanoTime();
    private final java.util.concurrent.atomic.AtomicBoolean checkpointQueued =
            new java.util.concurrent.atomic.AtomicBoolean();
    private volatile boolean closed;

    /** Signed checkpoints are written this often while entries arrive, and after this many entries. */
    public static final Duration CHECKPOINT_INTERVAL = Duration.ofSeconds(10);

    public static final int CHECKPOINT_ENTRIES = 100;

    /**
     * A checkpoint at least this often even without new entries, so that a chain whose last checkpoint is older
     * (and not final) is known to be cut, or its producer dead ({@code audit verify --max-open-seconds}).
     */
    public static final Duration CHECKPOINT_HEARTBEAT = Duration.ofSeconds(60);

    public AuditTrail(Producer<String, byte[]> producer, String topic, String producerId, PipelineHealth health) {
        this(producer, false, topic, producerId, health, null);
    }

    private AuditTrail(
            Producer<String, byte[]> producer,
            boolean owns,
            String topic,
            String producerId,
            PipelineHealth health,
            @Nullable AuditSigner signer) {
        this.producer = Objects.requireNonNull(producer, "producer");
        this.ownsProducer = owns;
        this.topic = Objects.requireNonNull(topic, "topic");
        this.chain = new AuditChain(producerId);
        this.health = health;
        this.signer = signer;
        if (signer != null) {
            ScheduledExecutorService s = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "embedseal-audit-checkpoints");
                t.setDaemon(true);
                return t;
            });
            var unused = s.scheduleWithFixedDelay(
                    () -> {
                        if (chain.seq() > 0
                                && (sinceCheckpoint.get() > 0
                                        || System.nanoTime() - lastCheckpointNanos >= CHECKPOINT_HEARTBEAT.toNanos())) {
                            checkpoint(false);
                        }
                    },
                    CHECKPOINT_INTERVAL.toMillis(),
                    CHECKPOINT_INTERVAL.toMillis(),
                    TimeUnit.MILLISECONDS);
            this.checkpoints = s;
        } else {
            this.checkpoints = null;
        }
    }

    /** An audit trail with its own producer, under a fresh producer id {@code <prefix>-<uuid>}, without checkpoints. */
    public static AuditTrail create(
            String bootstrapServers,
            Map<String, Object> clientOverrides,
            String topic,
            String producerPrefix,
            PipelineHealth health) {
        return create(bootstrapServers, clientOverrides, topic, producerPrefix, health, null);
    }

    /**
     * An audit trail with its own producer, under a fresh producer id {@code <prefix>-<uuid>}; with a signer, it
     * writes a signed checkpoint every {@link #CHECKPOINT_INTERVAL} while entries arrive, after every
     * {@link #CHECKPOINT_ENTRIES} entries, and a final one when closed.
     */
    public static AuditTrail create(
            String bootstrapServers,
            Map<String, Object> clientOverrides,
            String topic,
            String producerPrefix,
            PipelineHealth health,
            @Nullable AuditSigner signer) {
        Map<String, Object> p = new LinkedHashMap<>(clientOverrides);
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        return new AuditTrail(
                new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer()),
                true,
                topic,
                producerPrefix + "-" + UUID.randomUUID(),
                health,
                signer);
    }

    public String producerId() {
        return chain.producer();
    }

    @Override
    public void onEvent(KmsAuditEvent e) {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("kind", "KMS_CALL");
        f.put("time", e.time().toString());
        f.put("tenant", e.tenantId());
        f.put("provider", e.provider());
        f.put("operation", e.operation().name());
        f.put("keyName", e.keyName());
        f.put("kekVersion", e.kekVersion());
        f.put("outcome", e.outcome().name());
        f.put("latencyMicros", e.latencyMicros());
        if (e.detail() != null) {
            f.put("detail", e.detail().length() > 300 ? e.detail().substring(0, 300) : e.detail());
        }
        append(f);
    }

    @Override
    public void accept(KeyEventApplied a) {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("kind", a.accepted() ? "KEY_EVENT_APPLIED" : "KEY_EVENT_REFUSED");
        f.put("time", java.time.Instant.now().toString());
        f.put("tenant", a.tenant());
        KeyEvent e = a.event();
        if (e != null) {
            f.put("eventType", e.getType().name());
            f.put("sequence", e.getSequence());
            if (a.accepted()) {
                // Only a verified event's own words are recorded; a refused one's are the writer's, unbounded.
                f.put("kek", e.getKms() + ":" + e.getKekName() + ":" + e.getKekVersion());
                f.put("eventTime", e.getTime().toString());
                f.put("actor", e.getActor());
                if (e.getReason() != null) {
                    f.put("reason", e.getReason());
                }
            }
        }
        if (a.signer() != null) {
            f.put("signer", a.signer());
        }
        if (a.refusal() != null) {
            f.put("refusal", a.refusal());
        }
        if (a.note() != null) {
            f.put("note", a.note());
        }
        append(f);
    }

    /** Appends an entry of another kind (a shred receipt, an operator action). */
    public void append(Map<String, ?> fields) {
        // Chaining and sending under one lock: the topic holds a producer's entries in sequence order.
        if (signer != null && chain.seq() == 0) {
            // A genuine chain starts signed: a chain without any signed checkpoint was not written by a producer
            // holding a trusted key. (Not at construction: the topic may not exist yet then.)
            checkpoint(false);
        }
        synchronized (chain) {
            send(chain.append(fields));
        }
        if (signer != null
                && sinceCheckpoint.incrementAndGet() >= CHECKPOINT_ENTRIES
                && checkpoints != null
                && checkpointQueued.compareAndSet(false, true)) {
            try {
                var unused = checkpoints.submit(() -> {
                    checkpointQueued.set(false);
                    checkpoint(false);
                });
            } catch (java.util.concurrent.RejectedExecutionException e) {
                checkpointQueued.set(false); // closing: the final checkpoint covers it
            }
        }
    }

    /**
     * Appends a signed checkpoint now (a KMS call). A failure is logged and leaves the entries since the last one
     * unauthenticated until the next; it never stops the caller.
     */
    public void checkpoint(boolean isFinal) {
        AuditSigner s = signer;
        if (s == null) {
            return;
        }
        // Signed outside the chain's lock (a KMS call may be slow, or wait for an unreachable KMS): appends go on
        // meanwhile, and a checkpoint the chain moved past is prepared again. A few tries; the next tick tries again.
        for (int attempt = 0; attempt < 3; attempt++) {
            try {
                AuditChain.Signed signed = AuditChain.sign(chain.prepareCheckpoint(s, isFinal), s);
                synchronized (chain) {
                    byte[] entry = chain.commit(signed);
                    if (entry != null) {
                        sinceCheckpoint.set(0);
                        send(entry);
                        lastCheckpointNanos = System.nanoTime();
                        return;
                    }
                }
            } catch (RuntimeException e) {
                LOG.warn(
                        "could not sign an audit checkpoint for {} with {}: entries since the last one stay "
                                + "unauthenticated until the next ({})",
                        chain.producer(),
                        s,
                        e.toString());
                return;
            }
        }
        LOG.info(
                "the audit chain of {} moved on during three checkpoint signatures; the next tick signs one",
                chain.producer());
    }

    private void send(byte[] entry) {
        // The callback reports a failed write; the future adds nothing to it.
        var unused = producer.send(new ProducerRecord<>(topic, chain.producer(), entry), (metadata, error) -> {
            if (error != null) {
                LOG.error(
                        "an audit entry could not be written to {}: the chain of {} has a gap from here",
                        topic,
                        chain.producer(),
                        error);
                if (health != null) {
                    health.degraded("audit trail", String.valueOf(error.getMessage()));
                }
            }
        });
    }

    /** Waits until every entry appended so far is written. */
    public void flush() {
        producer.flush();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (checkpoints != null) {
            checkpoints.shutdownNow();
            checkpoint(true);
        }
        producer.flush();
        if (ownsProducer) {
            producer.close(Duration.ofSeconds(10));
        }
    }
}
