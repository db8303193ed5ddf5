package io.embedseal.app.ops;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "dlq",
        mixinStandardHelpOptions = true,
        description = "The dead-letter topic.",
        subcommands = {DlqCommand.Inspect.class})
public final class DlqCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required: inspect");
    }

    @Command(
            name = "inspect",
            mixinStandardHelpOptions = true,
            description = {
                "Counts dead letters by reason and tenant, with the first and last time of each reason. Prints no "
                        + "payload, detail or sealed original: only reasons, tenant ids and counts."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:summarised", "1:failed", "2:invalid usage"})
    static final class Inspect extends OperatorCommand {

        @Option(
                names = "--since",
                paramLabel = "DURATION",
                description = "Only dead letters newer than this, e.g. PT1H or 90m " + "(default: the whole topic).")
        String since;

        @Option(names = "--json", description = "Print one JSON object.")
        boolean json;

        @Override
        int run(ClusterOptions.Cluster cluster) {
            long from = since == null
                    ? -1
                    : System.currentTimeMillis() - parse(since).toMillis();
            Map<String, Map<String, Long>> byReason = new TreeMap<>();
            Map<String, long[]> firstLast = new TreeMap<>();
            ObjectMapper mapper = new ObjectMapper();
            long total = TopicReader.read(
                    cluster.clientProps(),
                    cluster.topics().dlq(),
                    from,
                    r -> {
                        String reason = DeadLetterSummary.reason(r);
                        String tenant = DeadLetterSummary.tenant(r);
                        byReason.computeIfAbsent(reason, x -> new TreeMap<>()).merge(tenant, 1L, Long::sum);
                        long[] fl = firstLast.computeIfAbsent(reason, x -> new long[] {Long.MAX_VALUE, Long.MIN_VALUE});
                        fl[0] = Math.min(fl[0], r.timestamp());
                        fl[1] = Math.max(fl[1], r.timestamp());
                    },
                    n -> {
                        err().printf(
                                        Locale.ROOT,
                                        "\rreading %s: %,d dead letters",
                                        cluster.topics().dlq(),
                                        n);
                        err().flush();
                    });
            if (json) {
                ObjectNode n = mapper.createObjectNode();
                n.put("topic", cluster.topics().dlq()).put("total", total);
                ObjectNode reasons = n.putObject("byReason");
                byReason.forEach((reason, tenants) -> {
                    ObjectNode o = reasons.putObject(reason);
                    o.put(
                            "count",
                            tenants.values().stream().mapToLong(Long::longValue).sum());
                    o.put(
                            "first",
                            Instant.ofEpochMilli(java.util.Objects.requireNonNull(firstLast.get(reason))[0])
                                    .toString());
                    o.put(
                            "last",
                            Instant.ofEpochMilli(java.util.Objects.requireNonNull(firstLast.get(reason))[1])
                                    .toString());
                    ObjectNode t = o.putObject("tenants");
                    tenants.forEach(t::put);
                });
                out().println(n);
                return 0;
            }
            out().printf(
                            Locale.ROOT,
                            "%,d dead letters on %s%s%n",
                            total,
                            cluster.topics().dlq(),
                            since == null ? "" : " in the last " + since);
            byReason.forEach((reason, tenants) -> {
                long count =
                        tenants.values().stream().mapToLong(Long::longValue).sum();
                out().printf(
                                Locale.ROOT,
                                "%n%-24s %,10d   %s .. %s%n",
                                reason,
                                count,
                                Instant.ofEpochMilli(java.util.Objects.requireNonNull(firstLast.get(reason))[0]),
                                Instant.ofEpochMilli(java.util.Objects.requireNonNull(firstLast.get(reason))[1]));
                tenants.forEach((t, c) -> out().printf(Locale.ROOT, "    %-20s %,10d%n", t, c));
            });
            return 0;
        }

        static Duration parse(String text) {
            String t = text.trim();
            try {
                if (t.toUpperCase(Locale.ROOT).startsWith("P")) {
                    return Duration.parse(t.toUpperCase(Locale.ROOT));
                }
                long n = Long.parseLong(t.substring(0, t.length() - 1));
                return switch (t.charAt(t.length() - 1)) {
                    case 's' -> Duration.ofSeconds(n);
                    case 'm' -> Duration.ofMinutes(n);
                    case 'h' -> Duration.ofHours(n);
                    case 'd' -> Duration.ofDays(n);
                    default -> throw new IllegalArgumentException();
                };
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(
                        "--since '" + text + "' is not a duration: use 90s, 15m, 2h, 7d or ISO-8601 (PT1H)");
            }
        }
    }
}
