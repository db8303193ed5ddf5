package io.embedseal.topology;

import io.embedseal.control.KeyEvents;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.tenant.TenantDirectory;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.keyring.tenant.TenantStatus;
import io.embedseal.schemas.KeyEvent;
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
 * Applies key events from the compacted key-event topic, on the global thread of every instance: updates the
 * tenant directory the sealing processors consult on each record, and evicts a tenant's DEKs from memory at once
 * when it is revoked, destroyed or rotated. A DESTROYED tenant stays destroyed: later events for it are refused.
 * Events that do not decode are logged and skipped (they never make a tenant sealable).
 */
final class KeyEventProcessor implements Processor<String, byte[], Void, Void> {

    private static final Logger LOG = LoggerFactory.getLogger(KeyEventProcessor.class);

    private final String storeName;
    private final TenantDirectory directory;
    private final Keyring keyring;
    private final Consumer<KeyEventApplied> audit;
    private final PipelineMetrics metrics;

    @SuppressWarnings("NullAway.Init") // set in init(), which Kafka Streams calls before process()
    private KeyValueStore<String, byte[]> store;

    @SuppressWarnings("NullAway.Init") // set in init()
    private ProcessorContext<Void, Void> context;

    KeyEventProcessor(
            String storeName,
            TenantDirectory directory,
            Keyring keyring,
            Consumer<KeyEventApplied> audit,
            PipelineMetrics metrics) {
        this.storeName = storeName;
        this.directory = directory;
        this.keyring = keyring;
        this.audit = audit;
        this.metrics = metrics;
    }

    @Override
    public void init(ProcessorContext<Void, Void> context) {
        this.context = context;
        store = context.getStateStore(storeName);
        // The store was restored from the topic before this runs: bring the directory up to date with it.
        int loaded = 0;
        try (KeyValueIterator<String, byte[]> all = store.all()) {
            while (all.hasNext()) {
                KeyValue<String, byte[]> kv = all.next();
                try {
                    directory.apply(KeyEvents.toState(KeyEvents.decode(kv.key, kv.value)));
                    loaded++;
                } catch (KeyEvents.InvalidKeyEventException e) {
                    LOG.warn("skipping an invalid stored key event: {}", e.getMessage());
                }
            }
        }
        if (loaded > 0) {
            LOG.info("loaded the key state of {} tenants", loaded);
        }
    }

    @Override
    public void process(Record<String, byte[]> record) {
        String tenant = record.key();
        if (tenant == null) {
            LOG.warn("skipping a key event without a key (the tenant id)");
            return;
        }
        if (record.value() == null) {
            LOG.warn("tenant {} was deleted from the key-event topic: it is unknown from now on", tenant);
            store.delete(tenant);
            directory.forget(tenant);
            keyring.evict(tenant);
            return;
        }
        KeyEvent event;
        try {
            event = KeyEvents.decode(tenant, record.value());
        } catch (KeyEvents.InvalidKeyEventException e) {
            LOG.warn("skipping an invalid key event: {}", e.getMessage());
            return;
        }
        TenantState state = KeyEvents.toState(event);
        boolean applied = directory.apply(state);
        if (!applied) {
            LOG.warn("refusing {} for tenant {}: the tenant is DESTROYED, which is terminal", event.getType(), tenant);
            audit.accept(new KeyEventApplied(event, false, "tenant is destroyed (terminal)"));
            metrics.keyEvent(event.getType(), tenant, propagationMillis(record), false);
            return;
        }
        store.put(tenant, record.value());
        if (state.status() != TenantStatus.ACTIVE || event.getType() == io.embedseal.schemas.KeyEventType.ROTATED) {
            keyring.evict(tenant); // revocation, destruction and rotation act now, not when a DEK expires
        }
        LOG.info(
                "tenant {} is now {} ({} {}:{}:{} by {})",
                tenant,
                state.status(),
                event.getType(),
                event.getKms(),
                event.getKekName(),
                event.getKekVersion(),
                event.getActor());
        audit.accept(new KeyEventApplied(event, true, null));
        metrics.keyEvent(event.getType(), tenant, propagationMillis(record), true);
    }

    /** From the event's timestamp on the topic (its produce time) to now, on this instance's clock. */
    private long propagationMillis(Record<String, byte[]> record) {
        return Math.max(0, context.currentSystemTimeMs() - record.timestamp());
    }
}
