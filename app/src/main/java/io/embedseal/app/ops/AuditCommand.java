package io.embedseal.app.ops;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.embedseal.control.TrustedSigners;
import io.embedseal.control.audit.AuditKeys;
import io.embedseal.control.audit.AuditVerifier;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.KmsProvider;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
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
                        + "matching its entry. Reports the first broken link of each chain.",
                "Then authenticity: every CHECKPOINT entry must be signed by a key of kms.audit.trusted-signers "
                        + "(read from the KMS), which vouches for its chain up to it; nothing may follow a final "
                        + "checkpoint; a chain that is not closed must have a signed checkpoint younger than "
                        + "--max-open-seconds (else it was cut, or its producer stopped without closing); "
                        + "--expect compares a chain's length with what the caller knows."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {
                "0:every chain intact and signed",
                "1:a chain is broken, unsigned, cut or not as expected (or reading failed)",
                "2:invalid usage"
            })
    static final class Verify extends OperatorCommand {

        @Option(names = "--json", description = "Print one JSON object.")
        boolean json;

        @Option(
                names = "--expect",
                paramLabel = "PRODUCER=ENTRIES",
                description = "The number of entries a producer wrote, as the caller knows it (repeatable).")
        Map<String, Long> expect = new LinkedHashMap<>();

        @Option(
                names = "--max-open-seconds",
                defaultValue = "180",
                description = "How old the last signed checkpoint of a chain that is still open may be "
                        + "(default: ${DEFAULT-VALUE}; a producer signs one when it starts, every 10 s while it "
                        + "writes, at least every 60 s while it is idle, and a final one when it closes).")
        long maxOpenSeconds;

        @Override
        int run(ClusterOptions.Cluster cluster) {
            TrustedSigners trusted;
            Map<String, String> roles;
            try (KmsProvider provider = KmsProviders.create(cluster.keyringSettings())) {
                trusted = AuditKeys.trusted(cluster.keyringSettings(), provider::signingKeys);
                roles = AuditKeys.roles(cluster.keyringSettings(), provider::signingKeys);
            }
            if (trusted.isEmpty()) {
                throw new IllegalArgumentException(KeyringSettings.AUDIT_TRUSTED_SIGNERS.name()
                        + " names no key that exists: nothing could vouch for an audit entry");
            }
            AuditVerifier verifier = new AuditVerifier(trusted, roles);
            expect.forEach(verifier::expect);
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
            List<String> problems = result.problems(Instant.now(), Duration.ofSeconds(maxOpenSeconds));
            boolean ok = result.intact() && problems.isEmpty();
            if (json) {
                ObjectNode o = new ObjectMapper().createObjectNode();
                o.put("topic", cluster.topics().audit())
                        .put("entries", n)
                        .put("intact", result.intact())
                        .put("authentic", ok);
                var ps = o.putArray("problems");
                problems.forEach(ps::add);
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
                result.chains()
                        .forEach((p, c) -> out().printf(
                                        Locale.ROOT,
                                        "  %-60s %,8d  %s%n",
                                        p,
                                        c.entries(),
                                        c.closed()
                                                ? "closed, signed by " + c.signer()
                                                : c.lastSigned() == null
                                                        ? "no signed checkpoint"
                                                        : "open, signed up to entry " + c.checkpointed() + " by "
                                                                + c.signer()));
                problems.forEach(p -> out().println("PROBLEM: " + p));
                if (ok) {
                    out().println("every chain is intact and signed");
                } else if (result.intact()) {
                    out().println("the chains link up, but the trail is not proven complete and genuine");
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
            return ok ? 0 : 1;
        }
    }
}
