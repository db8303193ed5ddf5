package io.embedseal.app.http;

import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.topology.DeadLetterReason;
import io.embedseal.topology.EmbedsealPipeline;
import io.embedseal.topology.metrics.PipelineMeters;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.streams.KafkaStreams;

/**
 * What the status page and {@code /status.json} show, computed from the pipeline's own state: tenants and their
 * key states, totals and per-minute rates (from samples taken every few seconds), dead letters by reason, and the
 * consumer lag on the raw topic as the Streams consumers report it.
 */
public final class StatusModel {

    /** At most this many tenant rows; the rest are counted. */
    public static final int MAX_ROWS = 500;

    /** One tenant's row. */
    public record TenantRow(
            String tenant,
            String state,
            String kek,
            Instant since,
            long sealed,
            double sealedPerMinute,
            long deadLettered,
            Map<String, Long> deadLetteredByReason) {}

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
            int tenantsNotShown) {}

    private record Sample(long nanos, long sealedTotal, Map<String, Long> sealedByTenant) {}

    private final EmbedsealPipeline pipeline;
    private final ArrayDeque<Sample> samples = new ArrayDeque<>();

    public StatusModel(EmbedsealPipeline pipeline) {
        this.pipeline = pipeline;
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
        List<TenantRow> rows = new ArrayList<>();
        Map<String, TenantState> states = new TreeMap<>(pipeline.directory().snapshot());
        int hidden = 0;
        for (TenantState s : states.values()) {
            byState.merge(s.status().name(), 1L, Long::sum);
            if (rows.size() >= MAX_ROWS) {
                hidden++;
                continue;
            }
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
            rows.add(new TenantRow(
                    s.tenantId(),
                    s.status().name(),
                    s.kms() + ":" + s.kekName() + ":" + s.kekVersion(),
                    s.since(),
                    sealed,
                    rate,
                    t == null ? 0 : t.deadLettered(),
                    dlq));
        }
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
                hidden);
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
