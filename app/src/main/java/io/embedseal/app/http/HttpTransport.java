package io.embedseal.app.http;

import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small HTTP/1.1 server for GET and HEAD, one request per connection, built so that slow or stalled clients cannot
 * starve anyone: one thread reads every request without blocking (a request must arrive whole within the request
 * timeout, in at most {@link #MAX_HEAD} bytes) and writes every answer the same way; only a complete request reaches a
 * handler, on the lane its route names: {@link Lane#INLINE} (answered by the server's thread itself, for the liveness
 * probe), {@link Lane#PROBE} or {@link Lane#PAGE} (each a small pool with a bounded queue; a full queue answers 503).
 * Connections are capped: beyond the cap, the oldest connection still sending its request is closed.
 *
 * <p>The JDK's {@code com.sun.net.httpserver} reads each request on a handler thread with no read timeout, so a few
 * half-sent requests hold every handler; that is why this exists.
 */
final class HttpTransport implements Closeable {

    private static final Logger LOG = LoggerFactory.getLogger(HttpTransport.class);

    /** Request line and headers at most. */
    static final int MAX_HEAD = 8192;

    private static final long SWEEP_MS = 100;

    /** Where a request is handled. */
    enum Lane {
        /** On the server's own thread: must not block (a volatile read and a few bytes). */
        INLINE,
        /** Readiness: a thread of its own, so a slow KMS check never delays the page, nor the page it. */
        PROBE,
        /** The page, its JSON and metrics. */
        PAGE
    }

    /** A parsed request: method, path (no query), and the headers that matter, by lower-case name. */
    record Request(String method, String path, Map<String, String> headers) {}

    /** An answer. */
    record Response(int status, String contentType, byte[] body, Map<String, String> headers) {

        static Response text(int status, String body) {
            return new Response(status, "text/plain; charset=utf-8", body.getBytes(StandardCharsets.UTF_8), Map.of());
        }
    }

    /** The routes: which lane a path is handled on, and the handler. */
    interface Routes {
        Lane lane(String path);

        Response handle(Request request);
    }

    private enum State {
        READING,
        HANDLING,
        WRITING
    }

    private final class Connection {
        final SocketChannel channel;
        final long opened = System.nanoTime();
        final ByteBuffer in = ByteBuffer.allocate(MAX_HEAD);

        @Nullable
        SelectionKey key;

        State state = State.READING;
        long deadline;

        @Nullable
        ByteBuffer out;

        Connection(SocketChannel channel) {
            this.channel = channel;
            this.deadline = opened + timeoutNanos;
        }
    }

    private final ServerSocketChannel server;
    private final Selector selector;
    private final Routes routes;
    private final long timeoutNanos;
    private final int maxConnections;
    private final ExecutorService probes;
    private final ExecutorService pages;
    private final List<Connection> open = new ArrayList<>();
    private final Queue<Connection> answered = new ConcurrentLinkedQueue<>();
    private final Thread thread;
    private volatile boolean running = true;

    HttpTransport(InetSocketAddress bind, Duration requestTimeout, int maxConnections, Routes routes)
            throws IOException {
        this.routes = routes;
        this.timeoutNanos = requestTimeout.toNanos();
        this.maxConnections = maxConnections;
        this.selector = Selector.open();
        this.server = ServerSocketChannel.open();
        try {
            server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            server.bind(bind, 64);
            server.configureBlocking(false);
            server.register(selector, SelectionKey.OP_ACCEPT);
        } catch (IOException e) {
            server.close();
            selector.close();
            throw e;
        }
        this.probes = pool("embedseal-http-probe", 1, 8);
        this.pages = pool("embedseal-http-page", 2, 16);
        this.thread = new Thread(this::loop, "embedseal-http");
        thread.setDaemon(true);
        thread.start();
    }

    private static ExecutorService pool(String name, int threads, int queue) {
        return new ThreadPoolExecutor(
                threads,
                threads,
                0,
                TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(queue),
                r -> {
                    Thread t = new Thread(r, name);
                    t.setDaemon(true);
                    return t;
                },
                new ThreadPoolExecutor.AbortPolicy());
    }

    InetSocketAddress address() {
        try {
            return (InetSocketAddress) server.getLocalAddress();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void loop() {
        try {
            while (running) {
                selector.select(SWEEP_MS);
                for (SelectionKey k : selector.selectedKeys()) {
                    if (!k.isValid()) {
                        continue;
                    }
                    // One connection's failure (or accept's: out of file descriptors) must not end the only server
                    // thread: /health/live would stop answering and a healthy pipeline would be restarted.
                    try {
                        if (k.isAcceptable()) {
                            accept();
                        } else if (k.attachment() instanceof Connection c) {
                            if (k.isReadable()) {
                                read(c);
                            } else if (k.isWritable()) {
                                write(c);
                            }
                        }
                    } catch (IOException | RuntimeException e) {
                        if (k.attachment() instanceof Connection c) {
                            close(c);
                        }
                        LOG.warn("the status server dropped a connection: {}", e.toString());
                        if (k.isValid() && k.isAcceptable()) {
                            pauseAccepting();
                        }
                    }
                }
                selector.selectedKeys().clear();
                Connection done;
                while ((done = answered.poll()) != null) {
                    startWriting(done);
                }
                sweep();
            }
        } catch (IOException | ClosedSelectorException e) {
            if (running) {
                LOG.error("the status server stopped", e);
            }
        } catch (RuntimeException e) {
            LOG.error("the status server stopped", e);
        }
    }

    /** After a failed accept (out of file descriptors, say), wait a little instead of spinning on it. */
    private static void pauseAccepting() {
        try {
            Thread.sleep(50);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void accept() throws IOException {
        SocketChannel ch;
        while ((ch = server.accept()) != null) {
            if (open.size() >= maxConnections && !evictOldestReader()) {
                ch.close(); // every connection is being answered: refuse this one
                continue;
            }
            ch.configureBlocking(false);
            ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            Connection c = new Connection(ch);
            c.key = ch.register(selector, SelectionKey.OP_READ, c);
            open.add(c);
        }
    }

    private boolean evictOldestReader() {
        for (Connection c : open) { // in the order they were opened
            if (c.state == State.READING) {
                close(c);
                return true;
            }
        }
        return false;
    }

    private void read(Connection c) {
        int n;
        try {
            n = c.channel.read(c.in);
        } catch (IOException e) {
            close(c);
            return;
        }
        if (n < 0) {
            close(c);
            return;
        }
        int end = headEnd(c.in);
        if (end < 0) {
            if (!c.in.hasRemaining()) {
                answer(c, Response.text(431, "request head larger than " + MAX_HEAD + " bytes\n"), false);
            }
            return;
        }
        Request request;
        try {
            request = parse(new String(c.in.array(), 0, end, StandardCharsets.ISO_8859_1));
        } catch (IllegalArgumentException e) {
            answer(c, Response.text(400, "bad request: " + e.getMessage() + "\n"), false);
            return;
        }
        dispatch(c, request);
    }

    private void dispatch(Connection c, Request request) {
        boolean head = request.method().equals("HEAD");
        Lane lane = routes.lane(request.path());
        if (lane == Lane.INLINE) {
            answer(c, handle(request), head);
            return;
        }
        c.state = State.HANDLING;
        requireNonNullKey(c).interestOps(0);
        try {
            (lane == Lane.PROBE ? probes : pages).execute(() -> {
                c.out = render(handle(request), head);
                answered.add(c);
                selector.wakeup();
            });
        } catch (RejectedExecutionException e) {
            answer(c, Response.text(503, "busy: try again\n"), head);
        }
    }

    private Response handle(Request request) {
        try {
            return routes.handle(request);
        } catch (RuntimeException e) {
            LOG.warn("status endpoint {} failed", request.path(), e);
            return Response.text(500, "internal error\n");
        }
    }

    private void answer(Connection c, Response response, boolean head) {
        c.out = render(response, head);
        startWriting(c);
    }

    private void startWriting(Connection c) {
        if (!c.channel.isOpen()) {
            return;
        }
        c.state = State.WRITING;
        c.deadline = System.nanoTime() + timeoutNanos;
        requireNonNullKey(c).interestOps(SelectionKey.OP_WRITE);
        write(c);
    }

    private void write(Connection c) {
        ByteBuffer out = c.out;
        if (out == null) {
            close(c);
            return;
        }
        try {
            c.channel.write(out);
            if (!out.hasRemaining()) {
                c.channel.shutdownOutput();
                close(c);
            }
        } catch (IOException e) {
            close(c);
        }
    }

    private static SelectionKey requireNonNullKey(Connection c) {
        SelectionKey k = c.key;
        if (k == null) {
            throw new IllegalStateException("connection without a selection key");
        }
        return k;
    }

    /** Closes connections past their deadline: still sending the request, or not taking the answer. */
    private void sweep() {
        long now = System.nanoTime();
        for (Connection c : new ArrayList<>(open)) {
            if (c.state != State.HANDLING && now - c.deadline > 0) {
                close(c);
            }
        }
    }

    private void close(Connection c) {
        open.remove(c);
        SelectionKey k = c.key;
        if (k != null) {
            k.cancel();
        }
        try {
            c.channel.close();
        } catch (IOException e) {
            // closing anyway
        }
    }

    /** Where the blank line ending the head is (the offset past it), or -1. */
    static int headEnd(ByteBuffer in) {
        byte[] b = in.array();
        int limit = in.position();
        for (int i = 0; i < limit; i++) {
            if (b[i] == '\n') {
                if (i + 1 < limit && b[i + 1] == '\n') {
                    return i + 2;
                }
                if (i + 2 < limit && b[i + 1] == '\r' && b[i + 2] == '\n') {
                    return i + 3;
                }
            }
        }
        return -1;
    }

    /**
     * The request line and headers. Only GET and HEAD in origin form are served; headers are kept by lower-case name
     * (a repeated {@code Authorization} is refused, so which one counts is never a question).
     *
     * @throws IllegalArgumentException saying what is wrong
     */
    static Request parse(String head) {
        String[] lines = head.split("\r?\n", -1);
        String[] parts = lines[0].split(" ", -1);
        if (parts.length != 3) {
            throw new IllegalArgumentException("the request line is not 'METHOD /path HTTP/1.x'");
        }
        if (!parts[2].equals("HTTP/1.1") && !parts[2].equals("HTTP/1.0")) {
            throw new IllegalArgumentException("HTTP/1.0 or HTTP/1.1 only");
        }
        String target = parts[1];
        if (!target.startsWith("/")) {
            throw new IllegalArgumentException("the target must be a path");
        }
        int q = target.indexOf('?');
        String path = q < 0 ? target : target.substring(0, q);
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            String line = lines[i];
            if (line.isEmpty()) {
                continue;
            }
            int colon = line.indexOf(':');
            if (colon <= 0
                    || Character.isWhitespace(line.charAt(0))
                    || Character.isWhitespace(line.charAt(colon - 1))) {
                throw new IllegalArgumentException("malformed header line");
            }
            String name = line.substring(0, colon).toLowerCase(Locale.ROOT);
            String value = line.substring(colon + 1).strip();
            if (headers.putIfAbsent(name, value) != null && name.equals("authorization")) {
                throw new IllegalArgumentException("more than one Authorization header");
            }
        }
        return new Request(parts[0], path, headers);
    }

    static ByteBuffer render(Response r, boolean head) {
        StringBuilder b = new StringBuilder(256)
                .append("HTTP/1.1 ")
                .append(r.status())
                .append(' ')
                .append(reason(r.status()))
                .append("\r\nContent-Type: ")
                .append(r.contentType())
                .append("\r\nContent-Length: ")
                .append(r.body().length)
                .append("\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n");
        r.headers().forEach((k, v) -> b.append(k).append(": ").append(v).append("\r\n"));
        b.append("\r\n");
        byte[] h = b.toString().getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer out = ByteBuffer.allocate(h.length + (head ? 0 : r.body().length));
        out.put(h);
        if (!head) {
            out.put(r.body());
        }
        return out.flip();
    }

    private static String reason(int status) {
        return switch (status) {
            case 200 -> "OK";
            case 400 -> "Bad Request";
            case 401 -> "Unauthorized";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 431 -> "Request Header Fields Too Large";
            case 500 -> "Internal Server Error";
            case 503 -> "Service Unavailable";
            default -> "Status";
        };
    }

    @Override
    public void close() {
        running = false;
        selector.wakeup();
        try {
            thread.join(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Connection c : new ArrayList<>(open)) {
            close(c);
        }
        try {
            server.close();
            selector.close();
        } catch (IOException e) {
            LOG.debug("closing the status server", e);
        }
        probes.shutdownNow();
        pages.shutdownNow();
    }
}
