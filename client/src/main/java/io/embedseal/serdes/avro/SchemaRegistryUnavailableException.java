package io.embedseal.serdes.avro;

/** The schema registry could not be reached or failed (I/O, timeout, HTTP 5xx); retrying later may succeed. */
public class SchemaRegistryUnavailableException extends SchemaRegistryException {
    public SchemaRegistryUnavailableException(String message) {
        super(message);
    }

    public SchemaRegistryUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
