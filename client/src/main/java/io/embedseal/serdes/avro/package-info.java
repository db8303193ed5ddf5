/**
 * Avro in the Confluent wire format (magic byte 0, 4-byte schema id, Avro binary), the schema-registry
 * interface, and the canonical binary form of an embedding that goes inside a sealed envelope.
 */
package io.embedseal.serdes.avro;
