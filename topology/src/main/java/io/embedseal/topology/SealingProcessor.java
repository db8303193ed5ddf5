package io.embedseal.topology;

import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.WireFormatException;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.validation.EmbeddingFacts;
import io.embedseal.serdes.validation.EmbeddingValidator;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decodes, validates and seals one raw record at a time, fail closed:
 *
 * <ul>
 *   <li>an undecodable or invalid record becomes a dead letter with its reason (for an active tenant, with the
 *       original sealed under the tenant's key for replay);</li>
 *   <li>a tenant that never registered (unless auto-registration is on), is revoked or destroyed, or whose KMS
 *       denies or does not know its key, gets metadata-only dead letters; a KMS denial is treated as a revocation
 *       and reported, and the tenant's DEKs are evicted;</li>
 *   <li>when the KMS or the schema registry cannot be reached, the record <b>waits</b>: it is retried with jittered
 *       backoff inside the transaction, nothing is committed past it, the pipeline reports DEGRADED, and processing
 *       resumes by itself. Other records of the same stream thread wait behind it; other threads and instances go on.
 *       After {@code maxDependencyWait} the failure is thrown and the thread is replaced, retrying the record.</li>
 * </ul>
 */
final class SealingProcessor implements Processor<byte[], byte[], byte[], byte[]> {

    private static final Logger LOG = LoggerFactory.getLogger(SealingProcessor.class);
    private static final String RESERVED_HEADER_PREFIX = "embedseal.";

    private final EmbedsealTopology.Parts parts;
    /** Tenants whose KMS denied their key recently, until when (shared by the processors of this instance). */
    private final Map<String, Long> deniedUntil;

    @SuppressWarnings("NullAway.Init") // set in init(), which Kafka Streams calls before process()
    private ProcessorContext<byte[], byte[]> context;

    SealingProcessor(EmbedsealTopology.Parts parts, Map<String, Long> deniedUntil) {
        this.parts = parts;
        this.deniedUntil = deniedUntil;
    }

    static Map<String, Long> newDeniedMap() {
        return new ConcurrentHashMap<>();
    }

    @Override
    public void init(ProcessorContext<byte[], byte[]> context) {
        this.context = context;
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        byte[] value = record.value();
        if (value == null) {
            deadLetter(record, DeadLetterReason.NULL_VALUE, "record has no value", -1, null, null, false);
            return;
        }
        // Fast path: a value in the canonical schema is checked in place and its Avro body sealed as it is. Anything
        // else (another writer schema, or bytes the in-place reader leaves to Avro) is decoded into an event.
        EmbeddingEventCodec.Inspected inspected;
        EmbeddingEventCodec.Decoded decoded = null;
        try {
            inspected = waitFor(
                    "schema registry",
                    () -> parts.codec().inspect(value),
                    WireFormatException.class,
                    e -> e.reason() == WireFormatException.Reason.REGISTRY_UNAVAILABLE);
            if (inspected == null) {
                decoded = waitFor(
                        "schema registry",
                        () -> parts.codec().decode(value),
                        WireFormatException.class,
                        e -> e.reason() == WireFormatException.Reason.REGISTRY_UNAVAILABLE);
            }
        } catch (WireFormatException e) {
            deadLetter(record, DeadLetterReason.of(e.reason()), e.description(), e.schemaId(), null, null, false);
            return;
        }
        if (inspected == null && decoded == null) {
            throw new IllegalStateException("the codec neither inspected nor decoded a record it did not refuse");
        }
        EmbeddingFacts facts = inspected != null
                ? inspected.embedding()
                : EmbeddingFacts.of(java.util.Objects.requireNonNull(decoded).event());
        int schemaId = inspected != null
                ? inspected.schemaId()
                : java.util.Objects.requireNonNull(decoded).schemaId();
        String tenant = facts.tenantId();
        String embeddingId = facts.embeddingId();

        EmbeddingValidator.Violation violation = parts.validator().check(facts);
        if (violation != null) {
            boolean active = violation.rule() != EmbeddingValidator.Rule.MISSING_TENANT
                    && violation.rule() != EmbeddingValidator.Rule.INVALID_TENANT_ID
                    && isActive(tenant);
            deadLetter(
                    record,
                    DeadLetterReason.of(violation.rule()),
                    violation.detail(),
                    schemaId,
                    tenant,
                    embeddingId,
                    active);
            return;
        }

        DeadLetterReason refused = tenantRefusal(tenant);
        if (refused != null) {
            deadLetter(record, refused, refusalDetail(refused, tenant), schemaId, tenant, embeddingId, false);
            return;
        }

        // The canonical bytes to seal: in place in the record's value (fast path, or a canonical writer), else
        // re-encoded.
        final byte[] plaintext;
        final int ptOffset;
        final int ptLength;
        if (inspected != null || java.util.Objects.requireNonNull(decoded).canonicalWriter()) {
            plaintext = value;
            ptOffset = EmbeddingEventCodec.PREFIX_LENGTH;
            ptLength = value.length - EmbeddingEventCodec.PREFIX_LENGTH;
        } else {
            plaintext = EmbeddingEventCodec.toCanonicalAvro(decoded.event());
            ptOffset = 0;
            ptLength = plaintext.length;
        }
        byte[] envelope;
        try {
            envelope = waitFor(
                    "KMS",
                    () -> parts.sealer()
                            .seal(tenant, embeddingId, PayloadType.EMBEDDING_EVENT_AVRO, plaintext, ptOffset, ptLength),
                    KmsUnavailableException.class,
                    e -> true);
        } catch (KeyDeniedException | UnknownKeyException e) {
            boolean denied = e instanceof KeyDeniedException;
            treatAsRevoked(tenant, e);
            deadLetter(
                    record,
                    denied ? DeadLetterReason.KEY_DENIED : DeadLetterReason.KEY_UNKNOWN,
                    (denied ? "the tenant's KMS denied its key" : "the tenant's KMS does not know its key")
                            + "; treated as revoked",
                    schemaId,
                    tenant,
                    embeddingId,
                    false);
            return;
        } finally {
            // The plaintext is not needed any more: clear it (the record's own value in place, once sealed or refused).
            Arrays.fill(plaintext, ptOffset, ptOffset + ptLength, (byte) 0);
        }
        byte[] key = new SealedRecordKey(tenant, embeddingId).toBytes();
        context.forward(new Record<>(key, envelope, record.timestamp(), passThroughHeaders(record.headers())));
        parts.metrics().sealed(tenant);
    }

    /** Why the tenant's records must not be sealed now, or null if they may. */
    private @Nullable DeadLetterReason tenantRefusal(String tenant) {
        TenantState state = parts.directory().get(tenant);
        if (state == null) {
            if (!parts.options().autoRegisterTenants()) {
                return DeadLetterReason.UNKNOWN_TENANT;
            }
        } else {
            switch (state.status()) {
                case REVOKED -> {
                    return DeadLetterReason.TENANT_REVOKED;
                }
                case DESTROYED -> {
                    return DeadLetterReason.TENANT_DESTROYED;
                }
                default -> {
                    if (state.kms() != null
                            && !state.kms().equals(parts.sealer().keyring().provider())) {
                        return DeadLetterReason.UNSUPPORTED_KMS;
                    }
                }
            }
        }
        Long until = deniedUntil.get(tenant);
        if (until != null) {
            if (System.currentTimeMillis() < until) {
                return DeadLetterReason.KEY_DENIED;
            }
            deniedUntil.remove(tenant, until);
        }
        return null;
    }

    private String refusalDetail(DeadLetterReason reason, String tenant) {
        return switch (reason) {
            case UNKNOWN_TENANT -> "tenant " + tenant + " has not registered a key (see keyring.events)";
            case TENANT_REVOKED -> "tenant " + tenant + " revoked its key";
            case TENANT_DESTROYED -> "tenant " + tenant + " destroyed its key";
            case UNSUPPORTED_KMS ->
                "tenant " + tenant + " registered with KMS "
                        + parts.directory().get(tenant).kms() + ", this pipeline uses "
                        + parts.sealer().keyring().provider();
            case KEY_DENIED -> "tenant " + tenant + "'s KMS denied its key recently; retried after the cool-down";
            default -> reason.name();
        };
    }

    private boolean isActive(String tenant) {
        return tenantRefusal(tenant) == null;
    }

    private void treatAsRevoked(String tenant, KmsException e) {
        deniedUntil.put(
                tenant,
                System.currentTimeMillis() + parts.options().deniedCooldown().toMillis());
        parts.sealer().keyring().evict(tenant);
        LOG.warn(
                "KMS refused the key of tenant {} ({}); its records are refused as if it were revoked: {}",
                tenant,
                e.getClass().getSimpleName(),
                e.getMessage());
    }

    /**
     * Runs {@code call}, retrying with jittered backoff while it fails with a dependency-unavailable exception,
     * up to {@code maxDependencyWait}; reports the dependency as degraded meanwhile.
     */
    private <T, E extends RuntimeException> T waitFor(
            String dependency, Supplier<T> call, Class<E> type, java.util.function.Predicate<E> unavailable) {
        long start = System.nanoTime();
        long backoff = 50;
        while (true) {
            try {
                T result = call.get();
                parts.health().recovered(dependency);
                return result;
            } catch (RuntimeException e) {
                if (!type.isInstance(e) || !unavailable.test(type.cast(e))) {
                    throw e;
                }
                parts.health().degraded(dependency, String.valueOf(e.getMessage()));
                long waited = System.nanoTime() - start;
                if (waited > parts.options().maxDependencyWait().toNanos()
                        || parts.health().isShuttingDown()) {
                    throw e;
                }
                backoff = Math.min(backoff * 2, parts.options().maxBackoff().toMillis());
                try {
                    Thread.sleep(ThreadLocalRandom.current().nextLong(backoff / 2, backoff + 1));
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    private void deadLetter(
            Record<byte[], byte[]> record,
            DeadLetterReason reason,
            @Nullable String detail,
            int schemaId,
            @Nullable String tenantId,
            @Nullable String embeddingId,
            boolean sealOriginal) {
        RecordMetadata source = context.recordMetadata().orElse(null);
        byte[] sealedOriginal = null;
        if (sealOriginal && parts.options().sealOriginalInDeadLetters() && source != null && tenantId != null) {
            try {
                sealedOriginal = parts.sealer()
                        .seal(
                                tenantId,
                                DeadLetters.originalBinding(source.topic(), source.partition(), source.offset()),
                                PayloadType.RAW_RECORD_VALUE,
                                record.value());
            } catch (KmsException | IllegalArgumentException e) {
                LOG.debug("dead letter for tenant {} keeps metadata only: {}", tenantId, e.getMessage());
            }
        }
        DeadLetters.Facts facts = new DeadLetters.Facts(
                reason,
                detail,
                source,
                schemaId,
                record.value() == null ? 0 : record.value().length,
                tenantId,
                embeddingId,
                context.currentSystemTimeMs(),
                sealedOriginal);
        if (LOG.isDebugEnabled()) {
            LOG.debug(
                    "dead-lettering record {}-{}@{}: {}",
                    source == null ? "?" : source.topic(),
                    source == null ? -1 : source.partition(),
                    source == null ? -1 : source.offset(),
                    reason);
        }
        context.forward(
                new Record<>(record.key(), DeadLetters.value(facts), record.timestamp(), DeadLetters.headers(facts)));
        parts.metrics().deadLettered(reason, tenantId);
    }

    /** The producer's headers travel on, except any claiming to be ours. */
    private static Headers passThroughHeaders(Headers in) {
        boolean reserved = false;
        for (Header h : in) {
            reserved |= h.key().startsWith(RESERVED_HEADER_PREFIX);
        }
        if (!reserved) {
            return in; // nothing to drop: pass them on as they are (most records have none)
        }
        RecordHeaders out = new RecordHeaders();
        for (Header h : in) {
            if (!h.key().startsWith(RESERVED_HEADER_PREFIX)) {
                out.add(h);
            }
        }
        return out;
    }
}
