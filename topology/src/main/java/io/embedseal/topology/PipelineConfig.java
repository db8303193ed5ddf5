package io.embedseal.topology;

import io.embedseal.config.ConfigValueException;
import io.embedseal.config.Setting;
import io.embedseal.config.Settings;
import io.embedseal.config.SettingsModel;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.serdes.avro.ConfluentSchemaRegistryClient;
import io.embedseal.serdes.validation.ValidationLimits;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pipeline's configuration: a properties file, then environment overrides, read through one model
 * ({@link #model()}): the pipeline's own settings, the keyring's, every KMS provider's on the class path, validation's
 * and the schema-registry client's. A setting {@code a.b-c} is overridden by {@code EMBEDSEAL_A_B_C} (upper case,
 * dots and dashes as underscores) for every setting of the model, whether or not the file names it. Every setting is
 * read once at start-up, so a bad value stops the start with a {@link ConfigValueException} naming it. The reference
 * in docs/configuration.md is generated from the model.
 */
public final class PipelineConfig {

    private static final Logger LOG = LoggerFactory.getLogger(PipelineConfig.class);

    public static final Setting<String> BOOTSTRAP_SERVERS = Setting.string("bootstrap.servers", null)
            .required("(e.g. kafka-1:9092,kafka-2:9092)")
            .importance(Setting.Importance.HIGH)
            .doc("The Kafka cluster.");
    public static final Setting<String> APPLICATION_ID = Setting.string("application.id", "embedseal")
            .importance(Setting.Importance.HIGH)
            .doc(
                    "The Kafka Streams application id: instances with the same id share the work; also the consumer group and "
                            + "the transactional id prefix.");
    public static final Setting<String> STATE_DIR = Setting.string("state.dir", null)
            .doc("Kafka Streams' state directory: the tenant directory's store and the instance's process id; default "
                    + "`<java.io.tmpdir>/embedseal-streams`. Keep it across restarts (a volume per instance): a restarted instance "
                    + "then aborts its killed predecessor's open transaction at once, instead of `read_committed` readers waiting "
                    + "for it to time out (reliability.md).");
    public static final Setting<String> TOPIC_RAW = Setting.string("topics.raw", TopicNames.DEFAULT_RAW)
            .doc("Raw embedding events (Avro, Confluent wire format).");
    public static final Setting<String> TOPIC_SEALED = Setting.string("topics.sealed", TopicNames.DEFAULT_SEALED)
            .doc("Sealed envelopes, keyed `tenant/embeddingId`.");
    public static final Setting<String> ENVELOPE_PURPOSE = Setting.string(
                    "envelope.purpose", io.embedseal.serdes.envelope.Sealer.DEFAULT_PURPOSE)
            .check(io.embedseal.serdes.envelope.Sealer::requirePurpose, "1 to 64 printable ASCII characters")
            .doc("What sealed envelopes are for, authenticated in each one (envelope version 2): readers refuse an "
                    + "envelope sealed for another purpose. A logical name, not the topic's: renaming the topic keeps "
                    + "it; give each deployment its own to keep their envelopes apart. The sinks' "
                    + "embedseal.envelope.purpose must say the same.");
    public static final Setting<String> TOPIC_DLQ = Setting.string("topics.dlq", TopicNames.DEFAULT_DLQ)
            .doc("Dead letters, with a reason and never a plaintext vector.");
    public static final Setting<String> TOPIC_KEY_EVENTS = Setting.string(
                    "topics.key-events", TopicNames.DEFAULT_KEY_EVENTS)
            .doc("Key events (signed, keyed by tenant, kept forever: never compacted).");
    public static final Setting<String> TOPIC_AUDIT =
            Setting.string("topics.audit", TopicNames.DEFAULT_AUDIT).doc("The hash-chained audit trail.");
    public static final Setting<Boolean> TOPICS_CREATE = Setting.bool("topics.create", false)
            .doc(
                    "Create missing topics at start: raw and sealed with topics.partitions, the DLQ with 14 days' retention, "
                            + "key events and audit kept forever (never compacted).");
    public static final Setting<Integer> TOPICS_PARTITIONS =
            Setting.intValue("topics.partitions", 6, 1, 10_000).doc("Partitions of topics created with topics.create.");
    public static final Setting<Boolean> TENANTS_AUTO_REGISTER = Setting.bool("tenants.auto-register", false)
            .doc("Seal for tenants that never registered (development only); else their records are dead-lettered.");
    public static final Setting<Boolean> DLQ_SEAL_ORIGINAL = Setting.bool("dlq.seal-original", true)
            .doc(
                    "An active tenant's refused record keeps its original value in the dead letter, sealed under its key, for replay.");
    public static final Setting<Long> OUTAGE_MAX_WAIT_SECONDS = Setting.longValue(
                    "outage.max-wait-seconds", 120, 1, 3600)
            .doc(
                    "How long one record may wait for the KMS or registry before its stream thread is replaced; the producer's "
                            + "transaction timeout is this + 60 s.");
    public static final Setting<Long> OUTAGE_MAX_BACKOFF_MS = Setting.longValue(
                    "outage.max-backoff-ms", 5000, 10, 600_000)
            .doc("The longest wait between tries while a dependency is unreachable.");
    public static final Setting<Long> KMS_DENIED_COOLDOWN_SECONDS = Setting.longValue(
                    "kms.denied-cooldown-seconds", 30, 0, 86_400)
            .doc("After a tenant's key failed (denied, unknown, an error of its KMS for that key alone), how long its "
                    + "records are dead-lettered without asking the KMS again; then one record tries again.");
    public static final Setting<Long> MAX_EVENT_TIME_AHEAD_SECONDS = Setting.longValue(
                    "validation.max-event-time-ahead-seconds", 300, 0, 31_536_000)
            .doc("How far ahead of this instance's clock an embedding's event time (or a delete's record timestamp) "
                    + "may be; further ahead, the record is dead-lettered (EVENT_TIME_AHEAD). The event time is the "
                    + "record's version in the stores, and one far in the future would freeze the record: every later "
                    + "update and delete would be older.");
    public static final Setting<Long> KEY_EVENTS_MAX_STALENESS_SECONDS = Setting.longValue(
                    "key-events.max-staleness-seconds", 15, 2, 3600)
            .doc("Fail closed when key events stop: if this instance cannot confirm for this long that it has applied "
                    + "every event on the key-event topic (the topic unreadable, an authorisation error, the brokers "
                    + "gone), records wait instead of being sealed and /health/ready says why; it recovers by itself.");
    public static final Setting<Boolean> AUDIT_ENABLED =
            Setting.bool("audit.enabled", true).doc("Append every KMS call and key event to the audit topic.");
    public static final Setting<Integer> METRICS_TENANT_SERIES_MAX = Setting.intValue(
                    "metrics.tenant-series.max", 100, 0, 100_000)
            .doc("Tenants with metric series of their own; the rest share `tenant=\"_other\"`.");
    public static final Setting<Boolean> HTTP_ENABLED = Setting.bool("http.enabled", true)
            .doc(
                    "`embedseal run`: serve the status page, `/metrics`, `/health/live`, `/health/ready` (operations.md).");
    public static final Setting<String> HTTP_BIND = Setting.string("http.bind", "127.0.0.1")
            .doc("The address the HTTP server listens on; `0.0.0.0` in a container.");
    public static final Setting<Integer> HTTP_PORT =
            Setting.intValue("http.port", 8080, 0, 65_535).doc("The HTTP server's port; 0 for any free one.");
    public static final Setting<String> STREAMS = Setting.passThrough(
                    "streams.", "any Kafka Streams, producer. or consumer. setting")
            .doc(
                    "Handed to Kafka Streams as it is, after the client settings, including `streams.producer.*` and "
                            + "`streams.consumer.*` (e.g. `streams.num.stream.threads=4`). Exactly-once v2 is the default guarantee.");
    public static final Setting<String> CLIENT = Setting.passThrough("client.", "any Kafka client setting")
            .doc("Handed to every Kafka client: security, SASL, TLS (e.g. `client.security.protocol=SASL_SSL`).");

    /** The pipeline's own settings. */
    public static final SettingsModel PIPELINE = SettingsModel.of(
            "pipeline",
            BOOTSTRAP_SERVERS,
            APPLICATION_ID,
            STATE_DIR,
            TOPIC_RAW,
            TOPIC_SEALED,
            ENVELOPE_PURPOSE,
            TOPIC_DLQ,
            TOPIC_KEY_EVENTS,
            TOPIC_AUDIT,
            TOPICS_CREATE,
            TOPICS_PARTITIONS,
            TENANTS_AUTO_REGISTER,
            DLQ_SEAL_ORIGINAL,
            OUTAGE_MAX_WAIT_SECONDS,
            OUTAGE_MAX_BACKOFF_MS,
            KMS_DENIED_COOLDOWN_SECONDS,
            MAX_EVENT_TIME_AHEAD_SECONDS,
            KEY_EVENTS_MAX_STALENESS_SECONDS,
            AUDIT_ENABLED,
            METRICS_TENANT_SERIES_MAX,
            HTTP_ENABLED,
            HTTP_BIND,
            HTTP_PORT,
            STREAMS,
            CLIENT);

    /** Every setting the pipeline reads: its own, the keyring's and providers', validation's and the registry's. */
    public static SettingsModel model() {
        return PIPELINE.with(
                KeyringSettings.modelWithProviders(), ValidationLimits.MODEL, ConfluentSchemaRegistryClient.MODEL);
    }

    private final Settings settings;
    private final Function<String, String> env;

    private PipelineConfig(Map<String, String> values, Function<String, String> env) {
        this.settings = Settings.of(values, env);
        this.env = env;
        SettingsModel model = model();
        // http.* beyond the three above belong to the status server (app), which reads and checks them itself.
        List<String> unknown = model.unknown(settings.asMap()).stream()
                .filter(k -> !k.startsWith("http."))
                .toList();
        if (!unknown.isEmpty()) {
            LOG.warn(
                    "settings no component reads (misspelt?): {}; every setting is listed in docs/configuration.md",
                    unknown);
        }
        // Read every setting now, so a bad one stops the start, not the first record.
        model.settings().stream()
                .filter(s -> !s.name().startsWith("schema.registry.")
                        && !s.name().startsWith("kms.")
                        && !s.name().startsWith("dek.")
                        && !s.name().startsWith("validation."))
                .forEach(s -> {
                    if (!s.isPassThrough() && !s.isFamily()) {
                        settings.getOrNull(s);
                    }
                });
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

    /** Settings given directly (tests, the demo), with environment overrides for every setting of the model. */
    public static PipelineConfig of(Map<String, String> settings, Function<String, String> env) {
        return new PipelineConfig(model().withEnvironment(settings, env), env);
    }

    /** The environment variable that overrides a setting. */
    public static String envName(String key) {
        return SettingsModel.envName(key);
    }

    public Map<String, String> asMap() {
        return settings.asMap();
    }

    /** A setting's value, through its definition. */
    public <T> T get(Setting<T> setting) {
        return settings.get(setting);
    }

    public String bootstrapServers() {
        return get(BOOTSTRAP_SERVERS);
    }

    public String applicationId() {
        return get(APPLICATION_ID);
    }

    /** Kafka Streams' state directory. */
    public Path stateDir() {
        String dir = settings.getOrNull(STATE_DIR);
        return Path.of(dir != null ? dir : System.getProperty("java.io.tmpdir") + "/embedseal-streams");
    }

    public TopicNames topics() {
        return new TopicNames(
                get(TOPIC_RAW), get(TOPIC_SEALED), get(TOPIC_DLQ), get(TOPIC_KEY_EVENTS), get(TOPIC_AUDIT));
    }

    public KeyringSettings keyringSettings() {
        return KeyringSettings.of(settings.asMap(), env);
    }

    public ValidationLimits validationLimits() {
        return ValidationLimits.fromSettings(settings.asMap());
    }

    /** What envelopes are sealed for ({@code envelope.purpose}). */
    public String envelopePurpose() {
        return java.util.Objects.requireNonNull(get(ENVELOPE_PURPOSE));
    }

    public SealingOptions sealingOptions() {
        return new SealingOptions(
                get(TENANTS_AUTO_REGISTER),
                get(DLQ_SEAL_ORIGINAL),
                Duration.ofSeconds(get(OUTAGE_MAX_WAIT_SECONDS)),
                Duration.ofMillis(get(OUTAGE_MAX_BACKOFF_MS)),
                Duration.ofSeconds(get(KMS_DENIED_COOLDOWN_SECONDS)),
                Duration.ofSeconds(get(MAX_EVENT_TIME_AHEAD_SECONDS)));
    }

    /** Settings for every Kafka client: {@code client.*} with the prefix removed. */
    public Map<String, Object> clientOverrides() {
        return withPrefix(CLIENT.name());
    }

    /** Settings for Kafka Streams: {@code streams.*} with the prefix removed, after the client overrides. */
    public Map<String, Object> streamsOverrides() {
        Map<String, Object> m = new LinkedHashMap<>(clientOverrides());
        m.putAll(withPrefix(STREAMS.name()));
        return m;
    }

    /** Settings for the schema registry client and serdes. */
    public Map<String, Object> registrySettings() {
        Map<String, Object> m = new LinkedHashMap<>();
        settings.asMap().forEach((k, v) -> {
            if (k.startsWith("schema.registry.")) {
                m.put(k, v);
            }
        });
        return m;
    }

    private Map<String, Object> withPrefix(String prefix) {
        Map<String, Object> m = new LinkedHashMap<>();
        settings.asMap().forEach((k, v) -> {
            if (k.startsWith(prefix)) {
                m.put(k.substring(prefix.length()), v);
            }
        });
        return m;
    }

    @Override
    public String toString() {
        return "PipelineConfig" + settings.asMap().keySet();
    }
}
