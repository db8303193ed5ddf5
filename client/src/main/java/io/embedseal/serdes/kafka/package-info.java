/**
 * Kafka serializers and deserializers for sealed records: {@link io.embedseal.serdes.kafka.SealingSerializer}
 * seals on the producer, {@link io.embedseal.serdes.kafka.UnsealingDeserializer} opens on the consumer or sink.
 * Both are configured with the keyring settings ({@code kms.*}, {@code dek.*}) in the client's properties.
 */
package io.embedseal.serdes.kafka;
