package io.embedseal.topology.audit;

import io.embedseal.control.audit.AuditChain;
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
import java.util.function.Consumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
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

    public AuditTrail(Producer<String, byte[]> producer, String topic, String producerId, PipelineHealth health) {
        this(producer, false, topic, producerId, health);
    }

    private AuditTrail(
            Producer<String, byte[]> producer, boolean owns, String topic, String producerId, PipelineHealth health) {
        this.producer = Objects.requireNonNull(producer, "producer");
        this.ownsProducer = owns;
        this.topic = Objects.requireNonNull(topic, "topic");
        this.chain = new AuditChain(producerId);
        this.health = health;
    }

    /** An audit trail with its own producer, under a fresh producer id {@code <prefix>-<uuid>}. */
    public static AuditTrail create(
            String bootstrapServers,
            Map<String, Object> clientOverrides,
            String topic,
            String producerPrefix,
            PipelineHealth health) {
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
                health);
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
            f.put("kek", e.getKms() + ":" + e.getKekName() + ":" + e.getKekVersion());
            f.put("eventTime", e.getTime().toString());
            f.put("actor", e.getActor());
            if (e.getReason() != null) {
                f.put("reason", e.getReason());
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
        byte[] entry = chain.append(fields);
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
        producer.flush();
        if (ownsProducer) {
            producer.close(Duration.ofSeconds(10));
        }
    }
}
