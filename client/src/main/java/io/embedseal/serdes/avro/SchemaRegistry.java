package io.embedseal.serdes.avro;

import org.apache.avro.Schema;

/**
 * The part of a Confluent-compatible schema registry embedseal needs. Implementations are thread-safe and may
 * cache. Failures: {@link UnknownSchemaException} (no such id), {@link UnknownSubjectException} (no such
 * subject), {@link IncompatibleSchemaException} (409), {@link InvalidSchemaException} (422),
 * {@link SchemaRegistryUnavailableException} (unreachable or 5xx; retry later), {@link SchemaRegistryException}
 * (anything else, such as 401/403).
 */
public interface SchemaRegistry {

    /** A schema as registered under a subject. */
    record RegisteredSchema(String subject, int version, int id, Schema schema) {}

    /** Registers a schema under a subject, or returns the id it already has there. */
    int register(String subject, Schema schema);

    /** The schema with this id. */
    Schema schemaById(int id);

    /** The id of a schema already registered under the subject, without registering it. */
    int lookup(String subject, Schema schema);

    /** The newest version under a subject. */
    RegisteredSchema latest(String subject);

    /**
     * Whether a schema may be registered under the subject, by the subject's compatibility rule. A subject with
     * no versions accepts anything.
     */
    boolean isCompatible(String subject, Schema schema);

    /** Sets the subject's compatibility rule: NONE, BACKWARD, FORWARD, FULL, or their _TRANSITIVE forms. */
    void setCompatibility(String subject, String level);
}
