package io.embedseal.serdes.kafka;

import io.embedseal.keyring.Keyring;
import io.embedseal.serdes.EmbeddingUnsealer;
import io.embedseal.serdes.UnsealedEmbedding;
import io.embedseal.serdes.envelope.Sealer;
import java.util.Map;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.Deserializer;
import org.jspecify.annotations.Nullable;

/**
 * Opens sealed values for a plain {@code KafkaConsumer} (or a sink). Configure it with the keyring settings
 * of the tenants' KMS in the consumer's properties, e.g. {@code kms.provider=vault},
 * {@code kms.vault.address=...}; optionally {@value #ONLY_TENANT_CONFIG} restricts it to one tenant.
 *
 * <p>A value deserializer never sees the record key, so it cannot check the envelope against it: the
 * returned {@link UnsealedEmbedding} carries the ids the envelope authenticates, and consumers must key on
 * those (or use {@link EmbeddingUnsealer#unseal(byte[], byte[])}, which also checks the key). A failure is an
 * {@link io.embedseal.serdes.envelope.EnvelopeException} with a reason; the consumer reports it as the cause
 * of a {@code RecordDeserializationException} naming the partition and offset. A null value (tombstone)
 * gives null.
 */
public final class UnsealingDeserializer implements Deserializer<UnsealedEmbedding> {

    /** Accept only this tenant's records; others fail with {@code WRONG_BINDING}. */
    public static final String ONLY_TENANT_CONFIG = "embedseal.unseal.only-tenant";

    @SuppressWarnings("NullAway.Init") // set in configure(), which Kafka calls before any use
    private Keyring keyring;

    @SuppressWarnings("NullAway.Init") // set in configure(), which Kafka calls before any use
    private EmbeddingUnsealer unsealer;

    public UnsealingDeserializer() {}

    /** A deserializer on an existing keyring, for code that builds its own. */
    public UnsealingDeserializer(Keyring keyring, String onlyTenant) {
        this.keyring = keyring;
        this.unsealer = new EmbeddingUnsealer(new Sealer(keyring), onlyTenant);
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        if (unsealer != null) {
            return;
        }
        keyring = SerdeConfigs.keyring(configs, false);
        unsealer = new EmbeddingUnsealer(
                SerdeConfigs.sealer(keyring, configs), SerdeConfigs.get(configs, SerdeConfigs.ONLY_TENANT));
    }

    @Override
    public @Nullable UnsealedEmbedding deserialize(String topic, byte[] data) {
        if (data == null) {
            return null;
        }
        if (unsealer == null) {
            throw new IllegalStateException("UnsealingDeserializer is not configured");
        }
        return unsealer.unsealValue(data);
    }

    @Override
    public @Nullable UnsealedEmbedding deserialize(String topic, Headers headers, byte[] data) {
        return deserialize(topic, data);
    }

    @Override
    public void close() {
        if (keyring != null) {
            keyring.kms().close();
        }
    }
}
