package io.embedseal.keyring.tenant;

import io.embedseal.keyring.KekNaming;
import io.embedseal.keyring.KekResolver;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The tenants the pipeline knows, as the key-event topic told it; shared by the thread that applies key events
 * and the threads that seal. A tenant with no registration is unknown (the caller decides whether that means
 * rejection or auto-registration). Also resolves KEK names: a registered tenant's own key name, otherwise the
 * configured naming. Thread-safe.
 */
public final class TenantDirectory implements KekResolver {

    private final KekNaming fallback;
    private final ConcurrentHashMap<String, TenantState> states = new ConcurrentHashMap<>();
    /**
     * The tenants in {@link #states} by their state's KEK name, kept with it: {@link #tenantFor} is asked for every
     * REGISTERED event, and a scan of all tenants made replaying 100,000 registrations quadratic (minutes).
     */
    private final ConcurrentHashMap<String, java.util.Set<String>> byKekName = new ConcurrentHashMap<>();

    private final Function<String, TenantState> loader;

    /**
     * @param fallback naming for tenants without a registration (auto-registered tenants, and configuration)
     * @param loader   reads a tenant's state from durable storage when it is not in memory (after a restart,
     *                 the global store is restored without passing through {@link #apply}); may return null
     */
    public TenantDirectory(KekNaming fallback, Function<String, TenantState> loader) {
        this.fallback = Objects.requireNonNull(fallback, "fallback");
        this.loader = Objects.requireNonNull(loader, "loader");
    }

    public TenantDirectory(KekNaming fallback) {
        this(fallback, t -> null);
    }

    /** The tenant's state, or null if it never registered. */
    public TenantState get(String tenantId) {
        TenantState s = states.get(tenantId);
        if (s != null) {
            return s;
        }
        TenantState loaded = loader.apply(tenantId);
        if (loaded != null) {
            states.compute(tenantId, (t, current) -> {
                if (current != null) {
                    return current;
                }
                index(null, loaded);
                return loaded;
            });
        }
        return loaded;
    }

    /**
     * Records a tenant's new state.
     *
     * @return false (and no change) when the tenant is already DESTROYED: that state is terminal
     */
    public boolean apply(TenantState state) {
        boolean[] applied = {true};
        states.compute(state.tenantId(), (t, inMap) -> {
            TenantState current = inMap != null ? inMap : loader.apply(t);
            if (current != null
                    && current.status() == TenantStatus.DESTROYED
                    && state.status() != TenantStatus.DESTROYED) {
                applied[0] = false;
                if (inMap == null) {
                    index(null, current); // loaded now: it enters the map, and the index
                }
                return current;
            }
            index(inMap, state); // a loaded state was never in the index: the new one goes in whatever its name
            return state;
        });
        return applied[0];
    }

    /** Forgets a tenant (its registration was deleted from the topic). */
    public void forget(String tenantId) {
        states.computeIfPresent(tenantId, (t, current) -> {
            index(current, null);
            return null;
        });
    }

    /** Moves a tenant in {@link #byKekName} from its old state's KEK name to its new one's; called under its entry. */
    private void index(@Nullable TenantState old, @Nullable TenantState now) {
        String oldName = old == null ? null : old.kekName();
        String newName = now == null ? null : now.kekName();
        if (Objects.equals(oldName, newName)) {
            return;
        }
        if (old != null && oldName != null) {
            String tenant = old.tenantId();
            byKekName.computeIfPresent(oldName, (k, tenants) -> {
                tenants.remove(tenant);
                return tenants.isEmpty() ? null : tenants;
            });
        }
        if (now != null && newName != null) {
            String tenant = now.tenantId();
            byKekName.compute(newName, (k, tenants) -> {
                java.util.Set<String> t = tenants == null ? ConcurrentHashMap.newKeySet() : tenants;
                t.add(tenant);
                return t;
            });
        }
    }

    /** A snapshot of the tenants in memory. */
    public Map<String, TenantState> snapshot() {
        return Map.copyOf(states);
    }

    @Override
    public String kekNameFor(String tenantId) {
        TenantState s = get(tenantId);
        return s != null && s.kekName() != null ? s.kekName() : fallback.kekNameFor(tenantId);
    }

    /** The tenant's pinned public KEK (see {@link TenantState#publicKek()}), or null. */
    @Override
    public io.embedseal.keyring.kms.@Nullable PublicKek publicKekFor(String tenantId) {
        TenantState s = get(tenantId);
        return s == null ? null : s.publicKek();
    }

    @Override
    public @Nullable String tenantFor(String keyName) {
        java.util.Set<String> tenants = byKekName.get(keyName);
        if (tenants != null) {
            for (String t : tenants) {
                return t;
            }
        }
        return fallback.tenantFor(keyName);
    }
}
