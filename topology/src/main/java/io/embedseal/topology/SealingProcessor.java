package io.embedseal.topology;

import io.embedseal.keyring.dek.DekDestroyedException;
import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.keyring.kms.decorator.KmsDeadline;
import io.embedseal.keyring.tenant.TenantFaults;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.WireFormatException;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.RecordVersion;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.serdes.validation.EmbeddingFacts;
import io.embedseal.serdes.validation.EmbeddingValidator;
import java.util.Arrays;
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
 *   <li>a record naming a schema that is not Avro, or not readable as an embedding event, is dead-lettered
 *       ({@code NOT_AVRO_SCHEMA}, {@code INCOMPATIBLE_SCHEMA}) and the id remembered: it never waits;</li>
 *   <li>a tenant that never registered (unless auto-registration is on), is revoked or destroyed, or whose key fails
 *       (any error of its KMS for its key: see {@link #sealFor}), gets metadata-only dead letters; a fault of the
 *       tenant's key is kept in {@link TenantFaults} (the tenant shows as degraded) and its DEKs are evicted; the
 *       other tenants flow on;</li>
 *   <li>when the KMS (for every key) or the schema registry cannot be reached, the record <b>waits</b>: it is retried
 *       with jittered backoff inside the transaction, nothing is committed past it, the pipeline reports DEGRADED,
 *       and processing resumes by itself. Other records of the same stream thread wait behind it; other threads and
 *       instances go on. After {@code maxDependencyWait} the failure is thrown and the thread is replaced, retrying
 *       the record. This wait is the pipeline's one retry layer: its KMS client does not retry by itself.</li>
 * </ul>
 */
final class SealingProcessor implements Processor<byte[], byte[], byte[], byte[]> {

    private static final Logger LOG = LoggerFactory.getLogger(SealingProcessor.class);
    private static final String RESERVED_HEADER_PREFIX = "embedseal.";

    /** Attempts of one record at a tenant's key that the KMS does not answer, before its tenant is judged. */
    static final int TENANT_ATTEMPTS = 2;

    private final EmbedsealTopology.Parts parts;
    /** Tenants whose key failed recently (shared by the processors of this instance). */
    private final TenantFaults faults;
    /** Tenants whose dead letters keep metadata only until when, after sealing an original failed. */
    private final java.util.Map<String, Long> originalsOffUntil = new java.util.HashMap<>();

    @SuppressWarnings("NullAway.Init") // set in init(), which Kafka Streams calls before process()
    private ProcessorContext<byte[], byte[]> context;

    /** Seals dead letters' originals for their own purpose, so none can pass for a record of the sealed topic. */
    private final Sealer deadLetterSealer;

    SealingProcessor(EmbedsealTopology.Parts parts) {
        this.parts = parts;
        this.deadLetterSealer = parts.sealer().withPurpose(DeadLetters.ENVELOPE_PURPOSE);
        this.faults = parts.faults();
    }

    @Override
    public void init(ProcessorContext<byte[], byte[]> context) {
        this.context = context;
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        byte[] value = record.value();
        if (value == null) {
            deleteOrDeadLetter(record);
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

        // A revocation this instance has not seen must not be sealed past (a dead letter's sealed original included):
        // wait while key events are stale.
        awaitCurrentKeyEvents();
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
        String ahead = tooFarAhead(facts.eventTimeMillis(), "event time");
        if (ahead != null) {
            deadLetter(record, DeadLetterReason.EVENT_TIME_AHEAD, ahead, schemaId, tenant, embeddingId, true);
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
            envelope = sealFor(
                    tenant,
                    embeddingId,
                    versionOf(facts.eventTimeMillis()),
                    PayloadType.EMBEDDING_EVENT_AVRO,
                    plaintext,
                    ptOffset,
                    ptLength);
        } catch (TenantKeyFault f) {
            deadLetter(record, f.reason, f.detail, schemaId, tenant, embeddingId, false);
            return;
        } finally {
            // The plaintext is not needed any more: clear it (the record's own value in place, once sealed or refused).
            Arrays.fill(plaintext, ptOffset, ptOffset + ptLength, (byte) 0);
        }
        byte[] key = new SealedRecordKey(tenant, embeddingId).toBytes(record.key()); // the raw key, when it is this
        context.forward(new Record<>(key, envelope, record.timestamp(), passThroughHeaders(record.headers())));
        parts.metrics().sealed(tenant);
    }

    /**
     * The record version of what this record seals: its event time (before 1970 counts as 0), then its offset in the
     * raw topic. A record's key decides its partition, so the versions of one embedding follow the producer's order
     * wherever their event times tie.
     */
    private RecordVersion versionOf(long eventTimeMillis) {
        long offset = context.recordMetadata().map(RecordMetadata::offset).orElse(0L);
        return new RecordVersion(Math.max(0, eventTimeMillis), Math.max(0, offset));
    }

    /** Why a time is too far ahead of this instance's clock to be a record's version, or null if it is not. */
    private @Nullable String tooFarAhead(long millis, String what) {
        long ahead = millis - context.currentSystemTimeMs();
        if (ahead <= parts.options().maxEventTimeAhead().toMillis()) {
            return null;
        }
        return what + " is " + (ahead / 1000) + " s ahead of this instance's clock (at most "
                + parts.options().maxEventTimeAhead().toSeconds() + " s: validation.max-event-time-ahead-seconds)";
    }

    /**
     * A raw record without a value is a delete when its key is {@code tenant/embeddingId}: it becomes a sealed delete
     * marker (envelope version 2, payload type 3) versioned by the record's timestamp and offset, under the same rules
     * as an embedding (registered, active tenant; a working key). Anything else without a value is dead-lettered
     * ({@code NULL_VALUE}). Never a bare null on the sealed topic: sinks delete only what a tenant's key vouches for.
     */
    private void deleteOrDeadLetter(Record<byte[], byte[]> record) {
        SealedRecordKey target;
        try {
            target = SealedRecordKey.parse(record.key());
        } catch (IllegalArgumentException e) {
            deadLetter(
                    record,
                    DeadLetterReason.NULL_VALUE,
                    "record has no value, and its key is not tenant/embeddingId (a delete's key)",
                    -1,
                    null,
                    null,
                    false);
            return;
        }
        String tenant = target.tenantId();
        String embeddingId = target.embeddingId();
        awaitCurrentKeyEvents();
        DeadLetterReason refused = tenantRefusal(tenant);
        if (refused != null) {
            deadLetter(record, refused, refusalDetail(refused, tenant), -1, tenant, embeddingId, false);
            return;
        }
        if (record.timestamp() < 0) {
            deadLetter(
                    record,
                    DeadLetterReason.DELETE_WITHOUT_TIME,
                    "a delete's record has no timestamp to version it by",
                    -1,
                    tenant,
                    embeddingId,
                    false);
            return;
        }
        String ahead = tooFarAhead(record.timestamp(), "the delete's record timestamp");
        if (ahead != null) {
            deadLetter(record, DeadLetterReason.EVENT_TIME_AHEAD, ahead, -1, tenant, embeddingId, false);
            return;
        }
        byte[] marker;
        try {
            marker = sealFor(
                    tenant, embeddingId, versionOf(record.timestamp()), PayloadType.DELETE_MARKER, new byte[0], 0, 0);
        } catch (TenantKeyFault f) {
            deadLetter(record, f.reason, f.detail, -1, tenant, embeddingId, false);
            return;
        } catch (IllegalArgumentException e) { // an embedding id over the envelope's limit
            deadLetter(
                    record,
                    DeadLetterReason.NULL_VALUE,
                    "a delete's key is out of bounds: " + e.getMessage(),
                    -1,
                    tenant,
                    null,
                    false);
            return;
        }
        context.forward(
                new Record<>(target.toBytes(), marker, record.timestamp(), passThroughHeaders(record.headers())));
        parts.metrics().sealed(tenant);
    }

    /**
     * Waits while this instance cannot confirm it has applied every key event ({@link KeyEventFreshness}), like a
     * record waits for an unreachable dependency: DEGRADED meanwhile, the thread replaced after {@code
     * maxDependencyWait}.
     */
    private void awaitCurrentKeyEvents() {
        String stale = parts.keyEventFreshness().staleness();
        if (stale == null) {
            return;
        }
        long start = System.nanoTime();
        long backoff = 50;
        while (stale != null) {
            parts.health().degraded(KEY_EVENTS, stale);
            if (System.nanoTime() - start > parts.options().maxDependencyWait().toNanos()
                    || parts.health().isShuttingDown()) {
                throw new KeyEventsStaleException(stale);
            }
            backoff = Math.min(backoff * 2, parts.options().maxBackoff().toMillis());
            try {
                Thread.sleep(ThreadLocalRandom.current().nextLong(backoff / 2, backoff + 1));
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
                throw new KeyEventsStaleException(stale);
            }
            stale = parts.keyEventFreshness().staleness();
        }
        parts.health().recovered(KEY_EVENTS);
    }

    /** The health problem's name while key events are stale. */
    static final String KEY_EVENTS = "key events";

    /** Key events stayed stale longer than a record may wait: the stream thread is replaced. */
    static final class KeyEventsStaleException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        KeyEventsStaleException(String why) {
            super(why);
        }
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
        TenantFaults.Fault fault = faults.coolingDown(tenant);
        if (fault != null) {
            return reasonOf(fault.kind());
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
            case KEY_DENIED, KEY_UNKNOWN, KEY_FAILED, KEY_UNAVAILABLE -> {
                TenantFaults.Fault f = faults.coolingDown(tenant);
                yield "tenant " + tenant + "'s key failed recently (" + reason + (f == null ? "" : ": " + f.detail())
                        + "); its records are set aside until the cool-down ends, without asking its KMS";
            }
            default -> reason.name();
        };
    }

    private boolean isActive(String tenant) {
        return tenantRefusal(tenant) == null;
    }

    /**
     * Seals one record under its tenant's key, classifying every failure once, by cause:
     *
     * <ul>
     *   <li>the KMS answers nobody (the probe on a key no tenant has fails too): the record waits, as for any
     *       dependency (see {@link #waitFor}); after {@code maxDependencyWait} the stream thread is replaced;</li>
     *   <li>the KMS answers, but not for this tenant's key ({@value #TENANT_ATTEMPTS} attempts time out or fail with
     *       5xx): a fault of this tenant ({@code KEY_UNAVAILABLE});</li>
     *   <li>denied, unknown key: treated as a revocation ({@code KEY_DENIED}, {@code KEY_UNKNOWN});</li>
     *   <li>anything else the tenant's key throws ({@code KEY_FAILED}): an unsupported operation, HTTP 4xx, an answer
     *       that does not parse, a corrupt keyset, a token attribute that forbids wrapping.</li>
     * </ul>
     *
     * A fault of the tenant is recorded in {@link TenantFaults}: the tenant shows as degraded, its DEKs are dropped,
     * and its records go to the dead-letter topic (metadata only; the raw record stays in its topic for replay)
     * without asking the KMS until the cool-down ends. The other tenants flow on.
     *
     * @throws TenantKeyFault the tenant's key failed; the record is dead-lettered
     */
    private byte[] sealFor(
            String tenant,
            String embeddingId,
            RecordVersion version,
            PayloadType payloadType,
            byte[] plaintext,
            int offset,
            int length) {
        long start = System.nanoTime();
        long backoff = 50;
        int attempts = 0;
        int destroyedRetries = 0;
        while (true) {
            attempts++;
            try {
                byte[] envelope =
                        parts.sealer().seal(tenant, embeddingId, version, payloadType, plaintext, offset, length);
                if (attempts > 1) {
                    parts.health().recovered("KMS");
                }
                faults.clear(tenant);
                return envelope;
            } catch (DekDestroyedException e) {
                // The DEK was destroyed between the keyring and its use: an expiry, or an eviction that may be a
                // revocation just applied. Look at the tenant's state again before asking the KMS for another.
                DeadLetterReason now = tenantRefusal(tenant);
                if (now != null) {
                    throw new TenantKeyFault(now, refusalDetail(now, tenant));
                }
                if (++destroyedRetries > 3) {
                    throw new TenantKeyFault(
                            DeadLetterReason.KEY_UNAVAILABLE, "the tenant's DEKs were destroyed while in use, again");
                }
                attempts--;
                continue;
            } catch (KmsUnavailableException e) {
                // The tenant's, or everybody's (no answer to the probe, every call slot hanging, a brownout)?
                if (parts.kmsReachability().isKeysOwnFault(e, faults.recentlyUnavailable())) {
                    // A deadline miss is judged at once, so a hanging key holds the thread once; a quick failure (a
                    // 5xx, a refused connection) is tried once more after a short pause first.
                    if (KmsDeadline.isDeadlineMiss(e) || attempts >= TENANT_ATTEMPTS) {
                        throw fault(tenant, TenantFaults.Kind.KEY_UNAVAILABLE, e);
                    }
                    sleepQuietly(ThreadLocalRandom.current().nextLong(20, 51));
                    continue;
                }
                backoff = pauseOrGiveUp("KMS", e, start, backoff);
            } catch (KeyDeniedException e) {
                throw fault(tenant, TenantFaults.Kind.KEY_DENIED, e);
            } catch (UnknownKeyException e) {
                throw fault(tenant, TenantFaults.Kind.KEY_UNKNOWN, e);
            } catch (RuntimeException e) {
                // KmsException of any other kind, or whatever a provider lets through: this tenant's key, not the
                // pipeline. (The fields were validated, so an IllegalArgumentException here is the key's too.)
                throw fault(tenant, TenantFaults.Kind.KEY_FAILED, e);
            }
        }
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private TenantKeyFault fault(String tenant, TenantFaults.Kind kind, RuntimeException e) {
        String detail = e.getClass().getSimpleName() + ": " + e.getMessage();
        TenantFaults.Fault f = faults.record(tenant, kind, detail);
        parts.sealer().keyring().evict(tenant);
        if (f.failures() == 1) {
            LOG.warn(
                    "the key of tenant {} failed ({}); its records are dead-lettered for {} s without asking its KMS, "
                            + "then tried again; other tenants are not affected: {}",
                    tenant,
                    kind,
                    faults.cooldown().toSeconds(),
                    detail);
        } else {
            LOG.debug("the key of tenant {} failed again ({}, {} times): {}", tenant, kind, f.failures(), detail);
        }
        parts.metrics().tenantFault(tenant, kind.name());
        return new TenantKeyFault(
                reasonOf(kind),
                switch (kind) {
                    case KEY_DENIED -> "the tenant's KMS denied its key; treated as revoked";
                    case KEY_UNKNOWN -> "the tenant's KMS does not know its key; treated as revoked";
                    case KEY_UNAVAILABLE -> "the tenant's KMS answers, but not for its key (" + detail + ")";
                    case KEY_FAILED -> "the tenant's key failed (" + detail + ")";
                });
    }

    private static DeadLetterReason reasonOf(TenantFaults.Kind kind) {
        return switch (kind) {
            case KEY_DENIED -> DeadLetterReason.KEY_DENIED;
            case KEY_UNKNOWN -> DeadLetterReason.KEY_UNKNOWN;
            case KEY_FAILED -> DeadLetterReason.KEY_FAILED;
            case KEY_UNAVAILABLE -> DeadLetterReason.KEY_UNAVAILABLE;
        };
    }

    /** A record's tenant key failed: it is dead-lettered with this reason. */
    private static final class TenantKeyFault extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final DeadLetterReason reason;
        final String detail;

        TenantKeyFault(DeadLetterReason reason, String detail) {
            super(reason.name(), null, false, false);
            this.reason = reason;
            this.detail = detail;
        }
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
                backoff = pauseOrGiveUp(dependency, e, start, backoff);
            }
        }
    }

    /**
     * One pause of a record waiting for a dependency: reports it degraded, rethrows {@code e} once the record has
     * waited {@code maxDependencyWait} (or the pipeline is closing), else sleeps with jitter and returns the next
     * backoff.
     */
    private long pauseOrGiveUp(String dependency, RuntimeException e, long start, long backoff) {
        parts.health().degraded(dependency, String.valueOf(e.getMessage()));
        if (System.nanoTime() - start > parts.options().maxDependencyWait().toNanos()
                || parts.health().isShuttingDown()) {
            throw e;
        }
        long next = Math.min(backoff * 2, parts.options().maxBackoff().toMillis());
        try {
            Thread.sleep(ThreadLocalRandom.current().nextLong(next / 2, next + 1));
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
            throw e;
        }
        return next;
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
        if (sealOriginal
                && parts.options().sealOriginalInDeadLetters()
                && source != null
                && tenantId != null
                && !originalsOff(tenantId)) {
            try {
                sealedOriginal = deadLetterSealer.seal(
                        tenantId,
                        DeadLetters.originalBinding(source.topic(), source.partition(), source.offset()),
                        new RecordVersion(Math.max(0, record.timestamp()), Math.max(0, source.offset())),
                        PayloadType.RAW_RECORD_VALUE,
                        record.value());
            } catch (RuntimeException e) { // the tenant's key, a field: the dead letter keeps metadata only
                LOG.debug("dead letter for tenant {} keeps metadata only: {}", tenantId, e.getMessage());
                // Do not ask a failing key again for every invalid record of its tenant (a flood of them would hold
                // the thread for the call deadline each time): originals of this tenant stay unsealed a cool-down.
                originalsOffUntil.put(
                        tenantId, System.nanoTime() + faults.cooldown().toNanos());
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

    /** Whether a recent failure of the tenant's key (or its fault) leaves dead letters' originals unsealed now. */
    private boolean originalsOff(String tenant) {
        if (faults.coolingDown(tenant) != null) {
            return true;
        }
        if (originalsOffUntil.isEmpty()) {
            return false;
        }
        Long until = originalsOffUntil.get(tenant);
        if (until == null) {
            return false;
        }
        if (System.nanoTime() - until < 0) {
            return true;
        }
        originalsOffUntil.remove(tenant, until);
        return false;
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
