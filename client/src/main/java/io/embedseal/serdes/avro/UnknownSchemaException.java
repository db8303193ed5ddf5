package io.embedseal.serdes.avro;

/** The schema registry has no schema with the requested id. */
public class UnknownSchemaException extends SchemaRegistryException {
    private final int schemaId;

    public UnknownSchemaException(int schemaId) {
        super("schema registry has no schema with id " + schemaId);
        this.schemaId = schemaId;
    }

    public int schemaId() {
        return schemaId;
    }
}
