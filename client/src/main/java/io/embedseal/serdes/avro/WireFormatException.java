package io.embedseal.serdes.avro;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/** A record value is not a decodable Confluent-wire-format Avro record; the reason classifies why. */
public class WireFormatException extends RuntimeException {

    /** Why a value could not be decoded. */
    public enum Reason {
        /** Shorter than the 5-byte prefix (magic byte and schema id). */
        TRUNCATED,
        /** The first byte is not the Confluent magic byte 0. */
        WRONG_MAGIC_BYTE,
        /** The schema id is not in the registry. */
        UNKNOWN_SCHEMA_ID,
        /** The writer schema cannot be read as an embedding event (incompatible evolution). */
        INCOMPATIBLE_SCHEMA,
        /** The schema id names a schema that is not Avro (PROTOBUF, JSON) or whose Avro text does not parse. */
        NOT_AVRO_SCHEMA,
        /** The Avro body does not decode under its writer schema, or bytes follow it. */
        UNDECODABLE,
        /** The schema registry could not be reached; retrying later may succeed. */
        REGISTRY_UNAVAILABLE
    }

    private final Reason reason;
    private final int schemaId;

    public WireFormatException(Reason reason, int schemaId, String message, @Nullable Throwable cause) {
        // No stack trace: this classifies input (any producer decides how often it is thrown), and where it was
        // thrown says nothing its reason does not; the cause, if any, keeps its own.
        super(message, cause, true, false);
        this.reason = Objects.requireNonNull(reason);
        this.schemaId = schemaId;
    }

    public Reason reason() {
        return reason;
    }

    /** The schema id the value named, or -1 if it was too short to name one. */
    public int schemaId() {
        return schemaId;
    }

    /** The message without the reason in front of it. */
    public @Nullable String description() {
        return super.getMessage();
    }

    @Override
    public String getMessage() {
        return reason + ": " + super.getMessage();
    }
}
