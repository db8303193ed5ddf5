package io.embedseal.serdes.kafka;

import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.RecordVersion;
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

    /**
     * The tie-breaker of this serializer's record versions: it only grows, from a random start, so that two producers
     * (or one restarted) do not give two different records of one embedding the same version.
     */
    private final java.util.concurrent.atomic.AtomicLong sequence =
            new java.util.concurrent.atomic.AtomicLong(new java.security.SecureRandom().nextLong() >>> 2);

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
            sealer = SerdeConfigs.sealer(keyring, configs);
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
                    event.getTenantId(),
                    event.getEmbeddingId(),
                    versionOf(event),
                    PayloadType.EMBEDDING_EVENT_AVRO,
                    plaintext);
        } catch (KmsException e) {
            throw new SerializationException(
                    "cannot seal for tenant " + event.getTenantId() + ": " + e.getMessage(), e);
        } finally {
            Arrays.fill(plaintext, (byte) 0);
        }
    }

    /**
     * The record version this producer gives an event: its event time (before 1970 counts as 0), and this
     * serializer's own counter to order two versions of one embedding made in the same millisecond.
     */
    private RecordVersion versionOf(EmbeddingEvent event) {
        long time = event.getEventTime() == null
                ? 0
                : Math.max(0, event.getEventTime().toEpochMilli());
        return new RecordVersion(time, sequence.getAndIncrement() & Long.MAX_VALUE);
    }

    /**
     * A sealed delete of one embedding, to send as the value of a record keyed {@code tenant/embeddingId} (with a
     * byte-array serializer): sinks delete the record only if the marker opens under the tenant's key and is not
     * older than what they hold. A bare null value deletes nothing unless a sink is told to.
     *
     * @param eventTime when the embedding was deleted; a version written later with an older event time is refused
     */
    public byte[] deleteMarker(String tenantId, String embeddingId, java.time.Instant eventTime) {
        if (sealer == null) {
            throw new IllegalStateException("SealingSerializer is not configured");
        }
        try {
            return sealer.sealDeleteMarker(
                    tenantId,
                    embeddingId,
                    new RecordVersion(
                            Math.max(0, eventTime.toEpochMilli()), sequence.getAndIncrement() & Long.MAX_VALUE));
        } catch (KmsException e) {
            throw new SerializationException("cannot seal a delete for tenant " + tenantId + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        if (keyring != null) {
            keyring.kms().close();
        }
    }
}
