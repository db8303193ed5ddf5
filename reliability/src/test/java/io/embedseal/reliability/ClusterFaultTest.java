package io.embedseal.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.keyring.KekResolver;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.SchemaRegistries;
import io.embedseal.sinks.EmbedsealSinkConfig;
import io.embedseal.sinks.ShredReceipts;
import io.embedseal.sinks.lucene.LuceneIndexes;
import io.embedseal.sinks.lucene.LuceneSearch;
import io.embedseal.sinks.lucene.LuceneSinkConfig;
import io.embedseal.sinks.lucene.LuceneSinkConnector;
import io.embedseal.sinks.lucene.LuceneVectorStore;
import io.embedseal.sinks.lucene.encryption.IndexKeyFile;
import io.embedseal.sinks.postgres.PostgresSinkConfig;
import io.embedseal.sinks.postgres.PostgresSinkConnector;
import io.embedseal.testkit.ApicurioRegistry;
import io.embedseal.testkit.ConnectWorker;
import io.embedseal.testkit.Directories;
import io.embedseal.testkit.KafkaCluster;
import io.embedseal.testkit.PostgresServer;
import io.embedseal.topology.DeadLetters;
import io.embedseal.topology.TopicNames;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.ConsumerGroupState;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.store.Lock;
import org.apache.lucene.store.LockObtainFailedException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The pipeline on a cluster: three brokers in their own JVMs (replication factor 3, {@code min.insync.replicas=2}),
 * several {@code embedseal run} processes sharing the load, and faults at every hop: the partition leader's broker
 * SIGKILLed, then the active controller; an instance SIGKILLed five times; key events published while a broker is
 * down and while the group rebalances; one broker cut off the network. Each test prints its figures (produced, sealed,
 * missing, duplicated, dead-lettered, recovery time) and asserts none lost, none doubled.
 *
 * <p>The settings are those docs/operations.md ("Running on a cluster") gives an operator: {@link
 * KafkaCluster#BROKER_SETTINGS} for the brokers, {@link #PIPELINE_SETTINGS} for the pipeline.
 *
 * <p>To see a guarantee fail when broken on purpose, run with {@code -Dembedseal.cluster.break=at-least-once} (the
 * pipeline without exactly-once) or {@code -Dembedseal.cluster.break=rf1} (topics with one replica) or {@code =connect-delay} (Connect's default
 * {@code scheduled.rebalance.max.delay.ms}).
 */
@Tag("cluster")
@Tag("reliability")
@Order(60)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterFaultTest {

    /** What docs/operations.md tells an operator to set for the pipeline on a cluster. */
    static final Map<String, String> PIPELINE_SETTINGS = Map.of(
            "streams.replication.factor", "3",
            "streams.num.standby.replicas", "1",
            "streams.consumer.session.timeout.ms", "10000",
            "streams.consumer.heartbeat.interval.ms", "3000");

    /**
     * What docs/operations.md tells an operator to set for a distributed Connect cluster running the sinks (beyond
     * deploy/connect/connect-distributed.properties: its group, topics, converters and plugins).
     */
    static final Map<String, String> CONNECT_SETTINGS = Map.of(
            "config.storage.replication.factor", "3",
            "offset.storage.replication.factor", "3",
            "status.storage.replication.factor", "3",
            "consumer.isolation.level", "read_committed",
            "scheduled.rebalance.max.delay.ms", "10000",
            "session.timeout.ms", "10000",
            "heartbeat.interval.ms", "3000");

    static final String BREAK = System.getProperty("embedseal.cluster.break", "");

    static final int TENANTS = 6;
    static final int DIMS = 32;
    static final int PARTITIONS = 6;

    private KafkaCluster cluster;
    private Path dir;
    private String registryUrl;
    private final List<String> figures = Collections.synchronizedList(new ArrayList<>());

    @BeforeAll
    void startCluster() throws Exception {
        String why = ApicurioRegistry.unavailableBecause().orElse(null);
        if (why != null) {
            if ("1".equals(System.getenv("EMBEDSEAL_REQUIRE_APICURIO"))) {
                Assertions.fail(why + "; EMBEDSEAL_REQUIRE_APICURIO=1 makes this a failure");
            }
            Assumptions.abort("the pipeline processes need a real schema registry: " + why);
        }
        registryUrl = ApicurioRegistry.shared().confluentUrl();
        dir = Files.createTempDirectory("embedseal-cluster-test");
        cluster = KafkaCluster.start(dir.resolve("kafka"));
    }

    @AfterAll
    void stopCluster() {
        figures.forEach(System.out::println);
        if (cluster != null) {
            cluster.close();
        }
        if (dir != null) {
            Directories.deleteRecursively(dir);
        }
    }

    @AfterEach
    void restoreCluster() {
        if (cluster != null) {
            cluster.restoreAll(); // a failed test must not leave the next one a broken cluster
        }
    }

    /** One test's topics, tenants, KMS and pipeline instances. */
    final class Run implements AutoCloseable {
        final String prefix;
        final TopicNames topics;
        final int schemaId;
        final LocalKms kms;
        final KafkaProducer<byte[], byte[]> producer;
        final Admin admin;
        final Map<String, String> settings;
        final Map<String, KekRef> keks = new HashMap<>();
        final List<PipelineProcess> instances = new ArrayList<>();
        /** Records written to the sealed topic in aborted transactions, as {@link #settle} found. */
        int abortedWrites;

        Run(String name, int threadsPerInstance) throws Exception {
            prefix = name + "-" + UUID.randomUUID().toString().substring(0, 6) + "-";
            Map<String, String> topicConfig = BREAK.equals("rf1") ? Map.of("min.insync.replicas", "1") : Map.of();
            short rf = (short) (BREAK.equals("rf1") ? 1 : KafkaCluster.NODES);
            topics = new TopicNames(
                    prefix + "raw", prefix + "sealed", prefix + "dlq", prefix + "events", prefix + "audit");
            create(topics.raw(), PARTITIONS, rf, topicConfig);
            create(topics.sealed(), PARTITIONS, rf, topicConfig);
            create(topics.dlq(), 1, rf, topicConfig);
            Map<String, String> compact = new HashMap<>(topicConfig);
            compact.put("cleanup.policy", "compact");
            create(topics.keyEvents(), 1, rf, compact);
            create(topics.audit(), 1, rf, topicConfig);
            schemaId = SchemaRegistries.fromConfig(Map.of("schema.registry.url", registryUrl))
                    .register(topics.raw() + "-value", EmbeddingEventCodec.CANONICAL_SCHEMA);
            kms = new LocalKms(dir.resolve(prefix + "kms"));
            producer = Suite.producer(cluster.bootstrapServers());
            admin = Suite.admin(cluster.bootstrapServers());
            Map<String, String> extra = new LinkedHashMap<>(PIPELINE_SETTINGS);
            extra.put("streams.num.stream.threads", String.valueOf(threadsPerInstance));
            if (BREAK.equals("at-least-once")) {
                extra.put("streams.processing.guarantee", "at_least_once");
            }
            if (BREAK.equals("rf1")) {
                extra.put("streams.replication.factor", "1");
            }
            settings = Suite.pipelineSettings(
                    cluster.bootstrapServers(),
                    prefix + "app",
                    topics,
                    dir.resolve(prefix + "state"),
                    registryUrl,
                    dir.resolve(prefix + "kms"),
                    extra);
            for (int t = 0; t < TENANTS; t++) {
                keks.put(Suite.tenant(t), register(Suite.tenant(t)));
            }
        }

        private void create(String topic, int partitions, short rf, Map<String, String> config) throws Exception {
            cluster.admin()
                    .createTopics(
                            List.of(new org.apache.kafka.clients.admin.NewTopic(topic, partitions, rf).configs(config)))
                    .all()
                    .get(60, TimeUnit.SECONDS);
        }

        KekRef register(String tenant) throws Exception {
            KekRef k = kms.createKek("tenant-" + tenant);
            publish(tenant, KeyEventType.REGISTERED, k);
            return k;
        }

        /** Publishes a signed key event and returns the time the cluster acknowledged it (ms). */
        long publish(String tenant, KeyEventType type, KekRef k) throws Exception {
            byte[] event = Suite.OPERATOR.next(tenant, type, k.provider(), k.keyName(), k.version());
            producer.send(new ProducerRecord<>(topics.keyEvents(), tenant.getBytes(StandardCharsets.UTF_8), event))
                    .get(2, TimeUnit.MINUTES);
            return System.currentTimeMillis();
        }

        PipelineProcess start(int instance) throws Exception {
            Map<String, String> s = new LinkedHashMap<>(settings);
            // each instance its own state directory, kept across its restarts (a pod and its volume)
            s.put("state.dir", dir.resolve(prefix + "state-" + instance).toString());
            PipelineProcess p = PipelineProcess.start(prefix + "instance-" + instance + "-" + instances.size(), s);
            instances.add(p);
            return p;
        }

        /** The committed (read_committed) end offsets of the sealed topic, per partition; empty when unreachable. */
        Map<TopicPartition, Long> sealedStable() {
            try {
                return Suite.endOffsets(admin, topics.sealed(), IsolationLevel.READ_COMMITTED);
            } catch (Exception e) {
                return Map.of();
            }
        }

        /** What was written to each partition of the sealed topic at the moment of a fault (high watermarks). */
        Map<TopicPartition, Long> sealedWrittenAtFault() throws Exception {
            Map<TopicPartition, Long> w = Suite.endOffsets(admin, topics.sealed(), IsolationLevel.READ_UNCOMMITTED);
            assertThat(w).as("every partition's high watermark").hasSize(PARTITIONS);
            return w;
        }

        long sealedWritten() {
            try {
                return Suite.written(admin, topics.sealed());
            } catch (IllegalStateException e) {
                return -1;
            }
        }

        /**
         * Waits until every partition of the sealed topic has committed a record written after the fault: its last
         * stable offset at least 2 past its high watermark at the fault ({@code writtenAtFault}). A transaction open at
         * the fault that ends adds one marker; only a record committed after the fault (a record and its commit
         * marker) adds two. Returns the time it took from {@code faultAtNanos}, in ms.
         */
        long awaitAllPartitionsAdvance(Map<TopicPartition, Long> writtenAtFault, long faultAtNanos, Duration timeout)
                throws InterruptedException {
            Suite.await(timeout, "every sealed partition to commit new records after the fault", () -> {
                Map<TopicPartition, Long> now = sealedStable();
                return writtenAtFault.entrySet().stream()
                        .allMatch(e -> now.getOrDefault(e.getKey(), 0L) >= e.getValue() + 2);
            });
            return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - faultAtNanos);
        }

        /** Drains: input committed, transactions ended; then checks exactly-once and returns the figures. */
        Suite.ExactlyOnce settle(Set<String> expected, String what, long feederDoneNanos) throws Exception {
            Suite.awaitCommittedToEnd(cluster.bootstrapServers(), prefix + "app", topics.raw(), Duration.ofMinutes(4));
            Suite.awaitNoOpenTransactions(admin, topics.sealed(), Duration.ofMinutes(4));
            long visibleMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - feederDoneNanos);
            List<ConsumerRecord<byte[], byte[]>> sealed =
                    Suite.readCommitted(cluster.bootstrapServers(), topics.sealed());
            int written = Suite.read(cluster.bootstrapServers(), topics.sealed(), IsolationLevel.READ_UNCOMMITTED)
                    .size();
            int dead = Suite.readCommitted(cluster.bootstrapServers(), topics.dlq())
                    .size();
            Suite.ExactlyOnce r = Suite.exactlyOnce(sealed, expected);
            abortedWrites = written - sealed.size();
            figures.add(String.format(
                    Locale.ROOT,
                    "cluster %s: produced %d, sealed %d, missing %d, duplicated %d, unexpected %d, dead-lettered %d;"
                            + " %d records in aborted transactions; all of it visible to read_committed %d ms after the"
                            + " feeder finished",
                    what,
                    expected.size(),
                    r.found(),
                    r.missing(),
                    r.duplicates(),
                    r.unexpected(),
                    dead,
                    written - sealed.size(),
                    visibleMs));
            System.out.println(figures.get(figures.size() - 1));
            return r;
        }

        @Override
        public void close() throws Exception {
            for (PipelineProcess p : instances) {
                p.close();
            }
            producer.close(Duration.ofSeconds(10));
            admin.close(Duration.ofSeconds(10));
            kms.close();
            Suite.rememberLocalKeks(dir.resolve(prefix + "kms"));
        }
    }

    static Set<String> ids(int records) {
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < records; i++) {
            ids.add(Suite.id(i));
        }
        return ids;
    }

    @Test
    @Order(1)
    void leaderBrokerKilled_thenActiveController_noneLostNoneDoubled() throws Exception {
        int records = 70_000; // 70 s at 1,000/s: records flow through both faults and the recoveries
        try (Run run = new Run("leader-kill", 2)) {
            run.start(0);
            run.start(1);
            Suite.Feeder feeder =
                    Suite.feed(run.producer, run.topics.raw(), run.schemaId, records, TENANTS, DIMS, 1_000);
            Suite.await(Duration.ofMinutes(2), "records to be sealed", () -> run.sealedWritten() > 3_000);

            int leader = cluster.leaderOf(run.topics.sealed(), 0);
            Map<TopicPartition, Long> before = run.sealedWrittenAtFault();
            long killedAt = System.nanoTime();
            cluster.kill(leader);
            long leaderRecoveryMs = run.awaitAllPartitionsAdvance(before, killedAt, Duration.ofMinutes(2));
            // Sealing recovered because another replica leads now, not because the dead broker came back.
            int newLeader = cluster.leaderOf(run.topics.sealed(), 0);
            cluster.restart(leader);
            long leaderDownMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);

            Thread.sleep(5_000);
            int controller = cluster.activeController();
            before = run.sealedWrittenAtFault();
            killedAt = System.nanoTime();
            cluster.kill(controller);
            int next = cluster.awaitNewActiveController(controller, Duration.ofMinutes(1));
            long electedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
            long controllerRecoveryMs = run.awaitAllPartitionsAdvance(before, killedAt, Duration.ofMinutes(2));
            cluster.restart(controller);

            feeder.finish(Duration.ofMinutes(5));
            long done = System.nanoTime();
            Suite.ExactlyOnce r = run.settle(ids(records), "leader and controller kill", done);
            figures.add(String.format(
                    Locale.ROOT,
                    "cluster leader kill: node %d (leader of %s-0) SIGKILLed, every sealed partition committing again"
                            + " %d ms later with node %d leading it (the killed node still down), restarted after %d ms; active controller node %d"
                            + " SIGKILLed, node %d elected in %d ms, every partition committing again %d ms after the"
                            + " kill",
                    leader,
                    run.topics.sealed(),
                    leaderRecoveryMs,
                    newLeader,
                    leaderDownMs,
                    controller,
                    next,
                    electedMs,
                    controllerRecoveryMs));
            System.out.println(figures.get(figures.size() - 1));
            assertThat(r.holds()).as("exactly once across broker kills: %s", r).isTrue();
            assertThat(newLeader)
                    .as("another replica took over while the leader's broker was down")
                    .isNotIn(leader, -1);
            assertThat(leaderRecoveryMs)
                    .as("recovery after the leader's broker died")
                    .isLessThan(60_000);
            assertThat(run.instances).allMatch(PipelineProcess::isAlive);
        }
    }

    @Test
    @Order(2)
    void threeInstances_oneSigkilledFiveTimes_noneLostNoneDoubled() throws Exception {
        int records = 45_000;
        int kills = 5;
        long seed = new Random().nextLong();
        Random random = new Random(seed);
        try (Run run = new Run("instance-kill", 1)) {
            PipelineProcess[] live = {run.start(0), run.start(1), run.start(2)};
            Suite.Feeder feeder =
                    Suite.feed(run.producer, run.topics.raw(), run.schemaId, records, TENANTS, DIMS, 1_000);
            Suite.await(Duration.ofMinutes(2), "records to be sealed", () -> run.sealedWritten() > 2_000);
            List<String> log = new ArrayList<>();
            long started = System.nanoTime();
            for (int k = 0; k < kills; k++) {
                Thread.sleep(3_000 + random.nextInt(4_000));
                int victim = random.nextInt(live.length);
                long lag = Suite.lag(run.admin, run.prefix + "app", run.topics.raw());
                live[victim].kill();
                log.add(String.format(
                        Locale.ROOT,
                        "kill %d: instance %d at %.1f s, %d records not yet committed",
                        k + 1,
                        victim,
                        (System.nanoTime() - started) / 1e9,
                        lag));
                Thread.sleep(1_000);
                live[victim] = run.start(victim); // restarted on its own state directory
            }
            feeder.finish(Duration.ofMinutes(5));
            long done = System.nanoTime();
            Suite.ExactlyOnce r = run.settle(ids(records), "instance kills (seed " + seed + ")", done);
            log.forEach(figures::add);
            log.forEach(System.out::println);
            assertThat(r.holds())
                    .as("exactly once after %d SIGKILLs of instances (seed %d): %s", kills, seed, r)
                    .isTrue();
            assertThat(run.abortedWrites)
                    .as("the kills left aborted writes behind (else this test proved nothing)")
                    .isPositive();
            assertThat(live).allMatch(PipelineProcess::isAlive);
        }
    }

    /** A record of the revoked tenant sent by {@link Probe}: when, and where it landed. */
    record Sent(String id, long sentAtMs, int partition, long offset) {}

    /** Sends a record of one tenant every 10 ms with ids probe-0, probe-1... and remembers each one's fate. */
    final class Probe implements AutoCloseable {
        final List<Sent> sent = Collections.synchronizedList(new ArrayList<>());
        final AtomicBoolean stop = new AtomicBoolean();
        final Thread thread;

        Probe(Run run, String tenant) {
            thread = new Thread(
                    () -> {
                        int n = 0;
                        while (!stop.get()) {
                            String id = "probe-" + n++;
                            EmbeddingEvent e = EmbeddingEvent.newBuilder()
                                    .setTenantId(tenant)
                                    .setEmbeddingId(id)
                                    .setModel("reliability-m1")
                                    .setVector(Collections.nCopies(DIMS, 0.5f))
                                    .setMetadata(null)
                                    .setEventTime(java.time.Instant.now())
                                    .build();
                            long at = System.currentTimeMillis();
                            run.producer.send(
                                    new ProducerRecord<>(run.topics.raw(), Suite.key(e), Suite.wire(run.schemaId, e)),
                                    (RecordMetadata m, Exception x) -> {
                                        if (x == null) {
                                            sent.add(new Sent(id, at, m.partition(), m.offset()));
                                        }
                                    });
                            try {
                                Thread.sleep(10);
                            } catch (InterruptedException ie) {
                                return;
                            }
                        }
                    },
                    "probe-" + tenant);
            thread.start();
        }

        @Override
        public void close() throws InterruptedException {
            stop.set(true);
            thread.join(10_000);
        }
    }

    @Test
    @Order(3)
    void keyEvents_duringBrokerDownAndRebalance_everyInstanceAppliesThem() throws Exception {
        String tenant = Suite.tenant(0);
        long boundMs = 5_000;
        try (Run run = new Run("key-events", 1)) {
            run.start(0);
            run.start(1);
            run.start(2);
            Suite.Feeder others = Suite.feed(run.producer, run.topics.raw(), run.schemaId, 30_000, TENANTS, DIMS, 500);
            Suite.await(Duration.ofMinutes(2), "records to be sealed", () -> run.sealedWritten() > 1_000);
            long revokedAt;
            long restoredAt;
            long drainedAt;
            int down;
            List<Sent> probes;
            try (Probe probe = new Probe(run, tenant)) {
                Thread.sleep(2_000);
                // The broker leading the key-event topic dies; REVOKED is published as soon as a new leader takes it.
                down = cluster.leaderOf(run.topics.keyEvents(), 0);
                cluster.kill(down);
                long publishFrom = System.currentTimeMillis();
                revokedAt = run.publish(tenant, KeyEventType.REVOKED, run.keks.get(tenant));
                figures.add(String.format(
                        Locale.ROOT,
                        "cluster key events: REVOKED published with node %d (the key-event topic's leader) down:"
                                + " acknowledged %d ms after the send",
                        down,
                        revokedAt - publishFrom));
                Thread.sleep(boundMs + 3_000);
                cluster.restart(down);
                // Every probe sent so far is processed before RESTORED, so a probe sent after REVOKED and sealed
                // can only mean an instance that had not applied REVOKED.
                drainedAt = System.currentTimeMillis();
                run.producer.flush(); // every probe sent before drainedAt is in the topic
                Map<TopicPartition, Long> ends =
                        Suite.endOffsets(run.admin, run.topics.raw(), IsolationLevel.READ_UNCOMMITTED);
                Suite.await(Duration.ofMinutes(2), "the probes sent so far to be processed", () -> {
                    try {
                        var committed = run.admin
                                .listConsumerGroupOffsets(run.prefix + "app")
                                .partitionsToOffsetAndMetadata()
                                .get(10, TimeUnit.SECONDS);
                        return ends.entrySet().stream()
                                .allMatch(e -> committed.get(e.getKey()) != null
                                        && committed.get(e.getKey()).offset() >= e.getValue());
                    } catch (Exception e) {
                        return false;
                    }
                });

                // A fourth instance joins: RESTORED is published while the group rebalances.
                run.start(3);
                Suite.await(Duration.ofMinutes(1), "the group to rebalance", () -> rebalancing(run));
                restoredAt = run.publish(tenant, KeyEventType.RESTORED, run.keks.get(tenant));
                boolean duringRebalance = rebalancing(run);
                figures.add("cluster key events: RESTORED published while the group was "
                        + (duringRebalance ? "still rebalancing" : "done rebalancing (published during it)"));
                Thread.sleep(boundMs + 3_000);
                probe.close();
                run.producer.flush();
                probes = new ArrayList<>(probe.sent);
            }
            others.finish(Duration.ofMinutes(5));
            Suite.awaitCommittedToEnd(
                    cluster.bootstrapServers(), run.prefix + "app", run.topics.raw(), Duration.ofMinutes(4));
            Suite.awaitNoOpenTransactions(run.admin, run.topics.sealed(), Duration.ofMinutes(4));
            Suite.awaitNoOpenTransactions(run.admin, run.topics.dlq(), Duration.ofMinutes(4));

            // Each probe record's fate: sealed, or dead-lettered (and why).
            Set<String> sealedIds = new HashSet<>();
            for (ConsumerRecord<byte[], byte[]> r :
                    Suite.readCommitted(cluster.bootstrapServers(), run.topics.sealed())) {
                SealedRecordKey k = SealedRecordKey.parse(r.key());
                if (k.tenantId().equals(tenant) && k.embeddingId().startsWith("probe-")) {
                    sealedIds.add(k.embeddingId());
                }
            }
            Map<String, String> deadReason = new HashMap<>();
            for (ConsumerRecord<byte[], byte[]> r : Suite.readCommitted(cluster.bootstrapServers(), run.topics.dlq())) {
                String p = header(r, DeadLetters.SOURCE_PARTITION_HEADER);
                String o = header(r, DeadLetters.SOURCE_OFFSET_HEADER);
                deadReason.put(p + "@" + o, header(r, DeadLetters.REASON_HEADER));
            }
            // Per partition (each owned by one instance at a time): the latest probe sent after the event whose
            // fate still followed the old state, counted from the event's acknowledgement.
            Map<Integer, Long> revokeDelay = new TreeMap<>();
            Map<Integer, Long> restoreDelay = new TreeMap<>();
            Map<Integer, Integer> refusedAfterRevoke = new TreeMap<>();
            Map<Integer, Integer> sealedAfterRestore = new TreeMap<>();
            int lost = 0;
            for (Sent s : probes) {
                boolean sealed = sealedIds.contains(s.id());
                String reason = deadReason.get(s.partition() + "@" + s.offset());
                if (!sealed && reason == null) {
                    lost++;
                    continue;
                }
                if (s.sentAtMs() > revokedAt && s.sentAtMs() < drainedAt) {
                    if (sealed) {
                        revokeDelay.merge(s.partition(), s.sentAtMs() - revokedAt, Math::max);
                    } else {
                        assertThat(reason).as("probe %s", s).isEqualTo("TENANT_REVOKED");
                        refusedAfterRevoke.merge(s.partition(), 1, Integer::sum);
                    }
                } else if (s.sentAtMs() > restoredAt) {
                    if (sealed) {
                        sealedAfterRestore.merge(s.partition(), 1, Integer::sum);
                    } else {
                        restoreDelay.merge(s.partition(), s.sentAtMs() - restoredAt, Math::max);
                    }
                }
            }
            long worstRevoke = revokeDelay.values().stream()
                    .mapToLong(Long::longValue)
                    .max()
                    .orElse(0);
            long worstRestore = restoreDelay.values().stream()
                    .mapToLong(Long::longValue)
                    .max()
                    .orElse(0);
            figures.add(String.format(
                    Locale.ROOT,
                    "cluster key events: %d probe records of %s; lost %d; after REVOKED, refused per partition %s and"
                            + " the latest still sealed per partition %s ms (worst %d ms); after RESTORED, sealed per"
                            + " partition %s and the latest still refused %s ms (worst %d ms)",
                    probes.size(),
                    tenant,
                    lost,
                    refusedAfterRevoke,
                    revokeDelay,
                    worstRevoke,
                    sealedAfterRestore,
                    restoreDelay,
                    worstRestore));
            System.out.println(figures.get(figures.size() - 1));
            assertThat(lost).as("every probe record sealed or dead-lettered").isZero();
            assertThat(refusedAfterRevoke.keySet())
                    .as("every partition, so every instance, refused the revoked tenant")
                    .hasSize(PARTITIONS);
            assertThat(sealedAfterRestore.keySet())
                    .as("every partition, so every instance, sealed the restored tenant")
                    .hasSize(PARTITIONS);
            assertThat(worstRevoke)
                    .as("no record of the revoked tenant sealed later than %d ms after REVOKED", boundMs)
                    .isLessThan(boundMs);
            assertThat(worstRestore).isLessThan(boundMs);
        }
    }

    private static boolean rebalancing(Run run) {
        try {
            ConsumerGroupState s = run.admin
                    .describeConsumerGroups(List.of(run.prefix + "app"))
                    .all()
                    .get(10, TimeUnit.SECONDS)
                    .get(run.prefix + "app")
                    .state();
            return s == ConsumerGroupState.PREPARING_REBALANCE || s == ConsumerGroupState.COMPLETING_REBALANCE;
        } catch (Exception e) {
            return false;
        }
    }

    private static String header(ConsumerRecord<byte[], byte[]> r, String name) {
        Header h = r.headers().lastHeader(name);
        return h == null ? "" : new String(h.value(), StandardCharsets.UTF_8);
    }

    @Test
    @Order(4)
    void brokerCutOffTheNetwork_noneLostNoneDoubled() throws Exception {
        int records = 100_000; // 100 s at 1,000/s: records flow through the cut, the recovery and the healing
        try (Run run = new Run("partition", 2)) {
            run.start(0);
            run.start(1);
            Suite.Feeder feeder =
                    Suite.feed(run.producer, run.topics.raw(), run.schemaId, records, TENANTS, DIMS, 1_000);
            Suite.await(Duration.ofMinutes(2), "records to be sealed", () -> run.sealedWritten() > 3_000);
            // A broker that leads a sealed partition and is not the active controller (test 1 covers the controller).
            int controller = cluster.activeController();
            int isolated = -1;
            int ledPartition = -1;
            for (int p = 0; p < PARTITIONS && isolated < 0; p++) {
                int l = cluster.leaderOf(run.topics.sealed(), p);
                if (l > 0 && l != controller) {
                    isolated = l;
                    ledPartition = p;
                }
            }
            assertThat(isolated)
                    .as("a sealed partition led by a broker that is not the controller")
                    .isPositive();
            Map<TopicPartition, Long> before = run.sealedWrittenAtFault();
            long cutAt = System.nanoTime();
            cluster.partition(isolated);
            long recoveryMs = run.awaitAllPartitionsAdvance(before, cutAt, Duration.ofMinutes(2));
            int newLeader = cluster.leaderOf(run.topics.sealed(), ledPartition);
            Thread.sleep(Math.max(0, 15_000 - recoveryMs));
            long healAt = System.nanoTime();
            cluster.heal(isolated);
            cluster.awaitFullyReplicated(Duration.ofMinutes(2), run.topics.sealed(), run.topics.raw());
            long rejoinMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - healAt);

            feeder.finish(Duration.ofMinutes(5));
            Suite.ExactlyOnce r = run.settle(ids(records), "network partition", System.nanoTime());
            figures.add(String.format(
                    Locale.ROOT,
                    "cluster partition: node %d (leader of %s-%d) cut off both ways; every sealed partition committing"
                            + " again %d ms after the cut, node %d leading that partition (node %d still cut off);"
                            + " healed after %d ms, all replicas in sync %d ms later",
                    isolated,
                    run.topics.sealed(),
                    ledPartition,
                    recoveryMs,
                    newLeader,
                    isolated,
                    TimeUnit.NANOSECONDS.toMillis(healAt - cutAt),
                    rejoinMs));
            System.out.println(figures.get(figures.size() - 1));
            assertThat(r.holds())
                    .as("exactly once across a network partition: %s", r)
                    .isTrue();
            assertThat(newLeader)
                    .as("another replica took over while the leader was cut off")
                    .isNotIn(isolated, -1);
            // A stream thread whose transaction coordinator is cut off waits in commitTransaction up to the producer's
            // max.block.ms (60 s), and the group's rebalance waits for it: recovery is bounded by that, not by the
            // broker's fencing (9 s). docs/operations.md says so.
            assertThat(recoveryMs)
                    .as("the others took over while the node was cut off")
                    .isLessThan(100_000);
            assertThat(run.instances).allMatch(PipelineProcess::isAlive);
        }
    }

    @Test
    @Order(5)
    void connectWorkerSigkilled_tasksMove_storesExactlyOnce_receiptsOnce_singleLuceneWriter() throws Exception {
        PostgresServer.unavailableBecause().ifPresent(why -> {
            if (PostgresServer.required()) {
                Assertions.fail(why + "; EMBEDSEAL_REQUIRE_POSTGRES=1 makes this a failure");
            }
            Assumptions.abort("the PostgreSQL sink needs a server: " + why);
        });
        int records = 36_000;
        String shredded = Suite.tenant(TENANTS - 1);
        try (Run run = new Run("connect", 2)) {
            run.start(0);
            String table = PostgresServer.freshTable("cluster");
            Path luceneDir = dir.resolve(run.prefix + "lucene");
            cluster.createTopic(run.prefix + "connect-dlq", 1, Map.of());
            Map<String, String> worker = new LinkedHashMap<>(CONNECT_SETTINGS);
            worker.put("bootstrap.servers", cluster.bootstrapServers());
            worker.put("group.id", run.prefix + "connect");
            worker.put("config.storage.topic", run.prefix + "connect-configs");
            worker.put("offset.storage.topic", run.prefix + "connect-offsets");
            worker.put("status.storage.topic", run.prefix + "connect-status");
            worker.put("key.converter", "org.apache.kafka.connect.converters.ByteArrayConverter");
            worker.put("value.converter", "org.apache.kafka.connect.converters.ByteArrayConverter");
            worker.put("offset.flush.interval.ms", "5000");
            worker.put("plugin.discovery", "service_load");
            worker.put("connector.client.config.override.policy", "None");
            if (BREAK.equals("connect-delay")) {
                worker.remove("scheduled.rebalance.max.delay.ms"); // Connect's default: 5 minutes
            }
            Map<String, String> common = new LinkedHashMap<>();
            common.put("topics", run.topics.sealed());
            common.put(EmbedsealSinkConfig.BOOTSTRAP_SERVERS, cluster.bootstrapServers());
            common.put(EmbedsealSinkConfig.KEY_EVENTS_TOPIC, run.topics.keyEvents());
            common.put(EmbedsealSinkConfig.AUDIT_TOPIC, run.topics.audit());
            common.put("kms.provider", "local");
            common.put("kms.local.dir", dir.resolve(run.prefix + "kms").toString());
            common.put("kms.events.trusted-signers", run.settings.get("kms.events.trusted-signers"));
            common.put("errors.tolerance", "all");
            common.put("errors.deadletterqueue.topic.name", run.prefix + "connect-dlq");
            common.put("errors.deadletterqueue.topic.replication.factor", "3");
            Map<String, String> lucene = new LinkedHashMap<>(common);
            lucene.put("connector.class", LuceneSinkConnector.class.getName());
            lucene.put("tasks.max", "1");
            lucene.put(LuceneSinkConfig.DIR, luceneDir.toString());
            Map<String, String> postgres = new LinkedHashMap<>(common);
            postgres.put("connector.class", PostgresSinkConnector.class.getName());
            postgres.put("tasks.max", "2");
            postgres.put(PostgresSinkConfig.URL, PostgresServer.URL);
            postgres.put(PostgresSinkConfig.USER, PostgresServer.USER);
            postgres.put(PostgresSinkConfig.PASSWORD, PostgresServer.PASSWORD);
            postgres.put(PostgresSinkConfig.TABLE, table);

            // The workers log where the leak scan reads (and not over the suite's own log).
            try (ConnectWorker w1 = ConnectWorker.start(
                            "worker-1",
                            dir.resolve(run.prefix + "worker-1"),
                            worker,
                            List.of("-Dembedseal.reliability.log=" + Suite.LOGS.resolve(run.prefix + "worker-1.log")));
                    ConnectWorker w2 = ConnectWorker.start(
                            "worker-2",
                            dir.resolve(run.prefix + "worker-2"),
                            worker,
                            List.of("-Dembedseal.reliability.log="
                                    + Suite.LOGS.resolve(run.prefix + "worker-2.log")))) {
                w1.putConnector("lucene", lucene);
                w1.putConnector("postgres", postgres);
                Map<String, String> placement = awaitTasksRunning(w1, Duration.ofMinutes(2));
                Suite.Feeder feeder =
                        Suite.feed(run.producer, run.topics.raw(), run.schemaId, records, TENANTS, DIMS, 1_000);
                Suite.await(
                        Duration.ofMinutes(2),
                        "the Lucene sink to index records",
                        () -> luceneCount(run, luceneDir, Suite.tenant(0)) > 500);

                // Single writer: while the task runs, nobody else can take the index's write lock.
                Path someIndex = LuceneVectorStore.tenantDir(luceneDir, Suite.tenant(0));
                assertThat(secondWriterRefused(someIndex))
                        .as("a second writer of a running task's index is refused")
                        .isTrue();

                // The shred of one tenant lands around the kill: its receipts must be written once, not lost.
                run.kms.destroy(run.keks.get(shredded).keyName());
                run.publish(shredded, KeyEventType.DESTROYED, run.keks.get(shredded));
                Thread.sleep(new Random().nextInt(1_500));
                String luceneWorker = placement.get("lucene-0");
                ConnectWorker victim = luceneWorker.equals(w1.workerId()) ? w1 : w2;
                ConnectWorker survivor = victim == w1 ? w2 : w1;
                long killedAt = System.nanoTime();
                victim.kill();
                Map<String, String> moved = awaitTasksRunningOn(survivor, Duration.ofMinutes(2));
                long movedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);

                feeder.finish(Duration.ofMinutes(5));
                Suite.awaitCommittedToEnd(
                        cluster.bootstrapServers(), run.prefix + "app", run.topics.raw(), Duration.ofMinutes(4));
                // Every tenant but the shredded one: each id once in each store.
                Map<String, Set<String>> expected = new TreeMap<>();
                for (int i = 0; i < records; i++) {
                    String t = Suite.tenant(i % TENANTS);
                    if (!t.equals(shredded)) {
                        expected.computeIfAbsent(t, x -> new HashSet<>()).add(Suite.id(i));
                    }
                }
                long caughtUpFrom = System.nanoTime();
                Suite.await(
                        Duration.ofMinutes(4),
                        "both stores to hold every record",
                        () -> expected.entrySet().stream()
                                .allMatch(e -> luceneCount(run, luceneDir, e.getKey())
                                                == e.getValue().size()
                                        && pgRows(table, e.getKey()).size()
                                                == e.getValue().size()));
                long caughtUpMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - caughtUpFrom);
                // The moved task opened the index (the dead worker's lock went with its process) and holds it now.
                assertThat(secondWriterRefused(someIndex))
                        .as("the moved task holds the index's write lock: still one writer")
                        .isTrue();
                int pgDuplicates = 0;
                int pgMissing = 0;
                for (Map.Entry<String, Set<String>> e : expected.entrySet()) {
                    Map<String, Integer> rows = pgRows(table, e.getKey());
                    pgDuplicates +=
                            (int) rows.values().stream().filter(n -> n > 1).count();
                    pgMissing += (int) e.getValue().stream()
                            .filter(id -> !rows.containsKey(id))
                            .count();
                }
                Suite.await(
                        Duration.ofMinutes(1),
                        "the shred receipts",
                        () -> receipts(run, shredded).size() >= 3);
                Thread.sleep(3_000); // a repeated receipt would come late: give it the time to show
                List<String> receipts = receipts(run, shredded);
                figures.add(String.format(
                        Locale.ROOT,
                        "cluster connect: tasks %s; the worker running lucene-0 (%s) SIGKILLed, every task running on"
                                + " %s %d ms later; stores caught up %d ms after the input was committed; Lucene holds"
                                + " each of %d ids once; PostgreSQL rows missing %d, duplicated %d; %s shredded around"
                                + " the kill: receipts %s",
                        placement,
                        victim.name(),
                        survivor.name(),
                        movedMs,
                        caughtUpMs,
                        expected.values().stream().mapToInt(Set::size).sum(),
                        pgMissing,
                        pgDuplicates,
                        shredded,
                        receipts));
                System.out.println(figures.get(figures.size() - 1));
                assertThat(moved.values()).allMatch(survivor.workerId()::equals);
                assertThat(movedMs)
                        .as("the dead worker's tasks moved within a minute (scheduled.rebalance.max.delay.ms)")
                        .isLessThan(60_000);
                assertThat(pgMissing).isZero();
                assertThat(pgDuplicates).isZero();
                assertThat(receipts)
                        .as("one receipt per task, none lost, none repeated")
                        .containsExactlyInAnyOrder("lucene-0", "postgresql-0", "postgresql-1");
                assertThat(pgRows(table, shredded))
                        .as("the shredded tenant's rows")
                        .isEmpty();
                assertThat(Files.exists(LuceneVectorStore.tenantDir(luceneDir, shredded)))
                        .as("the shredded tenant's index")
                        .isFalse();
            }
        }
    }

    /** Task id ("lucene-0", "postgres-1") to worker id, once all three tasks run. */
    private static Map<String, String> awaitTasksRunning(ConnectWorker w, Duration timeout)
            throws InterruptedException {
        Map<String, String> placement = new TreeMap<>();
        Suite.await(timeout, "the connectors' tasks to run", () -> {
            placement.clear();
            for (String connector : List.of("lucene", "postgres")) {
                JsonNode st = w.status(connector);
                for (JsonNode t : st.path("tasks")) {
                    if ("RUNNING".equals(t.path("state").asText())) {
                        placement.put(
                                connector + "-" + t.path("id").asInt(),
                                t.path("worker_id").asText());
                    }
                }
            }
            return placement.size() == 3;
        });
        return Map.copyOf(placement);
    }

    private static Map<String, String> awaitTasksRunningOn(ConnectWorker w, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Map<String, String> placement = Map.of();
        while (System.nanoTime() < deadline) {
            placement = awaitTasksRunning(w, Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
            if (placement.values().stream().allMatch(w.workerId()::equals)) {
                return placement;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("the tasks did not all run on " + w.workerId() + " within " + timeout
                + " (statuses still place them " + placement + ")");
    }

    /** Whether a write lock on this index directory is refused (some process holds it). */
    private static boolean secondWriterRefused(Path indexDir) throws java.io.IOException {
        try (FSDirectory d = FSDirectory.open(indexDir);
                Lock l = d.obtainLock(IndexWriter.WRITE_LOCK_NAME)) {
            return false; // got it: nobody held it
        } catch (LockObtainFailedException e) {
            return true;
        }
    }

    private static long luceneCount(Run run, Path root, String tenant) {
        if (!Files.isDirectory(LuceneVectorStore.tenantDir(root, tenant))) {
            return 0;
        }
        KekResolver naming = new KekResolver() {
            @Override
            public String kekNameFor(String t) {
                try {
                    return IndexKeyFile.read(LuceneVectorStore.tenantDir(root, t))
                            .map(c -> c.currentEntry().kek().keyName())
                            .orElse("tenant-" + t);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }

            @Override
            public @org.jspecify.annotations.Nullable String tenantFor(String keyName) {
                return null;
            }
        };
        try (LuceneIndexes indexes = LuceneIndexes.encrypted(root, run.kms, naming, 16 << 20)) {
            return LuceneSearch.documentCount(indexes, tenant);
        } catch (RuntimeException e) {
            return -1; // not committed yet, or mid-commit: read again
        }
    }

    /** Rows per embedding id of a tenant in the sink's table (a duplicate shows as 2). */
    private static Map<String, Integer> pgRows(String table, String tenant) {
        Map<String, Integer> out = new HashMap<>();
        try (Connection c = PostgresServer.connect();
                PreparedStatement ps =
                        c.prepareStatement("SELECT embedding_id FROM " + table + " WHERE tenant = ? AND NOT deleted")) {
            ps.setString(1, tenant);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.merge(rs.getString(1), 1, Integer::sum);
                }
            }
        } catch (SQLException e) {
            if ("42P01".equals(e.getSQLState())) {
                return out; // no table yet
            }
            throw new IllegalStateException(e);
        }
        return out;
    }

    /** The shred receipts for {@code tenant} in the audit topic, as "sink-task". */
    private List<String> receipts(Run run, String tenant) {
        List<String> out = new ArrayList<>();
        try {
            for (ConsumerRecord<byte[], byte[]> r :
                    Suite.read(cluster.bootstrapServers(), run.topics.audit(), IsolationLevel.READ_COMMITTED)) {
                JsonNode m = new ObjectMapper().readTree(r.value());
                if (ShredReceipts.KIND.equals(m.path("kind").asText())
                        && tenant.equals(m.path("tenant").asText())) {
                    out.add(m.path("sink").asText() + "-" + m.path("task").asText());
                }
            }
        } catch (Exception e) {
            throw new IllegalStateException("cannot read the audit topic", e);
        }
        return out;
    }
}
