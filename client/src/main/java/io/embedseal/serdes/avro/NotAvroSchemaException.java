package io.embedseal.serdes.avro;

/**
 * The schema registry has a schema with the requested id, but it is not an Avro schema (PROTOBUF or JSON, common in
 * a registry shared with other applications), or its Avro text does not parse. A fact about the record that names
 * the id, not about the registry: it is never retried.
 */
public class NotAvroSchemaException extends SchemaRegistryException {
    private final int schemaId;
    private final String schemaType;

    public NotAvroSchemaException(int schemaId, String schemaType) {
        super("schema id " + schemaId + " is a " + schemaType + " schema, not an Avro one");
        this.schemaId = schemaId;
        this.schemaType = schemaType;
    }

    public int schemaId() {
        return schemaId;
    }

    /** {@code PROTOBUF}, {@code JSON}, or {@code AVRO (unparseable)}. */
    public String schemaType() {
        return schemaType;
    }
}
