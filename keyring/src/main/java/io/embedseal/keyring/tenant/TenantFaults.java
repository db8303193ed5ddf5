package io.embedseal.keyring.tenant;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * Tenants whose key failed recently, and why: the one place a tenant-caused fault is kept, so it stays that
 * tenant's. While a fault is cooling down, the tenant's records are set aside without asking its KMS (the others
 * flow on); after the cool-down one record tries again; a success clears the fault. A tenant with a fault, cooling
 * down or not, shows as degraded in {@code status} and the metrics until it clears.
 */
public final class TenantFaults {

    /** What kind of fault, by cause; each names how the tenant's records are treated meanwhile. */
    public enum Kind {
        /** The KMS denied the key (disabled, restricted, no permission): treated as a revocation. */
        KEY_DENIED,
        /** The KMS does not know the key: treated as a revocation. */
        KEY_UNKNOWN,
        /**
         * The KMS failed in a way that is neither a denial, an unknown key nor an outage (unsupported operation, HTTP
         * 4xx, an answer that does not parse, a corrupt keyset, a token attribute that forbids the operation).
         */
        KEY_FAILED,
        /** The KMS answers, but not for this tenant's key (a timeout or 5xx on its key alone). */
        KEY_UNAVAILABLE
    }

    /** One tenant's fault. */
    public record Fault(Kind kind, String detail, Instant since, long failures, long retryAtNanos) {
        public Fault {
            Objects.requireNonNull(kind, "kind");
            Objects.requireNonNull(detail, "detail");
            Objects.requireNonNull(since, "since");
        }
    }

    private final ConcurrentHashMap<String, Fault> faults = new ConcurrentHashMap<>();
    private final Duration cooldown;
    private final LongSupplier nanoTime;

    public TenantFaults(Duration cooldown) {
        this(cooldown, System::nanoTime);
    }

    TenantFaults(Duration cooldown, LongSupplier nanoTime) {
        if (cooldown.isNegative()) {
            throw new IllegalArgumentException("cool-down must not be negative");
        }
        this.cooldown = cooldown;
        this.nanoTime = nanoTime;
    }

    /** Records a failure of the tenant's key: its records are set aside for the cool-down. */
    public Fault record(String tenant, Kind kind, String detail) {
        long retryAt = nanoTime.getAsLong() + cooldown.toNanos();
        String bounded = detail.length() > 300 ? detail.substring(0, 300) + "..." : detail;
        return faults.merge(
                tenant,
                new Fault(kind, bounded, Instant.now(), 1, retryAt),
                (old, now) -> new Fault(kind, bounded, old.since(), old.failures() + 1, retryAt));
    }

    /** The tenant's fault while it is cooling down (its records are set aside without asking the KMS), else null. */
    public @Nullable Fault coolingDown(String tenant) {
        if (faults.isEmpty()) {
            return null; // the common case, without hashing
        }
        Fault f = faults.get(tenant);
        return f != null && nanoTime.getAsLong() - f.retryAtNanos() < 0 ? f : null;
    }

    /** The tenant's key worked (or its state changed by a key event): it is no longer degraded. */
    public void clear(String tenant) {
        if (!faults.isEmpty()) {
            faults.remove(tenant);
        }
    }

    /** Whether the tenant has a fault, cooling down or waiting for its next try. */
    public boolean isDegraded(String tenant) {
        return !faults.isEmpty() && faults.containsKey(tenant);
    }

    /**
     * Tenants whose last fault is {@link Kind#KEY_UNAVAILABLE} and still cooling down: when several keys go
     * unavailable at once, the KMS is failing for everybody (a brownout), not one tenant's key.
     */
    public int recentlyUnavailable() {
        if (faults.isEmpty()) {
            return 0;
        }
        long now = nanoTime.getAsLong();
        int n = 0;
        for (Fault f : faults.values()) {
            if (f.kind() == Kind.KEY_UNAVAILABLE && now - f.retryAtNanos() < 0) {
                n++;
            }
        }
        return n;
    }

    public int degradedCount() {
        return faults.size();
    }

    public Duration cooldown() {
        return cooldown;
    }
}
