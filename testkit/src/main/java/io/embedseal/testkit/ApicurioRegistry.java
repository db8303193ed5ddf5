package io.embedseal.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real Confluent-compatible schema registry for tests: Apicurio Registry's distribution
 * ({@code io.apicurio:apicurio-registry-app:<v>:tar.gz:all}, unpacked by the build) in its own JVM, with
 * in-memory storage, on loopback. Its Confluent API is at {@link #confluentUrl()}.
 *
 * <p>Apicurio 3 needs Java 21 or newer. The JDK is taken from the system property
 * {@value #JAVA_PROPERTY}, the environment variable {@code EMBEDSEAL_JAVA21_HOME}, the running JVM if it is
 * new enough, or the newest JDK 21+ under {@code /usr/lib/jvm}. {@link #unavailableBecause()} says why it
 * cannot start, for a skip message.
 */
public final class ApicurioRegistry implements AutoCloseable {

    public static final String HOME_PROPERTY = "embedseal.apicurio.home";
    public static final String JAVA_PROPERTY = "embedseal.java21.home";
    private static final Logger LOG = LoggerFactory.getLogger(ApicurioRegistry.class);
    private static final Duration READY_TIMEOUT = Duration.ofMinutes(3);
    private static @Nullable ApicurioRegistry shared;

    private final Process process;
    private final int port;
    private final Path log;

    private ApicurioRegistry(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    /** Why the registry cannot be started here, or empty if it can. */
    public static Optional<String> unavailableBecause() {
        if (distribution().isEmpty()) {
            return Optional.of(
                    "the Apicurio Registry distribution is not unpacked (system property " + HOME_PROPERTY
                            + " must name a directory holding quarkus-run.jar; the client module's build unpacks it when tests run)");
        }
        if (java21().isEmpty()) {
            return Optional.of("Apicurio Registry 3 needs Java 21+, and none was found (set " + JAVA_PROPERTY
                    + " or EMBEDSEAL_JAVA21_HOME, or install one under /usr/lib/jvm)");
        }
        return Optional.empty();
    }

    /** The registry shared by this JVM's tests, started on first call and stopped when the JVM exits. */
    public static synchronized ApicurioRegistry shared() {
        if (shared == null) {
            shared = start();
            ApicurioRegistry r = shared;
            Runtime.getRuntime().addShutdownHook(new Thread(r::close, "apicurio-shutdown"));
        }
        return shared;
    }

    /** Starts a registry and waits until it is ready. */
    public static ApicurioRegistry start() {
        String why = unavailableBecause().orElse(null);
        if (why != null) {
            throw new IllegalStateException(why);
        }
        Path home = distribution().orElseThrow();
        Path java = java21().orElseThrow();
        int port = freePort();
        int management = freePort();
        long started = System.nanoTime();
        try {
            Path log = Files.createTempFile("apicurio-", ".log");
            List<String> command = new ArrayList<>(List.of(
                    java.toString(),
                    "-Xmx512m",
                    "-Dquarkus.http.host=127.0.0.1",
                    "-Dquarkus.http.port=" + port,
                    "-Dquarkus.management.host=127.0.0.1",
                    "-Dquarkus.management.port=" + management,
                    "-Dquarkus.log.level=WARN",
                    "-jar",
                    home.resolve("quarkus-run.jar").toString()));
            Process p = new ProcessBuilder(command)
                    .directory(home.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
            ApicurioRegistry registry = new ApicurioRegistry(p, port, log);
            registry.awaitReady(management);
            LOG.info(
                    "Apicurio Registry ready at {} in {} ms (Java at {})",
                    registry.confluentUrl(),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started),
                    java);
            return registry;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start Apicurio Registry", e);
        }
    }

    /** The Confluent-compatible API's base URL, for {@code schema.registry.url}. */
    public String confluentUrl() {
        return "http://127.0.0.1:" + port + "/apis/ccompat/v7";
    }

    private void awaitReady(int management) {
        HttpClient http =
                HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("Apicurio Registry exited with " + process.exitValue() + ": " + tail());
            }
            try {
                HttpResponse<Void> r = http.send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + management + "/health/ready"))
                                .timeout(Duration.ofSeconds(2))
                                .build(),
                        HttpResponse.BodyHandlers.discarding());
                // Ready means the Confluent-compatible API answers too: health can report ready a moment before it
                // does (a CI run saw a 404 on the first registration right after start).
                if (r.statusCode() == 200
                        && http.send(
                                                HttpRequest.newBuilder(URI.create(confluentUrl() + "/subjects"))
                                                        .timeout(Duration.ofSeconds(2))
                                                        .build(),
                                                HttpResponse.BodyHandlers.discarding())
                                        .statusCode()
                                == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        close();
        throw new IllegalStateException("Apicurio Registry was not ready within " + READY_TIMEOUT + ": " + tail());
    }

    private String tail() {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            return "(no log)";
        }
    }

    @Override
    public void close() {
        process.descendants().forEach(ProcessHandle::destroy);
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static Optional<Path> distribution() {
        String home = System.getProperty(HOME_PROPERTY);
        if (home == null) {
            return Optional.empty();
        }
        Path p = Path.of(home);
        return Files.isRegularFile(p.resolve("quarkus-run.jar")) ? Optional.of(p) : Optional.empty();
    }

    static Optional<Path> java21() {
        List<Path> candidates = new ArrayList<>();
        String setting = System.getProperty(JAVA_PROPERTY);
        if (setting != null) {
            candidates.add(Path.of(setting));
        }
        String env = System.getenv("EMBEDSEAL_JAVA21_HOME");
        if (env != null) {
            candidates.add(Path.of(env));
        }
        if (Runtime.version().feature() >= 21) {
            candidates.add(Path.of(System.getProperty("java.home")));
        }
        Path jvms = Path.of("/usr/lib/jvm");
        if (Files.isDirectory(jvms)) {
            try (Stream<Path> dirs = Files.list(jvms)) {
                dirs.filter(d -> majorVersion(d) >= 21)
                        .sorted(Comparator.comparingInt(ApicurioRegistry::majorVersion)
                                .reversed())
                        .forEach(candidates::add);
            } catch (IOException e) {
                // no candidates from here
            }
        }
        return candidates.stream()
                .filter(d -> majorVersion(d) >= 21)
                .map(d -> d.resolve("bin/java"))
                .filter(Files::isExecutable)
                .findFirst();
    }

    private static int majorVersion(Path jdk) {
        try {
            for (String line : Files.readAllLines(jdk.resolve("release"), StandardCharsets.UTF_8)) {
                if (line.startsWith("JAVA_VERSION=")) {
                    String v = line.substring("JAVA_VERSION=".length()).replace("\"", "");
                    String major = v.startsWith("1.")
                            ? v.substring(2, 3)
                            : java.util.regex.Pattern.compile("[.+-]").split(v, 0)[0];
                    return Integer.parseInt(major);
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 0, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
