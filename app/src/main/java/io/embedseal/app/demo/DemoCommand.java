package io.embedseal.app.demo;

import io.embedseal.keyring.kms.KmsException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "demo",
        mixinStandardHelpOptions = true,
        description = {
                "Runs the whole pipeline on embedded defaults and checks it: an in-process Kafka broker, the local "
                        + "KMS (development only), the sealing topology with exactly-once, synthetic embeddings for a few "
                        + "tenants plus one record of each invalid kind.",
                "Then it unseals every sealed record with an independent reader and compares it with what was "
                        + "produced, checks each dead letter's reason, and scans the sealed and dead-letter topics' "
                        + "segment files on disk for the produced vectors' bytes (the raw topic is scanned as a control)."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:every check held", "1:a check failed (listed in the output)", "2:invalid usage"})
public final class DemoCommand implements Callable<Integer> {

    @Option(names = "--tenants", defaultValue = "3", description = "Tenants to produce for (default: ${DEFAULT-VALUE}).")
    int tenants;

    @Option(names = "--records", defaultValue = "1000", description = "Valid records per tenant (default: ${DEFAULT-VALUE}).")
    int records;

    @Option(names = "--dims", defaultValue = "384", description = "Vector dimensions (default: ${DEFAULT-VALUE}).")
    int dims;

    @Option(names = "--partitions", defaultValue = "3", description = "Partitions of the raw and sealed topics (default: ${DEFAULT-VALUE}).")
    int partitions;

    @Option(names = "--timeout", defaultValue = "120", description = "Seconds to wait for every record to come out (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Option(names = "--data-dir", description = "Keep the broker's logs and the local KMS keys in this empty or new directory "
            + "(default: a temporary directory, deleted afterwards).")
    Path dataDir;

    @Option(names = "--kms", defaultValue = "local", description = "KMS provider: local (default; development only), "
            + "vault or pkcs11. Give the provider's settings with --kms-setting.")
    String kms;

    @Option(names = "--kms-setting", paramLabel = "KEY=VALUE", description = "A keyring setting (kms.* or dek.*), e.g. "
            + "kms.vault.address=https://vault:8200, kms.vault.token-file=/run/secrets/vault-token, "
            + "kms.pkcs11.library=/usr/lib/softhsm/libsofthsm2.so, kms.pkcs11.slot=0, kms.pkcs11.pin-file=... "
            + "Repeatable. See docs/key-management.md.")
    List<String> kmsSettings = new ArrayList<>();

    @Option(names = "--json", description = "Print one JSON object instead of the summary.")
    boolean json;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private Map<String, String> keyringSettings() {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("kms.provider", kms);
        for (String kv : kmsSettings) {
            int eq = kv.indexOf('=');
            if (eq <= 0 || !(kv.startsWith("kms.") || kv.startsWith("dek."))) {
                throw new IllegalArgumentException("--kms-setting must be KEY=VALUE with a kms.* or dek.* key, got '" + kv + "'");
            }
            s.put(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
        }
        if (!s.get("kms.provider").equals(kms)) {
            throw new IllegalArgumentException("--kms " + kms + " and --kms-setting kms.provider=" + s.get("kms.provider") + " disagree");
        }
        return s;
    }

    @Override
    public Integer call() {
        Demo.Options options;
        try {
            options = new Demo.Options(tenants, records, dims, partitions, dataDir, Duration.ofSeconds(timeoutSeconds), keyringSettings());
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        DemoReport report;
        try {
            report = Demo.run(options);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        } catch (KmsException e) {
            spec.commandLine().getErr().println("embedseal demo: the " + kms + " KMS failed: " + e.getMessage());
            return 1;
        }
        spec.commandLine().getOut().print(json ? report.toJson() + System.lineSeparator() : report.toHuman());
        spec.commandLine().getOut().flush();
        return report.ok() ? 0 : 1;
    }
}
