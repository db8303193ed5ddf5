package io.embedseal.topology.metrics;

import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.TenantIds;
import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsOutcome;
import io.embedseal.keyring.kms.decorator.KmsObserver;
import io.embedseal.keyring.tenant.TenantDirectory;
import io.embedseal.keyring.tenant.TenantFaults;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.keyring.tenant.TenantStatus;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.topology.DeadLetterReason;
import io.embedseal.topology.PipelineHealth;
import io.embedseal.topology.PipelineMetrics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.ToDoubleFunction;
import org.apache.kafka.streams.KafkaStreams;
import org.jspecify.annotations.Nullable;

/**
 * The pipeline's metrics in a Prometheus registry: records sealed and dead-lettered, KMS calls and their latency,
 * DEK cache hits, misses and size, tenants by state, key events and how long they took to arrive, health, and
 * Kafka Streams' own client metrics. Names are listed in {@code docs/operations.md}.
 * <p>
 * Tenant labels are bounded: the first {@code maxTenantSeries} registered tenants seen get a series of their own,
 * later ones share {@code _other}; tenant ids that are not registered (they may be hostile input) are counted as
 * {@code _unregistered} or {@code _invalid}, never as labels. Totals per registered tenant are kept for the status
 * page whatever the cap.
 */
public final class PipelineMeters implements PipelineMetrics, KmsObserver, AutoCloseable {

    public static final String OTHER = "_other";
    public static final String UNREGISTERED = "_unregistered";
    public static final String INVALID = "_invalid";
    public static final String NO_TENANT = "_none";

    /** A registered tenant's totals, for the status page. */
    public static final class TenantTotals {
        private final LongAdder sealed = new LongAdder();
        private final ConcurrentHashMap<DeadLetterReason, LongAdder> dlq = new ConcurrentHashMap<>();

        public long sealed() {
            return sealed.sum();
        }

        public long deadLettered() {
            return dlq.values().stream().mapToLong(LongAdder::sum).sum();
        }

        public Map<DeadLetterReason, Long> deadLetteredByReason() {
            Map<DeadLetterReason, Long> out = new TreeMap<>();
            dlq.forEach((r, n) -> out.put(r, n.sum()));
            return out;
        }
    }

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final TenantDirectory directory;
    private final int maxTenantSeries;
    private final Set<String> labelled = ConcurrentHashMap.newKeySet();
    private final ConcurrentHashMap<String, LongAdder> sealed = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> deadLettered = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Timer> kmsCalls = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, TenantTotals> totals = new ConcurrentHashMap<>();
    private final EnumMap<DeadLetterReason, LongAdder> dlqByReason = new EnumMap<>(DeadLetterReason.class);
    private final LongAdder sealedTotal = new LongAdder();
    private @Nullable KafkaStreamsMetrics streamsMetrics;

    /**
     * @param maxTenantSeries how many tenants get series of their own ({@code metrics.tenant-series.max})
     */
    public PipelineMeters(TenantDirectory directory, int maxTenantSeries) {
        if (maxTenantSeries < 0) {
            throw new IllegalArgumentException("metrics.tenant-series.max must be 0 or more, got " + maxTenantSeries);
        }
        this.directory = directory;
        this.maxTenantSeries = maxTenantSeries;
        for (DeadLetterReason r : DeadLetterReason.values()) {
            dlqByReason.put(r, new LongAdder());
        }
        for (TenantStatus status : TenantStatus.values()) {
            Gauge.builder("embedseal.tenants", directory, d -> count(d, status))
                    .description("Tenants by key state, from the key-event topic")
                    .tag("state", status.name())
                    .register(registry);
        }
    }

    private static double count(TenantDirectory d, TenantStatus status) {
        long n = 0;
        for (TenantState s : d.snapshot().values()) {
            if (s.status() == status) {
                n++;
            }
        }
        return n;
    }

    /** Adds the keyring's DEK cache counters and sizes. */
    public PipelineMeters bindKeyring(Keyring keyring) {
        functionCounter(
                "embedseal.dek.cache.hits", "seal", keyring, k -> k.cacheStats().sealHits(), "DEK cache hits");
        functionCounter(
                "embedseal.dek.cache.misses",
                "seal",
                keyring,
                k -> k.cacheStats().sealMisses(),
                "DEK cache misses (each one creates and wraps a DEK through the KMS)");
        functionCounter(
                "embedseal.dek.cache.hits", "open", keyring, k -> k.cacheStats().openHits(), "DEK cache hits");
        functionCounter(
                "embedseal.dek.cache.misses",
                "open",
                keyring,
                k -> k.cacheStats().openMisses(),
                "DEK cache misses (each one unwraps a DEK through the KMS)");
        Gauge.builder("embedseal.dek.cache.size", keyring, Keyring::activeDekCount)
                .tag("cache", "seal")
                .description("Tenants with an active sealing DEK in memory")
                .register(registry);
        Gauge.builder("embedseal.dek.cache.size", keyring, Keyring::cachedDekCount)
                .tag("cache", "open")
                .description("Unwrapped DEKs held for opening")
                .register(registry);
        return this;
    }

    private void functionCounter(
            String name, String cache, Keyring keyring, ToDoubleFunction<Keyring> f, String description) {
        FunctionCounter.builder(name, keyring, f)
                .tag("cache", cache)
                .description(description)
                .register(registry);
    }

    /** Adds the pipeline's health: 1 while DEGRADED (a dependency is unreachable and records wait). */
    public PipelineMeters bindHealth(PipelineHealth health) {
        Gauge.builder("embedseal.pipeline.degraded", health, h -> h.status() == PipelineHealth.Status.DEGRADED ? 1 : 0)
                .description("1 while a dependency (KMS, schema registry) is unreachable and records wait")
                .register(registry);
        return this;
    }

    /** Adds the tenants whose key is failing: the count of degraded tenants (each one's cause is on the status page). */
    public PipelineMeters bindFaults(TenantFaults faults) {
        Gauge.builder("embedseal.tenants.degraded", faults, TenantFaults::degradedCount)
                .description("Tenants whose key failed recently (denied, unknown, failed or unavailable): their "
                        + "records are dead-lettered while the others flow on")
                .register(registry);
        return this;
    }

    @Override
    public void tenantFault(String tenantId, String kind) {
        Counter.builder("embedseal.tenant.key.faults")
                .tag("kind", kind)
                .tag("tenant", label(tenantId))
                .description("Failures of a tenant's key, by kind (tenant label bounded)")
                .register(registry)
                .increment();
    }

    /** Adds Kafka Streams' client metrics (threads, tasks, the embedded clients' fetch lag, ...). */
    public synchronized PipelineMeters bindStreams(KafkaStreams streams) {
        streamsMetrics = new KafkaStreamsMetrics(streams);
        streamsMetrics.bindTo(registry);
        return this;
    }

    /** The label for a tenant: itself while within the cap, else one of the shared labels. */
    String label(@Nullable String tenantId) {
        if (tenantId == null) {
            return NO_TENANT;
        }
        if (!TenantIds.isValid(tenantId)) {
            return INVALID;
        }
        if (labelled.contains(tenantId)) {
            return tenantId;
        }
        if (directory.get(tenantId) == null) {
            return UNREGISTERED;
        }
        synchronized (labelled) {
            if (labelled.size() < maxTenantSeries) {
                labelled.add(tenantId);
                return tenantId;
            }
        }
        return OTHER;
    }

    /**
     * A registered tenant's sealed-record counting, resolved once: its totals, whose sealed count is also its own
     * series when it has one, and the series' count to increment as well ({@code _other}'s when it has no series of
     * its own), or null. One lookup per record: with thousands of tenants interleaving, every per-tenant object a
     * record touches is a likely cache miss.
     */
    private record TenantCounters(
            TenantTotals totals, @Nullable LongAdder also) {}

    private final ConcurrentHashMap<String, TenantCounters> tenantCounters = new ConcurrentHashMap<>();

    @Override
    public void sealed(String tenantId) {
        sealedTotal.increment();
        TenantCounters c = tenantId == null ? null : tenantCounters.get(tenantId);
        if (c == null && tenantId != null && TenantIds.isValid(tenantId) && directory.get(tenantId) != null) {
            c = tenantCounters.computeIfAbsent(tenantId, this::countersOf);
        }
        if (c != null) {
            c.totals().sealed.increment();
            LongAdder also = c.also();
            if (also != null) {
                also.increment();
            }
            return;
        }
        sealedSeries(label(tenantId), null).increment(); // unregistered, invalid or missing: no label of its own
    }

    private TenantCounters countersOf(String tenantId) {
        String l = label(tenantId);
        TenantTotals t = totals.computeIfAbsent(tenantId, x -> new TenantTotals());
        if (!l.equals(tenantId)) {
            return new TenantCounters(t, sealedSeries(l, null)); // _other
        }
        LongAdder series = sealedSeries(l, t.sealed);
        // Its own series counts its totals, unless (rarely) the series was made before it registered: then that too.
        return new TenantCounters(t, series == t.sealed ? null : series);
    }

    private static final String SEALED_DESCRIPTION =
            "Records sealed (tenant label bounded by metrics.tenant-series.max)";

    /**
     * The count behind the {@code embedseal.sealed.records} series of a label, made (over {@code count}, or a new one)
     * the first time: every such series is a function counter over a {@link LongAdder}, whichever path made it.
     */
    private LongAdder sealedSeries(String label, @Nullable LongAdder count) {
        return sealed.computeIfAbsent(label, l -> {
            LongAdder n = count != null ? count : new LongAdder();
            FunctionCounter.builder("embedseal.sealed.records", n, LongAdder::sum)
                    .tag("tenant", l)
                    .description(SEALED_DESCRIPTION)
                    .register(registry);
            return n;
        });
    }

    @Override
    public void deadLettered(DeadLetterReason reason, @Nullable String tenantId) {
        String l = label(tenantId);
        deadLettered
                .computeIfAbsent(
                        reason.name() + '\u0000' + l,
                        k -> Counter.builder("embedseal.dlq.records")
                                .tag("reason", reason.name())
                                .tag("tenant", l)
                                .description("Records dead-lettered, by reason (tenant label bounded)")
                                .register(registry))
                .increment();
        java.util.Objects.requireNonNull(dlqByReason.get(reason), "a counter per reason is made up front")
                .increment();
        if (tenantId != null && TenantIds.isValid(tenantId) && directory.get(tenantId) != null) {
            totals.computeIfAbsent(tenantId, t -> new TenantTotals())
                    .dlq
                    .computeIfAbsent(reason, r -> new LongAdder())
                    .increment();
        }
    }

    @Override
    public void keyEventRefused(String refusal) {
        Counter.builder("embedseal.key.events.refused")
                .tag("refusal", refusal)
                .description("Records of the key-event topic that changed nothing: unsigned, badly signed, "
                        + "out of sequence or contradictory")
                .register(registry)
                .increment();
    }

    @Override
    public void keyEvent(KeyEventType type, String tenantId, long propagationMillis, boolean applied) {
        Counter.builder("embedseal.key.events")
                .tag("type", type.name())
                .tag("outcome", applied ? "applied" : "refused")
                .description("Key events received from the key-event topic")
                .register(registry)
                .increment();
        Timer.builder("embedseal.key.event.propagation")
                .tag("type", type.name())
                .description("From a key event's timestamp on the topic to this instance applying it")
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofMinutes(5))
                .register(registry)
                .record(propagationMillis, TimeUnit.MILLISECONDS);
    }

    @Override
    public void onCall(String provider, KmsOperation operation, KmsOutcome outcome, long nanos) {
        kmsCalls.computeIfAbsent(
                        provider + '\u0000' + operation + '\u0000' + outcome,
                        k -> Timer.builder("embedseal.kms.calls")
                                .tag("provider", provider)
                                .tag("operation", operation.name())
                                .tag("outcome", outcome.name())
                                .description(
                                        "KMS calls (each attempt), by provider, operation and outcome, with their latency")
                                .publishPercentileHistogram()
                                .minimumExpectedValue(Duration.ofNanos(1_000))
                                .maximumExpectedValue(Duration.ofSeconds(30))
                                .register(registry))
                .record(nanos, TimeUnit.NANOSECONDS);
    }

    /** Totals of every registered tenant that sealed or dead-lettered anything so far. */
    public Map<String, TenantTotals> tenantTotals() {
        return new TreeMap<>(totals);
    }

    /** Dead letters by reason, all tenants. */
    public Map<DeadLetterReason, Long> deadLettersByReason() {
        Map<DeadLetterReason, Long> out = new TreeMap<>();
        dlqByReason.forEach((r, n) -> {
            if (n.sum() > 0) {
                out.put(r, n.sum());
            }
        });
        return out;
    }

    public long sealedTotal() {
        return sealedTotal.sum();
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** The Prometheus text exposition of every metric. */
    public String scrape() {
        return registry.scrape();
    }

    @Override
    public synchronized void close() {
        if (streamsMetrics != null) {
            streamsMetrics.close();
        }
        registry.close();
    }
}
