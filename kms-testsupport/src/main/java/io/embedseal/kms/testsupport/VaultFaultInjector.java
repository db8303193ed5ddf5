package io.embedseal.kms.testsupport;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.embedseal.openbao.dev.OpenBaoDevServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * <b>Test code: a fault injector, not a Vault.</b> An HTTP proxy in front of a real OpenBao server that passes every
 * request through (and counts them) until told to break in a way the real server cannot be made to: go off the
 * network without losing its in-memory keys, answer with a body that is not JSON, cut a body short, or hang
 * mid-answer. Everything else (keys, versions, policies, errors, sealing) is the real server's.
 */
public final class VaultFaultInjector implements AutoCloseable {

    /** What the proxy does with the next requests. */
    public enum Fault {
        /** Pass requests to the server. */
        NONE,
        /** Answer 200 with a body that is not JSON. */
        MALFORMED_BODY,
        /** Announce a body of 4096 bytes, send 20, close the connection. */
        TRUNCATED_BODY,
        /** Send the status line and headers, then nothing until {@link #close()} or {@link #fault} changes. */
        HANG_MID_BODY,
        /** Answer 400 with a Vault error body (a request the server calls bad). */
        HTTP_400,
        /** Answer 403 with a Vault error body (permission denied). */
        HTTP_403,
        /** Answer 404 with a Vault error body (no such key). */
        HTTP_404,
        /** Answer 500 with a Vault error body (internal error). */
        HTTP_500,
        /** Wait {@link #SLOW_MILLIS} before passing the request on: longer than the tests' client timeouts. */
        SLOW
    }

    /** How long {@link Fault#SLOW} holds a request. */
    public static final long SLOW_MILLIS = 3_000;

    private static final List<String> FORWARDED_HEADERS =
            List.of("X-Vault-Token", "X-Vault-Namespace", "X-Vault-Request", "Content-Type");

    private final OpenBaoDevServer upstream;
    private final HttpClient client;
    private final ExecutorService executor;
    private final int port;
    private final AtomicInteger requests = new AtomicInteger();
    private volatile @Nullable HttpServer server;
    private volatile Fault fault = Fault.NONE;
    private final java.util.concurrent.ConcurrentHashMap<String, Fault> keyFaults =
            new java.util.concurrent.ConcurrentHashMap<>();
    private volatile CountDownLatch release = new CountDownLatch(1);
    /** How many of the next requests are answered by closing their connection (see {@link #dropNext}). */
    private final AtomicInteger drops = new AtomicInteger();

    private VaultFaultInjector(OpenBaoDevServer upstream) throws IOException {
        // The JDK's server writes headers and body separately; without TCP_NODELAY each answer waits ~40 ms for a
        // delayed ACK, latency the real server does not have. Read once, when the server classes load.
        System.setProperty("sun.net.httpserver.nodelay", "true");
        this.upstream = upstream;
        HttpClient.Builder b = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1);
        Path ca = upstream.caFile();
        if (ca != null) {
            b.sslContext(OpenBaoDevServer.trusting(ca));
        }
        this.client = b.build();
        this.executor = Executors.newFixedThreadPool(
                32,
                r -> { // hung answers must not starve the others
                    Thread t = new Thread(r, "vault-fault-injector");
                    t.setDaemon(true);
                    return t;
                });
        HttpServer s = listen(0);
        this.server = s;
        this.port = s.getAddress().getPort();
    }

    /** A proxy in front of {@code upstream}, passing everything through. */
    public static VaultFaultInjector inFrontOf(OpenBaoDevServer upstream) {
        try {
            return new VaultFaultInjector(upstream);
        } catch (IOException e) {
            throw new IllegalStateException("cannot start the Vault fault injector", e);
        }
    }

    /** {@code http://127.0.0.1:<port>}: set {@code kms.vault.address} to it (with allow-insecure-http). */
    public String address() {
        return "http://127.0.0.1:" + port;
    }

    /** Requests that reached the proxy, passed through or not. */
    public int requestCount() {
        return requests.get();
    }

    /**
     * Breaks only requests for one key (the last path segment is {@code keyName}: encrypt, decrypt, keys, sign of
     * that key), as a fault of one tenant's key; {@link Fault#NONE} heals it. Other keys pass through.
     */
    public void faultKey(String keyName, Fault f) {
        if (f == Fault.NONE) {
            keyFaults.remove(keyName);
        } else {
            keyFaults.put(keyName, f);
        }
    }

    /**
     * Closes the connection of each of the next {@code n} requests without answering, after reading the request: what
     * a client meets when the server (or a load balancer) closes an idle keep-alive connection just as the client
     * reuses it. Vault's listener closes connections idle for {@code http_idle_timeout} (5 minutes by default), while
     * the JDK's client keeps them for 20 minutes, so a quiet pipeline meets this in production; a real server cannot
     * be made to do it at a chosen request.
     */
    public void dropNext(int n) {
        drops.set(n);
    }

    /** Breaks the next requests this way ({@link Fault#NONE} heals, and releases hung answers). */
    public void fault(Fault f) {
        CountDownLatch hung = release;
        if (f != Fault.HANG_MID_BODY) {
            hung.countDown();
        } else if (hung.getCount() == 0) {
            release = new CountDownLatch(1);
        }
        fault = f;
    }

    /**
     * Takes the proxy off the network, as a crashed or partitioned Vault: connections are refused until
     * {@link #goOnline()}. The server behind keeps its keys.
     */
    public synchronized void goOffline() {
        HttpServer s = server;
        if (s != null) {
            s.stop(0);
            server = null;
        }
    }

    /** Listens again on the same port. */
    public synchronized void goOnline() {
        if (server == null) {
            try {
                server = listen(port);
            } catch (IOException e) {
                throw new IllegalStateException("cannot listen again on port " + port, e);
            }
        }
    }

    @Override
    public void close() {
        release.countDown();
        goOffline();
        executor.shutdownNow();
    }

    private HttpServer listen(int onPort) throws IOException {
        HttpServer s = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), onPort), 0);
        s.setExecutor(executor);
        s.createContext("/", this::handle);
        s.start();
        return s;
    }

    private void handle(HttpExchange ex) throws IOException {
        requests.incrementAndGet();
        try (ex) {
            byte[] body;
            try (InputStream in = ex.getRequestBody()) {
                body = in.readAllBytes();
            }
            if (drops.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                return; // closing the exchange before any answer closes the connection
            }
            Fault f = fault;
            if (f == Fault.NONE && !keyFaults.isEmpty()) {
                String path = ex.getRequestURI().getPath();
                f = keyFaults.getOrDefault(path.substring(path.lastIndexOf('/') + 1), Fault.NONE);
            }
            switch (f) {
                case HTTP_400, HTTP_403, HTTP_404, HTTP_500 -> {
                    int status = Integer.parseInt(f.name().substring(5));
                    String message = switch (status) {
                        case 400 -> "invalid request";
                        case 403 -> "permission denied";
                        case 404 -> "not found";
                        default -> "internal error";
                    };
                    byte[] err = ("{\"errors\":[\"" + message + "\"]}").getBytes(StandardCharsets.US_ASCII);
                    ex.getResponseHeaders().set("Content-Type", "application/json");
                    ex.sendResponseHeaders(status, err.length);
                    ex.getResponseBody().write(err);
                    return;
                }
                case SLOW -> {
                    Thread.sleep(SLOW_MILLIS);
                    forward(ex, body);
                    return;
                }
                case MALFORMED_BODY -> {
                    byte[] junk = "<html>bad gateway</html>".getBytes(StandardCharsets.US_ASCII);
                    ex.getResponseHeaders().set("Content-Type", "application/json");
                    ex.sendResponseHeaders(200, junk.length);
                    ex.getResponseBody().write(junk);
                    return;
                }
                case TRUNCATED_BODY -> {
                    ex.getResponseHeaders().set("Content-Type", "application/json");
                    ex.sendResponseHeaders(200, 4096);
                    OutputStream out = ex.getResponseBody();
                    out.write("{\"data\":{\"ciphertext".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    return; // closing the exchange short of 4096 bytes cuts the connection
                }
                case HANG_MID_BODY -> {
                    ex.getResponseHeaders().set("Content-Type", "application/json");
                    ex.sendResponseHeaders(200, 0);
                    ex.getResponseBody().write('{');
                    ex.getResponseBody().flush();
                    release.await(60, TimeUnit.SECONDS);
                    return;
                }
                case NONE -> forward(ex, body);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void forward(HttpExchange ex, byte[] body) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(upstream.address() + ex.getRequestURI()))
                .timeout(Duration.ofSeconds(30))
                .method(
                        ex.getRequestMethod(),
                        body.length == 0
                                ? HttpRequest.BodyPublishers.noBody()
                                : HttpRequest.BodyPublishers.ofByteArray(body));
        for (String h : FORWARDED_HEADERS) {
            String v = ex.getRequestHeaders().getFirst(h);
            if (v != null) {
                b.header(h, v);
            }
        }
        HttpResponse<byte[]> r;
        try {
            r = client.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            ex.sendResponseHeaders(502, -1);
            return;
        }
        r.headers()
                .firstValue("Content-Type")
                .ifPresent(v -> ex.getResponseHeaders().set("Content-Type", v));
        byte[] answer = r.body();
        ex.sendResponseHeaders(r.statusCode(), answer.length == 0 ? -1 : answer.length);
        if (answer.length > 0) {
            ex.getResponseBody().write(answer);
        }
    }
}
