package io.embedseal.app.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.embedseal.topology.EmbedsealPipeline;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.streams.KafkaStreams;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pipeline's HTTP endpoints:
 * <ul>
 *   <li>{@code /metrics}: Prometheus text format;</li>
 *   <li>{@code /health/live}: 200 unless the Streams application has failed (ERROR);</li>
 *   <li>{@code /health/ready}: 200 only when the Streams application is RUNNING, the KMS answers and key events are
 *       confirmed current ({@code key-events.max-staleness-seconds}), else 503 with why;</li>
 *   <li>{@code /}: the status page (HTML, refreshes itself every 5 s); {@code /status.json}: the same data.</li>
 * </ul>
 * Everything shown is ids, states and counts: no key material, no key names, no record values; at most
 * {@code http.status.tenant-rows} tenants are listed. With {@code http.auth.token-file}, the page, its JSON and
 * {@code /metrics} need the bearer token; the probes stay open. GET and HEAD only.
 *
 * <p>Served by {@link HttpTransport}: requests are read without blocking a handler and must arrive within
 * {@code http.request-timeout-ms}; {@code /health/live} is answered by the server's own thread, {@code /health/ready}
 * on a thread of its own, the rest on two more, so slow clients and a slow page cannot keep a probe waiting.
 */
public final class StatusServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(StatusServer.class);
    private static final ObjectMapper JSON = new ObjectMapper()
            .registerModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);
    private static final Map<String, String> CHALLENGE =
            Map.of("WWW-Authenticate", "Bearer realm=\"embedseal\", Basic realm=\"embedseal\", charset=\"UTF-8\"");
    private static final Map<String, String> PAGE_HEADERS = Map.of(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            "Referrer-Policy",
            "no-referrer");

    private final HttpTransport transport;
    private final ScheduledExecutorService sampler;
    private final EmbedsealPipeline pipeline;
    private final StatusModel model;
    private final StatusServerSettings settings;

    private StatusServer(InetSocketAddress bind, EmbedsealPipeline pipeline, StatusServerSettings settings)
            throws IOException {
        this.pipeline = pipeline;
        this.settings = settings;
        this.model = new StatusModel(pipeline, settings.tenantRows());
        this.sampler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "embedseal-status-sampler");
            t.setDaemon(true);
            return t;
        });
        this.transport = new HttpTransport(
                bind, settings.requestTimeout(), settings.maxConnections(), new HttpTransport.Routes() {
                    @Override
                    public HttpTransport.Lane lane(String path) {
                        return switch (path) {
                            case "/health/live" -> HttpTransport.Lane.INLINE;
                            case "/health/ready" -> HttpTransport.Lane.PROBE;
                            default -> HttpTransport.Lane.PAGE;
                        };
                    }

                    @Override
                    public HttpTransport.Response handle(HttpTransport.Request request) {
                        return StatusServer.this.handle(request);
                    }
                });
    }

    /** Starts serving with the default settings (no authentication). */
    public static StatusServer start(EmbedsealPipeline pipeline, String bind, int port) {
        return start(pipeline, bind, port, StatusServerSettings.defaults());
    }

    /**
     * Starts serving.
     *
     * @param bind the address to listen on ({@code http.bind}); 0.0.0.0 for every interface
     * @param port the port ({@code http.port}); 0 for any free one
     * @param settings timeouts, connection cap, token and tenant rows ({@link StatusServerSettings})
     */
    public static StatusServer start(EmbedsealPipeline pipeline, String bind, int port, StatusServerSettings settings) {
        StatusServer s;
        try {
            s = new StatusServer(new InetSocketAddress(bind, port), pipeline, settings);
        } catch (IOException e) {
            throw new UncheckedIOException(
                    "cannot listen on " + bind + ":" + port + " (http.bind, http.port): " + e.getMessage(), e);
        }
        s.model.sample();
        // sampleQuietly catches and logs its own failures; the executor is shut down in close().
        var unused = s.sampler.scheduleAtFixedRate(s::sampleQuietly, 5, 5, TimeUnit.SECONDS);
        LOG.info(
                "status page, metrics and health at {}{}",
                s.address(),
                settings.authenticated()
                        ? " (page and metrics need the bearer token of http.auth.token-file)"
                        : " (no authentication: http.auth.token-file is not set)");
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
        InetSocketAddress a = transport.address();
        String host = a.getAddress().isAnyLocalAddress()
                ? "127.0.0.1"
                : a.getAddress().getHostAddress();
        return URI.create("http://" + host + ":" + a.getPort() + "/");
    }

    public StatusModel model() {
        return model;
    }

    private HttpTransport.Response handle(HttpTransport.Request request) {
        String method = request.method();
        if (!method.equals("GET") && !method.equals("HEAD")) {
            return new HttpTransport.Response(
                    405,
                    "text/plain; charset=utf-8",
                    "method not allowed\n".getBytes(StandardCharsets.UTF_8),
                    Map.of("Allow", "GET, HEAD"));
        }
        String path = request.path();
        switch (path) {
            case "/health/live" -> {
                return live();
            }
            case "/health/ready" -> {
                return ready();
            }
            case "/metrics", "/status.json", "/" -> {
                if (!authorized(request.headers().get("authorization"))) {
                    return new HttpTransport.Response(
                            401,
                            "text/plain; charset=utf-8",
                            "this needs the status token: Authorization: Bearer <token>\n"
                                    .getBytes(StandardCharsets.UTF_8),
                            CHALLENGE);
                }
                return switch (path) {
                    case "/metrics" ->
                        ok(
                                "text/plain; version=0.0.4; charset=utf-8",
                                pipeline.meters().scrape());
                    case "/status.json" -> ok("application/json", json(model.snapshot()));
                    default ->
                        new HttpTransport.Response(
                                200,
                                "text/html; charset=utf-8",
                                StatusPage.render(model.snapshot()).getBytes(StandardCharsets.UTF_8),
                                PAGE_HEADERS);
                };
            }
            default -> {
                return HttpTransport.Response.text(404, "not found: try /, /metrics, /health/live, /health/ready\n");
            }
        }
    }

    /**
     * Whether the request carries the token: {@code Bearer <token>}, or {@code Basic} with the token as the password
     * (any user name), so a browser's login prompt works. Compared as SHA-256 digests in constant time.
     */
    boolean authorized(@Nullable String authorization) {
        if (!settings.authenticated()) {
            return true;
        }
        if (authorization == null) {
            return false;
        }
        int space = authorization.indexOf(' ');
        if (space < 0) {
            return false;
        }
        String scheme = authorization.substring(0, space);
        String credentials = authorization.substring(space + 1).strip();
        byte[] presented;
        if (scheme.equalsIgnoreCase("Bearer")) {
            presented = credentials.getBytes(StandardCharsets.ISO_8859_1);
        } else if (scheme.equalsIgnoreCase("Basic")) {
            byte[] decoded;
            try {
                decoded = Base64.getDecoder().decode(credentials);
            } catch (IllegalArgumentException e) {
                return false;
            }
            int colon = -1;
            for (int i = 0; i < decoded.length; i++) {
                if (decoded[i] == ':') {
                    colon = i;
                    break;
                }
            }
            presented = Arrays.copyOfRange(decoded, colon + 1, decoded.length);
            Arrays.fill(decoded, (byte) 0);
        } else {
            return false;
        }
        return settings.tokenMatches(presented);
    }

    private HttpTransport.Response live() {
        KafkaStreams.State state = pipeline.streams().state();
        boolean alive = state != KafkaStreams.State.ERROR;
        return health(alive, Map.of("streams", state.name()));
    }

    private HttpTransport.Response ready() {
        KafkaStreams.State state = pipeline.streams().state();
        boolean kms = pipeline.kmsAnswers();
        Map<String, Object> checks = new LinkedHashMap<>();
        checks.put("streams", state.name());
        checks.put("kms", kms ? "answers" : "unreachable");
        checks.put("health", pipeline.health().status().name());
        // Fail closed when key events stop: an instance that cannot confirm it has every revocation is not ready.
        String stale = pipeline.keyEventStaleness();
        checks.put("keyEvents", stale == null ? "current" : stale);
        // One tenant's failing key degrades that tenant only: shown, but the instance stays ready for the others.
        checks.put("tenantsDegraded", pipeline.parts().faults().degradedCount());
        return health(state == KafkaStreams.State.RUNNING && kms && stale == null, checks);
    }

    private static HttpTransport.Response health(boolean up, Map<String, ?> checks) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", up ? "UP" : "DOWN");
        body.put("checks", checks);
        return new HttpTransport.Response(
                up ? 200 : 503, "application/json", json(body).getBytes(StandardCharsets.UTF_8), Map.of());
    }

    private static HttpTransport.Response ok(String contentType, String body) {
        return new HttpTransport.Response(200, contentType, body.getBytes(StandardCharsets.UTF_8), Map.of());
    }

    private static String json(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write JSON", e);
        }
    }

    @Override
    public void close() {
        sampler.shutdownNow();
        transport.close();
    }
}
