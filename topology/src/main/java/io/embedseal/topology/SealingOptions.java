package io.embedseal.topology;

import java.time.Duration;
import java.util.Objects;

/**
 * How the sealing processor treats tenants and failing dependencies.
 *
 * @param autoRegisterTenants   seal for tenants that never registered (their KEK named by configuration); off in
 *                              production, where an unknown tenant is rejected (fail closed)
 * @param sealOriginalInDeadLetters keep a refused record's original value in its dead letter, sealed under the tenant's
 *                              key, when the tenant is active (for replay after a fix)
 * @param maxDependencyWait     how long one record may wait for the KMS or the schema registry to come back before the
 *                              stream thread gives up (and is replaced, retrying the record)
 * @param maxBackoff            the longest pause between two attempts while waiting
 * @param deniedCooldown        after the KMS denied a tenant's key, its records are refused for this long without
 *                              asking the KMS again (no KMS hammering by a revoked tenant's traffic)
 * @param maxEventTimeAhead     how far ahead of this instance's clock an event time (or a delete's record timestamp)
 *                              may be: it becomes the record's version, and one far in the future would freeze the
 *                              record (every later update and delete older than it)
 */
public record SealingOptions(
        boolean autoRegisterTenants,
        boolean sealOriginalInDeadLetters,
        Duration maxDependencyWait,
        Duration maxBackoff,
        Duration deniedCooldown,
        Duration maxEventTimeAhead) {

    /** The default of {@code validation.max-event-time-ahead-seconds}. */
    public static final Duration DEFAULT_MAX_EVENT_TIME_AHEAD = Duration.ofMinutes(5);

    public SealingOptions {
        Objects.requireNonNull(maxDependencyWait, "maxDependencyWait");
        Objects.requireNonNull(maxBackoff, "maxBackoff");
        Objects.requireNonNull(deniedCooldown, "deniedCooldown");
        Objects.requireNonNull(maxEventTimeAhead, "maxEventTimeAhead");
    }

    public SealingOptions(
            boolean autoRegisterTenants,
            boolean sealOriginalInDeadLetters,
            Duration maxDependencyWait,
            Duration maxBackoff,
            Duration deniedCooldown) {
        this(
                autoRegisterTenants,
                sealOriginalInDeadLetters,
                maxDependencyWait,
                maxBackoff,
                deniedCooldown,
                DEFAULT_MAX_EVENT_TIME_AHEAD);
    }

    public static SealingOptions defaults() {
        return new SealingOptions(false, true, Duration.ofSeconds(120), Duration.ofSeconds(5), Duration.ofSeconds(30));
    }

    public SealingOptions withAutoRegisterTenants(boolean on) {
        return new SealingOptions(
                on, sealOriginalInDeadLetters, maxDependencyWait, maxBackoff, deniedCooldown, maxEventTimeAhead);
    }

    public SealingOptions withMaxBackoff(Duration d) {
        return new SealingOptions(
                autoRegisterTenants,
                sealOriginalInDeadLetters,
                maxDependencyWait,
                d,
                deniedCooldown,
                maxEventTimeAhead);
    }
}
