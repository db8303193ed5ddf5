package io.embedseal.sinks;

import org.slf4j.Logger;

/** Counts of what a sink task did, logged every minute and at stop. Touched by the task's thread only. */
public final class SinkCounters {

    long written;
    long deleted;
    long droppedDestroyed;
    long reportedRevoked;
    long refused;
    long waits;
    private long lastLogNanos = System.nanoTime();
    private long loggedWritten;

    public long written() {
        return written;
    }

    public long deleted() {
        return deleted;
    }

    public long droppedDestroyed() {
        return droppedDestroyed;
    }

    public long reportedRevoked() {
        return reportedRevoked;
    }

    public long refused() {
        return refused;
    }

    public long waits() {
        return waits;
    }

    void logIfDue(Logger log, String sink) {
        long now = System.nanoTime();
        if (now - lastLogNanos >= 60_000_000_000L && written != loggedWritten) {
            log.info("{} sink: {}", sink, this);
            lastLogNanos = now;
            loggedWritten = written;
        }
    }

    @Override
    public String toString() {
        return "written=" + written + " deleted=" + deleted + " droppedDestroyed=" + droppedDestroyed
                + " reportedRevoked=" + reportedRevoked + " refused=" + refused + " waits=" + waits;
    }
}
