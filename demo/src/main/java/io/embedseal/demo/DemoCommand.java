package io.embedseal.demo;

import io.embedseal.app.KmsOptions;
import io.embedseal.keyring.kms.KmsException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "demo",
        mixinStandardHelpOptions = true,
        description = {
            "Runs the whole pipeline on embedded defaults and checks it end to end.",
            "An in-process Kafka broker, the local "
                    + "KMS (development only), the sealing topology with exactly-once, synthetic embeddings for a few "
                    + "tenants plus one record of each invalid kind.",
            "Then it unseals every sealed record with an independent reader and compares it with what was "
                    + "produced, checks each dead letter's reason, and scans the sealed and dead-letter topics' "
                    + "segment files on disk for the produced vectors' bytes (the raw topic is scanned as a control)."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:every check held", "1:a check failed (listed in the output)", "2:invalid usage"})
public final class DemoCommand implements Callable<Integer> {

    @Option(
            names = "--tenants",
            defaultValue = "3",
            description = "Tenants to produce for (default: ${DEFAULT-VALUE}).")
    int tenants;

    @Option(
            names = "--records",
            defaultValue = "1000",
            description = "Valid records per tenant (default: ${DEFAULT-VALUE}).")
    int records;

    @Option(
            names = "--dims",
            defaultValue = "384",
            description = "Vector dimensions (default: ${DEFAULT-VALUE}, what all-MiniLM-L6-v2 makes; other sizes "
                    + "need --synthetic-vectors).")
    int dims;

    @Option(
            names = "--synthetic-vectors",
            description = "Random unit vectors instead of real sentences embedded with all-MiniLM-L6-v2 in-process "
                    + "(faster; the final searches are then not questions).")
    boolean syntheticVectors;

    @Option(
            names = "--partitions",
            defaultValue = "3",
            description = "Partitions of the raw and sealed topics (default: ${DEFAULT-VALUE}).")
    int partitions;

    @Option(
            names = "--timeout",
            defaultValue = "120",
            description = "Seconds to wait for every record to come out (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Option(
            names = "--data-dir",
            description = "Keep the broker's logs and the local KMS keys in this empty or new directory "
                    + "(default: a temporary directory, deleted afterwards).")
    Path dataDir;

    @CommandLine.Mixin
    KmsOptions kmsOptions = new KmsOptions();

    @Option(names = "--json", description = "Print one JSON object instead of the summary.")
    boolean json;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        Demo.Options options;
        try {
            options = new Demo.Options(
                    tenants,
                    records,
                    dims,
                    partitions,
                    dataDir,
                    Duration.ofSeconds(timeoutSeconds),
                    kmsOptions.settings(),
                    syntheticVectors);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        if (DemoOpenBao.wanted(options.kmsSettings())) {
            spec.commandLine()
                    .getErr()
                    .println("embedseal demo: no kms.vault.address given, so the demo starts an OpenBao DEVELOPMENT"
                            + " SERVER (bao server -dev: in memory, unsealed, a root token, TLS under its own CA) and"
                            + " stops it at the end. Its keys are gone with it: never keep data under it.");
        }
        if (DemoMoto.wanted(options.kmsSettings())) {
            spec.commandLine()
                    .getErr()
                    .println("embedseal demo: no kms.aws.endpoint given, so the demo starts moto's KMS server, a"
                            + " DEVELOPMENT SERVER (in memory, any credentials taken, plain http on loopback), and stops"
                            + " it at the end. Its keys are gone with it: never keep data under it.");
        }
        DemoReport report;
        try {
            report = Demo.run(options);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        } catch (KmsException e) {
            spec.commandLine()
                    .getErr()
                    .println("embedseal demo: the " + kmsOptions.kms + " KMS failed: " + e.getMessage());
            return 1;
        }
        spec.commandLine().getOut().print(json ? report.toJson() + System.lineSeparator() : report.toHuman());
        spec.commandLine().getOut().flush();
        return report.ok() ? 0 : 1;
    }
}
