package io.embedseal.demo;

import io.embedseal.app.ops.SyntheticEmbeddings;
import io.embedseal.app.ops.TopicReader;
import io.embedseal.control.KeyEventFollower;
import io.embedseal.control.KeyEventGate;
import io.embedseal.control.KeyEventTrust;
import io.embedseal.control.TrustedSigners;
import io.embedseal.control.audit.AuditKeys;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsOutcome;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.SigningKeys;
import io.embedseal.keyring.kms.decorator.KmsCallStats;
import io.embedseal.keyring.tenant.TenantDirectory;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.EmbeddingEventSerializer;
import io.embedseal.serdes.avro.InMemorySchemaRegistry;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.serdes.validation.EmbeddingValidator;
import io.embedseal.testkit.Directories;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.testkit.VectorLeakScanner;
import io.embedseal.topology.EmbedsealPipeline;
import io.embedseal.topology.PipelineConfig;
import io.embedseal.topology.TopicNames;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded demo: a real in-process broker, the local KMS, the sealing topology under exactly-once, and
 * synthetic embeddings for a few tenants, followed by checks a skeptic would run: every valid record sealed
 * exactly once, each one unsealed by an independent reader and compared with what was produced, every
 * invalid record dead-lettered with the expected reason, and the sealed and dead-letter topics' segment
 * files on disk scanned for the produced vectors' bytes, with the raw topic scanned as a positive control.
 */
public final class Demo {

    private static final Logger LOG = LoggerFactory.getLogger(Demo.class);

    /**
     * What to run.
     *
     * @param kmsSettings keyring settings ({@code kms.*}, {@code dek.*}); {@code kms.provider} picks the KMS. For
     *                    the local provider the keys go under the data directory unless {@code kms.local.dir} is given.
     *                    Missing tenant keys are created unless {@code kms.create-missing-keys=false}.
     */
    public record Options(
            int tenants,
            int recordsPerTenant,
            int dims,
            int partitions,
            Path dataDir,
            Duration timeout,
            Map<String, String> kmsSettings,
            boolean syntheticVectors) {
        public Options {
            requireRange("--tenants", tenants, 1, 1000);
            requireRange("--records", recordsPerTenant, 1, 1_000_000);
            requireRange("--dims", dims, 4, EmbeddingValidator.DEFAULT_MAX_DIMENSIONS);
            requireRange("--partitions", partitions, 1, 64);
            Objects.requireNonNull(timeout, "timeout");
            kmsSettings = Map.copyOf(kmsSettings);
            if (!syntheticVectors && dims != DemoEmbeddings.DIMENSIONS) {
                throw new IllegalArgumentException("--dims " + dims + ": the demo's sentences are embedded with "
                        + DemoEmbeddings.MODEL + ", which makes " + DemoEmbeddings.DIMENSIONS
                        + " dimensions; add --synthetic-vectors for random vectors of other sizes");
            }
        }

        /** Real sentence embeddings (all-MiniLM-L6-v2). */
        public Options(
                int tenants,
                int recordsPerTenant,
                int dims,
                int partitions,
                Path dataDir,
                Duration timeout,
                Map<String, String> kmsSettings) {
            this(tenants, recordsPerTenant, dims, partitions, dataDir, timeout, kmsSettings, false);
        }

        private static void requireRange(String option, int value, int min, int max) {
            if (value < min || value > max) {
                throw new IllegalArgumentException(
                        option + " must be between " + min + " and " + max + ", got " + value);
            }
        }
    }

    private Demo() {}

    /**
     * Runs the demo. Uses {@code options.dataDir()} when given (it must be empty or absent and is kept),
     * otherwise a temporary directory that is deleted afterwards.
     */
    public static DemoReport run(Options options) {
        long start = System.nanoTime();
        Path dataDir;
        boolean temporary = options.dataDir() == null;
        try {
            dataDir = temporary ? Files.createTempDirectory("embedseal-demo-") : prepare(options.dataDir());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the demo's data directory", e);
        }
        try (DemoOpenBao bao = DemoOpenBao.startIfNeeded(options.kmsSettings(), dataDir);
                DemoMoto moto = DemoMoto.startIfNeeded(options.kmsSettings(), dataDir)) {
            Map<String, String> kms =
                    bao != null ? bao.settings() : moto != null ? moto.settings() : options.kmsSettings();
            Options effective = new Options(
                    options.tenants(),
                    options.recordsPerTenant(),
                    options.dims(),
                    options.partitions(),
                    options.dataDir(),
                    options.timeout(),
                    kms,
                    options.syntheticVectors());
            String server = bao != null ? bao.description() : moto != null ? moto.description() : null;
            return runIn(dataDir, effective, start, server);
        } finally {
            if (temporary) {
                Directories.deleteRecursively(dataDir);
            }
        }
    }

    private static DemoReport runIn(Path dataDir, Options o, long start, @Nullable String kmsServer) {
        TopicNames topics = TopicNames.defaults();
        List<String> failures = new ArrayList<>();
        KmsCallStats kmsCalls;

        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dataDir.resolve("kafka"), false);
        double brokerSeconds = secondsSince(start);
        try {
            broker.createTopic(topics.raw(), o.partitions(), Map.of());
            broker.createTopic(topics.sealed(), o.partitions(), Map.of());
            broker.createTopic(topics.dlq(), 1, Map.of());

            broker.createTopic(topics.keyEvents(), 1, Map.of("cleanup.policy", "delete", "retention.ms", "-1"));
            broker.createTopic(topics.audit(), 1, Map.of());
            broker.createTopic(DemoSinkStage.deadLetterTopic(topics), 1, Map.of());

            Map<String, String> config = pipelineConfig(o, dataDir, broker.bootstrapServers());
            DemoOperator operator = DemoOperator.writingConfig(dataDir, config);
            KeyringSettings keyringSettings = KeyringSettings.of(config);
            // As the KMS's administrator would (deploy/vault/init.sh): each role's audit-checkpoint key.
            try (KmsProvider admin = KmsProviders.create(keyringSettings)) {
                SigningKeys keys = admin.signingKeys().orElseThrow();
                for (String role : List.of("pipeline", "sink", "operator")) {
                    keys.createSigningKey(AuditKeys.keyName(keyringSettings, role));
                }
            }
            // The operator's signing key next: pipelines and sinks read its public key when they start.
            String signer = operator.signingKey();
            InMemorySchemaRegistry registry = new InMemorySchemaRegistry();
            int schemaId = registry.register(topics.raw() + "-value", EmbeddingEventCodec.CANONICAL_SCHEMA);

            SyntheticEmbeddings synthetic = new SyntheticEmbeddings(20261128L, o.dims());
            List<String> tenantNames = SyntheticEmbeddings.tenantNames(o.tenants());
            // Real sentences, embedded here, unless --synthetic-vectors: each tenant's last search is then a question.
            DemoEmbeddings sentences =
                    o.syntheticVectors() ? null : new DemoEmbeddings(tenantNames, o.recordsPerTenant());
            if (sentences != null) {
                LOG.info(
                        "embedded {} sentences with {} in {} s",
                        tenantNames.size() * o.recordsPerTenant(),
                        DemoEmbeddings.MODEL,
                        String.format(Locale.ROOT, "%.1f", sentences.seconds()));
            }
            java.util.function.BiFunction<String, Integer, EmbeddingEvent> events =
                    sentences == null ? synthetic::event : sentences::event;
            Map<String, EmbeddingEvent> expected = new HashMap<>();
            Map<String, String> expectedDlqReasons = new HashMap<>();
            VectorLeakScanner scanner = new VectorLeakScanner();

            long pipelineStart = System.nanoTime();
            AtomicReference<Throwable> streamsFailure = new AtomicReference<>();
            EmbedsealPipeline pipeline = EmbedsealPipeline.create(PipelineConfig.of(config, name -> null), registry);
            kmsCalls = pipeline.kmsCalls();
            pipeline.streams().setStateListener((now, before) -> {
                if (now == KafkaStreams.State.ERROR) {
                    streamsFailure.compareAndSet(
                            null, new IllegalStateException("the sealing topology stopped in ERROR"));
                }
            });
            List<ConsumerRecord<byte[], byte[]>> sealed;
            List<ConsumerRecord<byte[], byte[]>> dead;
            Produced produced;
            // The Lucene sink starts beside the pipeline (a Connect worker takes a few seconds) and indexes as records
            // are sealed.
            CompletableFuture<DemoSinkStage> sinkStarting = CompletableFuture.supplyAsync(
                    () -> DemoSinkStage.start(broker, topics, sinkKeyringSettings(config), dataDir));
            DemoSinkStage sink = null;
            try {
                // Onboard each tenant as an operator does, with the same command: its KEK in the KMS, then REGISTERED.
                for (String tenant : tenantNames) {
                    operator.onboard(tenant);
                }
                pipeline.start();
                produced = produce(
                        dataDir,
                        broker,
                        topics,
                        registry,
                        schemaId,
                        synthetic,
                        events,
                        tenantNames,
                        o.recordsPerTenant(),
                        expected,
                        expectedDlqReasons,
                        scanner);
                BooleanSupplier failed =
                        () -> streamsFailure.get() != null || pipeline.streams().state() == KafkaStreams.State.ERROR;
                long deadline = System.nanoTime() + o.timeout().toNanos();
                sealed = readCommitted(broker, topics.sealed(), expected.size(), deadline, failed);
                dead = readCommitted(broker, topics.dlq(), expectedDlqReasons.size(), deadline, failed);
                if (streamsFailure.get() != null) {
                    failures.add("the sealing topology failed: "
                            + streamsFailure.get().getMessage());
                }
            } finally {
                pipeline.close(Duration.ofSeconds(15));
            }
            double pipelineSeconds = secondsSince(pipelineStart);

            long checkStart = System.nanoTime();
            // An independent reader, as a sink in another process would be: its own KMS client and empty caches.
            Keyring readerKeyring = KmsProviders.keyring(
                    keyringSettings.with(Map.of("kms.create-missing-keys", "false")), kmsCalls, null);
            DemoChecks.Sealed sealedCheck = DemoChecks.Sealed.check(sealed, expected, new Sealer(readerKeyring));
            DemoChecks.DeadLettered deadCheck = DemoChecks.DeadLettered.check(dead, expectedDlqReasons);

            DemoSinkStage.Summary sinkSummary;
            try {
                sink = sinkStarting.join();
                Map<String, Integer> perTenantExpected = new TreeMap<>();
                Map<String, Map.Entry<String, float[]>> queries = new TreeMap<>();
                for (String t : tenantNames) {
                    perTenantExpected.put(t, o.recordsPerTenant());
                    EmbeddingEvent q = expected.get(t + "/" + DemoEmbeddings.embeddingId(o.recordsPerTenant() / 2));
                    EmbeddingEvent query = java.util.Objects.requireNonNull(q, "the query record was produced");
                    queries.put(t, Map.entry(query.getEmbeddingId(), toArray(query.getVector())));
                }
                Map<String, DemoSinkStage.Question> questions = new TreeMap<>();
                if (sentences != null) {
                    for (int i = 0; i < tenantNames.size(); i++) {
                        String question = DemoEmbeddings.question(i);
                        String tenant = tenantNames.get(i);
                        questions.put(
                                tenant,
                                new DemoSinkStage.Question(
                                        question, sentences.embed(question), id -> sentences.text(tenant, id)));
                    }
                }
                sinkSummary = sink.run(
                        operator,
                        topics,
                        keyringSettings,
                        perTenantExpected,
                        queries,
                        questions,
                        Duration.ofSeconds(Math.max(30, o.timeout().toSeconds())),
                        failures,
                        topic -> readToEnd(broker, topic),
                        scanner);
            } catch (CompletionException e) {
                throw new IllegalStateException("the Lucene sink did not start: " + e.getCause(), e.getCause());
            } catch (Exception e) {
                throw new IllegalStateException("the sink stage failed: " + e.getMessage(), e);
            } finally {
                if (sink != null) {
                    sink.close();
                } else {
                    var unused = sinkStarting.thenAccept(DemoSinkStage::close); // whenever it has started
                }
            }

            TrustedSigners auditSigners;
            Map<String, String> auditRoles;
            try (KmsProvider provider = KmsProviders.create(keyringSettings)) {
                auditSigners = AuditKeys.trusted(keyringSettings, provider::signingKeys);
                auditRoles = AuditKeys.roles(keyringSettings, provider::signingKeys);
            }
            DemoChecks.Audit audit =
                    DemoChecks.Audit.check(readToEnd(broker, topics.audit()), auditSigners, auditRoles);

            long plaintextHits = scanner.scanTopic(broker.logDir(), topics.sealed())
                    + scanner.scanTopic(broker.logDir(), topics.dlq())
                    + scanner.scanTopic(broker.logDir(), DemoSinkStage.deadLetterTopic(topics))
                    + scanner.scanTopic(broker.logDir(), topics.audit());
            long controlHits = scanner.scanTopic(broker.logDir(), topics.raw());
            double checkSeconds = secondsSince(checkStart) - sinkSummary.seconds();

            sealedCheck.failures(sealed.size(), expected.size(), failures);
            deadCheck.failures(dead.size(), expectedDlqReasons.size(), failures);
            audit.failures(tenantNames.size(), failures);
            if (plaintextHits > 0) {
                failures.add(plaintextHits + " plaintext vector hits in the sealed or dead-letter topic's segments");
            }
            if (controlHits == 0) {
                failures.add(
                        "the leak scanner found nothing in the raw topic, where plaintext is known to be: the scan proves nothing");
            }

            SortedMap<String, DemoReport.TenantSummary> tenants = new TreeMap<>();
            for (String t : tenantNames) {
                tenants.put(
                        t,
                        new DemoReport.TenantSummary(
                                sealedCheck.perTenant().getOrDefault(t, 0),
                                sealedCheck.kekPerTenant().getOrDefault(t, "(none)")));
            }
            readerKeyring.kms().close();
            long missingKeyWraps = kmsCalls.calls(KmsOperation.WRAP, KmsOutcome.UNKNOWN_KEY);
            DemoReport.KmsCalls calls = new DemoReport.KmsCalls(
                    kmsCalls.calls(KmsOperation.WRAP, KmsOutcome.OK),
                    kmsCalls.calls(KmsOperation.UNWRAP, KmsOutcome.OK),
                    audit.keysCreated(),
                    kmsCalls.errors() - missingKeyWraps);
            DemoReport.KeyEventsSeen keyEvents = keyEventsSeen(broker, topics, keyringSettings, signer);
            if (keyEvents.refused() > 0 || keyEvents.applied() < o.tenants()) {
                failures.add("key events: " + keyEvents.applied() + " signed events applied and " + keyEvents.refused()
                        + " refused; expected at least " + o.tenants() + " and none refused");
            }
            return new DemoReport(
                    keyringSettings.provider(),
                    kmsServer,
                    new DemoReport.Shape(
                            o.tenants(),
                            o.recordsPerTenant(),
                            o.dims(),
                            o.partitions(),
                            sentences == null
                                    ? "synthetic"
                                    : String.format(
                                            Locale.ROOT,
                                            "Europarl sentences embedded with %s in %.1f s",
                                            DemoEmbeddings.MODEL,
                                            sentences.seconds())),
                    new DemoReport.Counts(
                            produced.count(),
                            expected.size(),
                            expectedDlqReasons.size(),
                            sealed.size(),
                            dead.size(),
                            produced.fromPython(),
                            produced.python()),
                    sealedCheck,
                    deadCheck,
                    audit,
                    keyEvents,
                    new DemoReport.Leaks(plaintextHits, controlHits),
                    calls,
                    tenants,
                    sinkSummary,
                    new DemoReport.Timings(secondsSince(start), brokerSeconds, pipelineSeconds, checkSeconds),
                    failures);
        } finally {
            broker.close();
        }
    }

    /** Reads the key-event topic as every reader does (verifying each signature) and counts what applied. */
    private static DemoReport.KeyEventsSeen keyEventsSeen(
            EmbeddedKafkaBroker broker, TopicNames topics, KeyringSettings settings, String signerLine) {
        String signer = signerLine.startsWith("signing key ") ? signerLine.substring(12) : signerLine;
        try (KmsProvider provider = KmsProviders.create(settings)) {
            KeyEventGate gate =
                    KeyEventTrust.gate(settings, new TenantDirectory(settings.naming()), provider::signingKeys);
            try (KeyEventFollower f = KeyEventFollower.start(
                    Map.of("bootstrap.servers", broker.bootstrapServers()),
                    topics.keyEvents(),
                    gate,
                    d -> {},
                    "demo-check")) {
                if (!f.awaitCaughtUp(Duration.ofSeconds(30))) {
                    return new DemoReport.KeyEventsSeen(signer + " (topic not read in 30 s)", 0, 0);
                }
            }
            return new DemoReport.KeyEventsSeen("operator's key " + signer, gate.signedApplied(), gate.refused());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new DemoReport.KeyEventsSeen(signer + " (interrupted)", 0, 0);
        }
    }

    /** The keyring settings the sink connector gets: the pipeline's own, so both reach the same KMS. */
    private static Map<String, String> sinkKeyringSettings(Map<String, String> pipelineConfig) {
        Map<String, String> s = new HashMap<>();
        pipelineConfig.forEach((k, v) -> {
            if (k.startsWith("kms.") || k.startsWith("dek.")) {
                s.put(k, v);
            }
        });
        return s;
    }

    private static float[] toArray(List<Float> v) {
        float[] out = new float[v.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = v.get(i);
        }
        return out;
    }

    /** The pipeline's settings for the embedded run: the demo's KMS options on top of embedded defaults. */
    private static Map<String, String> pipelineConfig(Options o, Path dataDir, String bootstrapServers) {
        Map<String, String> s = new HashMap<>();
        s.put("bootstrap.servers", bootstrapServers);
        s.put("application.id", "embedseal-demo");
        s.put("state.dir", dataDir.resolve("streams").toString());
        s.put("kms.provider", "local");
        s.put("kms.create-missing-keys", "false");
        s.put("tenants.auto-register", "false");
        s.put("streams.commit.interval.ms", "100");
        s.putAll(o.kmsSettings());
        if (s.get("kms.provider").equals("local")) {
            s.putIfAbsent("kms.local.dir", dataDir.resolve("kms").toString());
        }
        return s;
    }

    /** Records produced, and how many of them the Python client published (or why none). */
    record Produced(int count, int fromPython, String python) {}

    /** Every {@value #PYTHON_SHARE}th record of each tenant is published by the Python client. */
    static final int PYTHON_SHARE = 4;

    private static Produced produce(
            Path dataDir,
            EmbeddedKafkaBroker broker,
            TopicNames topics,
            InMemorySchemaRegistry registry,
            int schemaId,
            SyntheticEmbeddings synthetic,
            java.util.function.BiFunction<String, Integer, EmbeddingEvent> events,
            List<String> tenants,
            int perTenant,
            Map<String, EmbeddingEvent> expected,
            Map<String, String> expectedDlqReasons,
            VectorLeakScanner scanner) {
        EmbeddingEventSerializer serializer = new EmbeddingEventSerializer(registry);
        int produced = 0;
        List<EmbeddingEvent> forPython = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(
                Map.of(
                        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                        broker.bootstrapServers(),
                        ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG,
                        true,
                        ProducerConfig.ACKS_CONFIG,
                        "all",
                        ProducerConfig.LINGER_MS_CONFIG,
                        5,
                        ProducerConfig.BATCH_SIZE_CONFIG,
                        262_144),
                new ByteArraySerializer(),
                new ByteArraySerializer())) {
            for (int i = 0; i < perTenant; i++) {
                for (String tenant : tenants) {
                    EmbeddingEvent e = events.apply(tenant, i);
                    String key = tenant + "/" + e.getEmbeddingId();
                    expected.put(key, e);
                    scanner.add(e.getVector());
                    if (i % PYTHON_SHARE == PYTHON_SHARE - 1) {
                        forPython.add(e);
                        continue;
                    }
                    // A record that fails to be written is missing from the sealed topic, which the checks report.
                    var unused = producer.send(new ProducerRecord<>(
                            topics.raw(), key.getBytes(StandardCharsets.UTF_8), serializer.serialize(topics.raw(), e)));
                    produced++;
                }
            }
            int n = 0;
            for (SyntheticEmbeddings.Invalid bad : synthetic.invalidRecords(tenants.get(0), schemaId)) {
                n++;
                String key = "invalid-" + n + "-" + bad.name();
                expectedDlqReasons.put(key, bad.expected().name());
                if (bad.vector().size() >= 4) {
                    scanner.add(bad.vector());
                }
                var unused = producer.send(
                        new ProducerRecord<>(topics.raw(), key.getBytes(StandardCharsets.UTF_8), bad.value()));
                produced++;
            }
            producer.flush();
            int fromPython = 0;
            String python;
            try {
                DemoPython.Outcome out =
                        DemoPython.publish(broker.bootstrapServers(), topics.raw(), schemaId, forPython, dataDir);
                fromPython = out.sent();
                python = out.detail();
            } catch (IOException | RuntimeException e) {
                // No Python here (or it failed): the Java producer sends its share, and the report says why.
                python = "not available: " + e.getMessage();
                LOG.warn("the Python client did not publish its share of the events ({}); Java sends them", python);
                for (EmbeddingEvent e2 : forPython) {
                    String key = e2.getTenantId() + "/" + e2.getEmbeddingId();
                    var unused = producer.send(new ProducerRecord<>(
                            topics.raw(),
                            key.getBytes(StandardCharsets.UTF_8),
                            serializer.serialize(topics.raw(), e2)));
                }
                producer.flush();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while Python published", e);
            }
            produced += forPython.size();
            LOG.info("produced {} records to {}, {} of them from Python", produced, topics.raw(), fromPython);
            return new Produced(produced, fromPython, python);
        }
    }

    /** Reads a topic from the beginning, read_committed, until {@code expected} records arrived or time ran out. */
    private static List<ConsumerRecord<byte[], byte[]>> readCommitted(
            EmbeddedKafkaBroker broker, String topic, int expected, long deadlineNanos, BooleanSupplier failed) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        // A last look after the expected count: anything past it is a duplicate the checks must see.
        TopicReader.readFromStart(
                clients(broker),
                topic,
                n -> n >= expected || failed.getAsBoolean(),
                deadlineNanos,
                Duration.ofMillis(300),
                out::add);
        return out;
    }

    /** Everything committed to a topic up to its current end. */
    private static List<ConsumerRecord<byte[], byte[]>> readToEnd(EmbeddedKafkaBroker broker, String topic) {
        return TopicReader.readAll(clients(broker), topic);
    }

    private static Map<String, Object> clients(EmbeddedKafkaBroker broker) {
        return Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
    }

    private static Path prepare(Path dir) throws IOException {
        if (Files.exists(dir)) {
            try (Stream<Path> entries = Files.list(dir)) {
                if (entries.findAny().isPresent()) {
                    throw new IllegalArgumentException(
                            "--data-dir " + dir + " is not empty; give an empty or new directory");
                }
            }
        }
        return Files.createDirectories(dir);
    }

    private static double secondsSince(long nanos) {
        return (System.nanoTime() - nanos) / 1e9;
    }
}
