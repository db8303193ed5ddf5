package io.embedseal.serdes.avro;

import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.avro.WireFormatException.Reason;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DatumReader;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.jspecify.annotations.Nullable;

/**
 * Reads and writes {@link EmbeddingEvent}s: in the Confluent wire format (magic byte 0, big-endian 4-byte
 * schema id, Avro binary) on the raw topic, and in plain Avro binary under the canonical schema inside
 * sealed envelopes.
 *
 * <p>Decoding treats its input as hostile: the declared sizes of arrays and maps only cap what is
 * pre-allocated, never decide it, so a few bytes claiming a billion floats fail with
 * {@link Reason#UNDECODABLE} instead of exhausting the heap; trailing bytes are refused.
 */
public final class EmbeddingEventCodec {

    /** First byte of every Confluent-wire-format value. */
    public static final byte MAGIC_BYTE = 0;
    /** Magic byte plus schema id. */
    public static final int PREFIX_LENGTH = 5;
    /** The schema every embedding is decoded into and every sealed payload is written with. */
    public static final Schema CANONICAL_SCHEMA = EmbeddingEvent.getClassSchema();

    private static final int MAX_PREALLOCATED_ITEMS = 4096;

    static {
        AvroClassTrust.install();
    }

    private static final DatumReader<EmbeddingEvent> CANONICAL_READER =
            new BoundedReader(CANONICAL_SCHEMA, CANONICAL_SCHEMA);
    private static final SpecificDatumWriter<EmbeddingEvent> WRITER = new SpecificDatumWriter<>(CANONICAL_SCHEMA);
    private static final String CANONICAL_PARSING_FORM = SchemaNormalization.toParsingForm(CANONICAL_SCHEMA);

    private final SchemaRegistry registry;
    private final ConcurrentMap<Integer, WriterSchema> writersById = new ConcurrentHashMap<>();
    /**
     * Schema ids refused for good (not Avro, or not readable as an embedding event), so a stream of records naming
     * one does not ask the registry again for each: registry ids never change their schema. Bounded: a producer
     * cycling through ids cannot grow it past {@link #REFUSED_IDS_MAX}.
     */
    private final Map<Integer, WireFormatException> refusedIds =
            java.util.Collections.synchronizedMap(new java.util.LinkedHashMap<>(16, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<Integer, WireFormatException> eldest) {
                    return size() > REFUSED_IDS_MAX;
                }
            });

    static final int REFUSED_IDS_MAX = 4096;

    public EmbeddingEventCodec(SchemaRegistry registry) {
        this.registry = Objects.requireNonNull(registry, "registry");
    }

    /**
     * An event decoded from the wire.
     *
     * @param event           the event, resolved to the canonical schema
     * @param schemaId        the writer schema id the value named
     * @param canonicalWriter true when the writer schema is the canonical schema, so the Avro body after the
     *                        5-byte prefix already is the event's canonical binary form
     */
    public record Decoded(EmbeddingEvent event, int schemaId, boolean canonicalWriter) {
        @Override
        public String toString() {
            return "Decoded[schemaId=" + schemaId + ", tenant=" + event.getTenantId() + ", embeddingId="
                    + event.getEmbeddingId() + ", dims=" + event.getVector().size() + "]";
        }
    }

    /**
     * Decodes a Confluent-wire-format value, resolving its writer schema to the canonical one.
     *
     * @throws WireFormatException with the reason the value cannot be read
     */
    public Decoded decode(byte[] value) {
        int schemaId = schemaIdOf(value);
        WriterSchema writer = writerSchema(schemaId);
        EmbeddingEvent event = read(writer.reader(), value, PREFIX_LENGTH, value.length - PREFIX_LENGTH, schemaId);
        return new Decoded(event, schemaId, writer.canonical());
    }

    /**
     * A value whose writer schema is the canonical one, read in place: its embedding's facts, and its Avro body
     * (after the 5-byte prefix) is the canonical form, to seal as it is.
     */
    public @Nullable record Inspected(int schemaId, CanonicalEmbedding embedding) {}

    /**
     * The fast path of {@link #decode}: for a value written with the canonical schema that reads cleanly in place,
     * its embedding without decoding it into objects; null for anything else, which {@link #decode} then handles
     * (and classifies). Checks the prefix and the schema id exactly as {@link #decode} does.
     *
     * @throws WireFormatException as {@link #decode} would, for the prefix and the schema id
     */
    public @Nullable Inspected inspect(byte[] value) {
        int schemaId = schemaIdOf(value);
        if (!writerSchema(schemaId).canonical()) {
            return null;
        }
        CanonicalEmbedding e = CanonicalEmbedding.tryRead(value, PREFIX_LENGTH, value.length - PREFIX_LENGTH);
        return e == null ? null : new Inspected(schemaId, e);
    }

    private static int schemaIdOf(byte[] value) {
        if (value == null || value.length < PREFIX_LENGTH) {
            throw new WireFormatException(
                    Reason.TRUNCATED,
                    -1,
                    "value has " + (value == null ? 0 : value.length)
                            + " bytes, fewer than the 5-byte wire-format prefix",
                    null);
        }
        if (value[0] != MAGIC_BYTE) {
            throw new WireFormatException(
                    Reason.WRONG_MAGIC_BYTE,
                    -1,
                    "first byte is " + (value[0] & 0xFF) + ", not the Confluent wire-format magic byte 0",
                    null);
        }
        return ByteBuffer.wrap(value, 1, 4).getInt();
    }

    /** Encodes an event in the Confluent wire format under an already registered schema id. */
    public static byte[] encodeWire(int schemaId, EmbeddingEvent event) {
        ByteArrayOutputStream out =
                new ByteArrayOutputStream(64 + 4 * event.getVector().size());
        out.write(MAGIC_BYTE);
        out.write(schemaId >>> 24);
        out.write(schemaId >>> 16);
        out.write(schemaId >>> 8);
        out.write(schemaId);
        write(event, out);
        return out.toByteArray();
    }

    /** The canonical Avro binary form (no prefix) sealed inside envelopes. */
    public static byte[] toCanonicalAvro(EmbeddingEvent event) {
        ByteArrayOutputStream out =
                new ByteArrayOutputStream(64 + 4 * event.getVector().size());
        write(event, out);
        return out.toByteArray();
    }

    /**
     * Reads the canonical Avro binary form.
     *
     * @throws WireFormatException with {@link Reason#UNDECODABLE} if the bytes are not one canonical event
     */
    public static EmbeddingEvent fromCanonicalAvro(byte[] bytes) {
        return read(CANONICAL_READER, bytes, 0, bytes.length, -1);
    }

    private WriterSchema writerSchema(int schemaId) {
        WriterSchema cached = writersById.get(schemaId);
        if (cached != null) {
            return cached;
        }
        WireFormatException refused = refusedIds.get(schemaId);
        if (refused != null) {
            throw new WireFormatException(refused.reason(), schemaId, String.valueOf(refused.description()), null);
        }
        Schema writer;
        try {
            writer = registry.schemaById(schemaId);
        } catch (UnknownSchemaException e) {
            throw new WireFormatException(
                    Reason.UNKNOWN_SCHEMA_ID, schemaId, "schema id " + schemaId + " is not in the schema registry", e);
        } catch (NotAvroSchemaException e) {
            throw refuse(new WireFormatException(
                    Reason.NOT_AVRO_SCHEMA,
                    schemaId,
                    "schema id " + schemaId + " names a " + e.schemaType() + " schema; only Avro records are sealed",
                    null));
        } catch (SchemaRegistryException e) {
            throw new WireFormatException(
                    Reason.REGISTRY_UNAVAILABLE,
                    schemaId,
                    "schema registry could not be asked for schema id " + schemaId,
                    e);
        }
        SchemaCompatibility.SchemaPairCompatibility compatibility =
                SchemaCompatibility.checkReaderWriterCompatibility(CANONICAL_SCHEMA, writer);
        if (compatibility.getType() != SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE) {
            throw refuse(new WireFormatException(
                    Reason.INCOMPATIBLE_SCHEMA,
                    schemaId,
                    "schema id " + schemaId + " ("
                            + writer.getFullName() + ") cannot be read as " + CANONICAL_SCHEMA.getFullName() + ": "
                            + compatibility.getDescription(),
                    null));
        }
        return writersById.computeIfAbsent(
                schemaId,
                id -> new WriterSchema(
                        new BoundedReader(writer, CANONICAL_SCHEMA),
                        CANONICAL_PARSING_FORM.equals(SchemaNormalization.toParsingForm(writer))));
    }

    private WireFormatException refuse(WireFormatException e) {
        refusedIds.put(e.schemaId(), e);
        return e;
    }

    private record WriterSchema(DatumReader<EmbeddingEvent> reader, boolean canonical) {}

    private static EmbeddingEvent read(
            DatumReader<EmbeddingEvent> reader, byte[] bytes, int offset, int length, int schemaId) {
        BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(bytes, offset, length, null);
        EmbeddingEvent event;
        try {
            event = reader.read(null, decoder);
            if (!decoder.isEnd()) {
                throw new WireFormatException(Reason.UNDECODABLE, schemaId, "bytes follow the Avro record", null);
            }
        } catch (WireFormatException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            // Avro reports bad input as EOFException, AvroRuntimeException, SystemLimitException,
            // ArrayIndexOutOfBounds, NegativeArraySize...: all mean the same thing here.
            throw new WireFormatException(
                    Reason.UNDECODABLE,
                    schemaId,
                    "Avro body does not decode (" + e.getClass().getSimpleName() + ")",
                    e);
        }
        return event;
    }

    private static void write(EmbeddingEvent event, ByteArrayOutputStream out) {
        BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
        try {
            WRITER.write(event, encoder);
            encoder.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A reader whose pre-allocation is capped, whatever count the input declares. */
    private static final class BoundedReader extends SpecificDatumReader<EmbeddingEvent> {
        BoundedReader(Schema writer, Schema reader) {
            super(writer, reader);
        }

        @Override
        protected Object newArray(Object old, int size, Schema schema) {
            return super.newArray(old, Math.min(size, MAX_PREALLOCATED_ITEMS), schema);
        }

        @Override
        protected Object newMap(Object old, int size) {
            return super.newMap(old, Math.min(size, MAX_PREALLOCATED_ITEMS));
        }
    }
}
