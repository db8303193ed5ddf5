package io.embedseal.testkit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.utils.Time;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real Kafka broker in this JVM: one KRaft node acting as broker and controller, on loopback, with the
 * internal topics configured for one replica so transactions (exactly-once) work.
 *
 * <p>Starting the first broker in a JVM takes several seconds; tests share one through {@link #shared()}.
 *
 * <p>{@link #startSecured} starts a separate one that authenticates every client (SASL/PLAIN) and authorizes every
 * request with Kafka's {@code StandardAuthorizer}, as a production cluster with ACLs does.
 */
public final class EmbeddedKafkaBroker implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafkaBroker.class);
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(60);
    private static @Nullable EmbeddedKafkaBroker shared;

    /** The super user of a {@linkplain #startSecured secured} broker; the broker itself logs in as it too. */
    public static final String SUPER_USER = "admin";

    private final KafkaRaftServer server;
    private final Path logDir;
    private final boolean deleteOnClose;
    private final String bootstrapServers;
    private final Admin admin;
    private final int brokerPort;
    private final int controllerPort;
    /** SASL/PLAIN users and their passwords, the super user included; null for a PLAINTEXT broker. */
    private final @Nullable Map<String, String> users;

    private boolean stopped;
    private boolean closed;

    private EmbeddedKafkaBroker(
            KafkaRaftServer server,
            Path logDir,
            boolean deleteOnClose,
            int brokerPort,
            int controllerPort,
            @Nullable Map<String, String> users) {
        this.server = server;
        this.logDir = logDir;
        this.deleteOnClose = deleteOnClose;
        this.brokerPort = brokerPort;
        this.controllerPort = controllerPort;
        this.users = users;
        this.bootstrapServers = "127.0.0.1:" + brokerPort;
        Map<String, Object> adminConfig = users == null
                ? Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers)
                : clientConfig(SUPER_USER);
        this.admin = Admin.create(adminConfig);
    }

    /**
     * The broker shared by everything in this JVM, started on first call in a temporary directory that is
     * deleted when the JVM exits.
     */
    public static synchronized EmbeddedKafkaBroker shared() {
        if (shared == null) {
            try {
                shared = start(Files.createTempDirectory("embedseal-kafka-"), true);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            EmbeddedKafkaBroker broker = shared;
            Runtime.getRuntime().addShutdownHook(new Thread(broker::close, "embedded-kafka-shutdown"));
        }
        return shared;
    }

    /**
     * Formats {@code logDir} (if it holds no cluster yet) and starts a broker on it, waiting until it
     * answers.
     *
     * @param deleteOnClose whether {@link #close()} deletes {@code logDir}
     */
    public static EmbeddedKafkaBroker start(Path logDir, boolean deleteOnClose) {
        return start(logDir, deleteOnClose, freePort(), freePort(), null);
    }

    /**
     * Like {@link #start(Path, boolean)}, but a broker of its own (never {@link #shared()}) that lets in only the
     * given SASL/PLAIN users and authorizes every request by ACLs ({@code StandardAuthorizer}, nothing allowed
     * where no ACL is found). {@link #SUPER_USER} is a super user: the broker logs in as it on its own listeners
     * (the controller's too), and {@link #admin()} uses it; it gets a random password unless {@code users} names
     * one. Clients log in with {@link #clientConfig(String)}.
     *
     * @param users user names and their passwords (no quotes or backslashes)
     */
    public static EmbeddedKafkaBroker startSecured(Path logDir, boolean deleteOnClose, Map<String, String> users) {
        Map<String, String> all = new LinkedHashMap<>();
        all.put(SUPER_USER, UUID.randomUUID().toString());
        users.forEach((user, password) -> {
            if (!user.matches("[A-Za-z0-9._-]+") || password.contains("\"") || password.contains("\\")) {
                throw new IllegalArgumentException("user names are [A-Za-z0-9._-]+, passwords hold no \" or \\");
            }
            all.put(user, password);
        });
        return start(logDir, deleteOnClose, freePort(), freePort(), Map.copyOf(all));
    }

    private static EmbeddedKafkaBroker start(
            Path logDir,
            boolean deleteOnClose,
            int brokerPort,
            int controllerPort,
            @Nullable Map<String, String> users) {
        long started = System.nanoTime();
        Properties props = new Properties();
        props.put("process.roles", "broker,controller");
        props.put("node.id", "1");
        props.put("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
        props.put("controller.listener.names", "CONTROLLER");
        if (users == null) {
            props.put("listeners", "PLAINTEXT://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
            props.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPort);
            props.put("inter.broker.listener.name", "PLAINTEXT");
            props.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        } else {
            secure(props, brokerPort, controllerPort, users);
        }
        props.put("log.dirs", logDir.toAbsolutePath().toString());
        props.put("num.partitions", "1");
        props.put("auto.create.topics.enable", "false");
        props.put("group.initial.rebalance.delay.ms", "0");
        props.put("offsets.topic.replication.factor", "1");
        props.put("offsets.topic.num.partitions", "4");
        props.put("transaction.state.log.replication.factor", "1");
        props.put("transaction.state.log.min.isr", "1");
        props.put("transaction.state.log.num.partitions", "4");
        props.put("share.coordinator.state.topic.replication.factor", "1");
        props.put("share.coordinator.state.topic.min.isr", "1");
        props.put("min.insync.replicas", "1");
        props.put("default.replication.factor", "1");
        // Transactions abandoned by a killed client should not block read_committed consumers for long.
        props.put("transaction.abort.timed.out.transaction.cleanup.interval.ms", "5000");
        // Topics with retention.bytes (long load runs) give their old segments back soon, not after 5 minutes.
        props.put("log.retention.check.interval.ms", "10000");

        try {
            Files.createDirectories(logDir);
            format(props, logDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare Kafka log directory " + logDir, e);
        }
        KafkaRaftServer server = new KafkaRaftServer(KafkaConfig.fromProps(props, false), Time.SYSTEM);
        server.startup();
        EmbeddedKafkaBroker broker =
                new EmbeddedKafkaBroker(server, logDir, deleteOnClose, brokerPort, controllerPort, users);
        broker.awaitReady();
        LOG.info(
                "embedded Kafka broker ready at {} in {} ms (log dir {})",
                broker.bootstrapServers,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started),
                logDir);
        return broker;
    }

    /**
     * SASL/PLAIN on both listeners, the broker's and the controller's: the broker logs in to either as the super user,
     * so no unauthenticated principal needs any right, and every other request is decided by ACLs.
     */
    private static void secure(Properties props, int brokerPort, int controllerPort, Map<String, String> users) {
        props.put(
                "listeners", "SASL_PLAINTEXT://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
        props.put("advertised.listeners", "SASL_PLAINTEXT://127.0.0.1:" + brokerPort);
        props.put("inter.broker.listener.name", "SASL_PLAINTEXT");
        props.put("listener.security.protocol.map", "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT");
        props.put("sasl.enabled.mechanisms", "PLAIN");
        props.put("sasl.mechanism.inter.broker.protocol", "PLAIN");
        props.put("sasl.mechanism.controller.protocol", "PLAIN");
        StringBuilder jaas = new StringBuilder("org.apache.kafka.common.security.plain.PlainLoginModule required");
        jaas.append(" username=\"").append(SUPER_USER).append("\" password=\"");
        jaas.append(users.get(SUPER_USER)).append('"');
        users.forEach((user, password) -> jaas.append(" user_")
                .append(user)
                .append("=\"")
                .append(password)
                .append('"'));
        jaas.append(';');
        props.put("listener.name.sasl_plaintext.plain.sasl.jaas.config", jaas.toString());
        props.put("listener.name.controller.plain.sasl.jaas.config", jaas.toString());
        props.put("authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer");
        props.put("super.users", "User:" + SUPER_USER);
        props.put("allow.everyone.if.no.acl.found", "false");
    }

    /**
     * Settings for a client of a {@linkplain #startSecured secured} broker logging in as {@code user} with the
     * password the broker knows: bootstrap servers, security protocol, SASL mechanism and JAAS configuration.
     */
    public Map<String, Object> clientConfig(String user) {
        if (users == null) {
            throw new IllegalStateException("a PLAINTEXT broker has no users; start it with startSecured");
        }
        String password = users.get(user);
        if (password == null) {
            throw new IllegalArgumentException("no user " + user + " on this broker");
        }
        return clientConfig(user, password);
    }

    /** Like {@link #clientConfig(String)} with any password, e.g. a wrong one, or a user the broker does not know. */
    public Map<String, Object> clientConfig(String user, String password) {
        Map<String, Object> config = new HashMap<>();
        config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        config.put(AdminClientConfig.SECURITY_PROTOCOL_CONFIG, "SASL_PLAINTEXT");
        config.put(SaslConfigs.SASL_MECHANISM, "PLAIN");
        config.put(
                SaslConfigs.SASL_JAAS_CONFIG,
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"" + user + "\" password=\""
                        + password + "\";");
        return config;
    }

    /** {@code host:port} to give clients. */
    public String bootstrapServers() {
        return bootstrapServers;
    }

    /** The broker's log directory: each partition's segment files live under it. */
    public Path logDir() {
        return logDir;
    }

    /** An admin client owned by the broker; do not close it. */
    public Admin admin() {
        return admin;
    }

    /** Creates topics, ignoring any that exist already, and waits until they are created. */
    public void createTopics(NewTopic... topics) {
        for (NewTopic topic : topics) {
            try {
                admin.createTopics(List.of(topic)).all().get(30, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw new IllegalStateException("cannot create topic " + topic.name(), e.getCause());
                }
            } catch (Exception e) {
                throw new IllegalStateException("cannot create topic " + topic.name(), e);
            }
        }
    }

    /** Creates a topic with one replica (the only broker), ignoring it if it exists. */
    public void createTopic(String name, int partitions, Map<String, String> configs) {
        createTopics(new NewTopic(name, partitions, (short) 1).configs(configs));
    }

    private void awaitReady() {
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        Exception last = null;
        while (System.nanoTime() < deadline) {
            try {
                if (!admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).isEmpty()) {
                    return;
                }
            } catch (Exception e) {
                last = e;
            }
            sleep(100);
        }
        close();
        throw new IllegalStateException("embedded Kafka broker did not become ready within " + READY_TIMEOUT, last);
    }

    /**
     * Shuts the broker down and keeps its log directory, as a broker that stops or crashes would: clients see it
     * gone until {@link #startAgain()}. Not for {@link #shared()}.
     */
    public synchronized void stop() {
        if (stopped) {
            return;
        }
        stopped = true;
        try {
            admin.close(Duration.ofSeconds(5));
        } catch (RuntimeException e) {
            LOG.debug("admin client close failed", e);
        }
        server.shutdown();
        server.awaitShutdown();
    }

    /**
     * Starts a broker again on this one's log directory and ports, after {@link #stop()}: clients configured with
     * {@link #bootstrapServers()} reconnect to it and find their topics, offsets and transactions.
     */
    public synchronized EmbeddedKafkaBroker startAgain() {
        if (!stopped || closed) {
            throw new IllegalStateException("stop() the broker first (and do not close it)");
        }
        closed = true; // the new instance owns the log directory now
        return start(logDir, deleteOnClose, brokerPort, controllerPort, users);
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        stop();
        if (deleteOnClose) {
            Directories.deleteRecursively(logDir);
        }
    }

    private static void format(Properties props, Path logDir) throws IOException {
        if (Files.exists(logDir.resolve("meta.properties"))) {
            return; // restarting on an existing log directory
        }
        Path config = logDir.resolve("server.properties");
        try (OutputStream out = Files.newOutputStream(config)) {
            props.store(out, "embedseal embedded broker");
        }
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int rc;
        try (PrintStream print = new PrintStream(captured, true, StandardCharsets.UTF_8)) {
            rc = StorageTool.execute(
                    new String[] {"format", "-t", Uuid.randomUuid().toString(), "-c", config.toString()}, print);
        } catch (Exception e) {
            throw new IllegalStateException(
                    "formatting Kafka storage failed: " + captured.toString(StandardCharsets.UTF_8), e);
        }
        if (rc != 0) {
            throw new IllegalStateException(
                    "formatting Kafka storage failed (" + rc + "): " + captured.toString(StandardCharsets.UTF_8));
        }
        Files.delete(config);
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 0, InetAddress.getLoopbackAddress())) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free loopback port", e);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the broker", e);
        }
    }

    @Override
    public String toString() {
        return "EmbeddedKafkaBroker[" + bootstrapServers + ", logDir=" + logDir + "]";
    }
}
