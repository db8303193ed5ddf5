package io.embedseal.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.connect.cli.ConnectDistributed;

/**
 * A Kafka Connect worker in distributed mode, in a JVM of its own (so a test can SIGKILL it), started as an operator
 * starts one: {@code ConnectDistributed} with a worker properties file. It halts when the test JVM's end of its
 * standard input closes, so it never outlives the test. Connectors are managed through its REST API.
 */
public final class ConnectWorker implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private final String name;
    private final Path home;
    private final int port;
    private final Process process;

    private ConnectWorker(String name, Path home, int port, Process process) {
        this.name = name;
        this.home = home;
        this.port = port;
        this.process = process;
    }

    /**
     * Starts a worker with {@code settings} (the worker properties; {@code listeners} and the advertised REST address
     * are added) and waits until its REST API answers.
     */
    public static ConnectWorker start(String name, Path home, Map<String, String> settings) {
        return start(name, home, settings, List.of());
    }

    /** Like {@link #start(String, Path, Map)}, with options for the worker's JVM (e.g. where it logs). */
    public static ConnectWorker start(String name, Path home, Map<String, String> settings, List<String> jvmOptions) {
        int port = freePort();
        try {
            Files.createDirectories(home);
            Properties p = new Properties();
            p.putAll(settings);
            p.put("listeners", "http://127.0.0.1:" + port);
            p.put("rest.advertised.host.name", "127.0.0.1");
            p.put("rest.advertised.port", String.valueOf(port));
            Path config = home.resolve("worker.properties");
            try (OutputStream out = Files.newOutputStream(config)) {
                p.store(out, "embedseal test Connect worker " + name);
            }
            ConnectWorker w = new ConnectWorker(name, home, port, launch(home, config, jvmOptions));
            w.awaitRest(Duration.ofMinutes(2));
            return w;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start Connect worker " + name, e);
        }
    }

    private static Process launch(Path home, Path config, List<String> jvmOptions) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xmx768m");
        command.add("-XX:+UseParallelGC");
        command.add("-XX:TieredStopAtLevel=1");
        command.addAll(jvmOptions);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(Main.class.getName());
        command.add(config.toString());
        return new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(
                        home.resolve("worker.out").toFile()))
                .start();
    }

    /** The worker's JVM: watches its standard input, then runs {@code ConnectDistributed}. */
    public static final class Main {
        private Main() {}

        public static void main(String[] args) throws Exception {
            ParentWatcher.start();
            ConnectDistributed.main(args);
        }
    }

    public String name() {
        return name;
    }

    /** {@code http://127.0.0.1:<port>}, the worker's REST API. */
    public String restUrl() {
        return "http://127.0.0.1:" + port;
    }

    /** The worker id Connect reports in connector and task statuses. */
    public String workerId() {
        return "127.0.0.1:" + port;
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** Creates or updates a connector (PUT /connectors/{name}/config). */
    public void putConnector(String connector, Map<String, String> config) {
        try {
            HttpResponse<String> r = HTTP.send(
                    HttpRequest.newBuilder(URI.create(restUrl() + "/connectors/" + connector + "/config"))
                            .timeout(Duration.ofSeconds(60))
                            .header("Content-Type", "application/json")
                            .PUT(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(config)))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() / 100 != 2) {
                throw new IllegalStateException(
                        "PUT connector " + connector + " on " + name + ": HTTP " + r.statusCode() + " " + r.body());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("PUT connector " + connector + " on " + name, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /** GET /connectors/{name}/status, or null when the worker does not answer or knows no such connector yet. */
    public JsonNode status(String connector) {
        try {
            HttpResponse<String> r = HTTP.send(
                    HttpRequest.newBuilder(URI.create(restUrl() + "/connectors/" + connector + "/status"))
                            .timeout(Duration.ofSeconds(10))
                            .GET()
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? JSON.readTree(r.body()) : JSON.nullNode();
        } catch (IOException e) {
            return JSON.nullNode();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private void awaitRest(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException(
                        "Connect worker " + name + " exited; see " + home.resolve("worker.out"));
            }
            try {
                HttpResponse<String> r = HTTP.send(
                        HttpRequest.newBuilder(URI.create(restUrl() + "/connectors"))
                                .timeout(Duration.ofSeconds(5))
                                .GET()
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
        }
        throw new IllegalStateException("Connect worker " + name + " did not answer on " + restUrl() + " within "
                + timeout + "; see " + home.resolve("worker.out"));
    }

    /** SIGKILL: the worker leaves its group only when its session times out; its tasks stop mid-batch. */
    public void kill() {
        process.destroyForcibly();
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("Connect worker " + name + " did not die after SIGKILL");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /** A clean stop (SIGTERM). */
    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroy();
            try {
                if (!process.waitFor(60, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 0, InetAddress.getLoopbackAddress())) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free loopback port", e);
        }
    }

    @Override
    public String toString() {
        return "ConnectWorker[" + name + " " + restUrl() + "]";
    }
}
