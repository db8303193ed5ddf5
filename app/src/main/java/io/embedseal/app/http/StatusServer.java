package io.embedseal.app.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.embedseal.topology.EmbedsealPipeline;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.streams.KafkaStreams;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pipeline's HTTP endpoints, on the JDK's own server:
 * <ul>
 *   <li>{@code /metrics}: Prometheus text format;</li>
 *   <li>{@code /health/live}: 200 unless the Streams application has failed (ERROR);</li>
 *   <li>{@code /health/ready}: 200 only when the Streams application is RUNNING and the KMS answers, else 503 with why;</li>
 *   <li>{@code /}: the status page (HTML, refreshes itself every 5 s); {@code /status.json}: the same data.</li>
 * </ul>
 * Everything shown is ids, states and counts: no key material, no record values. GET and HEAD only.
 */
public final class StatusServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(StatusServer.class);
    private static final ObjectMapper JSON = new ObjectMapper()
            .registerModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);

    private final HttpServer server;
    private final ExecutorService handlers;
    private final ScheduledExecutorService sampler;
    private final EmbedsealPipeline pipeline;
    private final StatusModel model;

    private StatusServer(HttpServer server, EmbedsealPipeline pipeline) {
        this.server = server;
        this.pipeline = pipeline;
        this.model = new StatusModel(pipeline);
        this.handlers = Executors.newFixedThreadPool(2, r -> daemon(r, "embedseal-http"));
        this.sampler = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "embedseal-status-sampler"));
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /**
     * Starts serving.
     *
     * @param bind the address to listen on ({@code http.bind}); 0.0.0.0 for every interface
     * @param port the port ({@code http.port}); 0 for any free one
     */
    public static StatusServer start(EmbedsealPipeline pipeline, String bind, int port) {
        HttpServer http;
        try {
            http = HttpServer.create(new InetSocketAddress(bind, port), 16);
        } catch (IOException e) {
            throw new UncheckedIOException(
                    "cannot listen on " + bind + ":" + port + " (http.bind, http.port): " + e.getMessage(), e);
        }
        StatusServer s = new StatusServer(http, pipeline);
        http.setExecutor(s.handlers);
        http.createContext("/", s::handle);
        s.model.sample();
        // sampleQuietly catches and logs its own failures; the executor is shut down in close().
        var unused = s.sampler.scheduleAtFixedRate(s::sampleQuietly, 5, 5, TimeUnit.SECONDS);
        http.start();
        LOG.info("status page, metrics and health at {}", s.address());
        return s;
    }

    private void sampleQuietly() {
        try {
            model.sample();
        } catch (RuntimeException e) {
            LOG.debug("status sample failed", e);
        }
    }

    /** Where the server listens, e.g. {@code http://127.0.0.1:8080/}. */
    public URI address() {
        InetSocketAddress a = server.getAddress();
        String host = a.getAddress().isAnyLocalAddress()
                ? "127.0.0.1"
                : a.getAddress().getHostAddress();
        return URI.create("http://" + host + ":" + a.getPort() + "/");
    }

    public StatusModel model() {
        return model;
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String method = ex.getRequestMethod();
            if (!method.equals("GET") && !method.equals("HEAD")) {
                ex.getResponseHeaders().add("Allow", "GET, HEAD");
                send(ex, 405, "text/plain; charset=utf-8", "method not allowed\n");
                return;
            }
            switch (ex.getRequestURI().getPath()) {
                case "/metrics" ->
                    send(
                            ex,
                            200,
                            "text/plain; version=0.0.4; charset=utf-8",
                            pipeline.meters().scrape());
                case "/health/live" -> live(ex);
                case "/health/ready" -> ready(ex);
                case "/status.json" -> send(ex, 200, "application/json", JSON.writeValueAsString(model.snapshot()));
                case "/" -> send(ex, 200, "text/html; charset=utf-8", StatusPage.render(model.snapshot()));
                default ->
                    send(
                            ex,
                            404,
                            "text/plain; charset=utf-8",
                            "not found: try /, /metrics, /health/live, /health/ready\n");
            }
        } catch (RuntimeException e) {
            LOG.warn("status endpoint {} failed", ex.getRequestURI().getPath(), e);
        }
    }

    private void live(HttpExchange ex) throws IOException {
        KafkaStreams.State state = pipeline.streams().state();
        boolean alive = state != KafkaStreams.State.ERROR;
        health(ex, alive, Map.of("streams", state.name()));
    }

    private void ready(HttpExchange ex) throws IOException {
        KafkaStreams.State state = pipeline.streams().state();
        boolean kms = pipeline.kmsAnswers();
        Map<String, Object> checks = new LinkedHashMap<>();
        checks.put("streams", state.name());
        checks.put("kms", kms ? "answers" : "unreachable");
        checks.put("health", pipeline.health().status().name());
        health(ex, state == KafkaStreams.State.RUNNING && kms, checks);
    }

    private static void health(HttpExchange ex, boolean up, Map<String, ?> checks) throws IOException {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", up ? "UP" : "DOWN");
        body.put("checks", checks);
        send(ex, up ? 200 : 503, "application/json", JSON.writeValueAsString(body));
    }

    private static void send(HttpExchange ex, int status, String contentType, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", contentType);
        ex.getResponseHeaders().set("Cache-Control", "no-store");
        ex.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
        if (ex.getRequestMethod().equals("HEAD")) {
            ex.sendResponseHeaders(status, -1);
            return;
        }
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        sampler.shutdownNow();
        server.stop(0);
        handlers.shutdownNow();
    }
}
