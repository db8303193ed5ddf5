package io.embedseal.topology;

import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the pipeline reports about itself: HEALTHY, or DEGRADED with the reasons (the KMS or the schema registry
 * cannot be reached and records wait), and whether it is shutting down (waits stop). Transitions are logged
 * once, not per record. Thread-safe.
 */
public final class PipelineHealth {

    /** The overall status. */
    public enum Status {
        HEALTHY,
        DEGRADED
    }

    private static final Logger LOG = LoggerFactory.getLogger(PipelineHealth.class);

    private final Clock clock;
    private final ConcurrentHashMap<String, Instant> problemsSince = new ConcurrentHashMap<>();
    private volatile boolean shuttingDown;

    public PipelineHealth(Clock clock) {
        this.clock = clock;
    }

    public PipelineHealth() {
        this(Clock.systemUTC());
    }

    public Status status() {
        return problemsSince.isEmpty() ? Status.HEALTHY : Status.DEGRADED;
    }

    /** The current problems and since when, for status pages and health checks. */
    public Map<String, Instant> problems() {
        return new TreeMap<>(problemsSince);
    }

    /** A dependency failed; records wait. Logged on the first report only. */
    public void degraded(String what, String detail) {
        if (problemsSince.putIfAbsent(what, clock.instant()) == null) {
            LOG.warn("pipeline DEGRADED: {} ({}); records wait and are retried with backoff", what, detail);
        }
    }

    /** The dependency answers again. */
    public void recovered(String what) {
        Instant since = problemsSince.remove(what);
        if (since != null) {
            LOG.warn("pipeline recovered: {} answers again after {} ms", what, clock.millis() - since.toEpochMilli());
        }
    }

    /** Asks every waiting record to stop waiting (the pipeline is closing). */
    public void shutDown() {
        shuttingDown = true;
    }

    public boolean isShuttingDown() {
        return shuttingDown;
    }
}
