package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.schemas.KeyEventType;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import java.util.stream.Stream;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged plugin directory on a stock worker: a separate JVM runs {@code connect-standalone}'s main class with
 * Kafka's own jars only (no embedseal, Lucene, PostgreSQL driver or Tink on its class path) and
 * {@code plugin.path} pointing at {@code target/connect-plugin}; the Lucene sink must load from there in its own
 * class loader and index sealed records.
 */
class ConnectPluginIT {

    static final Path PLUGIN_PATH =
            Path.of(System.getProperty("embedseal.connect-plugin.dir", "target/connect-plugin"));

    @TempDir
    Path tmp;

    @Test
    void pluginDirectory_holdsTheConnectorsAndTheirDependencies_butNotTheWorkersOwnJars() throws IOException {
        Path dir = PLUGIN_PATH.resolve("embedseal-sinks");
        List<String> jars;
        try (Stream<Path> s = Files.list(dir)) {
            jars = s.map(p -> p.getFileName().toString()).sorted().toList();
        }
        assertThat(jars)
                .anyMatch(j -> j.startsWith("embedseal-sinks-"))
                .anyMatch(j -> j.startsWith("lucene-core-"))
                .anyMatch(j -> j.startsWith("postgresql-"))
                .anyMatch(j -> j.startsWith("tink-"))
                .anyMatch(j -> j.startsWith("vault-java-driver-"));
        assertThat(jars)
                .noneMatch(j -> j.startsWith("kafka-clients") || j.startsWith("connect-") || j.startsWith("slf4j-"));
        Path sinksJar = dir.resolve(jars.stream()
                .filter(j -> j.startsWith("embedseal-sinks-"))
                .findFirst()
                .orElseThrow());
        try (ZipFile zip = new ZipFile(sinksJar.toFile())) {
            String services = new String(
                    zip.getInputStream(zip.getEntry("META-INF/services/org.apache.kafka.connect.sink.SinkConnector"))
                            .readAllBytes());
            assertThat(services)
                    .contains(
                            "io.embedseal.sinks.lucene.LuceneSinkConnector",
                            "io.embedseal.sinks.postgres.PostgresSinkConnector");
        }
    }

    @Test
    void stockWorker_loadsThePluginFromPluginPath_andIndexesSealedRecords() throws Exception {
        Path kmsDir = tmp.resolve("kms");
        Path luceneDir = tmp.resolve("lucene");
        Sealed sealed = new Sealed(kmsDir);
        Process worker = null;
        Path log = Path.of("target", "connect-plugin-it-worker.log");
        try (SinkFixture f = new SinkFixture(1)) {
            f.keyEvent("acme", KeyEventType.REGISTERED, sealed.onboard("acme"));
            Random random = new Random(5);
            for (int i = 0; i < 50; i++) {
                f.sendSealed("acme", "e-" + i, sealed.seal("acme", "e-" + i, Sealed.randomVector(random, 16)));
            }
            f.producer.flush();

            Properties w = new Properties();
            w.setProperty("bootstrap.servers", f.broker.bootstrapServers());
            w.setProperty("key.converter", "org.apache.kafka.connect.converters.ByteArrayConverter");
            w.setProperty("value.converter", "org.apache.kafka.connect.converters.ByteArrayConverter");
            w.setProperty("offset.storage.file.filename", tmp.resolve("offsets").toString());
            w.setProperty("offset.flush.interval.ms", "500");
            w.setProperty("plugin.path", PLUGIN_PATH.toAbsolutePath().toString());
            w.setProperty("plugin.discovery", "service_load");
            w.setProperty("listeners", "http://127.0.0.1:0");
            w.setProperty("consumer.isolation.level", "read_committed");
            Properties c = new Properties();
            f.lucene(kmsDir, luceneDir).forEach(c::setProperty);
            c.setProperty("name", "lucene-plugin-it");
            Path workerFile = tmp.resolve("worker.properties");
            Path connectorFile = tmp.resolve("lucene.properties");
            try (var out = Files.newBufferedWriter(workerFile)) {
                w.store(out, null);
            }
            try (var out = Files.newBufferedWriter(connectorFile)) {
                c.store(out, null);
            }

            Path logConfig = tmp.resolve("log4j2.properties");
            Files.writeString(
                    logConfig,
                    String.join(
                            "\n",
                            "appender.out.type=Console",
                            "appender.out.name=out",
                            "appender.out.layout.type=PatternLayout",
                            "appender.out.layout.pattern=%d %-5level [%t] %c - %msg%n",
                            "rootLogger.level=WARN",
                            "rootLogger.appenderRef.out.ref=out",
                            "logger.isolation.name=org.apache.kafka.connect.runtime.isolation",
                            "logger.isolation.level=INFO",
                            "logger.embedseal.name=io.embedseal",
                            "logger.embedseal.level=INFO",
                            ""));
            List<String> cmd = new ArrayList<>(List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx256m",
                    "-Dlog4j2.configurationFile=" + logConfig.toUri(),
                    "-cp",
                    workerClassPath(),
                    "org.apache.kafka.connect.cli.ConnectStandalone",
                    workerFile.toString(),
                    connectorFile.toString()));
            worker = new ProcessBuilder(cmd)
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
            Process running = worker;
            SinkFixture.await(
                    Duration.ofSeconds(90),
                    "the plugin's Lucene sink to index 50 records (worker log: " + log + ")",
                    () -> {
                        if (!running.isAlive()) {
                            throw new AssertionError("the worker exited with " + running.exitValue() + "; see " + log);
                        }
                        return TestIndexes.count(luceneDir, "acme") == 50;
                    },
                    () -> TestIndexes.count(luceneDir, "acme"));
            String output = Files.readString(log);
            // The worker says it loaded the plugin from plugin.path, in a loader of its own, and our task ran there.
            assertThat(output)
                    .containsPattern("(?s)Loading plugin from: .*connect-plugin/embedseal-sinks")
                    .contains("lucene sink task lucene-plugin-it-0 writes to");
        } finally {
            if (worker != null) {
                worker.destroy();
                // A stock worker stopped right after start can hang in its REST server's shutdown (seen once here,
                // for 15 min): the test has its answer by now, so a worker that does not stop in 30 s is killed.
                if (!worker.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) {
                    worker.destroyForcibly().waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
                }
            }
            sealed.close();
        }
    }

    /** This JVM's class path without embedseal's modules and the plugin's own dependencies: what a stock worker has. */
    static String workerClassPath() {
        List<String> keep = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            String name = Path.of(entry).getFileName().toString();
            boolean ours = entry.contains("embedseal")
                    || name.equals("classes")
                    || name.equals("test-classes")
                    || name.startsWith("lucene-")
                    || name.startsWith("postgresql-")
                    || name.startsWith("tink-")
                    || name.startsWith("vault-java-driver")
                    || name.startsWith("avro-")
                    || name.startsWith("testcontainers");
            if (!ours) {
                keep.add(entry);
            }
        }
        return String.join(File.pathSeparator, keep);
    }
}
