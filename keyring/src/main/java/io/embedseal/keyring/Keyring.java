package io.embedseal.keyring;

import io.embedseal.keyring.dek.Dek;
import io.embedseal.keyring.dek.DekFactory;
import io.embedseal.keyring.dek.DekId;
import io.embedseal.keyring.dek.Randomness;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.UnknownKeyException;
import java.time.Clock;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands out each tenant's DEKs within a {@link DekPolicy}.
 *
 * <ul>
 *   <li><b>Sealing</b>: one active DEK per tenant (and so per KEK version), created and wrapped on first use
 *       with a single KMS call, replaced after {@code maxRecordsPerDek} records or {@code maxDekAge}, whichever
 *       comes first. A replacement wraps under the KEK's then-current version, so rotations are picked up.</li>
 *   <li><b>Unsealing</b>: the DEK a sealed record names, unwrapped through the KMS and kept in a bounded cache
 *       with idle expiry. A KEK that is not the tenant's own is refused ({@link KeyMismatchException}).</li>
 *   <li><b>Revocation</b>: {@link #evict} drops every DEK of a tenant from memory at once.</li>
 * </ul>
 * A slow KMS call for one tenant blocks only the tenants that share its lock stripe, never the caches.
 * Thread-safe.
 */
public final class Keyring {

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
    private final LongAdder sealHits = new LongAdder();
    private final LongAdder sealMisses = new LongAdder();
    private final LongAdder openHits = new LongAdder();
    private final LongAdder openMisses = new LongAdder();

    private Keyring(Builder b) {
        this.kms = b.kms;
        this.deks = new DekFactory(b.kms, b.randomness);
        this.naming = b.naming;
        this.policy = b.policy;
        this.creator = b.creator;
        this.clock = b.clock;
        this.active =
                new DekCache<>(policy.cacheMaxSize(), policy.cacheIdleExpiry().toMillis());
        this.opened =
                new DekCache<>(policy.cacheMaxSize(), policy.cacheIdleExpiry().toMillis());
        for (int i = 0; i < LOCK_STRIPES; i++) {
            creationLocks[i] = new Object();
        }
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

        public Keyring build() {
            return new Keyring(this);
        }
    }

    /** The KMS behind this keyring (decorated as configured). */
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
     * @throws io.embedseal.keyring.kms.KmsException as the KMS reports it; nothing is sealed then
     */
    public Dek sealingDek(String tenantId) {
        long now = clock.millis();
        ActiveDek current = active.get(tenantId, now);
        if (current != null && current.tryUse(now)) {
            sealHits.increment();
            return current.dek;
        }
        synchronized (creationLocks[Math.floorMod(tenantId.hashCode(), LOCK_STRIPES)]) {
            current = active.get(tenantId, now);
            if (current != null && current.tryUse(now)) {
                sealHits.increment();
                return current.dek;
            }
            sealMisses.increment();
            Dek dek = createDek(tenantId);
            ActiveDek fresh = new ActiveDek(dek, now + policy.maxDekAge().toMillis(), policy.maxRecordsPerDek());
            fresh.tryUse(now);
            active.put(tenantId, fresh, now);
            opened.put(new OpenKey(tenantId, dek.kek(), dek.id()), dek, now);
            return dek;
        }
    }

    private Dek createDek(String tenantId) {
        String keyName = naming.kekNameFor(tenantId);
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
     *                                               {@link io.embedseal.keyring.kms.InvalidWrappedKeyException})
     */
    public Dek openDek(String tenantId, KekRef kek, DekId id, byte[] wrapped) {
        String expected = naming.kekNameFor(tenantId);
        if (!kms.provider().equals(kek.provider()) || !expected.equals(kek.keyName())) {
            throw new KeyMismatchException("record of tenant " + tenantId + " names KEK " + kek
                    + ", but the tenant's KEK is " + kms.provider() + ":" + expected);
        }
        long now = clock.millis();
        OpenKey key = new OpenKey(tenantId, kek, id);
        Dek cached = opened.get(key, now);
        if (cached != null && cached.hasWrappedForm(wrapped)) {
            openHits.increment();
            return cached;
        }
        openMisses.increment();
        Dek dek = deks.open(tenantId, kek, id, wrapped);
        opened.put(key, dek, now);
        return dek;
    }

    /** Drops every DEK of the tenant from memory, active and cached. The next use goes to the KMS. */
    public void evict(String tenantId) {
        active.removeIf(tenantId::equals);
        opened.removeIf(k -> k.tenantId().equals(tenantId));
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

    /** The cache counters since this keyring was built. */
    public CacheStats cacheStats() {
        return new CacheStats(sealHits.sum(), sealMisses.sum(), openHits.sum(), openMisses.sum());
    }

    private record OpenKey(String tenantId, KekRef kek, DekId id) {}

    /** A tenant's sealing DEK with its use count and deadline. */
    private static final class ActiveDek {
        final Dek dek;
        final long expiresAtMillis;
        final long maxUses;
        final AtomicLong uses = new AtomicLong();

        ActiveDek(Dek dek, long expiresAtMillis, long maxUses) {
            this.dek = dek;
            this.expiresAtMillis = expiresAtMillis;
            this.maxUses = maxUses;
        }

        /** Claims one use; false when the DEK is too old or used up (it is then never used again). */
        boolean tryUse(long now) {
            return now < expiresAtMillis && uses.incrementAndGet() <= maxUses;
        }
    }

    @Override
    public String toString() {
        return "Keyring[kms=" + kms.provider() + ", naming=" + naming + ", policy=" + policy + "]";
    }
}
