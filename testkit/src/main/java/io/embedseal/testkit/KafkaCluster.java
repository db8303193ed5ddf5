package io.embedseal.testkit;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.QuorumInfo;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.TopicExistsException;
import org.jspecify.annotations.Nullable;

/**
 * Three Kafka nodes, each a KRaft broker and a voter of a three-voter controller quorum, each in a JVM of its own
 * ({@link KafkaClusterNode}) so a test can SIGKILL one, configured as docs/operations.md tells an operator to
 * configure a cluster ({@link #BROKER_SETTINGS}: replication factor 3, {@code min.insync.replicas=2}, no unclean
 * election).
 *
 * <p>Every link goes through a {@link LoopbackProxy}: the clients' link to each node, and each node's link to each
 * other node, for replication (each node has a listener per peer, {@code REPL<n>}, and names its own as its
 * {@code inter.broker.listener.name}) and for the controller quorum (each node's {@code controller.quorum.voters}
 * names the others through its own proxies). So {@link #partition(int)} isolates one node both ways, as a network
 * partition does: clients cannot reach it, it cannot reach the others, and the others cannot reach it.
 */
public final class KafkaCluster implements AutoCloseable {

    public static final int NODES = 3;

    /**
     * The broker settings docs/operations.md ("Running on a cluster") gives an operator, exactly as the cluster tests
     * run them: three replicas of everything, two in sync before a write counts, no unclean leader election.
     */
    public static final Map<String, String> BROKER_SETTINGS = brokerSettings();

    private static Map<String, String> brokerSettings() {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("default.replication.factor", "3");
        s.put("min.insync.replicas", "2");
        s.put("unclean.leader.election.enable", "false");
        s.put("auto.create.topics.enable", "false");
        s.put("offsets.topic.replication.factor", "3");
        s.put("transaction.state.log.replication.factor", "3");
        s.put("transaction.state.log.min.isr", "2");
        s.put("share.coordinator.state.topic.replication.factor", "3");
        s.put("share.coordinator.state.topic.min.isr", "2");
        return Collections.unmodifiableMap(s);
    }

    /** Settings for test speed only (small internal topics, no rebalance delay); not for production. */
    private static final Map<String, String> TEST_SPEED = Map.of(
            "group.initial.rebalance.delay.ms", "0",
            "offsets.topic.num.partitions", "6",
            "transaction.state.log.num.partitions", "6",
            "num.partitions", "1",
            "transaction.abort.timed.out.transaction.cleanup.interval.ms", "5000",
            "log.segment.bytes", String.valueOf(64 * 1024 * 1024));

    private static final Duration READY_TIMEOUT = Duration.ofMinutes(2);

    private final Path dir;
    private final String clusterId;
    private final Node[] nodes = new Node[NODES + 1]; // 1-based: node ids are 1..3
    /** clients → node n. */
    private final LoopbackProxy[] clientLinks = new LoopbackProxy[NODES + 1];
    /** replication, node from → node to: [from][to]. */
    private final LoopbackProxy[][] replicationLinks = new LoopbackProxy[NODES + 1][NODES + 1];
    /** controller quorum, node from → node to: [from][to]. */
    private final LoopbackProxy[][] quorumLinks = new LoopbackProxy[NODES + 1][NODES + 1];

    private final String bootstrapServers;
    private final Admin admin;

    private static final class Node {
        final int id;
        final int clientPort = freePort();
        final int[] replicationPorts = new int[NODES + 1]; // listener REPL<n> of this node, for node n
        final int controllerPort = freePort();
        final Path home;

        @Nullable
        Process process;
        /** How many times its JVM reported "started" in node.out. */
        int starts;

        Node(int id, Path home) {
            this.id = id;
            this.home = home;
            for (int n = 1; n <= NODES; n++) {
                replicationPorts[n] = freePort();
            }
        }
    }

    private KafkaCluster(Path dir) {
        this.dir = dir;
        this.clusterId = Uuid.randomUuid().toString();
        for (int n = 1; n <= NODES; n++) {
            nodes[n] = new Node(n, dir.resolve("node-" + n));
        }
        for (int to = 1; to <= NODES; to++) {
            clientLinks[to] = LoopbackProxy.start("clients->" + to, 0, nodes[to].clientPort);
            for (int from = 1; from <= NODES; from++) {
                if (from != to) {
                    replicationLinks[from][to] =
                            LoopbackProxy.start("replication " + from + "->" + to, 0, nodes[to].replicationPorts[from]);
                    quorumLinks[from][to] =
                            LoopbackProxy.start("quorum " + from + "->" + to, 0, nodes[to].controllerPort);
                }
            }
        }
        List<String> bootstrap = new ArrayList<>();
        for (int n = 1; n <= NODES; n++) {
            bootstrap.add("127.0.0.1:" + clientLinks[n].port());
        }
        this.bootstrapServers = String.join(",", bootstrap);
        this.admin = Admin.create(Map.of(
                AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
                bootstrapServers,
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG,
                30_000,
                AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG,
                10_000));
    }

    /** Starts the three nodes under {@code dir} and waits until all are brokers of the cluster and quorum voters. */
    public static KafkaCluster start(Path dir) {
        long started = System.nanoTime();
        KafkaCluster c = new KafkaCluster(dir);
        try {
            for (int n = 1; n <= NODES; n++) {
                c.launch(n);
            }
            for (int n = 1; n <= NODES; n++) {
                c.awaitStarted(n, READY_TIMEOUT);
            }
            c.awaitBrokers(NODES, READY_TIMEOUT);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
        System.out.printf(
                "kafka cluster of %d nodes ready in %d ms at %s%n",
                NODES, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), c.bootstrapServers);
        return c;
    }

    /** The clients' bootstrap list: the three nodes, each through its client link. */
    public String bootstrapServers() {
        return bootstrapServers;
    }

    /** An admin client owned by the cluster; do not close it. */
    public Admin admin() {
        return admin;
    }

    /** Creates a topic with three replicas (the broker default), ignoring it if it exists. */
    public void createTopic(String name, int partitions, Map<String, String> configs) {
        try {
            admin.createTopics(List.of(new NewTopic(name, partitions, (short) NODES).configs(configs)))
                    .all()
                    .get(60, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw new IllegalStateException("cannot create topic " + name, e.getCause());
            }
        } catch (Exception e) {
            throw new IllegalStateException("cannot create topic " + name, e);
        }
    }

    /** The node leading {@code topic}'s partition, or -1 when it has none. */
    public int leaderOf(String topic, int partition) {
        TopicPartitionInfo p = describe(topic).partitions().get(partition);
        return p.leader() == null ? -1 : p.leader().id();
    }

    /** The node whose controller leads the quorum (the active controller). */
    public int activeController() {
        try {
            return admin.describeMetadataQuorum()
                    .quorumInfo()
                    .get(30, TimeUnit.SECONDS)
                    .leaderId();
        } catch (Exception e) {
            throw new IllegalStateException("cannot describe the metadata quorum", e);
        }
    }

    /** Waits until the quorum has a leader other than {@code formerLeader}, and returns it. */
    public int awaitNewActiveController(int formerLeader, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            try {
                QuorumInfo q = admin.describeMetadataQuorum().quorumInfo().get(5, TimeUnit.SECONDS);
                if (q.leaderId() > 0 && q.leaderId() != formerLeader) {
                    return q.leaderId();
                }
            } catch (Exception e) {
                // no leader yet
            }
            sleep(100);
        }
        throw new AssertionError("no new active controller within " + timeout);
    }

    public TopicDescription describe(String topic) {
        try {
            TopicDescription d = admin.describeTopics(List.of(topic))
                    .allTopicNames()
                    .get(30, TimeUnit.SECONDS)
                    .get(topic);
            if (d == null) {
                throw new IllegalStateException("no topic " + topic);
            }
            return d;
        } catch (Exception e) {
            throw new IllegalStateException("cannot describe topic " + topic, e);
        }
    }

    /** Waits until every partition of these topics has all three replicas in sync. */
    public void awaitFullyReplicated(Duration timeout, String... topics) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String last = "";
        while (System.nanoTime() < deadline) {
            try {
                Map<String, TopicDescription> d =
                        admin.describeTopics(List.of(topics)).allTopicNames().get(10, TimeUnit.SECONDS);
                List<String> short_ = d.values().stream()
                        .flatMap(t -> t.partitions().stream()
                                .filter(p -> p.isr().size() < NODES)
                                .map(p -> t.name() + "-" + p.partition() + " isr "
                                        + p.isr().size()))
                        .collect(Collectors.toList());
                if (short_.isEmpty()) {
                    return;
                }
                last = short_.toString();
            } catch (Exception e) {
                last = e.toString();
            }
            sleep(200);
        }
        throw new AssertionError("partitions not fully replicated within " + timeout + ": " + last);
    }

    /** SIGKILL of one node: no shutdown, nothing flushed; its log directory stays for {@link #restart}. */
    public void kill(int node) {
        Process p = nodes[node].process;
        if (p == null) {
            return;
        }
        p.destroyForcibly();
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("node " + node + " did not die after SIGKILL");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
        nodes[node].process = null;
    }

    /**
     * Starts a killed node again on its log directory and ports, and waits until it has started (its broker
     * unfenced) and every partition of every topic, the internal ones included, has all three replicas in sync.
     */
    public void restart(int node) {
        if (nodes[node].process != null) {
            throw new IllegalStateException("node " + node + " is running");
        }
        launch(node);
        awaitStarted(node, READY_TIMEOUT);
        awaitAllInSync(READY_TIMEOUT);
    }

    /** Waits until every partition of every topic (internal ones included) has all replicas in sync. */
    public void awaitAllInSync(Duration timeout) {
        try {
            String[] all = admin.listTopics(new org.apache.kafka.clients.admin.ListTopicsOptions().listInternal(true))
                    .names()
                    .get(30, TimeUnit.SECONDS)
                    .toArray(String[]::new);
            awaitFullyReplicated(timeout, all);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("cannot list the topics", e);
        }
    }

    /** Waits until the node's JVM reports its server started (startup returns once the broker is unfenced). */
    private void awaitStarted(int n, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Path out = nodes[n].home.resolve("node.out");
        String line = "kafka node " + n + " started";
        int before = nodes[n].starts;
        while (System.nanoTime() < deadline) {
            Process p = nodes[n].process;
            if (p == null || !p.isAlive()) {
                throw new IllegalStateException("kafka node " + n + " exited; see " + out);
            }
            try {
                String text = Files.exists(out) ? Files.readString(out, StandardCharsets.UTF_8) : "";
                int count = 0;
                for (int at = text.indexOf(line); at >= 0; at = text.indexOf(line, at + 1)) {
                    count++;
                }
                if (count > before) {
                    nodes[n].starts = count;
                    return;
                }
            } catch (IOException e) {
                // not written yet
            }
            sleep(100);
        }
        throw new IllegalStateException("kafka node " + n + " did not start within " + timeout + "; see " + out);
    }

    public boolean isRunning(int node) {
        Process p = nodes[node].process;
        return p != null && p.isAlive();
    }

    /** Heals every cut link and restarts every killed node: the cluster whole again, for the next test. */
    public void restoreAll() {
        for (int n = 1; n <= NODES; n++) {
            heal(n);
        }
        for (int n = 1; n <= NODES; n++) {
            if (!isRunning(n)) {
                nodes[n].process = null;
                launch(n);
                awaitStarted(n, READY_TIMEOUT);
            }
        }
        awaitBrokers(NODES, READY_TIMEOUT);
        awaitAllInSync(READY_TIMEOUT);
    }

    /** Cuts every link to and from {@code node}: clients', replication and quorum, both ways. */
    public void partition(int node) {
        links(node).forEach(LoopbackProxy::cut);
    }

    /** Whether {@link #partition} cut this node off (and {@link #heal} has not restored it). */
    public boolean isPartitioned(int node) {
        return clientLinks[node].isCut();
    }

    /** Restores the links {@link #partition} cut. */
    public void heal(int node) {
        links(node).forEach(LoopbackProxy::heal);
    }

    private List<LoopbackProxy> links(int node) {
        List<LoopbackProxy> l = new ArrayList<>();
        l.add(clientLinks[node]);
        for (int other = 1; other <= NODES; other++) {
            if (other != node) {
                l.add(replicationLinks[node][other]);
                l.add(replicationLinks[other][node]);
                l.add(quorumLinks[node][other]);
                l.add(quorumLinks[other][node]);
            }
        }
        return l;
    }

    /** Waits until {@code count} brokers answer in the cluster's metadata. */
    public void awaitBrokers(int count, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Exception last = null;
        while (System.nanoTime() < deadline) {
            for (int n = 1; n <= NODES; n++) {
                Process p = nodes[n].process;
                if (p != null && !p.isAlive()) {
                    throw new IllegalStateException("kafka node " + n + " exited (" + p.exitValue() + "); see "
                            + nodes[n].home.resolve("node.out"));
                }
            }
            try {
                if (admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).size() >= count) {
                    return;
                }
            } catch (Exception e) {
                last = e;
            }
            sleep(200);
        }
        throw new IllegalStateException("the cluster did not have " + count + " brokers within " + timeout, last);
    }

    private void launch(int n) {
        Node node = nodes[n];
        try {
            Files.createDirectories(node.home);
            Path config = node.home.resolve("server.properties");
            if (!Files.exists(config)) {
                Properties p = properties(node);
                try (OutputStream out = Files.newOutputStream(config)) {
                    p.store(out, "embedseal test cluster node " + n);
                }
                Files.writeString(node.home.resolve("log4j2.properties"), log4j(node.home), StandardCharsets.UTF_8);
            }
            List<String> command = new ArrayList<>();
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            command.add("-Xms256m");
            command.add("-Xmx768m");
            command.add("-XX:+UseParallelGC");
            command.add("-XX:TieredStopAtLevel=1");
            command.add("-Dlog4j2.configurationFile=" + node.home.resolve("log4j2.properties"));
            command.add("-cp");
            command.add(System.getProperty("java.class.path"));
            command.add(KafkaClusterNode.class.getName());
            command.add(config.toString());
            command.add(clusterId);
            node.process = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(
                            node.home.resolve("node.out").toFile()))
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start kafka node " + n, e);
        }
    }

    private Properties properties(Node node) {
        int n = node.id;
        Properties p = new Properties();
        p.put("process.roles", "broker,controller");
        p.put("node.id", String.valueOf(n));
        List<String> voters = new ArrayList<>();
        for (int v = 1; v <= NODES; v++) {
            int port = v == n ? node.controllerPort : quorumLinks[n][v].port();
            voters.add(v + "@127.0.0.1:" + port);
        }
        p.put("controller.quorum.voters", String.join(",", voters));
        p.put("controller.listener.names", "CONTROLLER");
        List<String> listeners = new ArrayList<>();
        List<String> advertised = new ArrayList<>();
        List<String> protocols = new ArrayList<>();
        listeners.add("CLIENT://127.0.0.1:" + node.clientPort);
        advertised.add("CLIENT://127.0.0.1:" + clientLinks[n].port());
        protocols.add("CLIENT:PLAINTEXT");
        for (int from = 1; from <= NODES; from++) {
            String name = "REPL" + from;
            listeners.add(name + "://127.0.0.1:" + node.replicationPorts[from]);
            int advertisedPort = from == n ? node.replicationPorts[from] : replicationLinks[from][n].port();
            advertised.add(name + "://127.0.0.1:" + advertisedPort);
            protocols.add(name + ":PLAINTEXT");
        }
        listeners.add("CONTROLLER://127.0.0.1:" + node.controllerPort);
        protocols.add("CONTROLLER:PLAINTEXT");
        p.put("listeners", String.join(",", listeners));
        p.put("advertised.listeners", String.join(",", advertised));
        p.put("listener.security.protocol.map", String.join(",", protocols));
        // This node reaches the others on their REPL<n> listener: through the proxies of its own links.
        p.put("inter.broker.listener.name", "REPL" + n);
        p.put("log.dirs", node.home.resolve("data").toAbsolutePath().toString());
        p.putAll(BROKER_SETTINGS);
        p.putAll(TEST_SPEED);
        return p;
    }

    private static String log4j(Path home) {
        return String.join(
                "\n",
                "status = warn",
                "appender.file.type = File",
                "appender.file.name = file",
                "appender.file.fileName = " + home.resolve("server.log"),
                "appender.file.layout.type = PatternLayout",
                "appender.file.layout.pattern = [%d] %p %m (%c)%n",
                "rootLogger.level = warn",
                "rootLogger.appenderRef.file.ref = file",
                "logger.controller.name = org.apache.kafka.controller",
                "logger.controller.level = info",
                "logger.raft.name = org.apache.kafka.raft",
                "logger.raft.level = info",
                "");
    }

    @Override
    public void close() {
        try {
            admin.close(Duration.ofSeconds(5));
        } catch (RuntimeException e) {
            // closing anyway
        }
        for (int n = 1; n <= NODES; n++) {
            Process p = nodes[n].process;
            if (p != null) {
                p.destroyForcibly();
            }
        }
        for (int n = 1; n <= NODES; n++) {
            Process p = nodes[n].process;
            if (p != null) {
                try {
                    p.waitFor(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            clientLinks[n].close();
            for (int m = 1; m <= NODES; m++) {
                if (replicationLinks[n][m] != null) {
                    replicationLinks[n][m].close();
                    quorumLinks[n][m].close();
                }
            }
        }
        Directories.deleteRecursively(dir);
    }

    /**
     * A port free now, below Linux's ephemeral range (32768 and up): a killed node's port must still be free when it
     * restarts, and the ports the kernel hands to outgoing connections and to the proxies never fall there.
     */
    private static int freePort() {
        java.util.Random random = new java.util.Random();
        for (int attempt = 0; attempt < 200; attempt++) {
            int port = 20_000 + random.nextInt(12_000);
            try (ServerSocket socket = new ServerSocket(port, 0, InetAddress.getLoopbackAddress())) {
                return socket.getLocalPort();
            } catch (IOException e) {
                // taken: try another
            }
        }
        throw new UncheckedIOException(new IOException("no free loopback port in 20000-31999"));
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    @Override
    public String toString() {
        return "KafkaCluster[" + bootstrapServers + ", " + dir + "]";
    }
}
