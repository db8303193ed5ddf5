package io.embedseal.keyring.archfixture;

/** Breaks the layering on purpose, for ArchitectureTest: the keyring reaching Kafka and naming a provider. Never used. */
final class KafkaInTheKeyring {
    org.apache.kafka.clients.producer.Producer<byte[], byte[]> producer;
    io.embedseal.keyring.kms.vault.VaultTransitKms vault;
}
