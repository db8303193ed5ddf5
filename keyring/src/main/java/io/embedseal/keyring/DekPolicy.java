package io.embedseal.keyring;

import java.time.Duration;
import java.util.Objects;

/**
 * Bounds on how DEKs are used and kept.
 *
 * @param maxRecordsPerDek a tenant gets a new DEK after this many records; with random 96-bit nonces the
 *                         chance of a nonce repeating among {@code q} records is about {@code q^2 / 2^97},
 *                         so the default of 10 million keeps it near 2^-51, far inside NIST SP 800-38D's
 *                         limit of 2^32 invocations per key
 * @param maxDekAge        a tenant gets a new DEK after this long, whatever the count, so a rotated KEK is
 *                         picked up and a leaked DEK exposes a bounded window
 * @param cacheMaxSize     how many unwrapped DEKs are kept, in each of the two caches (active DEKs per tenant
 *                         for sealing; opened DEKs for unsealing); least recently used go first
 * @param cacheIdleExpiry  an unwrapped DEK not used for this long is dropped from memory (and destroyed)
 * @param maxOpen          how long a DEK is used from memory at most, however busy, after the KMS wrapped or
 *                         unwrapped it: then it is destroyed and the KMS is asked again (a new sealing DEK, a new
 *                         unwrap). It bounds how long a revocation done only in the KMS (no key event) goes unnoticed.
 *                         A sealing DEK is therefore replaced after {@code min(maxDekAge, maxOpen)}
 */
public record DekPolicy(
        long maxRecordsPerDek, Duration maxDekAge, int cacheMaxSize, Duration cacheIdleExpiry, Duration maxOpen) {

    public static final long DEFAULT_MAX_RECORDS_PER_DEK = 10_000_000L;
    public static final Duration DEFAULT_MAX_DEK_AGE = Duration.ofHours(1);
    /**
     * Heap one cached tenant takes, measured (docs/performance.md, "Heap with many tenants": ~1.6 KB for the active
     * DEK, its keyed cipher and the open-DEK entry).
     */
    public static final long CACHED_DEK_BYTES = 1_600;
    /** The fewest DEKs a cache keeps by default (the fixed default before 2026-12-06). */
    public static final int MIN_DEFAULT_CACHE_MAX_SIZE = 10_000;
    /** The most DEKs a cache keeps by default, however large the heap. */
    public static final int MAX_DEFAULT_CACHE_MAX_SIZE = 1_000_000;
    /**
     * DEKs each cache keeps by default: {@link #defaultCacheMaxSize(long) a thirty-second of this JVM's maximum heap}.
     */
    public static final int DEFAULT_CACHE_MAX_SIZE =
            defaultCacheMaxSize(Runtime.getRuntime().maxMemory());

    public static final Duration DEFAULT_CACHE_IDLE_EXPIRY = Duration.ofMinutes(10);
    /** Five minutes: the longest a revocation done only in the KMS goes unnoticed by default. */
    public static final Duration DEFAULT_MAX_OPEN = Duration.ofMinutes(5);
    /** NIST SP 800-38D: at most 2^32 encryptions under one key with random 96-bit IVs. */
    public static final long GCM_RANDOM_NONCE_LIMIT = 1L << 32;

    public DekPolicy {
        if (maxRecordsPerDek < 1 || maxRecordsPerDek > GCM_RANDOM_NONCE_LIMIT) {
            throw new IllegalArgumentException("dek.max-records must be between 1 and 2^32 (" + GCM_RANDOM_NONCE_LIMIT
                    + ", the AES-GCM random-nonce limit), got " + maxRecordsPerDek);
        }
        Objects.requireNonNull(maxDekAge, "maxDekAge");
        Objects.requireNonNull(cacheIdleExpiry, "cacheIdleExpiry");
        if (maxDekAge.isNegative() || maxDekAge.isZero()) {
            throw new IllegalArgumentException("dek.max-age must be positive, got " + maxDekAge);
        }
        if (cacheMaxSize < 1) {
            throw new IllegalArgumentException("dek.cache.max-size must be at least 1, got " + cacheMaxSize);
        }
        if (cacheIdleExpiry.isNegative() || cacheIdleExpiry.isZero()) {
            throw new IllegalArgumentException("dek.cache.idle-expiry must be positive, got " + cacheIdleExpiry);
        }
        Objects.requireNonNull(maxOpen, "maxOpen");
        if (maxOpen.isNegative() || maxOpen.toMillis() < 1000) {
            throw new IllegalArgumentException("dek.max-open-seconds must be at least 1 second, got " + maxOpen);
        }
    }

    /**
     * The default size of each DEK cache for a JVM whose heap may grow to {@code maxHeapBytes}: a thirty-second of it
     * at {@link #CACHED_DEK_BYTES} a DEK (so a keyring's two caches, full, take at most a sixteenth), but at least
     * {@value #MIN_DEFAULT_CACHE_MAX_SIZE} and at most {@value #MAX_DEFAULT_CACHE_MAX_SIZE}: 20,971 at {@code -Xmx1g},
     * 125,829 at 6 GiB. A cache smaller than the tenants sending within {@code dek.cache.idle-expiry-seconds} makes a
     * KMS call of most records (100,000 tenants under Zipf(1.1) touched 17,105 in 100,000 records, and a cache of
     * 10,000 sealed at 0.023 of the floor); every DEK still expires idle and after {@code dek.max-open-seconds}.
     */
    public static int defaultCacheMaxSize(long maxHeapBytes) {
        long n = Math.max(0, maxHeapBytes) / 32 / CACHED_DEK_BYTES;
        return (int) Math.max(MIN_DEFAULT_CACHE_MAX_SIZE, Math.min(MAX_DEFAULT_CACHE_MAX_SIZE, n));
    }

    /** A policy with the default {@code maxOpen} ({@link #DEFAULT_MAX_OPEN}). */
    public DekPolicy(long maxRecordsPerDek, Duration maxDekAge, int cacheMaxSize, Duration cacheIdleExpiry) {
        this(maxRecordsPerDek, maxDekAge, cacheMaxSize, cacheIdleExpiry, DEFAULT_MAX_OPEN);
    }

    public static DekPolicy defaults() {
        return new DekPolicy(
                DEFAULT_MAX_RECORDS_PER_DEK,
                DEFAULT_MAX_DEK_AGE,
                DEFAULT_CACHE_MAX_SIZE,
                DEFAULT_CACHE_IDLE_EXPIRY,
                DEFAULT_MAX_OPEN);
    }

    public DekPolicy withMaxRecordsPerDek(long n) {
        return new DekPolicy(n, maxDekAge, cacheMaxSize, cacheIdleExpiry, maxOpen);
    }

    public DekPolicy withMaxDekAge(Duration d) {
        return new DekPolicy(maxRecordsPerDek, d, cacheMaxSize, cacheIdleExpiry, maxOpen);
    }

    public DekPolicy withCache(int maxSize, Duration idleExpiry) {
        return new DekPolicy(maxRecordsPerDek, maxDekAge, maxSize, idleExpiry, maxOpen);
    }

    public DekPolicy withMaxOpen(Duration d) {
        return new DekPolicy(maxRecordsPerDek, maxDekAge, cacheMaxSize, cacheIdleExpiry, d);
    }

    /** How long a tenant's sealing DEK is used at most: {@code min(maxDekAge, maxOpen)}. */
    public Duration sealingLifetime() {
        return maxDekAge.compareTo(maxOpen) <= 0 ? maxDekAge : maxOpen;
    }
}
