package io.embedseal.topology;

import io.embedseal.schemas.KeyEventType;
import org.jspecify.annotations.Nullable;

/**
 * What the topology reports as it works, for metrics. Called on stream threads (and the global thread for key
 * events) for every record: implementations must be cheap and must not block. Tenant ids passed here may come
 * from hostile input (dead letters); bounding label cardinality is the implementation's job.
 */
public interface PipelineMetrics {

    /** A record of the tenant was sealed. */
    void sealed(String tenantId);

    /**
     * A record was dead-lettered.
     *
     * @param tenantId the tenant it claimed, or null when it could not be decoded
     */
    void deadLettered(DeadLetterReason reason, @Nullable String tenantId);

    /**
     * A key event reached this instance.
     *
     * @param propagationMillis from the event's timestamp on the topic to now
     * @param applied           false when refused (the tenant is DESTROYED)
     */
    void keyEvent(KeyEventType type, String tenantId, long propagationMillis, boolean applied);

    /** A record of the key-event topic that changed nothing, by why ({@code KeyEventGate.Refusal} labels). */
    default void keyEventRefused(String refusal) {}

    /** The tenant's key failed ({@code TenantFaults.Kind} names): the tenant is degraded, the others flow on. */
    default void tenantFault(String tenantId, String kind) {}

    /** Reports nothing. */
    PipelineMetrics NONE = new PipelineMetrics() {
        @Override
        public void sealed(String tenantId) {}

        @Override
        public void deadLettered(DeadLetterReason reason, @Nullable String tenantId) {}

        @Override
        public void keyEvent(KeyEventType type, String tenantId, long propagationMillis, boolean applied) {}
    };
}
