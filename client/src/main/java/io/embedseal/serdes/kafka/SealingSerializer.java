package io.embedseal.serdes.kafka;

import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.serdes.validation.EmbeddingValidator;
import java.util.Arrays;
import java.util.Map;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serializer;
import org.jspecify.annotations.Nullable;

/**
 * Seals embeddings on the producer (client-side encryption), for producers who want no plaintext vector on the
 * broker at all. Use it as the {@code value.serializer} of a plain {@code KafkaProducer} with the keyring
 * settings in the producer's properties; the record key should be {@code SealedRecordKey} bytes
 * ({@code tenant/embeddingId}). Records land directly in the sealed format the sinks read.
 *
 * <p>An invalid embedding or an unusable key fails {@code send()} with a {@link SerializationException} and
 * nothing is sent: never a plaintext fallback. Messages never contain vector values.
 */
public final class SealingSerializer implements Serializer<EmbeddingEvent> {

    /** Largest vector accepted (default {@value EmbeddingValidator#DEFAULT_MAX_DIMENSIONS}). */
    public static final String MAX_DIMENSIONS_CONFIG = "embedseal.validation.max-dimensions";

    @SuppressWarnings("NullAway.Init") // set in configure(), which Kafka calls before any use
    private Keyring keyring;

    @SuppressWarnings("NullAway.Init") // set in configure(), which Kafka calls before any use
    private Sealer sealer;

    private EmbeddingValidator validator = EmbeddingValidator.defaults();

    public SealingSerializer() {}

    /** A serializer on an existing keyring, for code that builds its own. */
    public SealingSerializer(Keyring keyring) {
        this.keyring = keyring;
        this.sealer = new Sealer(keyring);
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        if (isKey) {
            throw new ConfigException("SealingSerializer seals record values; use it as value.serializer");
        }
        Integer maxDimensions = SerdeConfigs.get(configs, SerdeConfigs.MAX_DIMENSIONS);
        if (maxDimensions != null) {
            validator = new EmbeddingValidator(maxDimensions);
        }
        if (sealer == null) {
            keyring = SerdeConfigs.keyring(configs, true);
            sealer = new Sealer(keyring);
        }
    }

    @Override
    public byte @Nullable [] serialize(String topic, EmbeddingEvent event) {
        if (event == null) {
            return null;
        }
        if (sealer == null) {
            throw new IllegalStateException("SealingSerializer is not configured");
        }
        EmbeddingValidator.Violation violation = validator.check(event);
        if (violation != null) {
            throw new SerializationException(
                    "embedding refused before sealing (" + violation.rule() + "): " + violation.detail());
        }
        byte[] plaintext = EmbeddingEventCodec.toCanonicalAvro(event);
        try {
            return sealer.seal(
                    event.getTenantId(), event.getEmbeddingId(), PayloadType.EMBEDDING_EVENT_AVRO, plaintext);
        } catch (KmsException e) {
            throw new SerializationException(
                    "cannot seal for tenant " + event.getTenantId() + ": " + e.getMessage(), e);
        } finally {
            Arrays.fill(plaintext, (byte) 0);
        }
    }

    @Override
    public void close() {
        if (keyring != null) {
            keyring.kms().close();
        }
    }
}
