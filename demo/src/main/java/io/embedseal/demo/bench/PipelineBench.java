package io.embedseal.demo.bench;

import io.embedseal.app.ops.SyntheticEmbeddings;
import io.embedseal.app.ops.TopicReader;
import io.embedseal.control.KeyEventAuthor;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.dek.Dek;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.InMemorySchemaRegistry;
import io.embedseal.serdes.envelope.EnvelopeHeader;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.topology.EmbedsealPipeline;
import io.embedseal.topology.PipelineConfig;
import io.embedseal.topology.SealingOptions;
import io.embedseal.topology.StreamsSettings;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Produced;
import org.jspecify.annotations.Nullable;

/**
 * The end-to-end comparison: on one in-process broker and the same generated records, a plaintext pass-through
 * topology (consume, produce the same bytes) and the sealing pipeline (decode, validate, seal), both exactly-once v2
 * with the same Streams settings, run alternately. Each run has two phases:
 * <ol>
 *   <li><b>throughput</b>: the input topic is filled first; the output topic stamps records with the broker's
 *       append time, and the rate is the records over the span from the first append to the last, so the application's
 *       start is not counted; the output is read once the application has committed the whole input, so no
 *       reader competes with it for the CPU; the process's CPU time over the run is
 *       reported per record too (the whole JVM: broker, consumer and topology), a figure far less noisy than a
 *       rate on a shared machine;</li>
 *   <li><b>latency</b>: records produced at a fixed rate while it runs; end-to-end latency is an output record's
 *       arrival at the consumer minus its producer timestamp (which Streams keeps).</li>
 * </ol>
 */
public final class PipelineBench {

    /** What to run. */
    public record Options(
            int records,
            List<Integer> dims,
            int partitions,
            int runs,
            int warmupRuns,
            int latencyRecords,
            int latencyRate,
            long dekMaxRecords,
            Path dataDir,
            List<String> topologies,
            io.embedseal.keyring.kms.KekKind kekKind,
            List<Integer> tenantCounts,
            int streamThreads,
            int commitIntervalMs,
            TenantDistribution distribution,
            Phase phase) {

        /** The topologies there are, in the order each run takes them. */
        public static final List<String> TOPOLOGIES = List.of("pass-through", "aes-gcm", "sealed");

        public Options {
            topologies = TOPOLOGIES.stream().filter(topologies::contains).toList();
            if (topologies.isEmpty()) {
                throw new IllegalArgumentException("no topology to run: choose from " + TOPOLOGIES);
            }
            tenantCounts = List.copyOf(tenantCounts);
            if (tenantCounts.isEmpty() || tenantCounts.stream().anyMatch(t -> t < 1)) {
                throw new IllegalArgumentException("tenant counts are at least 1: " + tenantCounts);
            }
        }
    }

    /**
     * What a run measures: {@code COLD}, a fresh instance through the backlog (each tenant's first record makes its
     * DEK); {@code STEADY}, the same instance through a second backlog with the same tenant sequence, after the first
     * (not measured) made the DEKs.
     */
    public enum Phase {
        COLD,
        STEADY;

        public static Phase parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "cold" -> COLD;
                case "steady" -> STEADY;
                default -> throw new IllegalArgumentException("--phase takes cold or steady; got " + s);
            };
        }
    }

    /** One run's figures. */
    public record Run(
            String topology,
            int dims,
            int run,
            long records,
            double seconds,
            double recordsPerSecond,
            double megabytesPerSecond,
            double cpuMicrosPerRecord,
            double topologyCpuMicrosPerRecord,
            long topologyAllocatedBytesPerRecord,
            long gcPauses,
            long gcPauseMillis,
            double p50Millis,
            double p99Millis,
            long kmsCalls,
            long peakHeapBytes,
            String phase,
            int tenants,
            long dekCacheHits,
            long dekCacheMisses,
            double dekCacheHitRate,
            long heapAfterGcBytes) {}

    /**
     * A ratio over the pairs of runs taken next to each other (run k of one topology against run k of the other), so a
     * change of the machine's speed between rounds moves both sides of a pair: the median of the pairs, their smallest
     * and largest, and the pairs themselves.
     */
    public record Spread(double median, double min, double max, List<Double> pairs) {
        static final Spread NONE = new Spread(Double.NaN, Double.NaN, Double.NaN, List.of());

        static Spread of(List<Double> pairs) {
            if (pairs.isEmpty()) {
                return NONE;
            }
            double[] v =
                    pairs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            double median = v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
            return new Spread(median, v[0], v[v.length - 1], List.copyOf(pairs));
        }
    }

    /**
     * Per dimension: every run and the ratios of the medians ({@code ratio} = sealed / pass-through, the goal;
     * {@code floorRatio} = aes-gcm / pass-through, the best any AES-GCM sealing of these bytes could do here;
     * {@code sealedToFloor} = sealed / aes-gcm, what embedseal's own work costs on top). NaN where a topology did not run.
     *
     * @param sealedExtraBytes how many bytes a sealed record's value has more than the raw one
     */
    public record DimsResult(
            int dims,
            long recordBytes,
            long sealedExtraBytes,
            List<Run> runs,
            double passThroughMedian,
            double aesGcmMedian,
            double sealedMedian,
            double ratio,
            double floorRatio,
            double sealedToFloor,
            double cpuPassThrough,
            double cpuAesGcm,
            double cpuSealed,
            double topologyCpuPassThrough,
            double topologyCpuAesGcm,
            double topologyCpuSealed,
            double p99PassThrough,
            double p99AesGcm,
            double p99Sealed,
            long kmsCallsPerSealedRun,
            long kmsBound,
            int tenants,
            int tenantsWithRecords,
            String distribution,
            String phase,
            int streamThreads,
            int partitions,
            int commitIntervalMs,
            double p50PassThrough,
            double p50AesGcm,
            double p50Sealed,
            double dekCacheHitRate,
            long heapAfterGcSealed,
            Spread ratioSpread,
            Spread floorRatioSpread,
            Spread sealedToFloorSpread,
            Spread sealedCpuOverPassThrough,
            Spread floorCpuOverPassThrough,
            Spread sealedCpuOverFloor,
            Spread p99SealedOverPassThrough) {}

    private PipelineBench() {}

    /**
     * Runs everything; {@code progress} is told what happens (for a progress line).
     */
    public static List<DimsResult> run(Options o, Consumer<String> progress) throws Exception {
        Files.createDirectories(o.dataDir());
        List<DimsResult> out = new ArrayList<>();
        int most = o.tenantCounts().stream().mapToInt(Integer::intValue).max().orElseThrow();
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(o.dataDir().resolve("kafka"), true)) {
            Path kmsDir = o.dataDir().resolve("kms");
            List<String> tenants = new ArrayList<>();
            String events = "bench-keyring.events";
            broker.createTopic(events, 1, Map.of("cleanup.policy", "delete", "retention.ms", "-1"));
            progress.accept("registering " + most + " tenants");
            try (LocalKms kms = new LocalKms(kmsDir);
                    KafkaProducer<String, byte[]> p = new KafkaProducer<>(
                            Map.of(
                                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                    broker.bootstrapServers(),
                                    ProducerConfig.LINGER_MS_CONFIG,
                                    20),
                            new StringSerializer(),
                            new ByteArraySerializer())) {
                KeyEventAuthor operator = KeyEventAuthor.creatingKey(
                        kms.signingKeys().orElseThrow(), KeyringSettings.DEFAULT_SIGNING_KEY, "bench");
                for (int t = 0; t < most; t++) {
                    String tenant = String.format(Locale.ROOT, "tenant-%03d", t);
                    tenants.add(tenant);
                    KekRef k = kms.createKek("tenant-" + tenant, o.kekKind());
                    io.embedseal.keyring.kms.PublicKek pinned = kms.publicKek(k.keyName(), k.version());
                    var unused = p.send(new ProducerRecord<>(
                            events,
                            tenant,
                            pinned != null
                                    ? operator.next(tenant, KeyEventType.REGISTERED, pinned)
                                    : operator.next(
                                            tenant, KeyEventType.REGISTERED, k.provider(), k.keyName(), k.version())));
                }
                p.flush();
            }
            for (int count : o.tenantCounts()) {
                for (int dims : o.dims()) {
                    out.add(runDims(broker, o, dims, tenants.subList(0, count), kmsDir, events, progress));
                }
            }
        }
        return out;
    }

    private static DimsResult runDims(
            EmbeddedKafkaBroker broker,
            Options o,
            int dims,
            List<String> tenants,
            Path kmsDir,
            String events,
            Consumer<String> progress)
            throws Exception {
        InMemorySchemaRegistry registry = new InMemorySchemaRegistry();
        String where = tenants.size() + " tenants, " + dims + " dims";
        String source = "bench-raw-" + dims + "-" + tenants.size();
        String latencySourcePrefix = "bench-latency-" + dims + "-" + tenants.size() + "-";
        int schemaId = registry.register(source + "-value", EmbeddingEventCodec.CANONICAL_SCHEMA);
        int[] sequence = o.distribution().sequence(tenants.size(), o.records(), 31L * tenants.size() + dims);
        int[] latencySequence =
                o.distribution().sequence(tenants.size(), o.latencyRecords(), 37L * tenants.size() + dims);
        Batches batches;
        if (o.phase() == Phase.COLD) {
            // One backlog, filled once, which every run reads from the start.
            broker.createTopic(source, o.partitions(), Map.of());
            progress.accept(where + ": producing " + o.records() + " records");
            long bytes = fill(broker, source, schemaId, dims, tenants, sequence, 0, 0);
            batches = new Batches(() -> bytes, runId -> source, null);
        } else {
            // A topic per run: the first backlog (which makes the DEKs) before the start, the measured one while the
            // application cannot read it yet.
            long[] measuredBytes = {0};
            batches = new Batches(() -> measuredBytes[0], runId -> runId + "-in", (topic, first) -> {
                if (first) {
                    broker.createTopic(topic, o.partitions(), Map.of());
                    fill(broker, topic, schemaId, dims, tenants, sequence, 0, 0);
                    return null;
                }
                return fillUncommitted(broker, topic, schemaId, dims, tenants, sequence, o.records(), measuredBytes);
            });
        }
        byte[] header = envelopeHeader(kmsDir, dims, tenants.get(0));

        List<Run> runs = new ArrayList<>();
        // Warm-up runs (not counted) first: the JIT keeps improving Kafka's and our code for several runs.
        for (int run = 1 - o.warmupRuns(); run <= o.runs(); run++) {
            for (String topology : o.topologies()) {
                progress.accept(where + ": " + (run < 1 ? "warm-up " + (run + o.warmupRuns()) : "run " + run) + " "
                        + topology + (o.phase() == Phase.STEADY ? " (steady state)" : ""));
                String latencySource = latencySourcePrefix + topology + "-" + (run + o.warmupRuns());
                broker.createTopic(latencySource, o.partitions(), Map.of());
                Run r = runOnce(
                        broker,
                        o,
                        dims,
                        topology,
                        run,
                        batches,
                        latencySource,
                        latencySequence,
                        registry,
                        schemaId,
                        tenants,
                        kmsDir,
                        events,
                        header);
                if (run >= 1) {
                    runs.add(r);
                }
            }
        }
        double pass = median(runs, "pass-through", Run::recordsPerSecond);
        double floor = median(runs, "aes-gcm", Run::recordsPerSecond);
        double sealed = median(runs, "sealed", Run::recordsPerSecond);
        long kms = runs.stream()
                .filter(r -> r.topology().equals("sealed"))
                .mapToLong(Run::kmsCalls)
                .max()
                .orElse(0);
        // The bound of the measured backlog: from a cold start, a DEK per tenant with records (plus rollovers); in
        // steady state, rollovers only, once every DEK fits the cache.
        long bound = TenantDistribution.kmsBound(sequence, tenants.size(), o.dekMaxRecords());
        if (o.phase() == Phase.STEADY) {
            int[] both = Arrays.copyOf(sequence, sequence.length * 2);
            System.arraycopy(sequence, 0, both, sequence.length, sequence.length);
            bound = TenantDistribution.kmsBound(both, tenants.size(), o.dekMaxRecords()) - bound;
        }
        return new DimsResult(
                dims,
                batches.recordBytes().getAsLong() / o.records(),
                header.length + Dek.OVERHEAD - EmbeddingEventCodec.PREFIX_LENGTH,
                runs,
                pass,
                floor,
                sealed,
                ratio(sealed, pass),
                ratio(floor, pass),
                ratio(sealed, floor),
                median(runs, "pass-through", Run::cpuMicrosPerRecord),
                median(runs, "aes-gcm", Run::cpuMicrosPerRecord),
                median(runs, "sealed", Run::cpuMicrosPerRecord),
                median(runs, "pass-through", Run::topologyCpuMicrosPerRecord),
                median(runs, "aes-gcm", Run::topologyCpuMicrosPerRecord),
                median(runs, "sealed", Run::topologyCpuMicrosPerRecord),
                median(runs, "pass-through", Run::p99Millis),
                median(runs, "aes-gcm", Run::p99Millis),
                median(runs, "sealed", Run::p99Millis),
                kms,
                bound,
                tenants.size(),
                TenantDistribution.distinct(sequence, tenants.size()),
                o.distribution().toString(),
                o.phase().name().toLowerCase(Locale.ROOT),
                o.streamThreads(),
                o.partitions(),
                o.commitIntervalMs(),
                median(runs, "pass-through", Run::p50Millis),
                median(runs, "aes-gcm", Run::p50Millis),
                median(runs, "sealed", Run::p50Millis),
                median(runs, "sealed", Run::dekCacheHitRate),
                (long) median(runs, "sealed", r -> r.heapAfterGcBytes()),
                pairs(runs, "sealed", "pass-through", Run::recordsPerSecond, (a, b) -> a / b),
                pairs(runs, "aes-gcm", "pass-through", Run::recordsPerSecond, (a, b) -> a / b),
                pairs(runs, "sealed", "aes-gcm", Run::recordsPerSecond, (a, b) -> a / b),
                pairs(runs, "sealed", "pass-through", Run::topologyCpuMicrosPerRecord, (a, b) -> a - b),
                pairs(runs, "aes-gcm", "pass-through", Run::topologyCpuMicrosPerRecord, (a, b) -> a - b),
                pairs(runs, "sealed", "aes-gcm", Run::topologyCpuMicrosPerRecord, (a, b) -> a - b),
                pairs(runs, "sealed", "pass-through", Run::p99Millis, (a, b) -> a / b));
    }

    /** {@code f(a's run k, b's run k)} for every round k in which both topologies ran. */
    private static Spread pairs(
            List<Run> runs,
            String a,
            String b,
            java.util.function.ToDoubleFunction<Run> value,
            java.util.function.DoubleBinaryOperator f) {
        List<Double> out = new ArrayList<>();
        for (Run ra : runs) {
            if (!ra.topology().equals(a)) {
                continue;
            }
            for (Run rb : runs) {
                if (rb.topology().equals(b) && rb.run() == ra.run()) {
                    double x = value.applyAsDouble(ra);
                    double y = value.applyAsDouble(rb);
                    if (x > 0 && y > 0) {
                        out.add(f.applyAsDouble(x, y));
                    }
                }
            }
        }
        return Spread.of(out);
    }

    /**
     * Where a run's backlog comes from: the topic of each run, and (steady state) how a batch is put into it.
     *
     * @param fill null when the backlog is filled once before all runs; else {@code (topic, first)}: the first
     *             batch (before the start) or the measured one
     */
    private record Batches(
            java.util.function.LongSupplier recordBytes,
            java.util.function.UnaryOperator<String> topic,
            @Nullable BatchFiller fill) {}

    private interface BatchFiller {
        /** The first batch, committed; or the measured one, whose transaction the returned producer commits. */
        @Nullable
        KafkaProducer<byte[], byte[]> fill(String topic, boolean first) throws Exception;
    }

    private static double ratio(double a, double b) {
        return a > 0 && b > 0 ? a / b : Double.NaN;
    }

    /**
     * The header of a real envelope of this run's shape (the first record, sealed under the first tenant's KEK on the
     * bench's KMS, by a keyring of its own), for the {@code aes-gcm} floor to write and authenticate: the floor's
     * records then have exactly the sealed records' size.
     */
    static byte[] envelopeHeader(Path kmsDir, int dims, String tenant) throws Exception {
        byte[] envelope = sealFirst(kmsDir, dims, tenant);
        return Arrays.copyOf(envelope, EnvelopeHeader.parse(envelope).ciphertextOffset());
    }

    /** The first generated record of {@code tenant} at {@code dims}, sealed as the pipeline seals it. */
    static byte[] sealFirst(Path kmsDir, int dims, String tenant) throws Exception {
        EmbeddingEvent first = new SyntheticEmbeddings(dims * 31L, dims).event(tenant, 0);
        try (LocalKms kms = new LocalKms(kmsDir)) {
            io.embedseal.keyring.KekNaming naming = io.embedseal.keyring.KekNaming.defaults();
            io.embedseal.keyring.KekResolver pinning = new io.embedseal.keyring.KekResolver() {
                @Override
                public String kekNameFor(String t) {
                    return naming.kekNameFor(t);
                }

                @Override
                public @org.jspecify.annotations.Nullable String tenantFor(String keyName) {
                    return naming.tenantFor(keyName);
                }

                @Override
                public io.embedseal.keyring.kms.@org.jspecify.annotations.Nullable PublicKek publicKekFor(String t) {
                    String name = naming.kekNameFor(t);
                    return kms.publicKek(name, kms.describe(name).latestVersion());
                }
            };
            return new Sealer(Keyring.builder(kms).naming(pinning).build())
                    .seal(
                            tenant,
                            first.getEmbeddingId(),
                            new io.embedseal.serdes.envelope.RecordVersion(
                                    first.getEventTime().toEpochMilli(), 0),
                            PayloadType.EMBEDDING_EVENT_AVRO,
                            EmbeddingEventCodec.toCanonicalAvro(first));
        }
    }

    private static double median(List<Run> runs, String topology, java.util.function.ToDoubleFunction<Run> f) {
        double[] v = runs.stream()
                .filter(r -> r.topology().equals(topology))
                .mapToDouble(f)
                .sorted()
                .toArray();
        return v.length == 0 ? 0 : v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    /** Produces a record for each entry of the tenant sequence; returns the bytes of values produced. */
    private static long fill(
            EmbeddedKafkaBroker broker,
            String topic,
            int schemaId,
            int dims,
            List<String> tenants,
            int[] sequence,
            int firstIndex,
            long rateLimit)
            throws Exception {
        try (KafkaProducer<byte[], byte[]> p = producer(broker, rateLimit > 0 ? 0 : 20, null)) {
            return send(p, topic, schemaId, dims, tenants, sequence, firstIndex, rateLimit);
        }
    }

    private static KafkaProducer<byte[], byte[]> producer(
            EmbeddedKafkaBroker broker, int lingerMs, @Nullable String transactionalId) {
        Map<String, Object> c = new HashMap<>();
        c.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        c.put(ProducerConfig.LINGER_MS_CONFIG, lingerMs);
        c.put(ProducerConfig.BATCH_SIZE_CONFIG, 1 << 20);
        c.put(ProducerConfig.ACKS_CONFIG, "all");
        if (transactionalId != null) {
            c.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
            c.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 600_000);
        }
        return new KafkaProducer<>(c, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /**
     * Steady state's measured batch: produced inside a transaction left open, so the application (reading
     * read_committed) sees none of it until the returned producer commits it, all at once.
     */
    private static KafkaProducer<byte[], byte[]> fillUncommitted(
            EmbeddedKafkaBroker broker,
            String topic,
            int schemaId,
            int dims,
            List<String> tenants,
            int[] sequence,
            int firstIndex,
            long[] bytes)
            throws Exception {
        KafkaProducer<byte[], byte[]> p = producer(broker, 20, "bench-fill-" + topic);
        try {
            p.initTransactions();
            p.beginTransaction();
            bytes[0] = send(p, topic, schemaId, dims, tenants, sequence, firstIndex, 0);
            p.flush();
            return p;
        } catch (Exception e) {
            try {
                p.abortTransaction(); // not left open on the broker for transaction.timeout.ms
            } catch (RuntimeException notOpen) {
                e.addSuppressed(notOpen);
            }
            p.close();
            throw e;
        }
    }

    /**
     * Writes the bench's input. A record the broker did not take fails the bench here, naming the topic: the in-process
     * broker once answered an idempotent producer's batch with {@code OutOfOrderSequenceException}, the record was
     * lost silently (its future ignored), and the bench then waited without end for output that could not come.
     */
    static long send(
            org.apache.kafka.clients.producer.Producer<byte[], byte[]> p,
            String topic,
            int schemaId,
            int dims,
            List<String> tenants,
            int[] sequence,
            int firstIndex,
            long rateLimit)
            throws Exception {
        int n = sequence.length;
        SyntheticEmbeddings synthetic = new SyntheticEmbeddings(dims * 31L, dims);
        long bytes = 0;
        long start = System.nanoTime();
        java.util.concurrent.atomic.AtomicReference<Exception> failed =
                new java.util.concurrent.atomic.AtomicReference<>();
        for (int i = 0; i < n; i++) {
            String tenant = tenants.get(sequence[i]);
            EmbeddingEvent e = synthetic.event(tenant, firstIndex + i);
            byte[] value = EmbeddingEventCodec.encodeWire(schemaId, e);
            bytes += value.length;
            try {
                var unused = p.send(
                        new ProducerRecord<>(
                                topic,
                                (tenant + "/" + e.getEmbeddingId()).getBytes(java.nio.charset.StandardCharsets.UTF_8),
                                value),
                        (metadata, error) -> {
                            if (error != null) {
                                failed.compareAndSet(null, error);
                            }
                        });
            } catch (org.apache.kafka.common.KafkaException refused) {
                // A transactional producer refuses further sends once a batch failed, before the callback says so.
                failed.compareAndSet(null, refused);
            }
            if (failed.get() != null) {
                break;
            }
            if (rateLimit > 0) {
                long due = start + (long) ((i + 1) * 1e9 / rateLimit);
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                }
            }
        }
        p.flush();
        Exception error = failed.get();
        if (error != null) {
            throw new IllegalStateException(
                    "the bench could not write its input to " + topic + " (" + error
                            + "); nothing was measured: run it again",
                    error);
        }
        return bytes;
    }

    private static Run runOnce(
            EmbeddedKafkaBroker broker,
            Options o,
            int dims,
            String topology,
            int run,
            Batches batches,
            String latencySource,
            int[] latencySequence,
            InMemorySchemaRegistry registry,
            int schemaId,
            List<String> tenants,
            Path kmsDir,
            String events,
            byte[] header)
            throws Exception {
        String id = "bench-" + dims + "-" + tenants.size() + "-" + topology + "-" + (run + o.warmupRuns());
        String source = batches.topic().apply(id);
        String output = id + "-out";
        String latencyOutput = id + "-latency-out";
        broker.createTopic(output, o.partitions(), Map.of("message.timestamp.type", "LogAppendTime"));
        broker.createTopic(latencyOutput, o.partitions(), Map.of());
        Path stateDir = o.dataDir().resolve("streams").resolve(id);
        HeapSampler heap = new HeapSampler();
        heap.start();
        Starter starter;
        if (!topology.equals("sealed")) {
            // Plain Kafka Streams: the bytes as they are, or encrypted by the floor.
            AesGcmFloor floor = topology.equals("aes-gcm") ? new AesGcmFloor(header) : null;
            starter = inputTopic -> {
                StreamsBuilder b = new StreamsBuilder();
                KStream<byte[], byte[]> in =
                        b.stream(inputTopic, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()));
                (floor == null ? in : in.mapValues(floor::apply))
                        .to(
                                inputTopic.equals(source) ? output : latencyOutput,
                                Produced.with(Serdes.ByteArray(), Serdes.ByteArray()));
                KafkaStreams s = new KafkaStreams(
                        b.build(),
                        StreamsSettings.properties(
                                id + (inputTopic.equals(source) ? "" : "-latency"),
                                broker.bootstrapServers(),
                                stateDir,
                                streamsOverrides(o)));
                return new Running(s, () -> 0L, () -> new long[2], s::close);
            };
        } else {
            starter = inputTopic -> {
                Map<String, String> c = new HashMap<>();
                c.put("bootstrap.servers", broker.bootstrapServers());
                c.put("application.id", id + (inputTopic.equals(source) ? "" : "-latency"));
                c.put("state.dir", stateDir.toString());
                c.put("topics.raw", inputTopic);
                c.put("topics.sealed", inputTopic.equals(source) ? output : latencyOutput);
                c.put("topics.dlq", id + "-dlq");
                c.put("topics.key-events", events);
                c.put("topics.audit", id + "-audit");
                c.put("topics.create", "true");
                c.put("topics.partitions", Integer.toString(o.partitions()));
                c.put("kms.provider", "local");
                c.put("kms.local.dir", kmsDir.toString());
                c.put("dek.max-records", Long.toString(o.dekMaxRecords()));
                c.put("audit.enabled", "false");
                streamsOverrides(o).forEach((k, v) -> c.put("streams." + k, String.valueOf(v)));
                EmbedsealPipeline p = EmbedsealPipeline.create(PipelineConfig.of(c, name -> null), registry);
                p.createTopicsIfConfigured();
                return new Running(
                        p.streams(),
                        () -> p.kmsCalls().totalCalls(),
                        () -> {
                            Keyring.CacheStats cs = p.parts().sealer().keyring().cacheStats();
                            return new long[] {cs.sealHits(), cs.sealMisses()};
                        },
                        () -> p.close(Duration.ofSeconds(30)));
            };
        }
        Run result = measure(
                broker,
                topology,
                dims,
                run,
                id,
                source,
                batches,
                output,
                latencySource,
                latencyOutput,
                latencySequence,
                schemaId,
                tenants,
                o,
                heap,
                starter);
        heap.stop();
        return result;
    }

    /** Settings all topologies share on top of {@link StreamsSettings}. */
    static Map<String, Object> streamsOverrides(Options o) {
        Map<String, Object> m = new LinkedHashMap<>(
                StreamsSettings.allowingDependencyWait(SealingOptions.defaults().maxDependencyWait()));
        m.put("num.stream.threads", o.streamThreads());
        m.put("commit.interval.ms", o.commitIntervalMs());
        return m;
    }

    private record Running(
            KafkaStreams streams,
            java.util.function.LongSupplier kmsCalls,
            java.util.function.Supplier<long[]> dekCacheHitsAndMisses,
            Runnable close) {}

    private interface Starter {
        Running start(String inputTopic) throws Exception;
    }

    private static Run measure(
            EmbeddedKafkaBroker broker,
            String topology,
            int dims,
            int run,
            String appId,
            String source,
            Batches batches,
            String output,
            String latencySource,
            String latencyOutput,
            int[] latencySequence,
            int schemaId,
            List<String> tenants,
            Options o,
            HeapSampler heap,
            Starter starter)
            throws Exception {
        // Throughput: the backlog.
        BatchFiller filler = batches.fill();
        if (filler != null) {
            var unused = filler.fill(source, true); // steady state: the backlog that makes the DEKs first
        }
        Running app = starter.start(source);
        long expected = o.records();
        long kmsBefore = 0;
        long[] cacheBefore = {0, 0};
        long splitMillis = Long.MIN_VALUE;
        long cpuBefore;
        long[] gcBefore;
        long threadsCpuBefore = 0;
        long threadsAllocatedBefore = 0;
        if (filler == null) {
            cpuBefore = processCpuNanos();
            gcBefore = gcTotals();
            app.streams().start();
        } else {
            app.streams().start();
            awaitCommitted(broker, appId, source, o.records(), Duration.ofMinutes(10));
            // The measured batch goes in uncommitted: the application cannot read it until the commit below, so it
            // all waits in the topic, as the first batch did before the start.
            KafkaProducer<byte[], byte[]> pending =
                    java.util.Objects.requireNonNull(filler.fill(source, false), "the measured batch's producer");
            expected = 2L * o.records();
            kmsBefore = app.kmsCalls().getAsLong();
            cacheBefore = app.dekCacheHitsAndMisses().get();
            threadsCpuBefore = threadsCpuNanos(appId + "-");
            threadsAllocatedBefore = threadsAllocatedBytes(appId + "-");
            cpuBefore = processCpuNanos();
            gcBefore = gcTotals();
            // The broker stamps the appends with this JVM's clock: the measured batch must all come after this.
            splitMillis = System.currentTimeMillis();
            try (pending) {
                pending.commitTransaction();
            }
        }
        // Wait (without reading the output, which would compete for the CPU) until the application has committed
        // its way through the whole input; then read the output for the append-time span.
        awaitCommitted(broker, appId, source, expected, Duration.ofMinutes(10));
        long cpu = processCpuNanos() - cpuBefore;
        long[] gcAfter = gcTotals();
        long topologyCpu = threadsCpuNanos(appId + "-") - threadsCpuBefore;
        long topologyAllocated = threadsAllocatedBytes(appId + "-") - threadsAllocatedBefore;
        long kmsCalls = app.kmsCalls().getAsLong() - kmsBefore;
        long[] cacheAfter = app.dekCacheHitsAndMisses().get();
        long hits = cacheAfter[0] - cacheBefore[0];
        long misses = cacheAfter[1] - cacheBefore[1];
        // What stays in the heap with the application running and its DEKs cached (broker and topic data included).
        System.gc();
        long heapAfterGc =
                ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        Span span = awaitCount(broker, output, expected, splitMillis, Duration.ofMinutes(1), null);
        double seconds = Math.max(1, span.lastTimestamp() - span.firstTimestamp()) / 1e3;
        app.close().run();
        long recordBytes = batches.recordBytes().getAsLong();

        // Latency: records at a fixed rate into a fresh topic, through a fresh instance of the same topology.
        Running lat = starter.start(latencySource);
        java.util.concurrent.CountDownLatch ready = new java.util.concurrent.CountDownLatch(1);
        lat.streams().setStateListener((now, before) -> {
            if (now == KafkaStreams.State.RUNNING) {
                ready.countDown();
            }
        });
        lat.streams().start();
        if (!ready.await(60, java.util.concurrent.TimeUnit.SECONDS)) {
            throw new IllegalStateException(
                    "the " + topology + " topology of the latency phase did not reach RUNNING in 60 s");
        }
        long[] latencies = new long[o.latencyRecords()];
        AtomicLong seen = new AtomicLong();
        Thread reader = new Thread(
                () -> {
                    try {
                        awaitCount(
                                broker, latencyOutput, o.latencyRecords(), Long.MIN_VALUE, Duration.ofMinutes(5), r -> {
                                    int i = (int) seen.getAndIncrement();
                                    if (i < latencies.length) {
                                        latencies[i] = System.currentTimeMillis() - r.timestamp();
                                    }
                                });
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                },
                "bench-latency-reader");
        reader.start();
        fill(broker, latencySource, schemaId, dims, tenants, latencySequence, 0, o.latencyRate());
        reader.join(Duration.ofMinutes(5).toMillis());
        lat.close().run(); // its KMS calls are a second instance's: the bound is per instance, so they are not added
        long[] sorted = Arrays.copyOf(latencies, (int) Math.min(seen.get(), latencies.length));
        Arrays.sort(sorted);
        double p50 = sorted.length == 0 ? -1 : sorted[(int) (sorted.length * 0.50)];
        double p99 = sorted.length == 0 ? -1 : sorted[Math.min(sorted.length - 1, (int) (sorted.length * 0.99))];
        // The first record's append opens the span, so it is not one of the records counted over it.
        double perSecond = (o.records() - 1) / seconds;
        return new Run(
                topology,
                dims,
                run,
                o.records(),
                seconds,
                perSecond,
                perSecond * recordBytes / o.records() / 1e6,
                cpu / 1e3 / o.records(),
                topologyCpu / 1e3 / o.records(),
                topologyAllocated / o.records(),
                gcAfter[0] - gcBefore[0],
                gcAfter[1] - gcBefore[1],
                p50,
                p99,
                kmsCalls,
                heap.peak(),
                o.phase().name().toLowerCase(Locale.ROOT),
                tenants.size(),
                hits,
                misses,
                hits + misses == 0 ? Double.NaN : hits / (double) (hits + misses),
                heapAfterGc);
    }

    /** Waits until the consumer group {@code groupId} has committed offsets summing to {@code records} on {@code topic}. */
    private static void awaitCommitted(
            EmbeddedKafkaBroker broker, String groupId, String topic, long records, Duration timeout) throws Exception {
        try (org.apache.kafka.clients.admin.Admin admin = org.apache.kafka.clients.admin.Admin.create(Map.of(
                org.apache.kafka.clients.admin.AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
                broker.bootstrapServers()))) {
            long deadline = System.nanoTime() + timeout.toNanos();
            long committed = 0;
            while (committed < records) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException(
                            groupId + " committed only " + committed + " of " + records + " records in " + timeout);
                }
                Thread.sleep(20);
                committed =
                        admin
                                .listConsumerGroupOffsets(groupId)
                                .partitionsToOffsetAndMetadata()
                                .get()
                                .entrySet()
                                .stream()
                                .filter(e -> e.getKey().topic().equals(topic) && e.getValue() != null)
                                .mapToLong(e -> e.getValue().offset())
                                .sum();
            }
        }
    }

    /** Garbage collections so far and the milliseconds they took (pauses; G1's concurrent work is not in it). */
    private static long[] gcTotals() {
        long count = 0;
        long millis = 0;
        for (java.lang.management.GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            count += Math.max(0, gc.getCollectionCount());
            millis += Math.max(0, gc.getCollectionTime());
        }
        return new long[] {count, millis};
    }

    /** The CPU time this JVM has used so far, all threads. */
    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    /**
     * The CPU time used so far by the live threads whose name contains {@code namePart}: an application's stream
     * threads, their producers' network threads and its consumers' background threads all carry its application id.
     */
    private static long threadsCpuNanos(String namePart) {
        return sumOverThreads(namePart, (threads, id) -> threads.getThreadCpuTime(id));
    }

    /** The bytes allocated so far by the live threads whose name contains {@code namePart}. */
    private static long threadsAllocatedBytes(String namePart) {
        return sumOverThreads(namePart, (threads, id) -> threads.getThreadAllocatedBytes(id));
    }

    private static long sumOverThreads(
            String namePart, java.util.function.ToLongBiFunction<com.sun.management.ThreadMXBean, Long> f) {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (java.lang.management.ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds())) {
            if (info != null && info.getThreadName().contains(namePart)) {
                sum += Math.max(0, f.applyAsLong(threads, info.getThreadId()));
            }
        }
        return sum;
    }

    /** The smallest and largest record timestamps seen. */
    private record Span(long firstTimestamp, long lastTimestamp) {}

    /**
     * Reads a topic (read_committed) until {@code n} records arrived; returns the span of their timestamps, or with
     * {@code fromMillis} (steady state: {@code n} is two batches) of the second batch's, which must all have been
     * written from {@code fromMillis} on.
     */
    private static Span awaitCount(
            EmbeddedKafkaBroker broker,
            String topic,
            long n,
            long fromMillis,
            Duration timeout,
            @Nullable Consumer<ConsumerRecord<byte[], byte[]>> each) {
        Map<String, Object> p = Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                broker.bootstrapServers(),
                ConsumerConfig.ISOLATION_LEVEL_CONFIG,
                "read_committed",
                ConsumerConfig.MAX_POLL_RECORDS_CONFIG,
                5_000,
                ConsumerConfig.FETCH_MAX_BYTES_CONFIG,
                64 * 1024 * 1024,
                ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG,
                16 * 1024 * 1024);
        long[] span = {Long.MAX_VALUE, Long.MIN_VALUE};
        long[] early = {0};
        long count = TopicReader.readFromStart(
                p, topic, c -> c >= n, System.nanoTime() + timeout.toNanos(), Duration.ZERO, r -> {
                    if (fromMillis == Long.MIN_VALUE || recordIndex(r.key()) >= n / 2) {
                        span[0] = Math.min(span[0], r.timestamp());
                        span[1] = Math.max(span[1], r.timestamp());
                        if (r.timestamp() < fromMillis) {
                            early[0]++;
                        }
                    }
                    if (each != null) {
                        each.accept(r);
                    }
                });
        if (count < n) {
            throw new IllegalStateException(
                    "only " + count + " of " + n + " records reached " + topic + " in " + timeout);
        }
        if (early[0] > 0) {
            throw new IllegalStateException(early[0] + " records of the measured batch on " + topic
                    + " were written before its transaction committed: the steady-state figures would be wrong");
        }
        long first = span[0];
        long last = span[1];
        return new Span(first, last);
    }

    /**
     * The generator's index of a record from its key, {@code tenant/doc-NNNNNN#chunk-C} (index = 4 N + C): in steady
     * state the measured batch is the second, indexes from {@code records} on.
     */
    static long recordIndex(byte[] key) {
        String k = new String(key, java.nio.charset.StandardCharsets.UTF_8);
        int doc = k.lastIndexOf("/doc-");
        int chunk = k.lastIndexOf("#chunk-");
        if (doc < 0 || chunk < doc) {
            throw new IllegalStateException("not a bench record's key: " + k);
        }
        return Long.parseLong(k.substring(doc + 5, chunk)) * 4 + Long.parseLong(k.substring(chunk + 7));
    }

    /** Samples the JVM's used heap every 50 ms and keeps the highest. */
    private static final class HeapSampler {
        private final MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        private volatile boolean running = true;
        private volatile long peak;
        private @Nullable Thread thread;

        void start() {
            thread = new Thread(
                    () -> {
                        while (running) {
                            peak = Math.max(peak, memory.getHeapMemoryUsage().getUsed());
                            try {
                                Thread.sleep(50);
                            } catch (InterruptedException e) {
                                return;
                            }
                        }
                    },
                    "bench-heap-sampler");
            thread.setDaemon(true);
            thread.start();
        }

        void stop() {
            running = false;
            if (thread != null) {
                thread.interrupt();
            }
        }

        long peak() {
            return peak;
        }
    }
}
