package io.embedseal.reliability;

import io.embedseal.control.KeyEventAuthor;
import io.embedseal.control.KeyEventSignatures;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.dek.DekFactory;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KeyAdministration;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.envelope.EnvelopeHeader;
import io.embedseal.testkit.VectorLeakScanner;
import io.embedseal.topology.TopicNames;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * What the reliability tests share: where logs go, the secrets and plaintext vectors the leak scan looks for, and
 * helpers to produce embeddings, create topics, wait for a consumer group and read a topic exactly as a
 * {@code read_committed} consumer sees it.
 */
final class Suite {

    static final Path LOGS = Path.of(System.getProperty("embedseal.reliability.logs", "target/reliability-logs"));

    /** Key material, tokens and such that must never appear in a log, with a label saying what each one is. */
    static final List<Secret> SECRETS = new CopyOnWriteArrayList<>();
    /** A sample of the plaintext vectors the suite sent through the pipeline. */
    static final VectorLeakScanner VECTORS = new VectorLeakScanner();

    record Secret(String label, byte[] bytes) {}

    private Suite() {}

    static void secret(String label, byte[] bytes) {
        SECRETS.add(new Secret(label, bytes.clone()));
    }

    static void secret(String label, String text) {
        SECRETS.add(new Secret(label, text.getBytes(StandardCharsets.UTF_8)));
    }

    /**
     * Recovers the data-encryption key of a sealed envelope through the KMS (as an attacker holding the KEK could)
     * and remembers it as a secret: the scan then proves no DEK reached a log.
     */
    static void rememberDek(Kms kms, byte[] envelope) {
        EnvelopeHeader h = EnvelopeHeader.parse(envelope);
        KekRef kek = h.kek();
        byte[] dek = kms.unwrapDek(kek, h.wrappedDek(), DekFactory.associatedData(h.tenantId(), h.dekId()));
        secret("DEK " + h.dekId() + " of tenant " + h.tenantId(), dek);
    }

    /**
     * Remembers the raw key material of every KEK in a local-KMS directory (Tink keysets: each key's value is an
     * AesGcmKey message whose last 32 bytes are the key). Call it before the directory is deleted.
     */
    static void rememberLocalKeks(Path kmsDir) throws java.io.IOException {
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        try (var files = java.nio.file.Files.list(kmsDir)) {
            for (Path f : (Iterable<Path>) files.filter(x -> x.toString().endsWith(".keyset.json"))::iterator) {
                for (var key : json.readTree(f.toFile()).path("key")) {
                    byte[] proto = java.util.Base64.getDecoder()
                            .decode(key.path("keyData").path("value").asText());
                    if (proto.length < 34) {
                        throw new IllegalStateException("unexpected keyset layout in " + f);
                    }
                    secret(
                            "KEK " + f.getFileName() + " key "
                                    + key.path("keyId").asLong(),
                            java.util.Arrays.copyOfRange(proto, proto.length - 32, proto.length));
                }
            }
        }
    }

    /** Topic names with a prefix, created on {@code broker} with {@code partitions} partitions for raw and sealed. */
    static TopicNames topics(io.embedseal.testkit.EmbeddedKafkaBroker broker, String prefix, int partitions) {
        TopicNames t =
                new TopicNames(prefix + "raw", prefix + "sealed", prefix + "dlq", prefix + "events", prefix + "audit");
        broker.createTopic(t.raw(), partitions, Map.of());
        broker.createTopic(t.sealed(), partitions, Map.of());
        broker.createTopic(t.dlq(), 1, Map.of());
        broker.createTopic(t.keyEvents(), 1, Map.of("cleanup.policy", "compact"));
        broker.createTopic(t.audit(), 1, Map.of());
        return t;
    }

    /**
     * Produces {@link #event} 0 to {@code count - 1} to {@code topic} at {@code rate} records/s, on a thread of its
     * own; {@link Feeder#finish} waits for it and fails the test if sending failed.
     */
    static Feeder feed(
            KafkaProducer<byte[], byte[]> producer,
            String topic,
            int schemaId,
            int count,
            int tenants,
            int dims,
            int rate) {
        return new Feeder(producer, topic, schemaId, count, tenants, dims, rate);
    }

    static final class Feeder {
        private final Thread thread;
        private final java.util.concurrent.atomic.AtomicReference<Throwable> failure =
                new java.util.concurrent.atomic.AtomicReference<>();

        private Feeder(
                KafkaProducer<byte[], byte[]> producer,
                String topic,
                int schemaId,
                int count,
                int tenants,
                int dims,
                int rate) {
            thread = new Thread(
                    () -> {
                        try {
                            long start = System.nanoTime();
                            for (int i = 0; i < count; i++) {
                                EmbeddingEvent e = event(i, tenants, dims);
                                producer.send(new ProducerRecord<>(topic, key(e), wire(schemaId, e)));
                                if (i % 200 == 199) {
                                    long wait = start + (long) ((i + 1) * (1e9 / rate)) - System.nanoTime();
                                    if (wait > 0) {
                                        Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                                    }
                                }
                            }
                            producer.flush();
                        } catch (Throwable t) {
                            failure.set(t);
                        }
                    },
                    "feeder-" + topic);
            thread.start();
        }

        /** Waits for every record to be acknowledged by the broker. */
        void finish(Duration timeout) throws InterruptedException {
            thread.join(timeout.toMillis());
            if (thread.isAlive()) {
                throw new AssertionError("the feeder did not finish within " + timeout);
            }
            if (failure.get() != null) {
                throw new AssertionError("the feeder failed", failure.get());
            }
        }
    }

    static Admin admin(String bootstrap) {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap));
    }

    /** The settings of a pipeline on these topics, local KMS in {@code kmsDir}; {@code extra} wins. */
    static Map<String, String> pipelineSettings(
            String bootstrap,
            String applicationId,
            TopicNames t,
            Path stateDir,
            String registryUrl,
            Path kmsDir,
            Map<String, String> extra) {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("bootstrap.servers", bootstrap);
        s.put("application.id", applicationId);
        s.put("state.dir", stateDir.toString());
        s.put("topics.raw", t.raw());
        s.put("topics.sealed", t.sealed());
        s.put("topics.dlq", t.dlq());
        s.put("topics.key-events", t.keyEvents());
        s.put("topics.audit", t.audit());
        s.put("schema.registry.url", registryUrl);
        s.put("kms.provider", "local");
        s.put("kms.local.dir", kmsDir.toString());
        s.put("http.enabled", "false");
        // The suite's operator signing key, pinned: the pipelines apply the key events register() publishes.
        s.put(
                "kms.events.trusted-signers",
                KeyEventSignatures.encode(OPERATOR.signer().publicKey()));
        s.putAll(extra);
        return s;
    }

    static KafkaProducer<byte[], byte[]> producer(String bootstrap) {
        return new KafkaProducer<>(
                Map.of(
                        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                        bootstrap,
                        ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG,
                        true,
                        ProducerConfig.ACKS_CONFIG,
                        "all",
                        ProducerConfig.LINGER_MS_CONFIG,
                        5,
                        ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG,
                        300_000,
                        ProducerConfig.MAX_BLOCK_MS_CONFIG,
                        120_000),
                new ByteArraySerializer(),
                new ByteArraySerializer());
    }

    /** The suite's operator: a development signing key (in a directory of its own), each tenant's sequence counted. */
    static final KeyEventAuthor OPERATOR = operator();

    private static KeyEventAuthor operator() {
        try (KmsProvider p = KmsProviders.create(KeyringSettings.of(Map.of(
                "kms.provider",
                "local",
                "kms.local.dir",
                java.nio.file.Files.createTempDirectory("embedseal-reliability-signing")
                        .toString())))) {
            return KeyEventAuthor.creatingKey(
                    p.signingKeys().orElseThrow(), KeyringSettings.DEFAULT_SIGNING_KEY, "reliability");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Registers a tenant: its KEK in the KMS, and a REGISTERED key event. */
    static void register(KafkaProducer<byte[], byte[]> producer, TopicNames t, KeyAdministration kms, String tenant)
            throws Exception {
        KekRef k = kms.createKek("tenant-" + tenant);
        byte[] registered = OPERATOR.next(tenant, KeyEventType.REGISTERED, k.provider(), k.keyName(), k.version());
        producer.send(new ProducerRecord<>(t.keyEvents(), tenant.getBytes(StandardCharsets.UTF_8), registered))
                .get();
    }

    /** A deterministic embedding: tenant {@code tenant-<n % tenants>}, id {@code doc-<n>}. */
    static EmbeddingEvent event(long n, int tenants, int dims) {
        float[] v = vector(n, dims);
        List<Float> list = new ArrayList<>(dims);
        for (float f : v) {
            list.add(f);
        }
        return EmbeddingEvent.newBuilder()
                .setTenantId(tenant(n % tenants))
                .setEmbeddingId(id(n))
                .setModel("reliability-m1")
                .setVector(list)
                .setMetadata(null)
                .setEventTime(java.time.Instant.ofEpochMilli(1_700_000_000_000L + n))
                .build();
    }

    static String tenant(long t) {
        return String.format(java.util.Locale.ROOT, "tenant-%02d", t);
    }

    static String id(long n) {
        return "doc-" + n;
    }

    /** Values with all 23 mantissa bits in use, so their bytes are distinctive to the leak scan. */
    static float[] vector(long n, int dims) {
        float[] v = new float[dims];
        for (int i = 0; i < dims; i++) {
            v[i] = (float) Math.sin(n * 7919.0 + i * 0.7 + 0.1234567);
        }
        return v;
    }

    static byte[] wire(int schemaId, EmbeddingEvent e) {
        return EmbeddingEventCodec.encodeWire(schemaId, e);
    }

    static byte[] key(EmbeddingEvent e) {
        return (e.getTenantId() + "/" + e.getEmbeddingId()).getBytes(StandardCharsets.UTF_8);
    }

    /** Waits until the group has committed offsets at the end of every partition of {@code topic}. */
    static void awaitCommittedToEnd(String bootstrap, String groupId, String topic, Duration timeout) throws Exception {
        try (Admin admin = admin(bootstrap)) {
            await(
                    timeout,
                    "group " + groupId + " to commit the end of " + topic,
                    () -> lag(admin, groupId, topic) == 0);
        }
    }

    /** Records of {@code topic} the group has not committed yet (end offsets minus committed offsets). */
    static long lag(Admin admin, String groupId, String topic) {
        try {
            Map<TopicPartition, Long> ends = endOffsets(admin, topic, IsolationLevel.READ_UNCOMMITTED);
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(groupId)
                    .partitionsToOffsetAndMetadata()
                    .get(10, TimeUnit.SECONDS);
            long lag = 0;
            for (Map.Entry<TopicPartition, Long> e : ends.entrySet()) {
                OffsetAndMetadata c = committed.get(e.getKey());
                lag += e.getValue() - (c == null ? 0 : c.offset());
            }
            return lag;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while reading the lag of " + groupId, e);
        } catch (Exception e) {
            return Long.MAX_VALUE; // broker unreachable: not caught up
        }
    }

    /** Offsets written to {@code topic} so far, all partitions (high watermarks: records, aborted ones and markers). */
    static long written(Admin admin, String topic) {
        try {
            return endOffsets(admin, topic, IsolationLevel.READ_UNCOMMITTED).values().stream()
                    .mapToLong(Long::longValue)
                    .sum();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while reading the end offsets of " + topic, e);
        } catch (Exception e) {
            throw new IllegalStateException("cannot read the end offsets of " + topic, e);
        }
    }

    static Map<TopicPartition, Long> endOffsets(Admin admin, String topic, IsolationLevel isolation) throws Exception {
        int partitions = admin.describeTopics(List.of(topic))
                .allTopicNames()
                .get(10, TimeUnit.SECONDS)
                .get(topic)
                .partitions()
                .size();
        Map<TopicPartition, OffsetSpec> request = new HashMap<>();
        for (int p = 0; p < partitions; p++) {
            request.put(new TopicPartition(topic, p), OffsetSpec.latest());
        }
        ListOffsetsResult r =
                admin.listOffsets(request, new org.apache.kafka.clients.admin.ListOffsetsOptions(isolation));
        Map<TopicPartition, Long> out = new HashMap<>();
        for (TopicPartition tp : request.keySet()) {
            out.put(tp, r.partitionResult(tp).get(10, TimeUnit.SECONDS).offset());
        }
        return out;
    }

    /** Waits until no transaction is open on {@code topic}: its last stable offsets equal its high watermarks. */
    static void awaitNoOpenTransactions(Admin admin, String topic, Duration timeout) throws Exception {
        try {
            await(timeout, "the open transactions on " + topic + " to end", () -> {
                try {
                    return endOffsets(admin, topic, IsolationLevel.READ_COMMITTED)
                            .equals(endOffsets(admin, topic, IsolationLevel.READ_UNCOMMITTED));
                } catch (Exception e) {
                    return false;
                }
            });
        } catch (AssertionError e) {
            throw new AssertionError(
                    e.getMessage() + "; last stable offsets " + endOffsets(admin, topic, IsolationLevel.READ_COMMITTED)
                            + ", high watermarks " + endOffsets(admin, topic, IsolationLevel.READ_UNCOMMITTED)
                            + ", transactions "
                            + admin.listTransactions().all().get(10, TimeUnit.SECONDS));
        }
    }

    /** Everything a read_committed consumer finds in {@code topic}, from the beginning to the last stable offset. */
    static List<ConsumerRecord<byte[], byte[]>> readCommitted(String bootstrap, String topic) throws Exception {
        return read(bootstrap, topic, IsolationLevel.READ_COMMITTED);
    }

    /** Everything in {@code topic} for a consumer of this isolation level, to its end offsets at the time of the call. */
    static List<ConsumerRecord<byte[], byte[]>> read(String bootstrap, String topic, IsolationLevel isolation)
            throws Exception {
        Map<TopicPartition, Long> ends;
        try (Admin admin = admin(bootstrap)) {
            ends = endOffsets(admin, topic, isolation);
        }
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(
                Map.of(
                        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                        bootstrap,
                        ConsumerConfig.ISOLATION_LEVEL_CONFIG,
                        isolation.toString().toLowerCase(java.util.Locale.ROOT),
                        ConsumerConfig.MAX_POLL_RECORDS_CONFIG,
                        5_000),
                new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            c.assign(ends.keySet());
            c.seekToBeginning(ends.keySet());
            long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
            while (ends.entrySet().stream().anyMatch(e -> c.position(e.getKey()) < e.getValue())) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("could not read " + topic + " to its last stable offsets " + ends);
                }
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        return out;
    }

    /** How the embedding ids found in the sealed topic compare with those produced. */
    record ExactlyOnce(int expected, int found, int missing, int duplicates, int unexpected) {
        boolean holds() {
            return missing == 0 && duplicates == 0 && unexpected == 0;
        }
    }

    static ExactlyOnce exactlyOnce(List<ConsumerRecord<byte[], byte[]>> sealed, Set<String> expectedIds) {
        Map<String, Long> counts = sealed.stream()
                .map(r -> SealedRecordKey.parse(r.key()).embeddingId())
                .collect(Collectors.groupingBy(id -> id, Collectors.counting()));
        int missing =
                (int) expectedIds.stream().filter(id -> !counts.containsKey(id)).count();
        int duplicates = (int) counts.values().stream()
                .filter(c -> c > 1)
                .mapToLong(c -> c - 1)
                .sum();
        int unexpected = (int)
                counts.keySet().stream().filter(id -> !expectedIds.contains(id)).count();
        return new ExactlyOnce(expectedIds.size(), sealed.size(), missing, duplicates, unexpected);
    }

    static void await(Duration timeout, String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout + " waiting for " + what);
            }
            Thread.sleep(50);
        }
    }
}
