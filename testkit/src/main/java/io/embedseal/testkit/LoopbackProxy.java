package io.embedseal.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TCP forwarder on loopback that a test can cut, as a network partition cuts a link: test code standing where a
 * switch or a firewall would, because no machine here can put a process in a network namespace of its own.
 *
 * <p>While {@link #cut() cut}, the connections it carried are closed and new ones are accepted but get no byte
 * through (as packets dropped on the floor: the peer's requests time out, rather than being refused at once);
 * {@link #heal()} closes those held connections, so the peers reconnect, and forwards again.
 */
public final class LoopbackProxy implements AutoCloseable {

    private final ServerSocket server;
    private final int targetPort;
    private final String name;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final Set<Socket> held = ConcurrentHashMap.newKeySet();
    private volatile boolean cut;
    private volatile boolean closed;

    private LoopbackProxy(String name, ServerSocket server, int targetPort) {
        this.name = name;
        this.server = server;
        this.targetPort = targetPort;
        Thread acceptor = new Thread(this::accept, "proxy-" + name);
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** A proxy on {@code port} (0: any free one) forwarding to {@code 127.0.0.1:targetPort}. */
    public static LoopbackProxy start(String name, int port, int targetPort) {
        try {
            ServerSocket s = new ServerSocket();
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 128);
            return new LoopbackProxy(name, s, targetPort);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on 127.0.0.1:" + port + " for " + name, e);
        }
    }

    public int port() {
        return server.getLocalPort();
    }

    public String name() {
        return name;
    }

    public boolean isCut() {
        return cut;
    }

    /** Drops the link: every connection through it closes, new ones hang until {@link #heal()}. */
    public synchronized void cut() {
        cut = true;
        for (java.util.Iterator<Socket> i = open.iterator(); i.hasNext(); ) {
            Socket s = i.next();
            i.remove();
            closeQuietly(s);
        }
    }

    /** Restores the link: held connections are closed (their peers reconnect) and new ones are forwarded. */
    public synchronized void heal() {
        cut = false;
        for (java.util.Iterator<Socket> i = held.iterator(); i.hasNext(); ) {
            Socket s = i.next();
            i.remove();
            closeQuietly(s);
        }
    }

    @Override
    public void close() {
        closed = true;
        closeQuietly(server);
        open.forEach(LoopbackProxy::closeQuietly);
        held.forEach(LoopbackProxy::closeQuietly);
    }

    private void accept() {
        while (!closed) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                return; // closed
            }
            synchronized (this) { // decided and registered under the lock cut() and heal() take
                if (cut) {
                    held.add(client);
                    continue;
                }
                open.add(client);
            }
            Socket upstream = new Socket();
            try {
                client.setTcpNoDelay(true);
                upstream.setTcpNoDelay(true);
                upstream.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort), 5_000);
            } catch (IOException e) {
                open.remove(client);
                closeQuietly(client); // the target is down: refuse, as the target itself would
                closeQuietly(upstream);
                continue;
            }
            synchronized (this) {
                if (cut || !open.contains(client)) { // cut while connecting
                    closeQuietly(client);
                    closeQuietly(upstream);
                    continue;
                }
                open.add(upstream);
            }
            pump(client, upstream, "up");
            pump(upstream, client, "down");
        }
    }

    private void pump(Socket from, Socket to, String direction) {
        Thread t = new Thread(
                () -> {
                    byte[] buffer = new byte[64 * 1024];
                    try (InputStream in = from.getInputStream();
                            OutputStream out = to.getOutputStream()) {
                        int n;
                        while ((n = in.read(buffer)) >= 0) {
                            out.write(buffer, 0, n);
                        }
                    } catch (SocketException e) {
                        // closed by cut(), close() or the other side
                    } catch (IOException e) {
                        // the same: a broken link ends both directions
                    } finally {
                        closeQuietly(from);
                        closeQuietly(to);
                        open.remove(from);
                        open.remove(to);
                    }
                },
                "proxy-" + name + "-" + direction);
        t.setDaemon(true);
        t.start();
    }

    private static void closeQuietly(java.io.Closeable c) {
        try {
            c.close();
        } catch (IOException e) {
            // nothing to do
        }
    }

    @Override
    public String toString() {
        return "LoopbackProxy[" + name + " :" + port() + " -> :" + targetPort + (cut ? ", cut" : "") + "]";
    }
}
