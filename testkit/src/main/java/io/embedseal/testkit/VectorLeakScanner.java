package io.embedseal.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Looks for plaintext vectors in bytes: the bytes of a topic's log segments on disk, a record, a log file.
 *
 * <p>Every pair of consecutive float32 values of every indexed vector, at even positions, is remembered as
 * the 8 bytes it occupies in little-endian and in big-endian order. A scan slides over every byte offset and
 * counts the 8-byte windows that match. Any run of three or more consecutive values of a vector, in either
 * byte order and at any alignment, contains such a pair and is found. Pairs with fewer than four distinct
 * byte values (zeros, repeated values) are not indexed, so padding and constants do not match by chance.
 *
 * <p>A scanner that finds nothing proves little unless it finds something where plaintext is known to be:
 * callers scan a plaintext topic as a control.
 */
public final class VectorLeakScanner {

    private final LongSet windows = new LongSet();
    private int vectors;

    /** Remembers a vector so later scans look for it. */
    public void add(float[] vector) {
        for (int i = 0; i + 1 < vector.length; i += 2) {
            add(ByteBuffer.allocate(8)
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .putFloat(vector[i])
                    .putFloat(vector[i + 1])
                    .array());
            add(ByteBuffer.allocate(8)
                    .order(ByteOrder.BIG_ENDIAN)
                    .putFloat(vector[i])
                    .putFloat(vector[i + 1])
                    .array());
        }
        vectors++;
    }

    /** Remembers a vector given as a list. */
    public void add(List<Float> vector) {
        float[] v = new float[vector.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = vector.get(i);
        }
        add(v);
    }

    private void add(byte[] window) {
        if (distinctBytes(window) >= 4) {
            windows.add(ByteBuffer.wrap(window).order(ByteOrder.LITTLE_ENDIAN).getLong());
        }
    }

    /** How many vectors were added. */
    public int vectorCount() {
        return vectors;
    }

    /** How many 8-byte windows are indexed. */
    public int windowCount() {
        return windows.size();
    }

    /** The number of byte offsets in {@code bytes} where an indexed window starts. */
    public long scan(byte[] bytes) {
        if (bytes == null || bytes.length < 8) {
            return 0;
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long hits = 0;
        for (int i = 0; i + 8 <= bytes.length; i++) {
            if (windows.contains(b.getLong(i))) {
                hits++;
            }
        }
        return hits;
    }

    /** Scans one file. */
    public long scanFile(Path file) {
        try {
            return scan(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    /**
     * Scans every log segment ({@code *.log}) of every partition of {@code topic} under a broker's log
     * directory.
     *
     * @throws IllegalStateException if the topic has no partition directory there
     */
    public long scanTopic(Path brokerLogDir, String topic) {
        List<Path> partitions;
        try (Stream<Path> dirs = Files.list(brokerLogDir)) {
            partitions = dirs.filter(p -> isPartitionOf(p.getFileName().toString(), topic))
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + brokerLogDir, e);
        }
        if (partitions.isEmpty()) {
            throw new IllegalStateException("no partition of topic " + topic + " under " + brokerLogDir);
        }
        long hits = 0;
        for (Path partition : partitions) {
            try (Stream<Path> files = Files.list(partition)) {
                for (Path segment : files.filter(f -> f.getFileName().toString().endsWith(".log"))
                        .toList()) {
                    hits += scanFile(segment);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot list " + partition, e);
            }
        }
        return hits;
    }

    private static boolean isPartitionOf(String dirName, String topic) {
        if (!dirName.startsWith(topic + "-")) {
            return false;
        }
        String rest = dirName.substring(topic.length() + 1);
        return !rest.isEmpty() && rest.chars().allMatch(Character::isDigit);
    }

    private static int distinctBytes(byte[] window) {
        int distinct = 0;
        outer:
        for (int i = 0; i < window.length; i++) {
            for (int j = 0; j < i; j++) {
                if (window[j] == window[i]) {
                    continue outer;
                }
            }
            distinct++;
        }
        return distinct;
    }

    /** An open-addressing set of longs: 8 bytes a slot instead of a boxed Long and a map node. */
    private static final class LongSet {
        private static final long EMPTY = 0L; // never added: an all-zero window has one distinct byte
        private long[] slots = new long[1 << 10];
        private int size;

        void add(long value) {
            if ((size + 1) * 2L > slots.length) {
                grow();
            }
            if (insert(slots, value)) {
                size++;
            }
        }

        boolean contains(long value) {
            if (value == EMPTY) {
                return false;
            }
            int mask = slots.length - 1;
            for (int i = mix(value) & mask; ; i = (i + 1) & mask) {
                long s = slots[i];
                if (s == value) {
                    return true;
                }
                if (s == EMPTY) {
                    return false;
                }
            }
        }

        int size() {
            return size;
        }

        private void grow() {
            long[] bigger = new long[slots.length * 2];
            for (long s : slots) {
                if (s != EMPTY) {
                    insert(bigger, s);
                }
            }
            slots = bigger;
        }

        private static boolean insert(long[] table, long value) {
            int mask = table.length - 1;
            for (int i = mix(value) & mask; ; i = (i + 1) & mask) {
                if (table[i] == value) {
                    return false;
                }
                if (table[i] == EMPTY) {
                    table[i] = value;
                    return true;
                }
            }
        }

        private static int mix(long v) {
            long h = v * 0x9E3779B97F4A7C15L;
            return (int) (h ^ (h >>> 32));
        }
    }
}
