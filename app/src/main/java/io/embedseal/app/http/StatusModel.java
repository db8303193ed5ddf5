package io.embedseal.app.http;

import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.topology.DeadLetterReason;
import io.embedseal.topology.EmbedsealPipeline;
import io.embedseal.topology.metrics.PipelineMeters;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.streams.KafkaStreams;

/**
 * What the status page and {@code /status.json} show, computed from the pipeline's own state: tenants by key state,
 * totals and per-minute rates (from samples taken every few seconds), dead letters by reason, the consumer lag on
 * the raw topic as the Streams consumers report it, and a few tenants' rows.
 *
 * <p>No more than an operator needs: at most {@code http.status.tenant-rows} tenants are listed (those with dead
 * letters first, then those not ACTIVE, latest change first, then the busiest), the others only as counts and
 * totals; a row names the tenant's KMS and key version, never the key's name (the CLI's {@code tenants list} does).
 */
public final class StatusModel {

    /** At most this many tenant rows, whatever the setting says. */
    public static final int MAX_ROWS = 500;

    /** One tenant's row: its KMS and the version of its key, not the key's name. */
    public record TenantRow(
            String tenant,
            String state,
            String kms,
            int kekVersion,
            Instant since,
            long sealed,
            double sealedPerMinute,
            long deadLettered,
            Map<String, Long> deadLetteredByReason) {}

    /** The tenants not listed, together. */
    public record OtherTenants(int count, long sealed, double sealedPerMinute, long deadLettered) {}

    /** The page's data. */
    public record Snapshot(
            Instant time,
            String applicationId,
            String streamsState,
            String health,
            Map<String, Instant> problems,
            String kms,
            boolean kmsAnswers,
            long sealedTotal,
            double sealedPerSecond,
            Map<String, Long> deadLettersByReason,
            long rawLag,
            Map<String, Long> tenantsByState,
            List<TenantRow> tenants,
            OtherTenants otherTenants) {}

    private record Sample(long nanos, long sealedTotal, Map<String, Long> sealedByTenant) {}

    private final EmbedsealPipeline pipeline;
    private final int tenantRows;
    private final ArrayDeque<Sample> samples = new ArrayDeque<>();

    /** @param tenantRows tenants listed at most ({@code http.status.tenant-rows}); the rest are counted together */
    public StatusModel(EmbedsealPipeline pipeline, int tenantRows) {
        this.pipeline = pipeline;
        this.tenantRows = Math.max(0, Math.min(tenantRows, MAX_ROWS));
    }

    /** Records the current totals; called every few seconds, keeps about a minute. */
    public synchronized void sample() {
        PipelineMeters m = pipeline.meters();
        Map<String, Long> byTenant = new HashMap<>();
        m.tenantTotals().forEach((t, totals) -> byTenant.put(t, totals.sealed()));
        long now = System.nanoTime();
        samples.addLast(new Sample(now, m.sealedTotal(), byTenant));
        while (samples.size() > 2 && now - samples.peekFirst().nanos > 65_000_000_000L) {
            samples.removeFirst();
        }
    }

    public synchronized Snapshot snapshot() {
        PipelineMeters m = pipeline.meters();
        Map<String, PipelineMeters.TenantTotals> totals = m.tenantTotals();
        Sample oldest = samples.peekFirst();
        long now = System.nanoTime();
        double minutes = oldest == null ? 0 : (now - oldest.nanos) / 60e9;
        long sealedTotal = m.sealedTotal();
        double perSecond = oldest == null || minutes <= 0 ? 0 : (sealedTotal - oldest.sealedTotal) / (minutes * 60);

        Map<String, Long> byState = new TreeMap<>();
        List<TenantRow> all = new ArrayList<>();
        for (TenantState s : pipeline.directory().snapshot().values()) {
            byState.merge(s.status().name(), 1L, Long::sum);
            PipelineMeters.TenantTotals t = totals.get(s.tenantId());
            long sealed = t == null ? 0 : t.sealed();
            double rate = 0;
            if (oldest != null && minutes > 0) {
                rate = (sealed - oldest.sealedByTenant.getOrDefault(s.tenantId(), 0L)) / minutes;
            }
            Map<String, Long> dlq = new TreeMap<>();
            if (t != null) {
                t.deadLetteredByReason().forEach((r, n) -> dlq.put(r.name(), n));
            }
            all.add(new TenantRow(
                    s.tenantId(),
                    s.status().name(),
                    s.kms(),
                    s.kekVersion(),
                    s.since(),
                    sealed,
                    rate,
                    t == null ? 0 : t.deadLettered(),
                    dlq));
        }
        List<TenantRow> rows = select(all, tenantRows);
        OtherTenants others = others(all, rows);
        Map<String, Long> dlqByReason = new TreeMap<>();
        for (Map.Entry<DeadLetterReason, Long> e : m.deadLettersByReason().entrySet()) {
            dlqByReason.put(e.getKey().name(), e.getValue());
        }
        KafkaStreams streams = pipeline.streams();
        return new Snapshot(
                Instant.now(),
                pipeline.config().applicationId(),
                streams.state().name(),
                pipeline.health().status().name(),
                pipeline.health().problems(),
                pipeline.keyring().provider(),
                pipeline.kmsAnswers(),
                sealedTotal,
                perSecond,
                dlqByReason,
                rawLag(streams, pipeline.config().topics().raw()),
                byState,
                rows,
                others);
    }

    /** The order rows are listed in: dead letters first, then tenants not ACTIVE (latest change first), then the busiest. */
    static final Comparator<TenantRow> ATTENTION_FIRST = Comparator.comparingLong(TenantRow::deadLettered)
            .reversed()
            .thenComparing(r -> r.state().equals("ACTIVE"))
            .thenComparing(TenantRow::since, Comparator.nullsLast(Comparator.reverseOrder()))
            .thenComparing(
                    Comparator.comparingDouble(TenantRow::sealedPerMinute).reversed())
            .thenComparing(TenantRow::tenant);

    /** The rows to list: at most {@code max}, in {@link #ATTENTION_FIRST} order. */
    static List<TenantRow> select(List<TenantRow> all, int max) {
        return all.stream().sorted(ATTENTION_FIRST).limit(max).toList();
    }

    static OtherTenants others(List<TenantRow> all, List<TenantRow> listed) {
        Set<String> shown = new HashSet<>();
        listed.forEach(r -> shown.add(r.tenant()));
        int count = 0;
        long sealed = 0;
        double rate = 0;
        long dlq = 0;
        for (TenantRow r : all) {
            if (!shown.contains(r.tenant())) {
                count++;
                sealed += r.sealed();
                rate += r.sealedPerMinute();
                dlq += r.deadLettered();
            }
        }
        return new OtherTenants(count, sealed, rate, dlq);
    }

    /**
     * Sum of the Streams consumers' {@code records-lag} over the raw topic's partitions they hold (-1 if unknown). The
     * consumer tags per-partition metrics with the topic name's dots replaced by underscores.
     */
    static long rawLag(KafkaStreams streams, String rawTopic) {
        double lag = 0;
        boolean seen = false;
        for (Map.Entry<MetricName, ? extends Metric> e : streams.metrics().entrySet()) {
            MetricName n = e.getKey();
            if (n.name().equals("records-lag")
                    && n.group().equals("consumer-fetch-manager-metrics")
                    && (rawTopic.equals(n.tags().get("topic"))
                            || rawTopic.replace('.', '_').equals(n.tags().get("topic")))) {
                Object v = e.getValue().metricValue();
                if (v instanceof Number number && !Double.isNaN(number.doubleValue())) {
                    lag += number.doubleValue();
                    seen = true;
                }
            }
        }
        return seen ? Math.round(lag) : -1;
    }
}
