package io.embedseal.control;

import org.apache.avro.Schema;

/**
 * Walks Avro binary data against its schema and checks every declared length and count against the bytes that are
 * actually there, before Avro's decoder allocates what a length claims: a 15-byte record declaring a 2 GB string
 * must be refused, not allocated. Supports what the key-event schemas use (records, enums, unions, strings, bytes,
 * ints, longs, booleans, null); anything else is refused.
 */
final class AvroLengths {

    private final byte[] buf;
    private int pos;
    private final int end;

    private AvroLengths(byte[] buf, int offset, int length) {
        this.buf = buf;
        this.pos = offset;
        this.end = offset + length;
    }

    /** @throws IllegalArgumentException if the data is not exactly one value of {@code schema} */
    static void check(Schema schema, byte[] buf, int offset, int length) {
        if (offset < 0 || length < 0 || offset + length > buf.length) {
            throw new IllegalArgumentException("bounds outside the buffer");
        }
        AvroLengths w = new AvroLengths(buf, offset, length);
        w.walk(schema, 0);
        if (w.pos != w.end) {
            throw new IllegalArgumentException((w.end - w.pos) + " bytes after the value");
        }
    }

    private void walk(Schema s, int depth) {
        if (depth > 16) {
            throw new IllegalArgumentException("nested too deeply");
        }
        switch (s.getType()) {
            case NULL -> {
                // no bytes
            }
            case BOOLEAN -> skip(1);
            case INT, LONG -> varint();
            case ENUM -> {
                long i = varint();
                if (i < 0 || i >= s.getEnumSymbols().size()) {
                    throw new IllegalArgumentException("enum index " + i + " out of range");
                }
            }
            case STRING, BYTES -> {
                long n = varint();
                if (n < 0 || n > end - pos) {
                    throw new IllegalArgumentException(
                            "declared length " + n + " where " + (end - pos) + " bytes remain");
                }
                skip((int) n);
            }
            case UNION -> {
                long i = varint();
                if (i < 0 || i >= s.getTypes().size()) {
                    throw new IllegalArgumentException("union branch " + i + " out of range");
                }
                walk(s.getTypes().get((int) i), depth + 1);
            }
            case RECORD -> {
                for (Schema.Field f : s.getFields()) {
                    walk(f.schema(), depth + 1);
                }
            }
            default -> throw new IllegalArgumentException("unsupported type " + s.getType());
        }
    }

    private void skip(int n) {
        if (n > end - pos) {
            throw new IllegalArgumentException("truncated");
        }
        pos += n;
    }

    /** A zig-zag varint of at most 10 bytes, decoded. */
    private long varint() {
        long raw = 0;
        for (int shift = 0; shift < 70; shift += 7) {
            if (pos >= end) {
                throw new IllegalArgumentException("truncated varint");
            }
            int b = buf[pos++] & 0xff;
            raw |= (long) (b & 0x7f) << shift;
            if ((b & 0x80) == 0) {
                return (raw >>> 1) ^ -(raw & 1);
            }
        }
        throw new IllegalArgumentException("varint longer than 10 bytes");
    }
}
