package io.embedseal.topology;

import io.embedseal.control.KeyEventFollower;
import io.embedseal.control.KeyEventGate;
import io.embedseal.control.KeyEventTrust;
import io.embedseal.control.audit.AuditKeys;
import io.embedseal.control.audit.AuditSigner;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.keyring.kms.decorator.InterceptedKms;
import io.embedseal.keyring.kms.decorator.KmsCallStats;
import io.embedseal.keyring.kms.decorator.KmsDeadline;
import io.embedseal.keyring.kms.decorator.KmsObserver;
import io.embedseal.keyring.kms.decorator.KmsReachability;
import io.embedseal.keyring.tenant.TenantDirectory;
import io.embedseal.keyring.tenant.TenantFaults;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.SchemaRegistries;
import io.embedseal.serdes.avro.SchemaRegistry;
import io.embedseal.serdes.avro.SchemaRegistryUnavailableException;
import io.embedseal.serdes.avro.WireFormatException;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.serdes.validation.EmbeddingValidator;
import io.embedseal.topology.audit.AuditTrail;
import io.embedseal.topology.metrics.PipelineMeters;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running pipeline, wired from a {@link PipelineConfig}: the configured KMS (with retry, call statistics and
 * the audit trail around it), the keyring, the tenant directory fed by the key-event topic, the schema registry,
 * and the exactly-once Kafka Streams application. {@code ./embedseal run} and the embedded demo both use it.
 */
public final class EmbedsealPipeline implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(EmbedsealPipeline.class);

    private final PipelineConfig config;
    private final PipelineHealth health = new PipelineHealth();
    private final KmsCallStats kmsCalls = new KmsCallStats();
    private final @Nullable AuditTrail audit;
    private final Keyring keyring;
    private final TenantDirectory directory;
    private final KafkaStreams streams;
    private final EmbedsealTopology.Parts parts;
    private final PipelineMeters meters;
    private final Kms rawKms;

    private EmbedsealPipeline(PipelineConfig config, SchemaRegistry registry) {
        this.config = config;
        TopicNames topics = config.topics();
        KeyringSettings keyringSettings = config.keyringSettings();
        KmsProvider kmsProvider = KmsProviders.create(keyringSettings);
        AuditSigner auditSigner = null;
        if (config.get(PipelineConfig.AUDIT_ENABLED)) {
            try {
                auditSigner = AuditKeys.signer(keyringSettings, kmsProvider, "pipeline");
            } catch (IllegalArgumentException e) {
                kmsProvider.close();
                throw e;
            }
        }
        this.audit = config.get(PipelineConfig.AUDIT_ENABLED)
                ? AuditTrail.create(
                        config.bootstrapServers(),
                        config.clientOverrides(),
                        topics.audit(),
                        config.applicationId(),
                        health,
                        auditSigner)
                : null;
        this.directory = new TenantDirectory(keyringSettings.naming());
        this.meters = new PipelineMeters(directory, config.get(PipelineConfig.METRICS_TENANT_SERIES_MAX));
        // The pipeline keeps data-key views only: it can wrap and unwrap, never administer a tenant's key.
        this.rawKms = InterceptedKms.view(kmsProvider);
        KmsObserver observer = (provider, operation, outcome, nanos) -> {
            kmsCalls.onCall(provider, operation, outcome, nanos);
            meters.onCall(provider, operation, outcome, nanos);
        };
        // Audit entries name the tenant a key belongs to by the tenants' registrations (their own key names), not
        // only by the naming template.
        // No retry inside: a record's wait in SealingProcessor is the pipeline's one retry layer.
        Kms kms = KmsProviders.decorate(
                kmsProvider, keyringSettings, observer, audit, directory::tenantFor, Clock.systemUTC(), true);
        this.keyring = Keyring.builder(kms)
                .naming(directory)
                .policy(keyringSettings.dekPolicy())
                .createMissingKeys(
                        keyringSettings.createMissingKeys()
                                ? KmsProviders.administer(
                                                kmsProvider,
                                                keyringSettings,
                                                audit,
                                                directory::tenantFor,
                                                Clock.systemUTC())::createKek
                                : null)
                .build();
        meters.bindKeyring(keyring).bindHealth(health);
        this.parts = new EmbedsealTopology.Parts(
                topics,
                new EmbeddingEventCodec(registry),
                new EmbeddingValidator(config.validationLimits()),
                new Sealer(keyring, config.envelopePurpose(), true),
                keyEventGate(keyringSettings, directory, kmsProvider),
                health,
                config.sealingOptions(),
                audit != null ? audit : a -> {},
                new TenantFaults(config.sealingOptions().deniedCooldown()),
                new KmsReachability(
                        new InterceptedKms(rawKms, new KmsDeadline(keyringSettings.callDeadline())),
                        Duration.ofSeconds(5)),
                KeyEventFreshness.watching(
                        clientProps(config),
                        topics.keyEvents(),
                        Duration.ofSeconds(config.get(PipelineConfig.KEY_EVENTS_MAX_STALENESS_SECONDS))),
                meters);
        meters.bindFaults(parts.faults());
        // A record may wait for the KMS inside its transaction: keep the transaction and the poll loop alive meanwhile.
        Map<String, Object> overrides = new HashMap<>(
                StreamsSettings.allowingDependencyWait(config.sealingOptions().maxDependencyWait()));
        overrides.putAll(config.streamsOverrides());
        Path stateDir = config.stateDir();
        this.streams = new KafkaStreams(
                EmbedsealTopology.topology(parts),
                StreamsSettings.properties(config.applicationId(), config.bootstrapServers(), stateDir, overrides));
        streams.setUncaughtExceptionHandler(EmbedsealPipeline::onUncaught);
        streams.setGlobalStateRestoreListener(parts.keyEventFreshness().restoreListener());
        meters.bindStreams(streams);
    }

    /**
     * The gate key events pass ({@code kms.events.*}): the trusted signers are read now, so a pipeline that could
     * never apply an event does not start.
     */
    private static KeyEventGate keyEventGate(
            KeyringSettings settings, TenantDirectory directory, KmsProvider provider) {
        try {
            return KeyEventTrust.gate(settings, directory, provider::signingKeys);
        } catch (IllegalArgumentException e) {
            provider.close();
            throw e;
        }
    }

    private static Map<String, Object> clientProps(PipelineConfig config) {
        Map<String, Object> props = new HashMap<>(config.clientOverrides());
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
        return props;
    }

    /**
     * Why this instance's key states cannot be relied on now (records wait, the pipeline is not ready), or null when
     * every key event up to {@code key-events.max-staleness-seconds} ago is applied.
     */
    public @Nullable String keyEventStaleness() {
        return parts.keyEventFreshness().staleness();
    }

    /** Wires a pipeline; the schema registry comes from {@code schema.registry.url}. */
    public static EmbedsealPipeline create(PipelineConfig config) {
        return new EmbedsealPipeline(config, SchemaRegistries.fromConfig(config.registrySettings()));
    }

    /** Wires a pipeline on a given registry (the embedded demo's in-memory one). */
    public static EmbedsealPipeline create(PipelineConfig config, SchemaRegistry registry) {
        return new EmbedsealPipeline(config, registry);
    }

    /**
     * A dependency that stayed unreachable longer than the record may wait fails the stream thread: it is
     * replaced and retries the record (nothing was committed past it). Anything else is a bug: stop the client.
     */
    private static StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse onUncaught(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof KmsUnavailableException
                    || t instanceof SealingProcessor.KeyEventsStaleException
                    || t instanceof SchemaRegistryUnavailableException
                    || (t instanceof WireFormatException w
                            && w.reason() == WireFormatException.Reason.REGISTRY_UNAVAILABLE)) {
                LOG.warn(
                        "a stream thread gave up waiting for a dependency and is replaced; the record is retried: {}",
                        t.getMessage());
                return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.REPLACE_THREAD;
            }
        }
        LOG.error("the sealing pipeline failed and stops", e);
        return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    }

    /** Creates the pipeline's topics that do not exist, if {@code topics.create=true}. */
    public void createTopicsIfConfigured() {
        if (!config.get(PipelineConfig.TOPICS_CREATE)) {
            return;
        }
        int partitions = config.get(PipelineConfig.TOPICS_PARTITIONS);
        TopicNames t = config.topics();
        List<NewTopic> topics = new ArrayList<>();
        topics.add(new NewTopic(t.raw(), partitions, (short) -1));
        topics.add(new NewTopic(t.sealed(), partitions, (short) -1));
        topics.add(new NewTopic(t.dlq(), 1, (short) -1)
                .configs(Map.of(
                        TopicConfig.RETENTION_MS_CONFIG,
                        Long.toString(Duration.ofDays(14).toMillis()))));
        // Kept forever, never compacted: compaction would let any writer make the broker drop a tenant's registration
        // or revocation by writing a newer record under its key (docs/key-lifecycle.md).
        topics.add(new NewTopic(t.keyEvents(), 1, (short) -1)
                .configs(Map.of(
                        TopicConfig.CLEANUP_POLICY_CONFIG,
                        TopicConfig.CLEANUP_POLICY_DELETE,
                        TopicConfig.RETENTION_MS_CONFIG,
                        "-1")));
        topics.add(new NewTopic(t.audit(), 1, (short) -1).configs(Map.of(TopicConfig.RETENTION_MS_CONFIG, "-1")));
        Map<String, Object> adminProps = new HashMap<>(config.clientOverrides());
        adminProps.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
        try (Admin admin = Admin.create(adminProps)) {
            Set<String> existing = admin.listTopics().names().get(30, TimeUnit.SECONDS);
            for (NewTopic topic : topics) {
                if (existing.contains(topic.name())) {
                    continue;
                }
                try {
                    admin.createTopics(List.of(topic)).all().get(30, TimeUnit.SECONDS);
                    LOG.info("created topic {}", topic.name());
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw new IllegalStateException(
                                "cannot create topic " + topic.name() + ": " + String.valueOf(e.getCause()),
                                e.getCause());
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException(
                    "cannot list topics at " + config.bootstrapServers() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Starts the pipeline, unless its key-event topic was written before key events were signed (unsigned events and
     * not one signed event that applies) while {@code kms.events.verification=required}: then it refuses, naming the
     * migration and the development setting, rather than run with every tenant unknown.
     */
    public void start() {
        requireSignedKeyEvents();
        streams.start();
    }

    private void requireSignedKeyEvents() {
        KeyEventGate live = parts.keyEvents();
        if (live.mode() != KeyEventGate.Mode.REQUIRED) {
            return;
        }
        String topic = config.topics().keyEvents();
        Map<String, Object> props = new HashMap<>(config.clientOverrides());
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
        try (KafkaConsumer<byte[], byte[]> c =
                new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<PartitionInfo> parts = c.partitionsFor(topic, Duration.ofSeconds(10));
            if (parts == null || parts.isEmpty()) {
                return; // no topic, no events: nothing to migrate
            }
        } catch (RuntimeException e) {
            LOG.warn("could not check {} for unsigned key events before starting: {}", topic, e.toString());
            return;
        }
        KeyEventGate probe = new KeyEventGate(
                new TenantDirectory(config.keyringSettings().naming()), live.trusted(), KeyEventGate.Mode.REQUIRED);
        try (KeyEventFollower f =
                KeyEventFollower.start(props, topic, probe, d -> {}, config.applicationId() + "-signature-check")) {
            if (!f.awaitCaughtUp(Duration.ofSeconds(30))) {
                LOG.warn("could not read {} within 30 s to check it for unsigned key events; starting anyway", topic);
                return;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while reading " + topic, e);
        }
        if (probe.looksUnmigrated()) {
            throw new IllegalStateException(KeyEventTrust.unmigratedMessage(topic, probe));
        }
    }

    public KafkaStreams streams() {
        return streams;
    }

    public PipelineHealth health() {
        return health;
    }

    public Keyring keyring() {
        return keyring;
    }

    public TenantDirectory directory() {
        return directory;
    }

    public KmsCallStats kmsCalls() {
        return kmsCalls;
    }

    public EmbedsealTopology.Parts parts() {
        return parts;
    }

    public PipelineMeters meters() {
        return meters;
    }

    public PipelineConfig config() {
        return config;
    }

    /**
     * Whether the KMS answers at all (any answer but "unavailable", even "no such key"), asked at most every 5 s
     * on the bare provider: readiness probes neither retry nor fill the audit trail.
     */
    public boolean kmsAnswers() {
        return parts.kmsReachability().answers();
    }

    /** The audit trail, or null when {@code audit.enabled=false}. */
    public @Nullable AuditTrail audit() {
        return audit;
    }

    /** Stops waiting records, closes the Streams application, flushes the audit trail and closes the KMS. */
    public void close(Duration timeout) {
        health.shutDown();
        streams.close(timeout);
        parts.keyEventFreshness().close();
        meters.close();
        if (audit != null) {
            audit.close();
        }
        keyring.close(); // destroys every DEK in memory
        keyring.kms().close();
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(30));
    }
}
