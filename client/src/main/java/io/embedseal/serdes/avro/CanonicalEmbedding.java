package io.embedseal.serdes.avro;

import io.embedseal.serdes.validation.EmbeddingFacts;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * An embedding read in place from its canonical Avro binary form, for the pipeline's per-record path: the ids are
 * decoded, the vector is checked where it lies (dimensions, finiteness) without building a {@code List<Float>}, and
 * the bytes themselves are what gets sealed. Only unremarkable input takes this path: {@link #tryRead} returns null
 * for anything it does not read exactly as Avro's decoder would (malformed or truncated data, trailing bytes,
 * non-ASCII text), and the caller then decodes with Avro, which classifies the problem.
 *
 * <p>The canonical schema, in order: {@code tenantId} string, {@code embeddingId} string, {@code model} string,
 * {@code vector} array of float, {@code metadata} union of null and map of string, {@code eventTime} long.
 */
public final class CanonicalEmbedding implements EmbeddingFacts {

    private final String tenantId;
    private final String embeddingId;
    private final String model;
    private final int dimensions;
    private final int firstNonFinite;
    private final int metadataEntries;
    private final long metadataBytes;
    private final int offset;
    private final int length;
    private final long eventTime;

    private @Nullable CanonicalEmbedding(
            String tenantId,
            String embeddingId,
            String model,
            int dimensions,
            int firstNonFinite,
            int metadataEntries,
            long metadataBytes,
            int offset,
            int length,
            long eventTime) {
        this.tenantId = tenantId;
        this.embeddingId = embeddingId;
        this.model = model;
        this.dimensions = dimensions;
        this.firstNonFinite = firstNonFinite;
        this.metadataEntries = metadataEntries;
        this.metadataBytes = metadataBytes;
        this.offset = offset;
        this.length = length;
        this.eventTime = eventTime;
    }

    /**
     * Reads {@code bytes[offset, offset+length)} as one canonical embedding event.
     *
     * @return the embedding, or null if the bytes need Avro's own decoder (which then accepts or classifies them)
     */
    public static @Nullable CanonicalEmbedding tryRead(byte[] bytes, int offset, int length) {
        if (offset < 0 || length < 0 || offset > bytes.length - length) {
            return null;
        }
        Cursor c = new Cursor(bytes, offset, offset + length);
        String tenant = c.asciiString();
        String id = c.asciiString();
        String model = c.asciiString();
        if (tenant == null || id == null || model == null) {
            return null; // tenant or id failed too: asciiString leaves the cursor failed
        }
        // vector: blocks of floats, a block count of zero ends it
        int dims = 0;
        int firstNonFinite = -1;
        while (true) {
            long count = c.blockCount();
            if (count <= 0) {
                if (count < 0) {
                    return null;
                }
                break;
            }
            if (c.blockBytes >= 0 && c.blockBytes != count * 4) {
                return null;
            }
            if (count > (c.end - c.pos) / 4 || dims + count > Integer.MAX_VALUE) {
                return null;
            }
            if (firstNonFinite < 0) {
                int bad = firstNonFinite(bytes, c.pos, (int) count);
                if (bad >= 0) {
                    firstNonFinite = dims + bad;
                }
            }
            c.pos += 4 * (int) count;
            dims += (int) count;
        }
        // metadata: union index 0 (null) or 1 (map of string to string)
        long branch = c.varInt();
        int entries = -1;
        long metaBytes = 0;
        String[] keys = null; // to find a repeated key: a linear scan, as metadata maps are small
        if (branch == 1) {
            entries = 0;
            while (true) {
                long count = c.blockCount(); // a map block's size in bytes, if given, is only for skipping
                if (count <= 0) {
                    if (count < 0) {
                        return null;
                    }
                    break;
                }
                if (count > (c.end - c.pos) / 2 || entries + count > Integer.MAX_VALUE) {
                    return null;
                }
                for (int i = 0; i < count; i++) {
                    String key = c.asciiString();
                    if (key == null) {
                        return null; // not ASCII: let Avro decode it
                    }
                    int v = c.asciiLength();
                    if (c.failed) {
                        return null;
                    }
                    if (keys == null) {
                        keys = new String[8];
                    } else if (entries + i == keys.length) {
                        if (keys.length >= 64) {
                            return null; // a large map: Avro's decoder counts it, and checks for repeated keys
                        }
                        keys = java.util.Arrays.copyOf(keys, keys.length * 2);
                    }
                    for (int k = 0; k < entries + i; k++) {
                        if (keys[k].equals(key)) {
                            return null; // a repeated key: Avro's map keeps the last value; let Avro count it
                        }
                    }
                    keys[entries + i] = key;
                    metaBytes += key.length() + v;
                }
                entries += (int) count;
            }
        } else if (branch != 0) {
            return null;
        }
        long eventTime = c.varLong();
        if (c.failed || c.pos != c.end) {
            return null;
        }
        return new CanonicalEmbedding(
                tenant, id, model, dims, firstNonFinite, entries, metaBytes, offset, length, eventTime);
    }

    private static final java.lang.invoke.VarHandle LE_INT =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(int[].class, java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final java.lang.invoke.VarHandle LE_LONG =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class, java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final int EXPONENT = 0x7F80_0000;
    /** The exponents of two little-endian floats read as one long, and what carries an all-ones one into its sign. */
    private static final long EXPONENTS = 0x7F80_0000_7F80_0000L;

    private static final long EXPONENT_CARRIES = 0x0080_0000_0080_0000L;
    private static final long SIGNS = 0x8000_0000_8000_0000L;

    /**
     * The index of the first NaN or infinity among {@code count} little-endian floats at {@code from}, or -1. A
     * float is not finite exactly when its exponent bits are all ones: adding one to the exponent field then carries
     * into the (masked-off) sign bit, and nowhere else, so two floats can be checked in one long without a branch per
     * value. The second pass runs only when there is something to find.
     */
    static int firstNonFinite(byte[] bytes, int from, int count) {
        long any = 0;
        int pairs = count >>> 1;
        for (int i = 0; i < pairs; i++) {
            long bits = (long) LE_LONG.get(bytes, from + 8 * i);
            any |= ((bits & EXPONENTS) + EXPONENT_CARRIES) & SIGNS;
        }
        if ((count & 1) != 0) {
            int bits = (int) LE_INT.get(bytes, from + 4 * (count - 1));
            any |= ((bits & EXPONENT) + 0x0080_0000) & 0x8000_0000; // an int: 0 or negative, either way decisive
        }
        if (any == 0) {
            return -1;
        }
        for (int i = 0; i < count; i++) {
            if (((int) LE_INT.get(bytes, from + 4 * i) & EXPONENT) == EXPONENT) {
                return i;
            }
        }
        return -1;
    }

    /** Reads Avro's zig-zag varints and strings, failing (not throwing) on anything unexpected. */
    /**
     * The vector's values, read from the bytes this embedding was read from ({@link #tryRead}'s {@code bytes}; the
     * caller passes them again, as this object keeps no reference to them).
     */
    public float[] readVector(byte[] bytes) {
        Cursor c = new Cursor(bytes, offset, offset + length);
        c.asciiString();
        c.asciiString();
        c.asciiString();
        float[] out = new float[dimensions];
        int at = 0;
        while (at < dimensions) {
            long count = c.blockCount();
            if (c.failed || count <= 0 || at + count > dimensions) {
                throw new IllegalArgumentException("not the bytes this embedding was read from");
            }
            for (int i = 0; i < count; i++) {
                int p = c.pos + 4 * i;
                out[at++] = Float.intBitsToFloat((bytes[p] & 0xFF)
                        | (bytes[p + 1] & 0xFF) << 8
                        | (bytes[p + 2] & 0xFF) << 16
                        | (bytes[p + 3] & 0xFF) << 24);
            }
            c.pos += 4 * (int) count;
        }
        return out;
    }

    private static final class Cursor {
        final byte[] buf;
        final int end;
        int pos;
        boolean failed;

        Cursor(byte[] buf, int pos, int end) {
            this.buf = buf;
            this.pos = pos;
            this.end = end;
        }

        /**
         * A zig-zag varint of at most {@code maxBytes} bytes whose last byte, if it is the {@code maxBytes}-th, is at
         * most {@code lastMax}: exactly the values Avro's decoder reads without overflow. Anything else is valid or
         * invalid Avro that is left to Avro's decoder, so both readers always agree on a value.
         */
        private long varint(int maxBytes, int lastMax) {
            if (failed) {
                return 0;
            }
            long raw = 0;
            for (int i = 0; i < maxBytes; i++) {
                if (pos >= end) {
                    failed = true;
                    return 0;
                }
                int b = buf[pos++] & 0xFF;
                if (i == maxBytes - 1 && b > lastMax) {
                    failed = true;
                    return 0;
                }
                raw |= (long) (b & 0x7F) << (7 * i);
                if ((b & 0x80) == 0) {
                    return (raw >>> 1) ^ -(raw & 1);
                }
            }
            failed = true;
            return 0;
        }

        /** The size in bytes the last {@link #blockCount} block declared, or -1 if it declared none. */
        long blockBytes = -1;

        /**
         * The item count of the next block of an array or a map, 0 at the end, -1 (failed) if unreadable. A negative
         * count on the wire is followed by the block's size in bytes, kept in {@link #blockBytes}.
         */
        long blockCount() {
            long count = varLong();
            blockBytes = -1;
            if (!failed && count < 0) {
                count = -count; // still negative only for Long.MIN_VALUE: left to Avro below
                blockBytes = varLong();
            }
            if (failed || count < 0) {
                failed = true;
                return -1;
            }
            return count;
        }

        /** Avro long (block counts, sizes, timestamps): up to 10 bytes, 64 bits. */
        long varLong() {
            return varint(10, 0x01);
        }

        /** Avro int (string lengths, union branches): up to 4 bytes here (28 bits; longer strings cannot occur). */
        long varInt() {
            return varint(4, 0x7F);
        }

        /** Skips a string of ASCII bytes and returns its length; fails for other bytes. */
        int asciiLength() {
            long n = varInt();
            if (failed || n < 0 || n > end - pos) {
                failed = true;
                return 0;
            }
            for (int i = pos; i < pos + n; i++) {
                if (buf[i] < 0) {
                    failed = true; // non-ASCII: Avro's decoder decides (and replaces bad UTF-8) differently
                    return 0;
                }
            }
            pos += (int) n;
            return (int) n;
        }

        /** Reads a string of ASCII bytes; null (and failed) for other bytes. */
        @Nullable
        String asciiString() {
            int start = pos;
            int n = asciiLength();
            if (failed) {
                return null;
            }
            int from = start + (pos - start - n);
            return new String(buf, from, n, StandardCharsets.US_ASCII);
        }
    }

    @Override
    public String tenantId() {
        return tenantId;
    }

    @Override
    public long eventTimeMillis() {
        return eventTime;
    }

    @Override
    public String embeddingId() {
        return embeddingId;
    }

    @Override
    public int embeddingIdUtf8Bytes() {
        return embeddingId.length(); // ASCII
    }

    @Override
    public String model() {
        return model;
    }

    @Override
    public int dimensions() {
        return dimensions;
    }

    @Override
    public int firstNonFiniteIndex() {
        return firstNonFinite;
    }

    @Override
    public int metadataEntries() {
        return metadataEntries;
    }

    @Override
    public long metadataUtf8Bytes() {
        return metadataBytes;
    }

    /** Where the canonical bytes start in the array they were read from. */
    public int offset() {
        return offset;
    }

    public int length() {
        return length;
    }

    @Override
    public String toString() {
        return "CanonicalEmbedding[tenant=" + tenantId + ", embeddingId=" + embeddingId + ", dims=" + dimensions + "]";
    }
}
