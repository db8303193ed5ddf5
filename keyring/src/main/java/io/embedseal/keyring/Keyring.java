package io.embedseal.keyring;

import io.embedseal.keyring.dek.Dek;
import io.embedseal.keyring.dek.DekDestroyedException;
import io.embedseal.keyring.dek.DekFactory;
import io.embedseal.keyring.dek.DekId;
import io.embedseal.keyring.dek.Randomness;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.PublicKek;
import io.embedseal.keyring.kms.UnknownKeyException;
import java.lang.ref.WeakReference;
import java.time.Clock;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands out each tenant's DEKs within a {@link DekPolicy}.
 *
 * <ul>
 *   <li><b>Sealing</b>: one active DEK per tenant (and so per KEK version), created and wrapped on first use
 *       with a single KMS call (none for a tenant with a public-key KEK: {@link KekResolver#publicKekFor}), replaced after {@code maxRecordsPerDek} records or {@code maxDekAge}, whichever
 *       comes first. A replacement wraps under the KEK's then-current version, so rotations are picked up.</li>
 *   <li><b>Unsealing</b>: the DEK a sealed record names, unwrapped through the KMS and kept in a bounded cache
 *       with idle expiry. A KEK that is not the tenant's own is refused ({@link KeyMismatchException}).</li>
 *   <li><b>Absolute lifetime</b>: no DEK is used from memory longer than {@link DekPolicy#maxOpen()} after the KMS
 *       wrapped or unwrapped it, however busy it is; then the KMS is asked again, so a revocation done only in the KMS
 *       takes effect within that bound.</li>
 *   <li><b>Revocation</b>: {@link #evict} destroys every DEK of a tenant in memory at once, and bumps the tenant's
 *       <em>epoch</em>: a DEK the KMS wrapped or unwrapped for a call that began before the eviction is destroyed
 *       instead of cached, and that call fails with {@link DekDestroyedException} (ask again), so an unwrap in flight
 *       cannot put a revoked tenant's DEK back.</li>
 * </ul>
 * Every DEK that leaves memory is destroyed ({@link Dek#destroy()}: its key bytes zeroed, its ciphers dropped): on
 * eviction, idle or absolute expiry (checked on use and by a background sweep every few seconds, so also for DEKs
 * nobody uses any more), revocation and {@link #close()}. A DEK handed out and destroyed before the caller used it
 * fails that use with {@link DekDestroyedException}, a {@link io.embedseal.keyring.kms.KmsUnavailableException}: the
 * caller asks again. A slow KMS call for one tenant blocks only the tenants that share its lock stripe, never the
 * caches. Thread-safe.
 */
public final class Keyring implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Keyring.class);
    private static final int LOCK_STRIPES = 64;

    private final Kms kms;
    private final DekFactory deks;
    private final KekResolver naming;
    private final DekPolicy policy;
    private final @Nullable KeyCreator creator;
    private final Clock clock;
    private final DekCache<String, ActiveDek> active;
    private final DekCache<OpenKey, Dek> opened;
    private final Object[] creationLocks = new Object[LOCK_STRIPES];
    /** Guard a tenant's epoch together with what enters its caches; held only for map updates, never a KMS call. */
    private final Object[] admissionLocks = new Object[LOCK_STRIPES];
    /** Per tenant, how often it was evicted; absent is 0. Read before a KMS call, checked before its DEK is cached. */
    private final ConcurrentHashMap<String, Long> epochs = new ConcurrentHashMap<>();
    /** Off only in a test that shows the race it closes. */
    private final boolean epochCheck;

    private final ScheduledFuture<?> sweeping;
    private volatile boolean closed;
    private final LongAdder sealHits = new LongAdder();
    private final LongAdder sealMisses = new LongAdder();
    private final LongAdder openHits = new LongAdder();
    private final LongAdder openMisses = new LongAdder();

    private Keyring(Builder b) {
        // The keys sinks wrap through kms() use the tenant's pinned public key where it has a key pair, never the KMS.
        // The DEKs take the KMS itself: createDek resolves the pinned key first, so the per-wrap lookup of the key's
        // tenant (a scan of the tenants) is not paid on every new DEK of a symmetric tenant.
        this.kms = PinnedKeyKms.of(b.kms, b.naming);
        this.deks = new DekFactory(b.kms, b.randomness);
        this.naming = b.naming;
        this.policy = b.policy;
        this.creator = b.creator;
        this.clock = b.clock;
        this.epochCheck = b.epochCheck;
        // Every DEK this keyring hands out is in `opened` (a sealing DEK too, from its creation), which destroys each
        // DEK that leaves it. `active` destroys a sealing DEK that expires or is evicted, but not one replaced at its
        // record limit: a thread just given it may not have used it yet, and it is destroyed at the latest when
        // `opened` expires it (maxOpen after its creation).
        // The removal actions capture nothing of this keyring, so the sweeper's reference to the caches does not keep
        // a keyring nobody holds alive (see Sweeper).
        this.active = new DekCache<>(
                policy.cacheMaxSize(),
                policy.cacheIdleExpiry().toMillis(),
                policy.sealingLifetime().toMillis(),
                a -> a.dek.destroy(),
                a -> {});
        this.opened = new DekCache<>(
                policy.cacheMaxSize(),
                policy.cacheIdleExpiry().toMillis(),
                policy.maxOpen().toMillis(),
                Dek::destroy,
                Dek::destroy);
        for (int i = 0; i < LOCK_STRIPES; i++) {
            creationLocks[i] = new Object();
            admissionLocks[i] = new Object();
        }
        this.sweeping = Sweeper.schedule(this, active, opened, clock, policy);
    }

    public static Builder builder(Kms kms) {
        return new Builder(kms);
    }

    /** A keyring with default naming and policy, which does not create missing keys. */
    public static Keyring of(Kms kms) {
        return builder(kms).build();
    }

    /** Builds a {@link Keyring}. */
    public static final class Builder {
        private final Kms kms;
        private KekResolver naming = KekNaming.defaults();
        private DekPolicy policy = DekPolicy.defaults();
        private @Nullable KeyCreator creator;
        private Clock clock = Clock.systemUTC();
        private Randomness randomness = Randomness.secure();
        private boolean epochCheck = true;

        private Builder(Kms kms) {
            this.kms = Objects.requireNonNull(kms, "kms");
        }

        /** Which KEK each tenant has: configuration ({@link KekNaming}) or the tenants' registrations. */
        public Builder naming(KekResolver naming) {
            this.naming = Objects.requireNonNull(naming, "naming");
            return this;
        }

        public Builder policy(DekPolicy policy) {
            this.policy = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /**
         * Where sealing for a tenant whose KEK does not exist creates it (development and tests), the
         * administration that may create it; null (the default, production: tenants are onboarded explicitly)
         * fails such a tenant with {@link UnknownKeyException}. A keyring given none can use keys, never change them.
         */
        public Builder createMissingKeys(@Nullable KeyCreator creator) {
            this.creator = creator;
            return this;
        }

        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Where DEK key bytes, ids and nonces come from. <b>Only</b> for reproducing a fixed test vector;
         * production keeps the default, a {@link java.security.SecureRandom} per thread.
         */
        public Builder randomness(Randomness randomness) {
            this.randomness = Objects.requireNonNull(randomness, "randomness");
            return this;
        }

        /**
         * Test only: false reopens the eviction race (a DEK unwrapped for a call that began before {@link #evict} is
         * cached anyway), so a test can show that it detects it.
         */
        Builder epochCheck(boolean on) {
            this.epochCheck = on;
            return this;
        }

        public Keyring build() {
            return new Keyring(this);
        }
    }

    /**
     * The KMS behind this keyring (decorated as configured), wrapping under a tenant's pinned public key without the KMS
     * ({@link PinnedKeyKms}).
     */
    public Kms kms() {
        return kms;
    }

    /** The KMS provider name (as in KEK references). */
    public String provider() {
        return kms.provider();
    }

    public KekResolver naming() {
        return naming;
    }

    public DekPolicy policy() {
        return policy;
    }

    /** The KEK name this keyring uses for a tenant. */
    public String kekNameFor(String tenantId) {
        return naming.kekNameFor(tenantId);
    }

    /**
     * The DEK that seals one record of the tenant. Each call counts as one encryption against the DEK's
     * record limit; the caller must use the DEK for exactly one record.
     *
     * @throws IllegalArgumentException if the tenant id is invalid
     * @throws io.embedseal.keyring.kms.KmsException as the KMS reports it; nothing is sealed then ({@link
     *     DekDestroyedException}, retryable, if the tenant was evicted while its new DEK was being wrapped)
     * @throws IllegalStateException if this keyring is closed
     */
    public Dek sealingDek(String tenantId) {
        requireOpen();
        long now = clock.millis();
        ActiveDek current = active.get(tenantId, now);
        if (current != null && usable(current, now)) {
            sealHits.increment();
            return current.dek;
        }
        synchronized (creationLocks[stripe(tenantId)]) {
            current = active.get(tenantId, now);
            if (current != null && usable(current, now)) {
                sealHits.increment();
                return current.dek;
            }
            sealMisses.increment();
            long epoch = epoch(tenantId);
            Dek dek = createDek(tenantId);
            ActiveDek fresh = new ActiveDek(
                    dek,
                    new OpenKey(tenantId, dek.kek(), dek.id()),
                    now + policy.sealingLifetime().toMillis(),
                    policy.maxRecordsPerDek());
            fresh.tryUse(now);
            admit(tenantId, epoch, dek, () -> {
                active.put(tenantId, fresh, now);
                opened.put(fresh.openKey, dek, now);
                return dek;
            });
            return dek;
        }
    }

    /**
     * Whether the active DEK may seal one more record, claiming the use if so. Its entry in {@code opened}, which
     * decides its lifetime, is read first: that keeps it from idling out while it seals, and expires it there (and so
     * destroys it) once it is too old.
     */
    private boolean usable(ActiveDek current, long now) {
        return opened.get(current.openKey, now) == current.dek && current.tryUse(now);
    }

    private Dek createDek(String tenantId) {
        String keyName = naming.kekNameFor(tenantId);
        PublicKek publicKek = naming.publicKekFor(tenantId);
        if (publicKek != null) {
            return deks.create(tenantId, keyName, publicKek); // wrapped here: no KMS call
        }
        try {
            return deks.create(tenantId, keyName);
        } catch (UnknownKeyException e) {
            if (creator == null) {
                throw e;
            }
            LOG.info("creating missing KEK '{}' for tenant {} in KMS {}", keyName, tenantId, kms.provider());
            creator.createKek(keyName);
            return deks.create(tenantId, keyName);
        }
    }

    /**
     * The DEK a sealed record names, from the cache or unwrapped through the KMS.
     *
     * @throws KeyMismatchException if {@code kek} is not the tenant's KEK
     * @throws io.embedseal.keyring.kms.KmsException as the KMS reports it (an altered wrapped DEK gives
     *                                               {@link io.embedseal.keyring.kms.InvalidWrappedKeyException};
     *                                               {@link DekDestroyedException}, retryable, if the tenant was
     *                                               evicted while the KMS unwrapped it)
     * @throws IllegalStateException if this keyring is closed
     */
    public Dek openDek(String tenantId, KekRef kek, DekId id, byte[] wrapped) {
        String expected = naming.kekNameFor(tenantId);
        if (!kms.provider().equals(kek.provider()) || !expected.equals(kek.keyName())) {
            throw new KeyMismatchException("record of tenant " + tenantId + " names KEK " + kek
                    + ", but the tenant's KEK is " + kms.provider() + ":" + expected);
        }
        requireOpen();
        long now = clock.millis();
        OpenKey key = new OpenKey(tenantId, kek, id);
        Dek cached = opened.get(key, now);
        if (cached != null && !cached.isDestroyed() && cached.hasWrappedForm(wrapped)) {
            openHits.increment();
            return cached;
        }
        openMisses.increment();
        long epoch = epoch(tenantId);
        Dek dek = deks.open(tenantId, kek, id, wrapped);
        return admit(tenantId, epoch, dek, () -> {
            // Another thread may have unwrapped the same DEK meanwhile: keep the one in the cache, which callers
            // may be using, rather than destroy it by replacing it.
            Dek other = opened.get(key, now);
            if (other != null && !other.isDestroyed() && other.hasWrappedForm(wrapped)) {
                dek.destroy();
                return other;
            }
            opened.put(key, dek, now);
            return dek;
        });
    }

    /**
     * Lets a DEK the KMS just wrapped or unwrapped into the caches, only if its tenant was not evicted since the call
     * began ({@code epoch}) and the keyring is open: the check and the caching happen under the tenant's admission
     * lock, which {@link #evict} holds while it bumps the epoch and empties the caches, so neither can slip between
     * the other's steps. Otherwise the DEK is destroyed and the caller fails closed: it asks again, and then meets the
     * revocation (in its own check of the tenant's state, or in the KMS).
     */
    private Dek admit(String tenantId, long epoch, Dek dek, Supplier<Dek> cache) {
        synchronized (admissionLocks[stripe(tenantId)]) {
            if (!closed && (!epochCheck || epoch(tenantId) == epoch)) {
                return cache.get();
            }
        }
        dek.destroy();
        if (closed) {
            throw new IllegalStateException("keyring closed while the KMS answered for tenant " + tenantId);
        }
        throw new DekDestroyedException("DEK " + dek.id() + " of tenant " + tenantId + " destroyed unused: the tenant"
                + " was evicted (revoked, destroyed or rotated) while the KMS answered; ask again");
    }

    /**
     * Destroys every DEK of the tenant in memory, active and cached, and makes any DEK the KMS is wrapping or
     * unwrapping for it right now be destroyed instead of cached. The next use goes to the KMS.
     */
    public void evict(String tenantId) {
        synchronized (admissionLocks[stripe(tenantId)]) {
            epochs.merge(tenantId, 1L, Long::sum);
            active.removeIf(tenantId::equals);
            opened.removeIf(k -> k.tenantId().equals(tenantId));
        }
    }

    /**
     * Destroys every DEK in memory; later calls to {@link #sealingDek} and {@link #openDek} throw
     * {@link IllegalStateException}. The KMS is the caller's and stays open. Idempotent.
     */
    @Override
    public void close() {
        // Under each admission lock in turn: a DEK admitted before is in a cache now, and cleared below; one that
        // comes later sees `closed` and is destroyed.
        for (Object lock : admissionLocks) {
            synchronized (lock) {
                closed = true;
            }
        }
        sweeping.cancel(false);
        active.clear();
        opened.clear();
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("keyring closed");
        }
    }

    private long epoch(String tenantId) {
        return epochs.getOrDefault(tenantId, 0L);
    }

    private static int stripe(String tenantId) {
        return Math.floorMod(tenantId.hashCode(), LOCK_STRIPES);
    }

    /** How many tenants have an active sealing DEK in memory. */
    public int activeDekCount() {
        return active.size();
    }

    /** How many unwrapped DEKs are held for unsealing. */
    public int cachedDekCount() {
        return opened.size();
    }

    /**
     * How often the DEK caches answered: a sealing miss creates (and wraps) a DEK, an opening miss unwraps one.
     * Both misses are KMS calls; hits are not.
     */
    public record CacheStats(long sealHits, long sealMisses, long openHits, long openMisses) {}

    /**
     * For a caller that keeps a DEK {@link #openDek} gave it (a sealer's per-thread table of recently opened DEKs)
     * and uses it again without asking: whether {@link #openDek} would still accept this KEK for the tenant (the
     * keyring is open, the KEK is the tenant's own now), counting the use as an open cache hit when it would.
     */
    public boolean reuseOpened(String tenantId, KekRef kek) {
        if (closed
                || !kms.provider().equals(kek.provider())
                || !naming.kekNameFor(tenantId).equals(kek.keyName())) {
            return false;
        }
        openHits.increment();
        return true;
    }

    /** The cache counters since this keyring was built. */
    public CacheStats cacheStats() {
        return new CacheStats(sealHits.sum(), sealMisses.sum(), openHits.sum(), openMisses.sum());
    }

    private record OpenKey(String tenantId, KekRef kek, DekId id) {}

    /** A tenant's sealing DEK with its use count and deadline. */
    private static final class ActiveDek {
        final Dek dek;
        final OpenKey openKey;
        final long expiresAtMillis;
        final long maxUses;
        final AtomicLong uses = new AtomicLong();

        ActiveDek(Dek dek, OpenKey openKey, long expiresAtMillis, long maxUses) {
            this.dek = dek;
            this.openKey = openKey;
            this.expiresAtMillis = expiresAtMillis;
            this.maxUses = maxUses;
        }

        /** Claims one use; false when the DEK is too old, used up or destroyed (it is then never used again). */
        boolean tryUse(long now) {
            return now < expiresAtMillis && !dek.isDestroyed() && uses.incrementAndGet() <= maxUses;
        }
    }

    /**
     * Sweeps every keyring's caches on one daemon thread, so that an expired DEK is destroyed within a few seconds
     * even when nothing uses its keyring any more (expiry is otherwise noticed on use). A keyring is held weakly: one
     * dropped without {@link #close()} has its DEKs destroyed at the first sweep after it is collected, and its task
     * ends.
     */
    private static final class Sweeper implements Runnable {
        private static final ScheduledExecutorService THREAD = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "embedseal-dek-sweeper");
            t.setDaemon(true);
            return t;
        });

        private final WeakReference<Keyring> owner;
        private final DekCache<?, ?> active;
        private final DekCache<?, ?> opened;
        private final Clock clock;
        private volatile @Nullable ScheduledFuture<?> self;

        private Sweeper(Keyring owner, DekCache<?, ?> active, DekCache<?, ?> opened, Clock clock) {
            this.owner = new WeakReference<>(owner);
            this.active = active;
            this.opened = opened;
            this.clock = clock;
        }

        /** Every tenth of the shorter expiry, between 1 and 30 seconds of real time. */
        static ScheduledFuture<?> schedule(
                Keyring owner, DekCache<?, ?> active, DekCache<?, ?> opened, Clock clock, DekPolicy policy) {
            long shortest = Math.min(
                    policy.cacheIdleExpiry().toMillis(), policy.maxOpen().toMillis());
            long every = Math.max(1_000, Math.min(30_000, shortest / 10));
            Sweeper task = new Sweeper(owner, active, opened, clock);
            ScheduledFuture<?> f = THREAD.scheduleWithFixedDelay(task, every, every, TimeUnit.MILLISECONDS);
            task.self = f;
            return f;
        }

        @Override
        public void run() {
            try {
                if (owner.get() == null) {
                    active.clear();
                    opened.clear();
                    ScheduledFuture<?> f = self;
                    if (f != null) {
                        f.cancel(false);
                    }
                    return;
                }
                long now = clock.millis();
                active.sweep(now);
                opened.sweep(now);
            } catch (RuntimeException e) {
                // Never end the schedule by an exception; the next sweep tries again.
                LOG.warn("sweeping expired DEKs failed: {}", e.toString());
            }
        }
    }

    @Override
    public String toString() {
        return "Keyring[kms=" + kms.provider() + ", naming=" + naming + ", policy=" + policy + "]";
    }
}
