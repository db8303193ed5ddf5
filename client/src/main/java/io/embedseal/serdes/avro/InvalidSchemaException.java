package io.embedseal.serdes.avro;

/** The schema registry refused a schema as invalid (HTTP 422). */
public class InvalidSchemaException extends SchemaRegistryException {
    public InvalidSchemaException(String message) {
        super(message);
    }

    public InvalidSchemaException(String message, Throwable cause) {
        super(message, cause);
    }
}
