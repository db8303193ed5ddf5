package io.embedseal.sinks;

import io.embedseal.control.KeyEventFollower;
import io.embedseal.control.KeyEventGate;
import io.embedseal.control.KeyEventTrust;
import io.embedseal.control.audit.AuditKeys;
import io.embedseal.control.audit.AuditSigner;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.dek.DekDestroyedException;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.decorator.InterceptedKms;
import io.embedseal.keyring.kms.decorator.KmsDeadline;
import io.embedseal.keyring.kms.decorator.KmsReachability;
import io.embedseal.keyring.tenant.TenantDirectory;
import io.embedseal.keyring.tenant.TenantFaults;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.keyring.tenant.TenantStatus;
import io.embedseal.schemas.KeyEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.EmbeddingUnsealer;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.UnsealedEmbedding;
import io.embedseal.serdes.envelope.EnvelopeException;
import io.embedseal.serdes.envelope.EnvelopeHeader;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.sinks.EmbedsealSinkConfig.RevokedAction;
import io.embedseal.sinks.RefusedRecordException.Reason;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.errors.RetriableException;
import org.apache.kafka.connect.sink.ErrantRecordReporter;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTask;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What every embedseal sink task does around its store. For each record: check the tenant's key state (from
 * {@code keyring.events}, followed on a background thread), check the envelope against the record key, unseal it
 * through the tenant's KMS if the store needs the vector (or to authenticate it, in sealed mode), and hand it to the
 * store, which keeps record versions (see {@link RecordVersions}). Sealed delete markers delete; bare nulls do not,
 * unless {@code embedseal.delete.bare-null=delete}.
 * <ul>
 *   <li>REVOKED tenant, or KMS denial: the record is reported to Connect's errant-record reporter (still sealed),
 *       or waits (see {@link EmbedsealSinkConfig#REVOKED_ACTION}); nothing of the tenant is unsealed.</li>
 *   <li>DESTROYED tenant: its records are dropped (nothing can open them), its data in the store is deleted and a
 *       shred receipt is appended to the audit topic; a restart neither repeats nor loses the receipt.</li>
 *   <li>KMS unreachable: Connect redelivers the batch after a backoff; no offset moves past the record.</li>
 * </ul>
 * Offsets: {@link #preCommit} makes the store durable before returning the offsets Connect then commits, and every
 * write is an idempotent upsert keyed by (tenant, embedding id), so a restart neither loses nor duplicates.
 */
public abstract class EmbedsealSinkTask extends SinkTask {

    private static final Logger LOG = LoggerFactory.getLogger(EmbedsealSinkTask.class);
    private static final Duration RECEIPT_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration SHRED_RETRY = Duration.ofSeconds(30);
    private static final Duration SHRED_CONFIRM_RETRY = Duration.ofSeconds(5);

    @SuppressWarnings("NullAway.Init") // set in start(), which Connect calls before put()
    private EmbedsealSinkConfig config;

    @SuppressWarnings("NullAway.Init") // set in start(), which Connect calls before put()
    private volatile VectorStore store;

    @SuppressWarnings("NullAway.Init") // set in start(), which Connect calls before put()
    private volatile Keyring keyring;

    @SuppressWarnings("NullAway.Init") // set in start(), which Connect calls before put()
    private EmbeddingUnsealer unsealer;

    @SuppressWarnings("NullAway.Init") // set in start(), which Connect calls before put()
    private TenantDirectory directory;

    @SuppressWarnings("NullAway.Init") // set in start(), which Connect calls before put()
    private KeyEventFollower follower;

    @SuppressWarnings("NullAway.Init") // set in start(), which Connect calls before put()
    private ShredReceipts receipts;

    private @Nullable ErrantRecordReporter reporter;

    @SuppressWarnings("NullAway.Init") // set in start(), which Connect calls before put()
    private RevokedAction revokedAction;

    private final Map<String, TenantState> pendingShreds = new ConcurrentHashMap<>();
    private final Set<String> deniedLogged = ConcurrentHashMap.newKeySet();

    @SuppressWarnings("NullAway.Init") // set in start(), which Connect calls before put()
    private TenantFaults faults;

    @SuppressWarnings("NullAway.Init") // set in start(), which Connect calls before put()
    private KmsReachability reachability;

    private long staleLoggedAt;
    private final SinkCounters counters = new SinkCounters();
    private final KeyGoneProbe keyProbe = new KeyGoneProbe();
    private boolean stopped;

    private long nextShredAttempt = System.nanoTime();

    /** Parses the connector's settings (the same {@code ConfigDef} the connector validated with). */
    protected abstract EmbedsealSinkConfig parse(Map<String, String> props);

    /** Opens the store; {@code keyring} is the tenants' KMS and key naming, for a store that keeps keys of its own. */
    protected abstract VectorStore openStore(EmbedsealSinkConfig config, Keyring keyring);

    /** A short name of the sink for receipts and logs: {@code lucene}, {@code postgresql}. */
    protected abstract String sinkName();

    @Override
    public String version() {
        return SinkVersion.get();
    }

    @Override
    public void start(Map<String, String> props) {
        config = parse(props);
        KeyringSettings ks = config.keyringSettings().with(Map.of("kms.create-missing-keys", "false"));
        directory = new TenantDirectory(ks.naming());
        Kms kms;
        KeyEventGate gate;
        AuditSigner auditSigner;
        try {
            KmsProvider provider = KmsProviders.create(ks);
            try {
                gate = KeyEventTrust.gate(ks, directory, provider::signingKeys);
                auditSigner = AuditKeys.signer(ks, provider, "sink");
            } catch (IllegalArgumentException e) {
                provider.close();
                throw e;
            }
            // No retry inside: a tenant's key is tried twice here, and Connect's redelivery waits out an outage.
            kms = KmsProviders.decorate(provider, ks, null, null, ks.naming()::tenantFor, Clock.systemUTC(), true);
            reachability = new KmsReachability(
                    new InterceptedKms(InterceptedKms.view(provider), new KmsDeadline(ks.callDeadline())),
                    Duration.ofSeconds(5));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage());
        }
        keyring = Keyring.builder(kms).naming(directory).policy(ks.dekPolicy()).build();
        faults = new TenantFaults(Duration.ofMillis(config.tenantFaultCooldownMs()));
        unsealer = new EmbeddingUnsealer(new Sealer(keyring, config.envelopePurpose(), config.acceptVersion1()), null);
        String id = config.connectorName() + "-" + config.taskIndex();
        try {
            store = openStore(config, keyring);
            LOG.info(
                    "{} sink task {} writes to {} in {}",
                    sinkName(),
                    id,
                    store.describe(),
                    store.needsPlaintext()
                            ? "index mode (unseals through the tenants' KMS)"
                            : "sealed mode (stores envelopes only)");
            receipts = new ShredReceipts(config.clientProps(), config.auditTopic(), "sink-" + id, auditSigner);
            follower =
                    KeyEventFollower.start(config.clientProps(), config.keyEventsTopic(), gate, this::onKeyEvent, id);
            if (!follower.awaitCaughtUp(Duration.ofMillis(config.startupTimeoutMs()))) {
                throw new ConnectException("could not read the key-event topic " + config.keyEventsTopic() + " within "
                        + config.startupTimeoutMs() + " ms (" + EmbedsealSinkConfig.STARTUP_TIMEOUT_MS + "); check "
                        + EmbedsealSinkConfig.BOOTSTRAP_SERVERS + " and that the topic exists. Nothing was written.");
            }
            if (gate.looksUnmigrated()) {
                throw new ConnectException(KeyEventTrust.unmigratedMessage(config.keyEventsTopic(), gate));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stop();
            throw new ConnectException("interrupted while starting", e);
        } catch (StoreException e) {
            stop();
            throw new ConnectException(e.getMessage(), e.getCause());
        } catch (RuntimeException e) {
            stop();
            throw e;
        }
        reporter = errantRecordReporter();
        revokedAction = config.revokedAction();
        if (revokedAction == RevokedAction.REPORT && reporter == null) {
            LOG.warn(
                    "{}=report but the connector has no errant-record reporter (errors.deadletterqueue.topic.name or "
                            + "errors.log.enable): records of revoked tenants will wait instead",
                    EmbedsealSinkConfig.REVOKED_ACTION);
            revokedAction = RevokedAction.WAIT;
        }
        shredPending();
    }

    private @Nullable ErrantRecordReporter errantRecordReporter() {
        try {
            return context == null ? null : context.errantRecordReporter();
        } catch (NoSuchMethodError | NoClassDefFoundError e) {
            return null; // a worker older than Kafka 2.6
        }
    }

    /** On the follower's thread: evict at once, and queue shredding for the task's thread. */
    private void onKeyEvent(KeyEventGate.Decision d) {
        String tenant = d.tenant();
        if (d.outcome() == KeyEventGate.Outcome.REFUSED) {
            counters.keyEventsRefused.incrementAndGet();
            return; // the follower logged why; nothing changed
        }
        Keyring k = keyring;
        if (d.outcome() == KeyEventGate.Outcome.FORGOTTEN) {
            if (k != null && tenant != null) {
                k.evict(tenant);
            }
            return;
        }
        TenantState state = java.util.Objects.requireNonNull(d.state());
        KeyEvent event = java.util.Objects.requireNonNull(d.event());
        if (k != null
                && (state.status() != TenantStatus.ACTIVE
                        || event.getType() == KeyEventType.ROTATED
                        || event.getType() == KeyEventType.MIGRATED)) {
            k.evict(state.tenantId());
        }
        if (state.status() == TenantStatus.ACTIVE) {
            deniedLogged.remove(state.tenantId());
        }
        TenantFaults f = faults;
        if (f != null) {
            f.clear(state.tenantId()); // the tenant's authority acted on its key: ask its KMS again
        }
        VectorStore s = store;
        if (s != null) {
            try {
                s.tenantChanged(state, event.getType() == KeyEventType.ROTATED);
            } catch (RuntimeException e) {
                LOG.warn(
                        "{} sink: the store could not follow tenant {}'s key event: {}",
                        sinkName(),
                        tenant,
                        e.toString());
            }
        }
        if (state.status() == TenantStatus.DESTROYED) {
            pendingShreds.put(state.tenantId(), state);
        }
        if (follower != null && follower.isCaughtUp()) {
            LOG.info(
                    "tenant {} is now {} ({} #{})",
                    state.tenantId(),
                    state.status(),
                    event.getType(),
                    event.getSequence());
        }
    }

    @Override
    public void put(Collection<SinkRecord> records) {
        recordsSincePreCommit += records.size();
        failClosedIfKeyEventsStale(records.isEmpty());
        shredPending();
        receipts.heartbeatIfDue(RECEIPT_TIMEOUT);
        prepareVersions(records);
        for (SinkRecord r : records) {
            handle(r);
        }
        try {
            store.flush();
        } catch (StoreException e) {
            throw translate(e);
        }
        counters.logIfDue(LOG, sinkName());
    }

    /** Lets the store read, in one go, the versions it holds for the batch's keys. */
    private void prepareVersions(Collection<SinkRecord> records) {
        List<SealedRecordKey> keys = new ArrayList<>(records.size());
        for (SinkRecord r : records) {
            try {
                keys.add(SealedRecordKey.parse(keyBytes(r)));
            } catch (IllegalArgumentException | DataException e) {
                // refused in handle()
            }
        }
        try {
            store.prepare(keys);
        } catch (StoreException e) {
            throw translate(e);
        }
    }

    /**
     * Fail closed when key events stop: while the follower cannot confirm that every key event is applied (the topic
     * unreadable, an authorisation error, the brokers gone), nothing is written or unsealed, and Connect redelivers
     * the batch after the backoff. It goes on by itself once the follower is current again.
     */
    private void failClosedIfKeyEventsStale(boolean emptyBatch) {
        String stale = follower.staleness(Duration.ofMillis(config.keyEventsMaxStalenessMs()));
        counters.keyEventsStale = stale != null;
        if (stale == null) {
            return;
        }
        long now = System.nanoTime();
        if (now - staleLoggedAt > Duration.ofSeconds(30).toNanos() || staleLoggedAt == 0) {
            LOG.error(
                    "{} sink task {}-{} stops writing and unsealing: {} ({}); Connect redelivers the batch",
                    sinkName(),
                    config.connectorName(),
                    config.taskIndex(),
                    stale,
                    EmbedsealSinkConfig.KEY_EVENTS_MAX_STALENESS_MS);
            staleLoggedAt = now;
        }
        if (emptyBatch) {
            return;
        }
        counters.staleWaits++;
        context.timeout(config.waitBackoffMs());
        throw new RetriableException(stale + "; nothing is written or unsealed until key events are current again ("
                + EmbedsealSinkConfig.KEY_EVENTS_MAX_STALENESS_MS + ")");
    }

    private void handle(SinkRecord r) {
        byte[] keyBytes = keyBytes(r);
        SealedRecordKey key;
        try {
            key = SealedRecordKey.parse(keyBytes);
        } catch (IllegalArgumentException e) {
            refuse(
                    r,
                    new RefusedRecordException(
                            Reason.INVALID_KEY, "record key at " + where(r) + " is not tenant/embeddingId"));
            return;
        }
        TenantState state = directory.get(key.tenantId());
        TenantStatus status = state == null ? null : state.status();
        if (status == TenantStatus.DESTROYED) {
            counters.droppedDestroyed++;
            return; // crypto-shredded: nothing can open it, and the store no longer holds the tenant
        }
        if (state == null) {
            // Like the pipeline: a tenant that never registered has no key and nothing in the store, and gets nothing.
            refuse(
                    r,
                    new RefusedRecordException(
                            Reason.TENANT_UNREGISTERED,
                            "tenant " + key.tenantId() + " has not registered a key on " + config.keyEventsTopic()
                                    + " (" + where(r) + ")"));
            return;
        }
        byte[] value = valueBytes(r);
        if (value == null) {
            if (config.bareNullDeletes()) {
                store.deleteUnchecked(key);
                counters.deleted++;
            } else {
                refuse(
                        r,
                        new RefusedRecordException(
                                Reason.BARE_NULL,
                                where(r) + ": a null value for " + key + " deletes nothing: nothing vouches for it "
                                        + "(the pipeline writes sealed delete markers; "
                                        + EmbedsealSinkConfig.BARE_NULL + "=delete honours bare nulls)"));
            }
            return;
        }
        if (status == TenantStatus.REVOKED) {
            revoked(r, "tenant " + key.tenantId() + " is REVOKED");
            return;
        }
        EnvelopeHeader header;
        try {
            header = EnvelopeHeader.parse(value);
        } catch (EnvelopeException e) {
            refuse(r, new RefusedRecordException(Reason.INVALID_ENVELOPE, where(r) + ": " + e.getMessage()));
            return;
        }
        if (!header.tenantId().equals(key.tenantId()) || !header.embeddingId().equals(key.embeddingId())) {
            refuse(
                    r,
                    new RefusedRecordException(
                            Reason.INVALID_ENVELOPE,
                            where(r) + ": the envelope is bound to another record than its key"));
            return;
        }
        String headerRefusal = headerRefusal(header);
        if (headerRefusal != null) {
            refuse(r, new RefusedRecordException(Reason.INVALID_ENVELOPE, where(r) + ": " + headerRefusal));
            return;
        }
        boolean marker = header.payloadType() == PayloadType.DELETE_MARKER;
        if (!marker && header.payloadType() != PayloadType.EMBEDDING_EVENT_AVRO) {
            // A dead letter's sealed original, say, moved onto the sealed topic: authentic, but not an embedding.
            refuse(
                    r,
                    new RefusedRecordException(
                            Reason.INVALID_ENVELOPE,
                            where(r) + ": payload type " + header.payloadType() + " is not an embedding"));
            return;
        }
        // Index mode opens every embedding; a delete marker, and in sealed mode every envelope (unless told not to), is
        // authenticated, so that the version it carries can be trusted before it changes the store.
        boolean decode = store.needsPlaintext() && !marker;
        boolean authenticate = !decode && (marker || config.verifyEnvelopes());

        UnsealedEmbedding opened = null;
        if (decode || authenticate) {
            TenantFaults.Fault cooling = faults.coolingDown(key.tenantId());
            if (cooling != null) {
                setAside(r, key.tenantId(), cooling.kind(), "its key failed recently (" + cooling.detail() + ")");
                return;
            }
            try {
                Object done = withTenantKey(
                        key.tenantId(),
                        decode ? () -> unsealer.unseal(keyBytes, value) : () -> unsealer.authenticate(keyBytes, value));
                if (done == null) {
                    handle(r); // the tenant's state changed while its DEK was in use: decide again, from the start
                    return;
                }
                if (done instanceof UnsealedEmbedding u) {
                    opened = u;
                }
                // A wrapped DEK the KMS just unwrapped: a genuine sample to ask it with, should DESTROYED come.
                keyProbe.remember(header);
            } catch (EnvelopeException e) {
                switch (e.reason()) {
                    case KMS_UNAVAILABLE -> {
                        context.timeout(config.waitBackoffMs());
                        throw new RetriableException("the KMS is unreachable; the batch is redelivered", e);
                    }
                    case KEY_REVOKED, KEY_UNKNOWN, KEY_FAILED -> {
                        if (e.reason() == EnvelopeException.Reason.KEY_REVOKED
                                && namesOlderVersion(header, state)
                                && currentKeyStillWorks(key.tenantId())) {
                            // The KEK version an envelope names is in its unauthenticated key slot: an old version
                            // the KMS now refuses (restricted after a re-wrap, or written there by anyone) is that
                            // record's problem, not a revocation of the tenant; unless the tenant's key itself is
                            // refused too (asked with a DEK this task unwrapped, its cached DEKs evicted first).
                            refuse(
                                    r,
                                    new RefusedRecordException(
                                            Reason.INVALID_ENVELOPE,
                                            where(r) + ": names " + header.kek() + ", an older version of tenant "
                                                    + key.tenantId() + "'s key that its KMS refuses (restricted?)"));
                            return;
                        }
                        if (e.reason() == EnvelopeException.Reason.KEY_UNKNOWN && !namesRegisteredKey(header, state)) {
                            // One record naming a key (or key version) the tenant never registered is that record's
                            // problem: refused alone, without treating the whole tenant as revoked for a cool-down.
                            refuse(
                                    r,
                                    new RefusedRecordException(
                                            Reason.INVALID_ENVELOPE,
                                            where(r) + ": names " + header.kek() + ", which tenant " + key.tenantId()
                                                    + " never registered, and its KMS does not know"));
                            return;
                        }
                        TenantFaults.Kind kind = switch (e.reason()) {
                            case KEY_REVOKED -> TenantFaults.Kind.KEY_DENIED;
                            case KEY_UNKNOWN -> TenantFaults.Kind.KEY_UNKNOWN;
                            default -> TenantFaults.Kind.KEY_FAILED;
                        };
                        faultOf(key.tenantId(), kind, e);
                        setAside(
                                r,
                                key.tenantId(),
                                kind,
                                "the KMS failed tenant " + key.tenantId() + "'s key (" + e.reason() + ")");
                        return;
                    }
                    default -> {
                        refuse(
                                r,
                                new RefusedRecordException(Reason.INVALID_ENVELOPE, where(r) + ": " + e.getMessage()));
                        return;
                    }
                }
            }
        }
        StoredRecord stored = new StoredRecord(
                key,
                header,
                value,
                opened,
                r.topic(),
                r.kafkaPartition() == null ? -1 : r.kafkaPartition(),
                r.kafkaOffset());
        try {
            if (marker) {
                if (store.delete(stored)) {
                    counters.deleted++;
                } else {
                    counters.redelivered++;
                }
            } else if (store.upsert(stored)) {
                counters.written++;
            } else {
                counters.redelivered++;
            }
        } catch (RefusedRecordException e) {
            if (e.reason() == Reason.STALE_VERSION) {
                counters.staleVersions++;
            }
            refuse(r, e);
        } catch (StoreException e) {
            throw translate(e);
        }
    }

    /**
     * Why a header is refused before any key is used: a version-1 envelope where they are no longer accepted, or an
     * envelope sealed for another purpose. Null if neither.
     */
    private @Nullable String headerRefusal(EnvelopeHeader header) {
        if (header.formatVersion() == EnvelopeHeader.VERSION_1 && !config.acceptVersion1()) {
            return "a version-1 envelope (no record version), refused by " + EmbedsealSinkConfig.ENVELOPE_ACCEPT_V1;
        }
        if (header.purpose() != null && !config.envelopePurpose().equals(header.purpose())) {
            return "sealed for '" + header.purpose() + "', and this sink stores '" + config.envelopePurpose() + "' ("
                    + EmbedsealSinkConfig.ENVELOPE_PURPOSE + ")";
        }
        return null;
    }

    /**
     * Whether the tenant's current key still works, asked with a DEK this task unwrapped (its cached DEKs are evicted
     * first, so the next record asks the KMS too). One KMS call per such record: no more than any junk record costs,
     * whose DEK id no cache holds.
     */
    private boolean currentKeyStillWorks(String tenant) {
        return keyProbe.ask(keyring, tenant) != KeyGoneProbe.Answer.GONE;
    }

    /** Whether the envelope names the tenant's registered key at a version older than its key events' newest. */
    private static boolean namesOlderVersion(EnvelopeHeader header, TenantState state) {
        return (state.kms() == null || header.kek().provider().equals(state.kms()))
                && header.kek().keyName().equals(state.kekName())
                && header.kek().version() < state.kekVersion();
    }

    /** Whether the envelope's KEK is the tenant's registered key at a version its key events have named. */
    private static boolean namesRegisteredKey(EnvelopeHeader header, TenantState state) {
        return (state.kms() == null || header.kek().provider().equals(state.kms()))
                && header.kek().keyName().equals(state.kekName())
                && header.kek().version() <= state.kekVersion();
    }

    /**
     * Unseals a record, trying the tenant's key twice when the KMS fails quickly for it (once when it does not answer
     * within the call deadline); if the KMS still answers
     * others (the probe on a key no tenant has), the fault is this tenant's ({@code KEY_UNAVAILABLE}): its record is
     * set aside and the others flow on. If the KMS answers nobody, {@code KMS_UNAVAILABLE} is thrown: the batch waits.
     */
    private <T> @Nullable T withTenantKey(String tenant, java.util.function.Supplier<T> use) {
        int destroyed = 0;
        for (int attempt = 1; ; attempt++) {
            try {
                T opened = use.get();
                faults.clear(tenant);
                return opened;
            } catch (EnvelopeException e) {
                if (e.reason() != EnvelopeException.Reason.KMS_UNAVAILABLE) {
                    throw e;
                }
                if (e.getCause() instanceof DekDestroyedException && destroyed++ < 3) {
                    // Destroyed between the cache and its use: an expiry, or an eviction that may be a revocation
                    // just applied. The caller looks at the tenant's state again before anything is opened.
                    attempt--;
                    TenantState now = directory.get(tenant);
                    if (now == null || now.status() != TenantStatus.ACTIVE) {
                        return null;
                    }
                    continue;
                }
                // The tenant's, or everybody's (no answer to the probe, every call slot hanging, a brownout)?
                if (!reachability.isKeysOwnFault(e, faults.recentlyUnavailable())) {
                    throw e;
                }
                // A deadline miss is judged at once, so a hanging key holds the task once; a quick failure is tried
                // once more after a short pause.
                if (attempt >= 2 || KmsDeadline.isDeadlineMiss(e)) {
                    faultOf(tenant, TenantFaults.Kind.KEY_UNAVAILABLE, e);
                    throw new EnvelopeException(
                            EnvelopeException.Reason.KEY_FAILED,
                            "the KMS answers, but not for tenant " + tenant + "'s key: " + e.getMessage(),
                            e);
                }
                try {
                    Thread.sleep(
                            java.util.concurrent.ThreadLocalRandom.current().nextLong(20, 51));
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    private void faultOf(String tenant, TenantFaults.Kind kind, Exception e) {
        TenantFaults.Fault f = faults.record(tenant, kind, e.getMessage() == null ? kind.name() : e.getMessage());
        keyring.evict(tenant);
        counters.tenantFaults++;
        if (f.failures() == 1) {
            LOG.warn(
                    "the key of tenant {} failed ({}); its records are set aside for {} s without asking its KMS, then "
                            + "tried again; other tenants are not affected: {}",
                    tenant,
                    kind,
                    faults.cooldown().toSeconds(),
                    f.detail());
        }
    }

    /** A record of a tenant whose key failed: like a revocation when denied or unknown, else reported. */
    private void setAside(SinkRecord r, String tenant, TenantFaults.Kind kind, String why) {
        if (kind == TenantFaults.Kind.KEY_DENIED || kind == TenantFaults.Kind.KEY_UNKNOWN) {
            revoked(r, "tenant " + tenant + ": " + why);
            return;
        }
        refuse(
                r,
                new RefusedRecordException(
                        Reason.KEY_FAILED,
                        "tenant " + tenant + ": " + why + "; the record stays sealed and can be replayed once the key "
                                + "works (" + where(r) + ")"));
    }

    private void revoked(SinkRecord r, String why) {
        if (revokedAction == RevokedAction.REPORT) {
            // Connect waits for the reporter's futures before it asks preCommit for offsets
            // (WorkerSinkTask.commitOffsets).
            // start() turns REPORT into WAIT when the worker has no reporter.
            var unused = java.util.Objects.requireNonNull(reporter)
                    .report(
                            r,
                            new RefusedRecordException(
                                    Reason.TENANT_REVOKED,
                                    why + "; the record stays sealed and can be replayed after RESTORED"));
            counters.reportedRevoked++;
            return;
        }
        context.timeout(config.waitBackoffMs());
        counters.waits++;
        throw new RetriableException(
                why + ": its records wait until it is RESTORED (" + EmbedsealSinkConfig.REVOKED_ACTION + "=wait)");
    }

    /** A record the store must not take: to the errant-record reporter, or the task fails (nothing is skipped silently). */
    private void refuse(SinkRecord r, RefusedRecordException e) {
        if (reporter == null) {
            throw new ConnectException(
                    e.getMessage() + ". Configure errors.tolerance=all and errors.deadletterqueue.topic.name "
                            + "to set such records aside instead of stopping.",
                    e);
        }
        // Connect waits for the reporter's futures before it asks preCommit for offsets (WorkerSinkTask.commitOffsets).
        var unused = reporter.report(r, e);
        counters.refused++;
    }

    private static byte[] keyBytes(SinkRecord r) {
        Object k = r.key();
        if (k == null || k instanceof byte[]) {
            return (byte[]) k;
        }
        if (k instanceof String s) {
            return s.getBytes(StandardCharsets.UTF_8);
        }
        throw new DataException(
                "record key at " + where(r) + " is a " + k.getClass().getSimpleName()
                        + "; set key.converter to org.apache.kafka.connect.converters.ByteArrayConverter or StringConverter");
    }

    private static byte[] valueBytes(SinkRecord r) {
        Object v = r.value();
        if (v == null || v instanceof byte[]) {
            return (byte[]) v;
        }
        throw new DataException(
                "record value at " + where(r) + " is a " + v.getClass().getSimpleName()
                        + "; sealed envelopes need value.converter=org.apache.kafka.connect.converters.ByteArrayConverter");
    }

    private static String where(SinkRecord r) {
        return r.topic() + "-" + r.kafkaPartition() + "@" + r.kafkaOffset();
    }

    @Override
    public Map<TopicPartition, OffsetAndMetadata> preCommit(Map<TopicPartition, OffsetAndMetadata> currentOffsets) {
        shredPending();
        boolean idle = recordsSincePreCommit == 0;
        recordsSincePreCommit = 0;
        try {
            if (!store.commitIfDue(idle)) {
                // The store keeps buffering (its commit interval has not passed): only what its last commit made
                // durable may be committed; the rest is redelivered after a crash, and upserts are idempotent.
                Map<TopicPartition, OffsetAndMetadata> durable = new java.util.HashMap<>(durableOffsets);
                durable.keySet().retainAll(currentOffsets.keySet());
                return durable;
            }
        } catch (StoreException e) {
            // Nothing is committed this time; Connect keeps the offsets and asks again.
            LOG.warn(
                    "{} sink could not commit its store; offsets stay where they were: {}", sinkName(), e.getMessage());
            return Map.of();
        }
        durableOffsets = Map.copyOf(currentOffsets);
        return currentOffsets;
    }

    /** The offsets the store's last commit made durable (what {@link #preCommit} may hand Connect until the next). */
    private Map<TopicPartition, OffsetAndMetadata> durableOffsets = Map.of();

    /** Records handed to {@link #put} since the last {@link #preCommit}: none means the flow is idle, so commit now. */
    private long recordsSincePreCommit;

    /**
     * Shreds every tenant DESTROYED so far that this task has not shredded (and receipted) yet. After a retriable
     * failure (the audit topic unreachable, say) the next attempt waits {@link #SHRED_RETRY}, so records keep flowing.
     */
    private void shredPending() {
        if (pendingShreds.isEmpty() || System.nanoTime() < nextShredAttempt) {
            return;
        }
        for (TenantState destroyed : List.copyOf(pendingShreds.values())) {
            String tenant = destroyed.tenantId();
            try {
                ShredRecord done = store.shredRecord(tenant).orElse(null);
                if (done == null && !kmsConfirmsGone(tenant)) {
                    continue; // asked again on the next batch after the retry interval
                }
                if (done == null) {
                    done = store.shred(destroyed);
                    LOG.info(
                            "shredded tenant {} from {}: deleted {}, kept {}",
                            tenant,
                            store.describe(),
                            done.deleted(),
                            done.kept());
                }
                if (!done.receipted()) {
                    receipts.append(
                            sinkName(),
                            config.connectorName(),
                            config.taskIndex(),
                            store.describe(),
                            destroyed,
                            done,
                            RECEIPT_TIMEOUT);
                    store.markReceipted(tenant);
                    LOG.info("shred receipt for tenant {} appended to {}", tenant, config.auditTopic());
                }
                pendingShreds.remove(tenant, destroyed);
            } catch (StoreException e) {
                if (!e.retriable()) {
                    throw new ConnectException("cannot shred tenant " + tenant + " from " + store.describe(), e);
                }
                LOG.warn(
                        "shredding tenant {} did not finish ({}); trying again in {} s",
                        tenant,
                        e.getMessage(),
                        SHRED_RETRY.toSeconds());
                nextShredAttempt = System.nanoTime() + SHRED_RETRY.toNanos();
                return;
            }
        }
    }

    /**
     * True once the tenant's KMS says its KEK is gone or unusable (or when there is nothing to ask it with); false,
     * with a log line saying why, while the key still unwraps: the tenant's records are not unsealed meanwhile
     * (its state is DESTROYED), but nothing is deleted on the word of the event alone.
     */
    private boolean kmsConfirmsGone(String tenant) {
        KeyGoneProbe.Answer a = keyProbe.ask(keyring, tenant);
        switch (a) {
            case GONE -> {
                keyProbe.forget(tenant);
                return true;
            }
            case NO_SAMPLE -> {
                LOG.info(
                        "tenant {} is DESTROYED; no record of it was seen since this task started, so its KMS "
                                + "cannot be asked first: shredding on the signed event",
                        tenant);
                return true;
            }
            case ALIVE ->
                LOG.warn(
                        "tenant {} is DESTROYED on {}, but its KMS still unwraps its DEKs under {}: its records are not "
                                + "unsealed, and nothing is shredded until the KMS confirms the key is gone (asked again "
                                + "every {} s)",
                        tenant,
                        config.keyEventsTopic(),
                        keyProbe.sampledKek(tenant),
                        SHRED_CONFIRM_RETRY.toSeconds());
            case UNKNOWN ->
                LOG.warn(
                        "tenant {} is DESTROYED; its KMS could not confirm the key is gone yet: asked again in {} s",
                        tenant,
                        SHRED_CONFIRM_RETRY.toSeconds());
        }
        nextShredAttempt = System.nanoTime() + SHRED_CONFIRM_RETRY.toNanos();
        return false;
    }

    private RuntimeException translate(StoreException e) {
        if (e.retriable()) {
            context.timeout(config.waitBackoffMs());
            return new RetriableException(e.getMessage(), e);
        }
        return new ConnectException(e.getMessage(), e);
    }

    @Override
    public void stop() {
        // Connect may call stop() after a failed start() that already cleaned up: each part is closed once, and a part
        // start() never made is skipped.
        if (stopped) {
            return;
        }
        stopped = true;
        if (follower != null) {
            follower.close();
        }
        if (store != null) {
            store.close();
        }
        if (receipts != null) {
            receipts.close();
        }
        if (keyring != null) {
            keyring.close(); // destroys every DEK in memory
            keyring.kms().close();
            LOG.info("{} sink task stopped: {}", sinkName(), counters);
        }
    }

    /** For tests and status: what the task has done. */
    public SinkCounters counters() {
        return counters;
    }
}
