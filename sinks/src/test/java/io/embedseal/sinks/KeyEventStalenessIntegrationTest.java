package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.keyring.kms.KekRef;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.sinks.lucene.LuceneSinkConfig;
import io.embedseal.sinks.lucene.LuceneSinkTask;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AccessControlEntryFilter;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourcePatternFilter;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.connect.errors.RetriableException;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTaskContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Fail closed when key events stop. A sink task whose key-event follower cannot confirm it has applied every event
 * (the topic unreadable for an authorisation error, the broker gone) must stop writing and unsealing within {@code
 * embedseal.key-events.max-staleness-ms}, say why, and go on by itself when the topic is readable again. Before this,
 * the follower's thread ended on the first error, silently, and the task went on unsealing with states that no
 * longer changed: a REVOKED or DESTROYED published meanwhile would never have reached it.
 *
 * <p>Each case runs a real broker of its own (one that can be stopped, or one with SASL and ACLs) and drives a real
 * Lucene sink task; Connect's side is a stub {@link SinkTaskContext} that records the backoff the task asks for.
 */
class KeyEventStalenessIntegrationTest {

    private static final long BOUND_MS = 2_000;
    private static final Duration RECOVERY = Duration.ofSeconds(45);

    @TempDir
    Path tmp;

    /**
     * The attack: the sink loses read access to the key-event topic (an expired credential, a wrong ACL change,
     * someone who wants a revocation not to arrive), then the tenant revokes its key. With the bound set to an hour
     * (the defence off) the task goes on writing the revoked tenant's records; with 2 s it stops, and once the topic
     * is readable again the REVOKED arrives and the tenant's records wait.
     */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void anAuthorisationErrorOnTheKeyEventTopic_stopsTheTask_untilTheTopicIsReadableAgain(boolean defended)
            throws Exception {
        try (EmbeddedKafkaBroker broker =
                EmbeddedKafkaBroker.startSecured(tmp.resolve("broker"), true, Map.of("sink", "sink-secret"))) {
            ResourcePattern anyTopic = new ResourcePattern(ResourceType.TOPIC, "*", PatternType.LITERAL);
            broker.admin()
                    .createAcls(List.of(
                            new AclBinding(anyTopic, allow(AclOperation.ALL)),
                            new AclBinding(
                                    new ResourcePattern(ResourceType.GROUP, "*", PatternType.LITERAL),
                                    allow(AclOperation.ALL)),
                            new AclBinding(
                                    new ResourcePattern(ResourceType.TRANSACTIONAL_ID, "*", PatternType.LITERAL),
                                    allow(AclOperation.ALL)),
                            new AclBinding(
                                    new ResourcePattern(ResourceType.CLUSTER, "kafka-cluster", PatternType.LITERAL),
                                    allow(AclOperation.IDEMPOTENT_WRITE))))
                    .all()
                    .get();
            Map<String, Object> admin = broker.clientConfig(EmbeddedKafkaBroker.SUPER_USER);
            long bound = defended ? BOUND_MS : 3_600_000L;
            try (Setup s = new Setup(broker, admin, broker.clientConfig("sink"), bound)) {
                s.putAndExpectWritten(1);

                AclBinding deny = new AclBinding(
                        new ResourcePattern(ResourceType.TOPIC, s.keyEvents, PatternType.LITERAL),
                        new AccessControlEntry("User:sink", "*", AclOperation.READ, AclPermissionType.DENY));
                broker.admin().createAcls(List.of(deny)).all().get();
                awaitUnreadable(broker, s.keyEvents);
                // A fetch the broker authorised before the DENY may still be parked there (up to fetch.max.wait.ms,
                // 500 ms) and would carry an event published now: outlast it.
                Thread.sleep(1_500);
                long cut = System.nanoTime();
                s.publish(admin, KeyEventType.REVOKED);

                if (!defended) {
                    // The hole: for as long as we look, the revoked tenant's records are still written.
                    long until = System.nanoTime() + Duration.ofSeconds(6).toNanos();
                    int before = s.written;
                    while (System.nanoTime() < until) {
                        s.putAndExpectWritten(1);
                        Thread.sleep(300);
                    }
                    System.out.printf(
                            "defence off (bound 1 h): %d records of the revoked tenant written in the 6 s after its "
                                    + "key events became unreadable%n",
                            s.written - before);
                    assertThat(s.written - before).isGreaterThan(5);
                    return;
                }
                String why = s.awaitRefused();
                System.out.printf(
                        "key events unreadable (authorisation): the sink task stopped writing after %d ms: %s%n",
                        (System.nanoTime() - cut) / 1_000_000, why);
                assertThat(why).contains("not confirmed current").contains("max-staleness-ms");

                broker.admin()
                        .deleteAcls(List.of(new AclBindingFilter(
                                new ResourcePatternFilter(ResourceType.TOPIC, s.keyEvents, PatternType.LITERAL),
                                new AccessControlEntryFilter(
                                        "User:sink", "*", AclOperation.READ, AclPermissionType.DENY))))
                        .all()
                        .get();
                long back = System.nanoTime();
                String revoked = s.awaitRefusedFor("is REVOKED");
                System.out.printf(
                        "key events readable again: the REVOKED arrived %d ms later; the task refuses: %s%n",
                        (System.nanoTime() - back) / 1_000_000, revoked);
            }
        }
    }

    @Test
    void aBrokerThatGoesAway_stopsTheTask_untilItIsBack() throws Exception {
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(tmp.resolve("broker"), true);
        EmbeddedKafkaBroker again = null;
        try {
            Map<String, Object> client = Map.of("bootstrap.servers", broker.bootstrapServers());
            try (Setup s = new Setup(broker, client, client, BOUND_MS)) {
                s.putAndExpectWritten(1);

                broker.stop();
                long cut = System.nanoTime();
                String why = s.awaitRefused();
                System.out.printf(
                        "broker gone: the sink task stopped writing after %d ms: %s%n",
                        (System.nanoTime() - cut) / 1_000_000, why);
                assertThat(why).contains("not confirmed current");

                again = broker.startAgain();
                long back = System.nanoTime();
                s.awaitWrittenAgain();
                System.out.printf(
                        "broker back: the sink task wrote again after %d ms%n", (System.nanoTime() - back) / 1_000_000);
            }
        } finally {
            if (again != null) {
                again.close();
            }
            broker.close();
        }
    }

    /** Waits until the broker applies the DENY (ACL changes propagate through the metadata log). */
    private static void awaitUnreadable(EmbeddedKafkaBroker broker, String topic) throws InterruptedException {
        Map<String, Object> props = new HashMap<>(broker.clientConfig("sink"));
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        try (KafkaConsumer<byte[], byte[]> c =
                new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            TopicPartition tp = new TopicPartition(topic, 0);
            c.assign(List.of(tp));
            while (System.nanoTime() < deadline) {
                try {
                    c.seekToBeginning(List.of(tp));
                    c.poll(Duration.ofMillis(200));
                } catch (TopicAuthorizationException e) {
                    return;
                }
                Thread.sleep(100);
            }
        }
        throw new AssertionError("the DENY on " + topic + " never took effect");
    }

    private static AccessControlEntry allow(AclOperation op) {
        return new AccessControlEntry("User:sink", "*", op, AclPermissionType.ALLOW);
    }

    /** A registered tenant, a started Lucene sink task and what it wrote. */
    private final class Setup implements AutoCloseable {
        final String keyEvents = "events";
        final String tenant = "acme";
        final Sealed sealed;
        final LuceneSinkTask task = new LuceneSinkTask();
        final Path luceneDir = tmp.resolve("lucene");
        final AtomicInteger timeouts = new AtomicInteger();
        final Random random = new Random(3);
        final KekRef kek;
        int next;
        int written;

        Setup(EmbeddedKafkaBroker broker, Map<String, Object> admin, Map<String, Object> sink, long bound)
                throws Exception {
            broker.createTopic(keyEvents, 1, Map.of());
            broker.createTopic("audit", 1, Map.of());
            sealed = new Sealed(tmp.resolve("kms"));
            kek = sealed.onboard(tenant);
            publish(admin, KeyEventType.REGISTERED);
            Map<String, String> c = new HashMap<>();
            c.put("name", "staleness");
            c.put(EmbedsealSinkConfig.TASK_INDEX, "0");
            c.put(EmbedsealSinkConfig.BOOTSTRAP_SERVERS, broker.bootstrapServers());
            sink.forEach((k, v) -> {
                if (!k.equals("bootstrap.servers")) {
                    c.put(EmbedsealSinkConfig.CLIENT_PREFIX + k, String.valueOf(v));
                }
            });
            c.put(EmbedsealSinkConfig.KEY_EVENTS_TOPIC, keyEvents);
            c.put(EmbedsealSinkConfig.AUDIT_TOPIC, "audit");
            c.put(EmbedsealSinkConfig.KEY_EVENTS_MAX_STALENESS_MS, Long.toString(bound));
            c.put("kms.provider", "local");
            c.put("kms.local.dir", sealed.kmsDir.toString());
            c.put("kms.events.trusted-signers", SinkFixture.operatorPublicKey());
            c.put(LuceneSinkConfig.DIR, luceneDir.toString());
            c.put(LuceneSinkConfig.COMMIT_INTERVAL_MS, "0"); // every preCommit commits: the test counts at once
            TestIndexes.register(luceneDir, c);
            task.initialize(context());
            task.start(c);
        }

        /** Publishes the tenant's next key event, signed by the tests' operator, as the operator (admin) does. */
        void publish(Map<String, Object> admin, KeyEventType type) throws Exception {
            try (KafkaProducer<byte[], byte[]> p =
                    new KafkaProducer<>(admin, new ByteArraySerializer(), new ByteArraySerializer())) {
                p.send(new ProducerRecord<>(
                                keyEvents,
                                tenant.getBytes(StandardCharsets.UTF_8),
                                SinkFixture.OPERATOR.next(
                                        tenant, type, kek.provider(), kek.keyName(), kek.version(), "test", null)))
                        .get();
            }
        }

        private SinkTaskContext context() {
            return (SinkTaskContext) Proxy.newProxyInstance(
                    SinkTaskContext.class.getClassLoader(),
                    new Class<?>[] {SinkTaskContext.class},
                    (proxy, m, args) -> {
                        if (m.getName().equals("timeout")) {
                            timeouts.incrementAndGet();
                        }
                        if (m.getName().equals("assignment")) {
                            return java.util.Set.of();
                        }
                        if (m.getName().equals("configs")) {
                            return Map.of();
                        }
                        return null; // no errant-record reporter: refused records would fail the task
                    });
        }

        SinkRecord record() {
            String id = "doc-" + next++;
            return new SinkRecord(
                    "sealed",
                    0,
                    null,
                    (tenant + "/" + id).getBytes(StandardCharsets.UTF_8),
                    null,
                    sealed.seal(tenant, id, Sealed.randomVector(random, 8)),
                    next);
        }

        void putAndExpectWritten(int n) {
            for (int i = 0; i < n; i++) {
                task.put(List.of(record()));
                task.preCommit(new HashMap<>());
                written++;
            }
            assertThat(TestIndexes.count(luceneDir, tenant)).isEqualTo(written);
        }

        /** Puts a record again and again until the task refuses it; returns why. Nothing of it is written. */
        String awaitRefused() throws InterruptedException {
            long deadline = System.nanoTime() + RECOVERY.toNanos();
            while (System.nanoTime() < deadline) {
                SinkRecord r = record();
                try {
                    task.put(List.of(r));
                    task.preCommit(new HashMap<>());
                    written++;
                } catch (RetriableException e) {
                    assertThat(task.counters().keyEventsStale()).isTrue();
                    assertThat(timeouts.get())
                            .as("the task asked Connect to back off")
                            .isPositive();
                    assertThat(TestIndexes.count(luceneDir, tenant))
                            .as("nothing written while key events are stale")
                            .isEqualTo(written);
                    return String.valueOf(e.getMessage());
                }
                Thread.sleep(200);
            }
            throw new AssertionError("the task kept writing for " + RECOVERY + " after key events stopped");
        }

        /** Puts until the task refuses with a message containing {@code what}; returns the message. */
        String awaitRefusedFor(String what) throws InterruptedException {
            long deadline = System.nanoTime() + RECOVERY.toNanos();
            String last = "";
            while (System.nanoTime() < deadline) {
                try {
                    task.put(List.of(record()));
                    task.preCommit(new HashMap<>());
                    written++;
                } catch (RetriableException e) {
                    last = String.valueOf(e.getMessage());
                    if (last.contains(what)) {
                        return last;
                    }
                }
                Thread.sleep(300);
            }
            throw new AssertionError("the task never refused with '" + what + "'; last: " + last);
        }

        void awaitWrittenAgain() throws InterruptedException {
            long deadline = System.nanoTime() + RECOVERY.toNanos();
            while (System.nanoTime() < deadline) {
                try {
                    task.put(List.of(record()));
                    task.preCommit(new HashMap<>());
                    written++;
                    assertThat(TestIndexes.count(luceneDir, tenant)).isEqualTo(written);
                    assertThat(task.counters().keyEventsStale()).isFalse();
                    return;
                } catch (RetriableException e) {
                    Thread.sleep(300);
                }
            }
            throw new AssertionError("the task did not recover within " + RECOVERY);
        }

        @Override
        public void close() {
            task.stop();
            sealed.close();
        }
    }
}
