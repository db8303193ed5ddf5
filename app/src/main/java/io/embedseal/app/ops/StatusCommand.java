package io.embedseal.app.ops;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.envelope.EnvelopeException;
import io.embedseal.serdes.envelope.EnvelopeHeader;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "status",
        mixinStandardHelpOptions = true,
        description = {
            "A table per tenant: key state, KEK, DEKs, sealed and dead letters per minute; consumer lag.",
            "Key state and KEK version come from the key-event topic; over the last window "
                    + "(default one minute) the DEKs seen in its sealed records, records sealed and dead letters by reason; then "
                    + "the pipeline's consumer lag on the raw topic. Read from the topics, so it works from anywhere the cluster "
                    + "is reachable; the pipeline's own view is on its status page (http.port)."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:shown", "1:failed", "2:invalid usage"})
public final class StatusCommand extends OperatorCommand {

    @Option(
            names = "--window",
            defaultValue = "60",
            paramLabel = "SECONDS",
            description = "How far back to count (default: ${DEFAULT-VALUE}).")
    int windowSeconds;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    /** One tenant's line. */
    record Row(String tenant, String state, String kek, Set<String> deks, Map<String, Long> dlq) {}

    @Override
    int run(ClusterOptions.Cluster cluster) throws Exception {
        if (windowSeconds < 1 || windowSeconds > 86_400) {
            throw new IllegalArgumentException("--window must be between 1 and 86400 seconds, got " + windowSeconds);
        }
        long since = System.currentTimeMillis() - windowSeconds * 1000L;
        KeyEventLog log = KeyEventLog.read(cluster);
        Map<String, Row> rows = new TreeMap<>();
        for (TenantState s : log.states().values()) {
            rows.put(
                    s.tenantId(),
                    new Row(
                            s.tenantId(),
                            s.status().name(),
                            s.kms() + ":" + s.kekName() + ":" + s.kekVersion(),
                            new HashSet<>(),
                            new TreeMap<>()));
        }
        long[] sealedCounts = new long[1];
        Map<String, long[]> sealed = new HashMap<>();
        TopicReader.read(
                cluster.clientProps(),
                cluster.topics().sealed(),
                since,
                r -> {
                    SealedRecordKey key;
                    try {
                        key = SealedRecordKey.parse(r.key());
                    } catch (IllegalArgumentException e) {
                        return;
                    }
                    Row row = rows.computeIfAbsent(
                            key.tenantId(), t -> new Row(t, "(unregistered)", "", new HashSet<>(), new TreeMap<>()));
                    sealed.computeIfAbsent(key.tenantId(), t -> new long[1])[0]++;
                    sealedCounts[0]++;
                    try {
                        row.deks().add(EnvelopeHeader.parse(r.value()).dekId().toString());
                    } catch (EnvelopeException e) {
                        row.deks().add("(invalid envelope)");
                    }
                },
                null);
        ObjectMapper mapper = new ObjectMapper();
        TopicReader.read(
                cluster.clientProps(),
                cluster.topics().dlq(),
                since,
                r -> {
                    String reason = DeadLetterSummary.reason(r);
                    String tenant = DeadLetterSummary.tenant(r);
                    Row row = rows.get(tenant);
                    if (row == null) {
                        row = rows.computeIfAbsent(
                                "(other)", t -> new Row(t, "", "", new HashSet<>(), new TreeMap<>()));
                    }
                    row.dlq().merge(reason, 1L, Long::sum);
                },
                null);
        long lag = lag(cluster);

        if (json) {
            ObjectNode n = mapper.createObjectNode();
            n.put("windowSeconds", windowSeconds);
            ObjectNode t = n.putObject("tenants");
            rows.values().forEach(r -> {
                ObjectNode o = t.putObject(r.tenant());
                o.put("state", r.state())
                        .put("kek", r.kek())
                        .put("deks", r.deks().size())
                        .put("sealed", sealed.containsKey(r.tenant()) ? sealed.get(r.tenant())[0] : 0);
                ObjectNode d = o.putObject("dlq");
                r.dlq().forEach(d::put);
            });
            n.put("rawLag", lag);
            n.put("applicationId", cluster.applicationId());
            out().println(n);
            return 0;
        }
        String per = windowSeconds == 60 ? "/min" : "/" + windowSeconds + "s";
        out().printf(
                        Locale.ROOT,
                        "%-20s %-10s %-34s %5s %10s  %s%n",
                        "TENANT",
                        "STATE",
                        "KEK",
                        "DEKS",
                        "SEALED" + per,
                        "DLQ" + per + " BY REASON");
        for (Row r : rows.values()) {
            long n = sealed.containsKey(r.tenant()) ? sealed.get(r.tenant())[0] : 0;
            StringBuilder dlq = new StringBuilder();
            r.dlq()
                    .forEach((reason, c) -> dlq.append(dlq.length() == 0 ? "" : ", ")
                            .append(reason)
                            .append(' ')
                            .append(c));
            out().printf(
                            Locale.ROOT,
                            "%-20s %-10s %-34s %5d %,10d  %s%n",
                            r.tenant(),
                            r.state(),
                            r.kek(),
                            r.deks().size(),
                            n,
                            dlq.length() == 0 ? "0" : dlq);
        }
        out().printf(
                        Locale.ROOT,
                        "%nsealed in the last %d s: %,d; consumer lag of %s on %s: %s%n",
                        windowSeconds,
                        sealedCounts[0],
                        cluster.applicationId(),
                        cluster.topics().raw(),
                        lag < 0
                                ? "no committed offsets (pipeline not started?)"
                                : String.format(Locale.ROOT, "%,d", lag));
        return 0;
    }

    /** The pipeline's consumer group lag on the raw topic: end offsets minus committed offsets; -1 if it committed none. */
    private static long lag(ClusterOptions.Cluster cluster) throws Exception {
        try (Admin admin = Admin.create(cluster.clientProps())) {
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(cluster.applicationId())
                    .partitionsToOffsetAndMetadata()
                    .get(30, TimeUnit.SECONDS);
            Map<TopicPartition, OffsetSpec> query = new HashMap<>();
            committed.keySet().stream()
                    .filter(tp -> tp.topic().equals(cluster.topics().raw()))
                    .forEach(tp -> query.put(tp, OffsetSpec.latest()));
            if (query.isEmpty()) {
                return -1;
            }
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> end =
                    admin.listOffsets(query).all().get(30, TimeUnit.SECONDS);
            long lag = 0;
            for (TopicPartition tp : query.keySet()) {
                OffsetAndMetadata c = committed.get(tp);
                var e = end.get(tp);
                lag += e == null ? 0 : Math.max(0, e.offset() - (c == null ? 0 : c.offset()));
            }
            return lag;
        }
    }
}
