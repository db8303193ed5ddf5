package io.embedseal.serdes.avro;

/** The schema registry has no such subject (or version). */
public class UnknownSubjectException extends SchemaRegistryException {
    public UnknownSubjectException(String message) {
        super(message);
    }

    public UnknownSubjectException(String message, Throwable cause) {
        super(message, cause);
    }
}
