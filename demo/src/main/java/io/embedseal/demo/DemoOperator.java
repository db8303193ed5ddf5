package io.embedseal.demo;

import io.embedseal.app.CliRun;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * The demo's operator: runs the same {@code embedseal tenants} and {@code embedseal keys} commands an operator
 * types, in process, against a configuration file holding the demo pipeline's own settings. The commands' output
 * is kept (the demo's stdout carries only its summary) and shown when a command fails.
 */
final class DemoOperator {

    static final String ACTOR = "embedseal-demo";

    private final Path configFile;

    private DemoOperator(Path configFile) {
        this.configFile = configFile;
    }

    /** Writes the pipeline's settings to {@code dir/embedseal.properties} (owner-only) for the commands to read. */
    static DemoOperator writingConfig(Path dir, Map<String, String> pipelineSettings) {
        Path file = dir.resolve("embedseal.properties");
        Properties p = new Properties();
        p.putAll(new TreeMap<>(pipelineSettings));
        try {
            Files.createDirectories(dir);
            try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
                p.store(w, "the embedded demo pipeline's settings, for the operator commands it runs");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the demo's operator configuration " + file, e);
        }
        return new DemoOperator(file);
    }

    /**
     * {@code embedseal keys signing-key}: the operator's signing key, created in the KMS if missing, before any
     * pipeline or sink starts (they read its public key at start). Returns the line that names it.
     */
    String signingKey() {
        return run("keys", "signing-key").lines().findFirst().orElse("").strip();
    }

    /** {@code embedseal tenants add --tenant <t> --create-key}: the KEK in the KMS, checked usable, then REGISTERED. */
    void onboard(String tenant) {
        run("tenants", "add", "--tenant", tenant, "--create-key", "--reason", "demo onboarding");
    }

    /** {@code embedseal keys destroy --tenant <t> --confirm <t>}: the KEK destroyed in the KMS, then DESTROYED. */
    void destroy(String tenant) {
        run(
                "keys",
                "destroy",
                "--tenant",
                tenant,
                "--confirm",
                tenant,
                "--skip-count",
                "--reason",
                "demo: crypto-shredding");
    }

    private String run(String... command) {
        List<String> args = new ArrayList<>(List.of(command));
        args.addAll(List.of("--config", configFile.toString(), "--actor", ACTOR));
        CliRun r = CliRun.run(args.toArray(String[]::new));
        if (r.code() != 0) {
            throw new IllegalStateException("'embedseal " + String.join(" ", command) + "' exited with " + r.code()
                    + ": " + (r.err() + r.out()).strip());
        }
        return r.out();
    }
}
