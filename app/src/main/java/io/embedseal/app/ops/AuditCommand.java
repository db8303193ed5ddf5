package io.embedseal.app.ops;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.embedseal.control.audit.AuditVerifier;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "audit",
        mixinStandardHelpOptions = true,
        description = "The audit topic.",
        subcommands = {AuditCommand.Verify.class})
public final class AuditCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required: verify");
    }

    @Command(
            name = "verify",
            mixinStandardHelpOptions = true,
            description = {
                "Walks the audit topic and checks every producer's hash chain (pipeline instances, sink tasks, "
                        + "operator runs): sequence numbers without gaps, each entry naming its predecessor's hash, each hash "
                        + "matching its entry. Reports the first broken link of each chain."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:every chain intact", "1:a chain is broken (or reading failed)", "2:invalid usage"})
    static final class Verify extends OperatorCommand {

        @Option(names = "--json", description = "Print one JSON object.")
        boolean json;

        @Override
        int run(ClusterOptions.Cluster cluster) {
            AuditVerifier verifier = new AuditVerifier();
            long n = TopicReader.read(
                    cluster.clientProps(),
                    cluster.topics().audit(),
                    -1,
                    r -> verifier.accept(r.offset(), r.value()),
                    read -> {
                        err().printf(
                                        Locale.ROOT,
                                        "\rverifying %s: %,d entries",
                                        cluster.topics().audit(),
                                        read);
                        err().flush();
                    });
            AuditVerifier.Result result = verifier.result();
            if (json) {
                ObjectNode o = new ObjectMapper().createObjectNode();
                o.put("topic", cluster.topics().audit()).put("entries", n).put("intact", result.intact());
                ObjectNode chains = o.putObject("chains");
                result.entriesByProducer().forEach(chains::put);
                var breaks = o.putArray("breaks");
                result.breaks()
                        .forEach(b -> breaks.addObject()
                                .put("producer", b.producer())
                                .put("offset", b.offset())
                                .put("problem", b.problem()));
                out().println(o);
            } else {
                out().printf(
                                Locale.ROOT,
                                "%,d entries on %s in %d chains%n",
                                n,
                                cluster.topics().audit(),
                                result.entriesByProducer().size());
                result.entriesByProducer().forEach((p, c) -> out().printf(Locale.ROOT, "  %-60s %,8d%n", p, c));
                if (result.intact()) {
                    out().println("every chain is intact");
                } else {
                    result.breaks()
                            .forEach(b -> out().printf(
                                            Locale.ROOT,
                                            "BROKEN: chain %s at offset %d: %s%n",
                                            b.producer(),
                                            b.offset(),
                                            b.problem()));
                }
            }
            return result.intact() ? 0 : 1;
        }
    }
}
