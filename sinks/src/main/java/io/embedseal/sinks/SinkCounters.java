package io.embedseal.sinks;

import org.slf4j.Logger;

/**
 * Counts of what a sink task did, logged every minute and at stop. Touched by the task's thread only, except
 * {@link #keyEventsRefused}, which the key-event follower's thread counts.
 */
public final class SinkCounters {

    long written;
    long deleted;
    long droppedDestroyed;
    long reportedRevoked;
    long refused;
    long waits;
    long staleWaits;
    long tenantFaults;
    long staleVersions;
    long redelivered;
    volatile boolean keyEventsStale;
    final java.util.concurrent.atomic.AtomicLong keyEventsRefused = new java.util.concurrent.atomic.AtomicLong();
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

    /** Records of the key-event topic that changed nothing (unsigned, badly signed, out of sequence, contradictory). */
    public long keyEventsRefused() {
        return keyEventsRefused.get();
    }

    public long waits() {
        return waits;
    }

    /** Batches held back because key events could not be confirmed current. */
    public long staleWaits() {
        return staleWaits;
    }

    /** Whether the last batch found the key events stale (nothing written or unsealed). */
    public boolean keyEventsStale() {
        return keyEventsStale;
    }

    /** Failures of a tenant's key that set that tenant's records aside. */
    /** Records and delete markers refused as older than what the store holds (rollbacks, late replays). */
    public long staleVersions() {
        return staleVersions;
    }

    /** Records and delete markers skipped as Connect redelivering what the store already went past. */
    public long redelivered() {
        return redelivered;
    }

    public long tenantFaults() {
        return tenantFaults;
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
                + " reportedRevoked=" + reportedRevoked + " refused=" + refused + " waits=" + waits
                + " keyEventsRefused=" + keyEventsRefused.get() + " staleWaits=" + staleWaits + " tenantFaults="
                + tenantFaults + " staleVersions=" + staleVersions + " redelivered=" + redelivered;
    }
}
