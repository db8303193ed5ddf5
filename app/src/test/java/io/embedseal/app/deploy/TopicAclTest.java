package io.embedseal.app.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.testkit.EmbeddedKafkaBroker;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.errors.GroupAuthorizationException;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.errors.TransactionalIdAuthorizationException;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.internals.Exit;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.tools.AclCommand;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The topic ACLs of {@code docs/operations.md#topic-acls}, applied exactly as written there (each {@code kafka-acls.sh} command of that section, run with the tool's own class) on a
 * broker of its own that authenticates every client (SASL/PLAIN) and authorizes every request
 * ({@code StandardAuthorizer}, nothing allowed where no ACL is found). Then plain clients log in as each principal:
 * each can do its part and is refused the rest, with the error Kafka gives for it, and the super user, as the
 * control, can do all of it, so every refusal is the ACLs' doing.
 */
class TopicAclTest {

    static final String RAW = "embeddings.raw";
    static final String SEALED = "embeddings.sealed";
    static final String DLQ = "embeddings.dlq";
    static final String EVENTS = "keyring.events";
    static final String AUDIT = "keyring.audit";
    static final String LUCENE_DLQ = "embeddings.sealed.lucene-dlq";
    static final String POSTGRES_DLQ = "embeddings.sealed.postgres-dlq";
    /** A topic no ACL names: nobody but the super user may touch it. */
    static final String UNNAMED = "scratch";

    static final List<String> TOPICS = List.of(RAW, SEALED, DLQ, EVENTS, AUDIT, LUCENE_DLQ, POSTGRES_DLQ, UNNAMED);
    static final String APPLICATION_ID = "embedseal";
    static final String LUCENE_GROUP = "connect-embedseal-lucene-sink";
    static final String ADMIN = EmbeddedKafkaBroker.SUPER_USER;
    static final String PRODUCER = "producer";
    static final String OPERATOR = "operator";
    static final String PIPELINE = "pipeline";
    static final String SINK = "sink";
    /** Logs in fine, but no ACL names it. */
    static final String STRANGER = "stranger";

    static final Duration WAIT = Duration.ofSeconds(15);

    @TempDir
    static Path dir;

    static EmbeddedKafkaBroker broker;
    static List<List<String>> documented;

    @BeforeAll
    static void startASecuredBroker_andApplyTheDocumentedAcls() throws Exception {
        Map<String, String> users = new HashMap<>();
        for (String user : List.of(PRODUCER, OPERATOR, PIPELINE, SINK, STRANGER)) {
            users.put(user, user + "-" + UUID.randomUUID());
        }
        broker = EmbeddedKafkaBroker.startSecured(dir.resolve("kafka"), true, users);
        for (String topic : TOPICS) {
            broker.createTopic(topic, 1, topic.equals(EVENTS) ? Map.of("cleanup.policy", "compact") : Map.of());
        }

        documented = documentedCommands();
        Path adminProperties = dir.resolve("admin.properties");
        Properties login = new Properties();
        broker.clientConfig(ADMIN).forEach((k, v) -> login.setProperty(k, String.valueOf(v)));
        try (OutputStream out = Files.newOutputStream(adminProperties)) {
            login.store(out, "the super user");
        }
        Exit.setExitProcedure((code, message) -> {
            throw new IllegalStateException("kafka-acls.sh exited with " + code + ": " + message);
        });
        long expected = 0;
        try {
            for (List<String> command : documented) {
                List<String> args = new ArrayList<>(command.subList(1, command.size()));
                args.set(args.indexOf("--bootstrap-server") + 1, broker.bootstrapServers());
                args.set(args.indexOf("--command-config") + 1, adminProperties.toString());
                AclCommand.main(args.toArray(String[]::new));
                long operations = args.stream().filter("--operation"::equals).count();
                long resources = args.stream()
                        .filter(a -> Set.of("--topic", "--group", "--transactional-id", "--cluster")
                                .contains(a))
                        .count();
                expected += operations * resources;
            }
        } finally {
            Exit.resetExitProcedure();
        }
        // The broker answers DescribeAcls from its own authorizer: once it lists them all, it enforces them all.
        long deadline = System.nanoTime() + WAIT.toNanos();
        int bindings = 0;
        while (System.nanoTime() < deadline) {
            bindings = broker.admin()
                    .describeAcls(AclBindingFilter.ANY)
                    .values()
                    .get(10, TimeUnit.SECONDS)
                    .size();
            if (bindings >= expected) {
                break;
            }
            Thread.sleep(50);
        }
        assertThat(bindings).as("ACL bindings the broker enforces").isEqualTo(expected);

        // Something to read on every topic, written by the super user.
        for (String topic : TOPICS) {
            assertThat(send(ADMIN, topic)).as("the super user writes " + topic).isNull();
        }
    }

    @AfterAll
    static void stop() {
        if (broker != null) {
            broker.close();
        }
    }

    /** Every {@code kafka-acls.sh} command in the fenced blocks of the "Topic ACLs" section, as its words. */
    static List<List<String>> documentedCommands() throws IOException {
        Path root = Path.of(System.getProperty("embedseal.root", ".."))
                .toAbsolutePath()
                .normalize();
        String doc = Files.readString(root.resolve("docs/operations.md"));
        int start = doc.indexOf("\n## Topic ACLs\n");
        assertThat(start).as("docs/operations.md has a section '## Topic ACLs'").isNotNegative();
        int end = doc.indexOf("\n## ", start + 1);
        String section = doc.substring(start, end < 0 ? doc.length() : end);
        List<List<String>> commands = new ArrayList<>();
        Matcher block = Pattern.compile("(?s)```bash\\n(.*?)```").matcher(section);
        while (block.find()) {
            for (String line : block.group(1).replace("\\\n", " ").lines().toList()) {
                String command = line.replaceFirst("\\s+#.*$", "").trim();
                if (command.startsWith("kafka-acls.sh ")) {
                    commands.add(List.of(command.split("\\s+")));
                }
            }
        }
        return commands;
    }

    @Test
    void theSection_grantsOnlyToItsFourPrincipals_andOnlyAdds() {
        assertThat(documented).hasSizeGreaterThanOrEqualTo(10);
        Set<String> principals = new TreeSet<>();
        for (List<String> command : documented) {
            assertThat(command).as(String.join(" ", command)).contains("--add").doesNotContain("--deny-principal");
            principals.add(command.get(command.indexOf("--allow-principal") + 1));
        }
        assertThat(principals).containsExactly("User:operator", "User:pipeline", "User:producer", "User:sink");
    }

    // ---- keyring.events: the operator alone writes it ----

    @Test
    void keyEvents_onlyTheOperatorWritesThem() {
        assertThat(send(OPERATOR, EVENTS)).isNull();
        assertWriteRefused(PIPELINE, EVENTS);
        assertWriteRefused(SINK, EVENTS);
        assertWriteRefused(PRODUCER, EVENTS);
        assertWriteRefused(STRANGER, EVENTS);
        assertThat(send(ADMIN, EVENTS)).as("control: the super user").isNull();
    }

    @Test
    void keyEvents_everyReaderReadsThem() {
        for (String reader : List.of(OPERATOR, PIPELINE, SINK, ADMIN)) {
            assertThat(read(reader, EVENTS)).as(reader).isNull();
        }
        assertReadRefused(PRODUCER, EVENTS);
        assertReadRefused(STRANGER, EVENTS);
    }

    // ---- the operator ----

    @Test
    void theOperator_writesKeyEventsAndAudit_readsWhatItsCommandsShow_andNothingElse() throws Exception {
        assertThat(send(OPERATOR, AUDIT)).isNull();
        for (String topic : List.of(EVENTS, AUDIT, SEALED, DLQ)) {
            assertThat(read(OPERATOR, topic)).as(topic).isNull();
        }
        for (String topic : List.of(RAW, SEALED, DLQ, LUCENE_DLQ, UNNAMED)) {
            assertWriteRefused(OPERATOR, topic);
        }
        assertReadRefused(OPERATOR, RAW); // only its offsets, for status
        assertReadRefused(OPERATOR, LUCENE_DLQ);

        // status: the pipeline's committed offsets and the raw topic's end offsets
        try (Admin admin = Admin.create(broker.clientConfig(OPERATOR))) {
            assertThat(admin.listOffsets(Map.of(new TopicPartition(RAW, 0), OffsetSpec.latest()))
                            .all()
                            .get(10, TimeUnit.SECONDS))
                    .hasSize(1);
            admin.listConsumerGroupOffsets(APPLICATION_ID)
                    .partitionsToOffsetAndMetadata()
                    .get(10, TimeUnit.SECONDS);
            assertThatThrownBy(() -> admin.listConsumerGroupOffsets(LUCENE_GROUP)
                            .partitionsToOffsetAndMetadata()
                            .get(10, TimeUnit.SECONDS))
                    .hasCauseInstanceOf(GroupAuthorizationException.class);
        }
    }

    // ---- the pipeline ----

    @Test
    void thePipeline_writesSealedDeadLettersAndAudit_butNotKeyEventsOrRaw() {
        for (String topic : List.of(SEALED, DLQ, AUDIT)) {
            assertThat(send(PIPELINE, topic)).as(topic).isNull();
        }
        for (String topic : List.of(EVENTS, RAW, LUCENE_DLQ, POSTGRES_DLQ, UNNAMED)) {
            assertWriteRefused(PIPELINE, topic);
        }
    }

    @Test
    void thePipeline_readsRawAndKeyEvents_only() {
        assertThat(read(PIPELINE, RAW)).isNull();
        assertThat(read(PIPELINE, EVENTS)).isNull();
        for (String topic : List.of(SEALED, DLQ, AUDIT, LUCENE_DLQ, UNNAMED)) {
            assertReadRefused(PIPELINE, topic);
        }
    }

    @Test
    void thePipeline_commitsTransactions_underItsApplicationIdOnly() throws Exception {
        // what a stream thread does: read raw in the application's group, write sealed and the offsets in one
        // transaction
        Map<String, Object> config = producerConfig(PIPELINE);
        config.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, APPLICATION_ID + "-" + UUID.randomUUID() + "-1");
        Map<String, Object> consumerConfig = consumerConfig(broker.clientConfig(PIPELINE));
        consumerConfig.put(ConsumerConfig.GROUP_ID_CONFIG, APPLICATION_ID);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig);
                KafkaProducer<String, String> producer = new KafkaProducer<>(config)) {
            producer.initTransactions();
            producer.beginTransaction();
            var sent = producer.send(new ProducerRecord<>(SEALED, "acme/1", "sealed"));
            producer.sendOffsetsToTransaction(
                    Map.of(new TopicPartition(RAW, 0), new OffsetAndMetadata(1)), consumer.groupMetadata());
            producer.commitTransaction();
            assertThat(sent.get(10, TimeUnit.SECONDS).topic()).isEqualTo(SEALED);
        }

        config.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "another-app-1");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(config)) {
            assertThatThrownBy(producer::initTransactions).isInstanceOf(TransactionalIdAuthorizationException.class);
        }
        assertThatThrownBy(() -> consumeInGroup(PIPELINE, LUCENE_GROUP, SEALED))
                .isInstanceOf(GroupAuthorizationException.class);
    }

    /**
     * The pipeline's shape, on its own principal: a global store on the key events, raw records to the sealed topic,
     * exactly-once, plus a store with a changelog, so the application creates an internal topic of its own.
     */
    @Test
    void thePipelinesAcls_runAnExactlyOnceStreamsApplication() throws Exception {
        String tenant = "acme-" + UUID.randomUUID();
        Properties props = new Properties();
        broker.clientConfig(PIPELINE).forEach(props::put);
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, APPLICATION_ID);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        props.put(StreamsConfig.STATE_DIR_CONFIG, dir.resolve("streams").toString());
        props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
        props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

        StreamsBuilder builder = new StreamsBuilder();
        builder.addGlobalStore(
                Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore("tenants"), Serdes.String(), Serdes.String())
                        .withLoggingDisabled(),
                EVENTS,
                Consumed.with(Serdes.String(), Serdes.String()),
                () -> new Processor<String, String, Void, Void>() {
                    private @Nullable KeyValueStore<String, String> store;

                    @Override
                    public void init(ProcessorContext<Void, Void> context) {
                        store = context.getStateStore("tenants");
                    }

                    @Override
                    public void process(org.apache.kafka.streams.processor.api.Record<String, String> r) {
                        if (store != null && r.key() != null) {
                            store.put(r.key(), r.value());
                        }
                    }
                });
        var raw = builder.stream(RAW, Consumed.with(Serdes.String(), Serdes.String()));
        raw.mapValues(v -> "sealed:" + v).to(SEALED, Produced.with(Serdes.String(), Serdes.String()));
        raw.groupByKey().count(Materialized.as("per-tenant"));

        try (KafkaStreams streams = new KafkaStreams(builder.build(), props)) {
            List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
            streams.setUncaughtExceptionHandler(e -> {
                failures.add(e);
                return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse
                        .SHUTDOWN_CLIENT;
            });
            streams.start();
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig(PRODUCER))) {
                producer.send(new ProducerRecord<>(RAW, tenant, "vector")).get(10, TimeUnit.SECONDS);
            }
            assertThat(awaitValue(SEALED, tenant, () -> !failures.isEmpty()))
                    .as("the sealed record, committed (failures: %s)", failures)
                    .isEqualTo("sealed:vector");
            assertThat(failures).isEmpty();
            assertThat(streams.state()).isEqualTo(KafkaStreams.State.RUNNING);
        }
        assertThat(broker.admin().listTopics().names().get(10, TimeUnit.SECONDS))
                .as("the changelog topic it created under its prefix")
                .anyMatch(t -> t.startsWith(APPLICATION_ID + "-") && t.endsWith("-changelog"));
    }

    // ---- the sinks ----

    @Test
    void theSinks_readSealedAndKeyEvents_only() {
        assertThat(read(SINK, SEALED)).isNull();
        assertThat(read(SINK, EVENTS)).isNull();
        for (String topic : List.of(RAW, DLQ, AUDIT, UNNAMED)) {
            assertReadRefused(SINK, topic);
        }
    }

    @Test
    void theSinks_writeReceiptsAndTheirOwnDeadLetters_only() {
        for (String topic : List.of(AUDIT, LUCENE_DLQ, POSTGRES_DLQ)) {
            assertThat(send(SINK, topic)).as(topic).isNull();
        }
        for (String topic : List.of(SEALED, EVENTS, RAW, DLQ, UNNAMED)) {
            assertWriteRefused(SINK, topic);
        }
    }

    @Test
    void theSinks_consumeInTheirConnectorsGroups_only() throws Exception {
        assertThat(consumeInGroup(SINK, LUCENE_GROUP, SEALED)).isNotEmpty();
        assertThatThrownBy(() -> consumeInGroup(SINK, APPLICATION_ID, SEALED))
                .isInstanceOf(GroupAuthorizationException.class);
        Map<String, Object> config = producerConfig(SINK);
        config.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, APPLICATION_ID + "-" + UUID.randomUUID() + "-1");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(config)) {
            assertThatThrownBy(producer::initTransactions).isInstanceOf(TransactionalIdAuthorizationException.class);
        }
    }

    @Test
    void theSinkWorker_keepsItsOwnGroupAndInternalTopics() throws Exception {
        try (Admin admin = Admin.create(broker.clientConfig(SINK))) {
            for (String topic : List.of("connect-configs", "connect-offsets", "connect-status")) {
                admin.createTopics(
                                List.of(new NewTopic(topic, 1, (short) 1).configs(Map.of("cleanup.policy", "compact"))))
                        .all()
                        .get(10, TimeUnit.SECONDS);
            }
            assertThatThrownBy(() -> admin.createTopics(List.of(new NewTopic("connect-other", 1, (short) 1)))
                            .all()
                            .get(10, TimeUnit.SECONDS))
                    .hasCauseInstanceOf(TopicAuthorizationException.class);
        }
        assertThat(send(SINK, "connect-offsets")).isNull();
        assertThat(consumeInGroup(SINK, "embedseal-connect", "connect-offsets")).isNotEmpty();
        assertWriteRefused(PIPELINE, "connect-offsets");
    }

    // ---- producers of raw embeddings, and everyone else ----

    @Test
    void producers_writeTheRawTopic_only() {
        assertThat(send(PRODUCER, RAW)).isNull();
        for (String topic : List.of(SEALED, DLQ, EVENTS, AUDIT, UNNAMED)) {
            assertWriteRefused(PRODUCER, topic);
        }
        assertReadRefused(PRODUCER, RAW);
    }

    @Test
    void aPrincipalWithoutAcls_canNeitherWriteNorRead() {
        for (String topic : TOPICS) {
            assertWriteRefused(STRANGER, topic);
            assertReadRefused(STRANGER, topic);
        }
    }

    @Test
    void aWrongPasswordOrAnUnknownUser_isNotLetIn() {
        for (Map<String, Object> login :
                List.of(broker.clientConfig(OPERATOR, "not-the-password"), broker.clientConfig("mallory", "x"))) {
            assertThat(send(login, EVENTS)).isInstanceOf(SaslAuthenticationException.class);
            assertThatThrownBy(() -> readWith(login, EVENTS)).isInstanceOf(SaslAuthenticationException.class);
        }
    }

    @Test
    void aClientWithoutSasl_getsNoAnswer() {
        Map<String, Object> plaintext = producerConfig(Map.of("bootstrap.servers", broker.bootstrapServers()));
        plaintext.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 1_500);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(plaintext)) {
            assertThatThrownBy(() -> producer.send(new ProducerRecord<>(EVENTS, "acme", "x"))
                            .get(10, TimeUnit.SECONDS))
                    .hasCauseInstanceOf(TimeoutException.class);
        }
    }

    // ---- the control ----

    @Test
    void theSuperUser_doesAllOfIt() throws Exception {
        for (String topic : TOPICS) {
            assertThat(send(ADMIN, topic)).as(topic).isNull();
            assertThat(read(ADMIN, topic)).as(topic).isNull();
        }
        assertThat(consumeInGroup(ADMIN, APPLICATION_ID + "-control", SEALED)).isNotEmpty();
    }

    // ---- clients ----

    static Map<String, Object> producerConfig(String user) {
        return producerConfig(broker.clientConfig(user));
    }

    static Map<String, Object> producerConfig(Map<String, Object> login) {
        Map<String, Object> p = new HashMap<>(login);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true); // as the pipeline's, the CLI's and the sinks' are
        p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 5_000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 3_000);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 5_000);
        return p;
    }

    static Map<String, Object> consumerConfig(Map<String, Object> login) {
        Map<String, Object> c = new HashMap<>(login);
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        c.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 5_000);
        c.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 3_000);
        return c;
    }

    /** Sends one record as {@code user}; null when the broker acknowledged it, else why not. */
    static @Nullable Throwable send(String user, String topic) {
        return send(broker.clientConfig(user), topic);
    }

    static @Nullable Throwable send(Map<String, Object> login, String topic) {
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig(login))) {
            producer.send(new ProducerRecord<>(topic, "acme", "from " + login.get("sasl.jaas.config")))
                    .get(10, TimeUnit.SECONDS);
            return null;
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (KafkaException e) {
            return e;
        } catch (InterruptedException | java.util.concurrent.TimeoutException e) {
            throw new AssertionError("no answer to a send to " + topic, e);
        }
    }

    static void assertWriteRefused(String user, String topic) {
        Throwable refusal = send(user, topic);
        assertThat(refusal).as("%s writing %s", user, topic).isInstanceOf(TopicAuthorizationException.class);
        assertThat(((TopicAuthorizationException) refusal).unauthorizedTopics()).containsExactly(topic);
    }

    /** Reads the topic from its start without a group as {@code user}; null once a record arrived, else why not. */
    static @Nullable Throwable read(String user, String topic) {
        try {
            readWith(broker.clientConfig(user), topic);
            return null;
        } catch (KafkaException e) {
            return e;
        }
    }

    static void readWith(Map<String, Object> login, String topic) {
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig(login))) {
            TopicPartition partition = new TopicPartition(topic, 0);
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (System.nanoTime() < deadline) {
                if (!consumer.poll(Duration.ofMillis(200)).isEmpty()) {
                    return;
                }
            }
            throw new AssertionError("nothing to read on " + topic + " within " + WAIT);
        }
    }

    static void assertReadRefused(String user, String topic) {
        Throwable refusal = read(user, topic);
        assertThat(refusal).as("%s reading %s", user, topic).isInstanceOf(TopicAuthorizationException.class);
        assertThat(((TopicAuthorizationException) refusal).unauthorizedTopics()).containsExactly(topic);
    }

    /** Subscribes in {@code group}, polls until records arrive and commits their offsets. */
    static List<ConsumerRecord<String, String>> consumeInGroup(String user, String group, String topic) {
        Map<String, Object> config = consumerConfig(broker.clientConfig(user));
        config.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(config)) {
            consumer.subscribe(List.of(topic));
            List<ConsumerRecord<String, String>> out = new ArrayList<>();
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (out.isEmpty() && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(out::add);
            }
            consumer.commitSync();
            return out;
        }
    }

    /** The first committed value of {@code key} on {@code topic}, read as the super user, waiting for it. */
    static @Nullable String awaitValue(String topic, String key, java.util.function.BooleanSupplier giveUp) {
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig(broker.clientConfig(ADMIN)))) {
            TopicPartition partition = new TopicPartition(topic, 0);
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (System.nanoTime() < deadline && !giveUp.getAsBoolean()) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    if (key.equals(r.key())) {
                        return r.value();
                    }
                }
            }
            return null;
        }
    }
}
