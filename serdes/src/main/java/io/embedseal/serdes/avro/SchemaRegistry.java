package io.embedseal.serdes.avro;

import org.apache.avro.Schema;

/**
 * The part of a Confluent-compatible schema registry embedseal needs: register a writer schema under a
 * subject and look schemas up by the id that prefixes every wire-format record. Implementations are
 * thread-safe and may cache.
 */
public interface SchemaRegistry {

    /**
     * Registers a schema under a subject, or returns the id it already has.
     *
     * @throws SchemaRegistryException if the registry refuses it or cannot be reached
     */
    int register(String subject, Schema schema);

    /**
     * The schema with this id.
     *
     * @throws UnknownSchemaException if the registry has no schema with this id
     * @throws SchemaRegistryException if the registry cannot be reached
     */
    Schema schemaById(int id);
}
