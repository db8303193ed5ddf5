package io.embedseal.topology;

import io.embedseal.control.KeyEventGate;
import io.embedseal.control.TenantStates;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.tenant.TenantFaults;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.keyring.tenant.TenantStatus;
import io.embedseal.schemas.KeyEvent;
import io.embedseal.schemas.KeyEventType;
import java.util.Objects;
import java.util.function.Consumer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies key events from the key-event topic, on the global thread of every instance: each record passes the
 * {@link KeyEventGate} (signature, sequence, the tenant's rules), and only what it admits updates the tenant
 * directory the sealing processors consult on each record, and evicts a tenant's DEKs from memory at once when it is
 * revoked, destroyed or rotated.
 *
 * <p>The tenant store holds each tenant's admitted state, never a raw record: Kafka Streams replays the topic through
 * this processor when it rebuilds the store, so a restart applies exactly the same rules, and a record that was
 * refused (a forged event, a tombstone) cannot reach the store by the restore path either.
 */
final class KeyEventProcessor implements Processor<String, byte[], Void, Void> {

    private static final Logger LOG = LoggerFactory.getLogger(KeyEventProcessor.class);

    private final String storeName;
    private final KeyEventGate gate;
    private final Keyring keyring;
    private final Consumer<KeyEventApplied> audit;
    private final PipelineMetrics metrics;
    private final TenantFaults faults;
    private final KeyEventFreshness freshness;

    @SuppressWarnings("NullAway.Init") // set in init(), which Kafka Streams calls before process()
    private KeyValueStore<String, byte[]> store;

    @SuppressWarnings("NullAway.Init") // set in init()
    private ProcessorContext<Void, Void> context;

    KeyEventProcessor(
            String storeName,
            KeyEventGate gate,
            Keyring keyring,
            Consumer<KeyEventApplied> audit,
            PipelineMetrics metrics,
            TenantFaults faults,
            KeyEventFreshness freshness) {
        this.storeName = storeName;
        this.faults = faults;
        this.freshness = freshness;
        this.gate = gate;
        this.keyring = keyring;
        this.audit = audit;
        this.metrics = metrics;
    }

    @Override
    public void init(ProcessorContext<Void, Void> context) {
        this.context = context;
        store = context.getStateStore(storeName);
        // States admitted before a restart (the store resumes from its checkpoint): bring the directory up to date.
        int loaded = 0;
        try (KeyValueIterator<String, byte[]> all = store.all()) {
            while (all.hasNext()) {
                KeyValue<String, byte[]> kv = all.next();
                try {
                    TenantState s = TenantStates.decode(kv.value);
                    if (s.tenantId().equals(kv.key)) {
                        gate.directory().apply(s);
                        loaded++;
                    }
                } catch (IllegalArgumentException e) {
                    LOG.warn(
                            "the tenant store holds an entry for {} that is not a verified state (written by an "
                                    + "older version?): ignored; the tenant must be re-registered with a signed event",
                            kv.key);
                }
            }
        }
        if (loaded > 0) {
            LOG.info("loaded the key state of {} tenants", loaded);
        }
    }

    @Override
    public void process(Record<String, byte[]> record) {
        try {
            apply(record);
        } finally {
            // Counted as applied once it is (or was refused): the freshness check must not run ahead of the store.
            context.recordMetadata().ifPresent(m -> freshness.applied(m.partition(), m.offset()));
        }
    }

    private void apply(Record<String, byte[]> record) {
        String tenant = record.key();
        KeyEventGate.Decision d = gate.admit(tenant, record.value());
        KeyEvent event = d.event();
        switch (d.outcome()) {
            case REFUSED -> {
                String refusal = Objects.requireNonNull(d.refusal()).label();
                LOG.warn("{} ({})", d.describe(), refusal);
                metrics.keyEventRefused(refusal);
                audit.accept(new KeyEventApplied(tenant, event, false, d.describe(), refusal, d.signer()));
                if (event != null && tenant != null) {
                    metrics.keyEvent(event.getType(), tenant, propagationMillis(record), false);
                }
                return;
            }
            case FORGOTTEN -> {
                LOG.warn("{}: tenant {} is unknown from now on", d.describe(), tenant);
                store.delete(Objects.requireNonNull(tenant));
                keyring.evict(tenant);
                return;
            }
            case APPLIED -> {
                // below
            }
        }
        TenantState state = Objects.requireNonNull(d.state());
        KeyEvent e = Objects.requireNonNull(event);
        store.put(Objects.requireNonNull(tenant), TenantStates.encode(state));
        // The tenant's authority acted on its key (restored, rotated, re-registered): its next record asks the KMS
        // again instead of waiting out a fault's cool-down.
        faults.clear(tenant);
        if (state.status() != TenantStatus.ACTIVE
                || e.getType() == KeyEventType.ROTATED
                || e.getType() == KeyEventType.MIGRATED) {
            keyring.evict(tenant); // revocation, destruction and rotation act now, not when a DEK expires
        }
        LOG.info(
                "tenant {} is now {} ({} #{} {}:{}:{} by {}, signed by {})",
                tenant,
                state.status(),
                e.getType(),
                e.getSequence(),
                e.getKms(),
                e.getKekName(),
                e.getKekVersion(),
                e.getActor(),
                d.signer() == null ? "nobody (verification disabled)" : d.signer());
        audit.accept(new KeyEventApplied(tenant, e, true, null, null, d.signer()));
        metrics.keyEvent(e.getType(), tenant, propagationMillis(record), true);
    }

    /** From the event's timestamp on the topic (its produce time) to now, on this instance's clock. */
    private long propagationMillis(Record<String, byte[]> record) {
        return Math.max(0, context.currentSystemTimeMs() - record.timestamp());
    }
}
