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
 */
public record SealingOptions(
        boolean autoRegisterTenants,
        boolean sealOriginalInDeadLetters,
        Duration maxDependencyWait,
        Duration maxBackoff,
        Duration deniedCooldown) {

    public SealingOptions {
        Objects.requireNonNull(maxDependencyWait, "maxDependencyWait");
        Objects.requireNonNull(maxBackoff, "maxBackoff");
        Objects.requireNonNull(deniedCooldown, "deniedCooldown");
    }

    public static SealingOptions defaults() {
        return new SealingOptions(false, true, Duration.ofSeconds(120), Duration.ofSeconds(5), Duration.ofSeconds(30));
    }

    public SealingOptions withAutoRegisterTenants(boolean on) {
        return new SealingOptions(on, sealOriginalInDeadLetters, maxDependencyWait, maxBackoff, deniedCooldown);
    }

    public SealingOptions withMaxBackoff(Duration d) {
        return new SealingOptions(autoRegisterTenants, sealOriginalInDeadLetters, maxDependencyWait, d, deniedCooldown);
    }
}
