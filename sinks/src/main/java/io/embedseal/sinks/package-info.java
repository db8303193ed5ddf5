/**
 * Kafka Connect sinks for sealed embeddings: what every sink task does (key-event following, unsealing through the
 * tenant's KMS, shredding with receipts) around a {@link io.embedseal.sinks.VectorStore}.
 */
package io.embedseal.sinks;
