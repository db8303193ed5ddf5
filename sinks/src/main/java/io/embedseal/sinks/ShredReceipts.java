package io.embedseal.sinks;

import io.embedseal.control.audit.AuditChain;
import io.embedseal.control.audit.AuditSigner;
import io.embedseal.keyring.tenant.TenantState;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.jspecify.annotations.Nullable;

/**
 * Appends shred receipts to the audit topic: one hash-chained entry ({@code kind=SHRED_RECEIPT}) per tenant and
 * sink task saying what was deleted, where, and when, keyed by this task's chain id like every audit entry.
 */
public final class ShredReceipts implements AutoCloseable {

    public static final String KIND = "SHRED_RECEIPT";

    private static final Duration HEARTBEAT = Duration.ofSeconds(60);

    private final KafkaProducer<String, byte[]> producer;
    private final String topic;
    private final AuditChain chain;
    private final ArrayDeque<byte[]> unsent = new ArrayDeque<>();
    private final @Nullable AuditSigner signer;
    private long lastCheckpointNanos = System.nanoTime();

    public ShredReceipts(Map<String, Object> clientProps, String topic, String producerPrefix) {
        this(clientProps, topic, producerPrefix, null);
    }

    /**
     * @param signer signs a checkpoint after every receipt and a final one at close, so {@code audit verify} can
     *               tell a genuine receipt from one computed from public data; null: hash chain only
     */
    public ShredReceipts(
            Map<String, Object> clientProps, String topic, String producerPrefix, @Nullable AuditSigner signer) {
        this.signer = signer;
        Map<String, Object> p = new LinkedHashMap<>(clientProps);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.putIfAbsent(ProducerConfig.CLIENT_ID_CONFIG, producerPrefix + "-receipts");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 30_000);
        this.producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
        this.topic = Objects.requireNonNull(topic, "topic");
        this.chain = new AuditChain(producerPrefix + "-" + UUID.randomUUID());
    }

    /**
     * Appends the receipt and waits for the broker's acknowledgement.
     *
     * @throws StoreException (retriable) if the audit topic cannot be written now
     */
    public Map<String, Object> append(
            String sink,
            String connector,
            int task,
            String store,
            TenantState destroyed,
            ShredRecord shred,
            Duration timeout) {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("kind", KIND);
        f.put("time", Instant.now().toString());
        f.put("tenant", shred.tenantId());
        f.put("sink", sink);
        f.put("connector", connector);
        f.put("task", task);
        f.put("store", store);
        f.put("deleted", new LinkedHashMap<>(shred.deleted()));
        f.put("kept", new LinkedHashMap<>(shred.kept()));
        f.put("shreddedAt", shred.shreddedAt().toString());
        if (destroyed != null) {
            f.put(
                    "destroyedAt",
                    destroyed.since() == null ? null : destroyed.since().toString());
            f.put("kek", destroyed.kms() + ":" + destroyed.kekName() + ":" + destroyed.kekVersion());
        }
        sendUnsent(timeout); // an earlier entry that failed goes first, or the chain would show a gap
        unsent.add(chain.append(f));
        if (signer != null) {
            try {
                unsent.add(chain.checkpoint(signer, false)); // a KMS call: receipts are rare
                lastCheckpointNanos = System.nanoTime();
            } catch (RuntimeException e) {
                // The receipt still goes out; audit verify reports it unsigned until a later checkpoint is.
                org.slf4j.LoggerFactory.getLogger(ShredReceipts.class)
                        .warn(
                                "could not sign an audit checkpoint after the receipt of {}: {}",
                                chain.producer(),
                                e.toString());
            }
        }
        sendUnsent(timeout);
        return f;
    }

    /**
     * Once this task has written receipts, a signed checkpoint at least every minute while it runs (called from
     * the task's {@code put}): a chain whose last checkpoint is older, and not final, is known to be cut or dead.
     */
    public void heartbeatIfDue(Duration timeout) {
        if (signer == null || chain.seq() == 0 || System.nanoTime() - lastCheckpointNanos < HEARTBEAT.toNanos()) {
            return;
        }
        try {
            unsent.add(chain.checkpoint(signer, false));
            lastCheckpointNanos = System.nanoTime();
            sendUnsent(timeout);
        } catch (RuntimeException e) {
            lastCheckpointNanos = System.nanoTime(); // try again in a minute, not on every batch
            org.slf4j.LoggerFactory.getLogger(ShredReceipts.class)
                    .warn("could not write an audit checkpoint of {}: {}", chain.producer(), e.toString());
        }
    }

    /** Sends chained entries that have not been acknowledged yet, in chain order, exactly these bytes. */
    private void sendUnsent(Duration timeout) {
        while (!unsent.isEmpty()) {
            byte[] entry = unsent.peekFirst();
            try {
                producer.send(new ProducerRecord<>(topic, chain.producer(), entry))
                        .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StoreException("interrupted while writing a shred receipt", e, true);
            } catch (ExecutionException | TimeoutException e) {
                throw new StoreException(
                        "a shred receipt could not be written to " + topic + "; it is sent again on the next attempt",
                        e,
                        true);
            }
            unsent.removeFirst();
        }
    }

    public String producerId() {
        return chain.producer();
    }

    @Override
    public void close() {
        if (signer != null && chain.seq() > 0) {
            try {
                unsent.add(chain.checkpoint(signer, true));
                sendUnsent(Duration.ofSeconds(5));
            } catch (RuntimeException e) {
                org.slf4j.LoggerFactory.getLogger(ShredReceipts.class)
                        .warn("could not write the final audit checkpoint of {}: {}", chain.producer(), e.toString());
            }
        }
        producer.close(Duration.ofSeconds(5));
    }
}
