package io.embedseal.topology;

import io.embedseal.keyring.KeyringSettings;
import io.embedseal.serdes.validation.ValidationLimits;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The pipeline's configuration: a properties file, then environment overrides. A setting {@code a.b-c} is
 * overridden by the environment variable {@code EMBEDSEAL_A_B_C} (upper case, dots and dashes as underscores),
 * for every setting this class knows and every setting the file names. Problems are reported with the setting's
 * name, the value and what is allowed.
 *
 * <table>
 *   <caption>Pipeline settings (keyring, validation and registry settings are documented with their classes)</caption>
 *   <tr><th>setting</th><th>default</th></tr>
 *   <tr><td>bootstrap.servers</td><td>(required)</td></tr>
 *   <tr><td>application.id</td><td>embedseal</td></tr>
 *   <tr><td>topics.raw / sealed / dlq / key-events / audit</td><td>embeddings.raw, embeddings.sealed, embeddings.dlq,
 *       keyring.events, keyring.audit</td></tr>
 *   <tr><td>topics.create</td><td>false; true creates missing topics (partitions from topics.partitions, default 6)</td></tr>
 *   <tr><td>tenants.auto-register</td><td>false (unknown tenants are rejected)</td></tr>
 *   <tr><td>dlq.seal-original</td><td>true</td></tr>
 *   <tr><td>outage.max-wait-seconds</td><td>120: how long a record waits for the KMS or registry</td></tr>
 *   <tr><td>outage.max-backoff-ms</td><td>5000</td></tr>
 *   <tr><td>kms.denied-cooldown-seconds</td><td>30</td></tr>
 *   <tr><td>audit.enabled</td><td>true</td></tr>
 *   <tr><td>streams.&lt;any Kafka Streams, producer. or consumer. setting&gt;</td><td>passed to Kafka Streams</td></tr>
 *   <tr><td>client.&lt;any client setting&gt;</td><td>passed to every Kafka client (security, SASL, TLS)</td></tr>
 * </table>
 */
public final class PipelineConfig {

    private static final List<String> KNOWN = List.of("bootstrap.servers", "application.id", "state.dir",
            "topics.raw", "topics.sealed", "topics.dlq", "topics.key-events", "topics.audit", "topics.create", "topics.partitions",
            "tenants.auto-register", "dlq.seal-original", "outage.max-wait-seconds", "outage.max-backoff-ms",
            "kms.denied-cooldown-seconds", "audit.enabled", "metrics.tenant-series.max", "http.enabled", "http.port", "http.bind",
            "schema.registry.url", "schema.registry.basic-auth.user-info-file", "schema.registry.basic-auth.user-info-env",
            "schema.registry.ssl.ca-file", "schema.registry.timeout-ms",
            "kms.provider", "kms.key-name-template", "kms.create-missing-keys", "kms.local.dir",
            "kms.vault.address", "kms.vault.token-env", "kms.vault.token-file", "kms.vault.namespace", "kms.vault.mount",
            "kms.vault.ca-file", "kms.pkcs11.config", "kms.pkcs11.library", "kms.pkcs11.slot", "kms.pkcs11.slot-list-index",
            "kms.pkcs11.pin-env", "kms.pkcs11.pin-file", "kms.retry.max-attempts", "dek.max-records", "dek.max-age-seconds",
            "dek.cache.max-size", "dek.cache.idle-expiry-seconds", "validation.max-dimensions", "http.port");

    private final Map<String, String> values;
    private final Function<String, String> env;

    private PipelineConfig(Map<String, String> values, Function<String, String> env) {
        this.values = Collections.unmodifiableMap(new TreeMap<>(values));
        this.env = env;
        // Validate what can be validated now, so a bad setting stops the start, not the first record.
        require("bootstrap.servers");
        topics();
        keyringSettings();
        validationLimits();
        sealingOptions();
    }

    /** Reads a properties file and applies environment overrides. */
    public static PipelineConfig load(Path file, Function<String, String> env) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the configuration file " + file + ": " + e.getMessage(), e);
        }
        Map<String, String> values = new LinkedHashMap<>();
        p.stringPropertyNames().forEach(k -> values.put(k, p.getProperty(k).trim()));
        return of(values, env);
    }

    /** Settings given directly (tests, the demo), with environment overrides. */
    public static PipelineConfig of(Map<String, String> settings, Function<String, String> env) {
        Map<String, String> values = new LinkedHashMap<>(settings);
        for (String key : union(settings.keySet())) {
            String override = env.apply(envName(key));
            if (override != null) {
                values.put(key, override.trim());
            }
        }
        return new PipelineConfig(values, env);
    }

    /** The environment variable that overrides a setting. */
    public static String envName(String key) {
        return "EMBEDSEAL_" + key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
    }

    private static List<String> union(java.util.Set<String> fromFile) {
        java.util.LinkedHashSet<String> all = new java.util.LinkedHashSet<>(KNOWN);
        all.addAll(fromFile);
        return List.copyOf(all);
    }

    public Map<String, String> asMap() {
        return values;
    }

    public String get(String key, String defaultValue) {
        String v = values.get(key);
        return v == null || v.isEmpty() ? defaultValue : v;
    }

    public String require(String key) {
        String v = values.get(key);
        if (v == null || v.isBlank()) {
            throw new IllegalArgumentException(key + " is required (set it in the configuration file or " + envName(key) + ")");
        }
        return v;
    }

    public boolean bool(String key, boolean defaultValue) {
        String v = get(key, null);
        if (v == null) {
            return defaultValue;
        }
        if (!v.equalsIgnoreCase("true") && !v.equalsIgnoreCase("false")) {
            throw new IllegalArgumentException(key + " must be true or false, got '" + v + "'");
        }
        return Boolean.parseBoolean(v);
    }

    public long number(String key, long defaultValue, long min, long max) {
        String v = get(key, null);
        if (v == null) {
            return defaultValue;
        }
        try {
            long n = Long.parseLong(v.replace("_", ""));
            if (n < min || n > max) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + " must be a whole number from " + min + " to " + max + ", got '" + v + "'", e);
        }
    }

    public String bootstrapServers() {
        return require("bootstrap.servers");
    }

    public String applicationId() {
        return get("application.id", "embedseal");
    }

    public TopicNames topics() {
        return new TopicNames(get("topics.raw", TopicNames.DEFAULT_RAW), get("topics.sealed", TopicNames.DEFAULT_SEALED),
                get("topics.dlq", TopicNames.DEFAULT_DLQ), get("topics.key-events", TopicNames.DEFAULT_KEY_EVENTS),
                get("topics.audit", TopicNames.DEFAULT_AUDIT));
    }

    public KeyringSettings keyringSettings() {
        return KeyringSettings.of(values, env);
    }

    public ValidationLimits validationLimits() {
        return ValidationLimits.fromSettings(values);
    }

    public SealingOptions sealingOptions() {
        return new SealingOptions(bool("tenants.auto-register", false), bool("dlq.seal-original", true),
                Duration.ofSeconds(number("outage.max-wait-seconds", 120, 1, 3600)),
                Duration.ofMillis(number("outage.max-backoff-ms", 5000, 10, 600_000)),
                Duration.ofSeconds(number("kms.denied-cooldown-seconds", 30, 0, 86_400)));
    }

    /** Settings for every Kafka client: {@code client.*} with the prefix removed. */
    public Map<String, Object> clientOverrides() {
        return withPrefix("client.");
    }

    /** Settings for Kafka Streams: {@code streams.*} with the prefix removed, after the client overrides. */
    public Map<String, Object> streamsOverrides() {
        Map<String, Object> m = new LinkedHashMap<>(clientOverrides());
        m.putAll(withPrefix("streams."));
        return m;
    }

    /** Settings for the schema registry client and serdes. */
    public Map<String, Object> registrySettings() {
        Map<String, Object> m = new LinkedHashMap<>();
        values.forEach((k, v) -> {
            if (k.startsWith("schema.registry.")) {
                m.put(k, v);
            }
        });
        return m;
    }

    private Map<String, Object> withPrefix(String prefix) {
        Map<String, Object> m = new LinkedHashMap<>();
        values.forEach((k, v) -> {
            if (k.startsWith(prefix)) {
                m.put(k.substring(prefix.length()), v);
            }
        });
        return m;
    }

    @Override
    public String toString() {
        return "PipelineConfig" + values.keySet();
    }
}
