package io.embedseal.testkit;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.connect.cli.ConnectStandalone;
import org.apache.kafka.connect.runtime.Connect;
import org.apache.kafka.connect.runtime.Herder;
import org.apache.kafka.connect.runtime.RestartRequest;
import org.apache.kafka.connect.runtime.rest.entities.ConnectorInfo;
import org.apache.kafka.connect.runtime.rest.entities.ConnectorStateInfo;
import org.apache.kafka.connect.runtime.standalone.StandaloneHerder;
import org.apache.kafka.connect.util.FutureCallback;

/**
 * An in-process Kafka Connect worker in standalone mode, as {@code connect-standalone.sh} would run it: plugins
 * found on the class path through their service entries ({@code plugin.discovery=service_load}, ~5 s to start
 * where scanning takes ~20 s), the REST API on a free loopback port, offsets in a file, so a worker started again
 * on the same file resumes where the last one committed.
 */
public final class EmbeddedConnect implements AutoCloseable {

    private final Connect<StandaloneHerder> connect;

    private EmbeddedConnect(Connect<StandaloneHerder> connect) {
        this.connect = connect;
    }

    /**
     * Starts a worker.
     *
     * @param offsetsFile where source/sink offsets the worker commits are kept across restarts
     * @param overrides   worker settings on top of the defaults (byte-array converters, read_committed sink
     *                    consumers, offsets flushed every second)
     */
    public static EmbeddedConnect start(String bootstrapServers, Path offsetsFile, Map<String, String> overrides) {
        Map<String, String> w = new HashMap<>();
        w.put("bootstrap.servers", bootstrapServers);
        w.put("key.converter", "org.apache.kafka.connect.converters.ByteArrayConverter");
        w.put("value.converter", "org.apache.kafka.connect.converters.ByteArrayConverter");
        w.put("offset.storage.file.filename", offsetsFile.toAbsolutePath().toString());
        w.put("offset.flush.interval.ms", "1000");
        w.put("plugin.discovery", "service_load");
        w.put("listeners", "http://127.0.0.1:0");
        // Sealed records are written in transactions: sinks must not see aborted ones.
        w.put("consumer.isolation.level", "read_committed");
        w.put("task.shutdown.graceful.timeout.ms", "10000");
        w.putAll(overrides);
        ClassLoader before = Thread.currentThread().getContextClassLoader();
        try {
            return new EmbeddedConnect(new ConnectStandalone().startConnect(w));
        } finally {
            Thread.currentThread().setContextClassLoader(before);
        }
    }

    /** Creates or replaces a connector and waits until the worker accepted it. */
    public void putConnector(String name, Map<String, String> config) {
        Map<String, String> c = new HashMap<>(config);
        c.put("name", name);
        FutureCallback<Herder.Created<ConnectorInfo>> done = new FutureCallback<>();
        connect.herder().putConnectorConfig(name, c, true, done);
        await(done, "create connector " + name);
    }

    public void deleteConnector(String name) {
        FutureCallback<Herder.Created<ConnectorInfo>> done = new FutureCallback<>();
        connect.herder().deleteConnectorConfig(name, done);
        await(done, "delete connector " + name);
    }

    /**
     * Restarts the connector and its tasks (as {@code POST /connectors/<name>/restart?includeTasks=true} does) and
     * waits until they run again.
     */
    public void restart(String name, Duration timeout) {
        FutureCallback<ConnectorStateInfo> done = new FutureCallback<>();
        connect.herder().restartConnectorAndTasks(new RestartRequest(name, false, true), done);
        await(done, "restart connector " + name);
        awaitRunning(name, timeout);
    }

    public ConnectorStateInfo status(String name) {
        return connect.herder().connectorStatus(name);
    }

    /**
     * Waits until the connector and all its tasks are RUNNING.
     *
     * @throws IllegalStateException with the worker's trace if one FAILED, or on timeout
     */
    public void awaitRunning(String name, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String last = "no status";
        while (System.nanoTime() < deadline) {
            try {
                ConnectorStateInfo s = status(name);
                last = s.connector().state() + " "
                        + s.tasks().stream().map(t -> t.id() + ":" + t.state()).toList();
                for (ConnectorStateInfo.TaskState t : s.tasks()) {
                    if ("FAILED".equals(t.state())) {
                        throw new IllegalStateException("task " + t.id() + " of " + name + " FAILED: " + t.trace());
                    }
                }
                if ("FAILED".equals(s.connector().state())) {
                    throw new IllegalStateException(
                            "connector " + name + " FAILED: " + s.connector().trace());
                }
                if ("RUNNING".equals(s.connector().state())
                        && !s.tasks().isEmpty()
                        && s.tasks().stream().allMatch(t -> "RUNNING".equals(t.state()))) {
                    return;
                }
            } catch (RuntimeException e) {
                if (e instanceof IllegalStateException) {
                    throw e;
                }
                last = e.toString();
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        throw new IllegalStateException("connector " + name + " not running after " + timeout + ": " + last);
    }

    /** The REST API's base URL. */
    public String restUrl() {
        return connect.rest().serverUrl().toString();
    }

    private static <T> T await(FutureCallback<T> f, String what) {
        try {
            return f.get(60, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new IllegalStateException(
                    "Connect could not " + what + ": " + String.valueOf(e.getCause()), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("Connect did not " + what + " within 60 s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Stops the worker: tasks commit their offsets and stop. */
    @Override
    public void close() {
        connect.stop();
        connect.awaitStop();
    }

    /** How long a test may wait for a task to come up, taking plugin start and key-event catch-up into account. */
    public static Duration startTimeout() {
        return Duration.ofSeconds(60);
    }
}
