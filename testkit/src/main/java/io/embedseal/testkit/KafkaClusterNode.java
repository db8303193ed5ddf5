package io.embedseal.testkit;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.common.utils.Time;

/**
 * One node of a {@link KafkaCluster}, in a JVM of its own: {@code java ... KafkaClusterNode <server.properties>
 * <cluster id>}. Formats its log directory on first start, runs a KRaft broker and controller until SIGTERM (a clean
 * shutdown) or SIGKILL (a crash), and halts when its standard input ends, so that it never outlives the test JVM
 * that started it.
 */
public final class KafkaClusterNode {

    private KafkaClusterNode() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: KafkaClusterNode <server.properties> <cluster id>");
            System.exit(2);
        }
        Path config = Path.of(args[0]);
        Properties props = new Properties();
        try (InputStream in = Files.newInputStream(config)) {
            props.load(in);
        }
        Path logDir = Path.of(props.getProperty("log.dirs"));
        if (!Files.exists(logDir.resolve("meta.properties"))) {
            format(config, args[1]);
        }
        ParentWatcher.start();

        KafkaRaftServer server = new KafkaRaftServer(KafkaConfig.fromProps(props, false), Time.SYSTEM);
        Runtime.getRuntime()
                .addShutdownHook(new Thread(
                        () -> {
                            server.shutdown();
                            server.awaitShutdown();
                        },
                        "kafka-node-shutdown"));
        server.startup();
        System.out.println("kafka node " + props.getProperty("node.id") + " started");
        server.awaitShutdown();
    }

    private static void format(Path config, String clusterId) {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int rc;
        try (PrintStream print = new PrintStream(captured, true, StandardCharsets.UTF_8)) {
            rc = StorageTool.execute(new String[] {"format", "-t", clusterId, "-c", config.toString()}, print);
        } catch (Exception e) {
            throw new IllegalStateException(
                    "formatting Kafka storage failed: " + captured.toString(StandardCharsets.UTF_8), e);
        }
        if (rc != 0) {
            throw new IllegalStateException(
                    "formatting Kafka storage failed (" + rc + "): " + captured.toString(StandardCharsets.UTF_8));
        }
        System.out.print(captured.toString(StandardCharsets.UTF_8));
    }
}
