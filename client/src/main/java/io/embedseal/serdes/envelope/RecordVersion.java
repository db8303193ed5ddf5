package io.embedseal.serdes.envelope;

/**
 * The version of one record of one (tenant, embedding id), as a version-2 envelope authenticates it: the event time
 * the producer gave the embedding, then a sequence that breaks ties between versions made in the same millisecond.
 * Versions compare as the pair (event time, sequence), both unsigned; a store keeps the highest it has seen per
 * (tenant, embedding id) and refuses anything lower (a rollback, or a delete older than what it holds).
 *
 * <p>Where the pipeline seals, the sequence is the raw record's offset: records of one embedding share a record key
 * and so a partition, where offsets only grow. A producer sealing on its own side
 * ({@link io.embedseal.serdes.kafka.SealingSerializer}) uses a counter of its own. A version-1 envelope has no
 * version and counts as {@link #NONE}, older than every version-2 record.
 *
 * @param eventTimeMillis the embedding's event time, milliseconds since the epoch (0 or more)
 * @param sequence        the tie-breaker (0 or more)
 */
public record RecordVersion(long eventTimeMillis, long sequence) implements Comparable<RecordVersion> {

    /** The version of a version-1 envelope (which carries none): older than any other. */
    public static final RecordVersion NONE = new RecordVersion(0, 0);

    /** Bytes in an envelope and in a store: event time then sequence, each unsigned 64-bit big-endian. */
    public static final int BYTES = 16;

    public RecordVersion {
        if (eventTimeMillis < 0) {
            throw new IllegalArgumentException(
                    "a record version's event time must be 0 or more, got " + eventTimeMillis);
        }
        if (sequence < 0) {
            throw new IllegalArgumentException("a record version's sequence must be 0 or more, got " + sequence);
        }
    }

    private static final java.util.concurrent.atomic.AtomicLong COUNTER = new java.util.concurrent.atomic.AtomicLong();

    /**
     * A version for a record made now by this process: the wall clock, and a counter that only grows, so two versions
     * this process makes in one millisecond still order. For callers without an event time of their own.
     */
    public static RecordVersion now() {
        return new RecordVersion(System.currentTimeMillis(), COUNTER.getAndIncrement() & Long.MAX_VALUE);
    }

    /** Reads the 16 bytes at {@code offset}. */
    public static RecordVersion read(byte[] in, int offset) {
        long time = readLong(in, offset);
        long sequence = readLong(in, offset + 8);
        if (time < 0 || sequence < 0) {
            throw new IllegalArgumentException("record version out of range");
        }
        return new RecordVersion(time, sequence);
    }

    /** Writes the 16 bytes at {@code offset}. */
    public void writeTo(byte[] out, int offset) {
        writeLong(out, offset, eventTimeMillis);
        writeLong(out, offset + 8, sequence);
    }

    /** The 16 bytes, which sort (unsigned, byte by byte, as PostgreSQL compares {@code bytea}) as versions do. */
    public byte[] toBytes() {
        byte[] b = new byte[BYTES];
        writeTo(b, 0);
        return b;
    }

    /** True if this version is older than {@code other}: what a store must refuse when it holds {@code other}. */
    public boolean isOlderThan(RecordVersion other) {
        return compareTo(other) < 0;
    }

    @Override
    public int compareTo(RecordVersion o) {
        int byTime = Long.compare(eventTimeMillis, o.eventTimeMillis);
        return byTime != 0 ? byTime : Long.compare(sequence, o.sequence);
    }

    @Override
    public String toString() {
        return eventTimeMillis + "." + sequence;
    }

    private static long readLong(byte[] in, int offset) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (in[offset + i] & 0xFF);
        }
        return v;
    }

    private static void writeLong(byte[] out, int offset, long v) {
        for (int i = 7; i >= 0; i--) {
            out[offset + i] = (byte) v;
            v >>>= 8;
        }
    }
}
