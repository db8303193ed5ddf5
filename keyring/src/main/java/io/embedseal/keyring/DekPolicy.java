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
 * @param cacheIdleExpiry  an unwrapped DEK not used for this long is dropped from memory
 */
public record DekPolicy(long maxRecordsPerDek, Duration maxDekAge, int cacheMaxSize, Duration cacheIdleExpiry) {

    public static final long DEFAULT_MAX_RECORDS_PER_DEK = 10_000_000L;
    public static final Duration DEFAULT_MAX_DEK_AGE = Duration.ofHours(1);
    public static final int DEFAULT_CACHE_MAX_SIZE = 10_000;
    public static final Duration DEFAULT_CACHE_IDLE_EXPIRY = Duration.ofMinutes(10);
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
    }

    public static DekPolicy defaults() {
        return new DekPolicy(
                DEFAULT_MAX_RECORDS_PER_DEK, DEFAULT_MAX_DEK_AGE, DEFAULT_CACHE_MAX_SIZE, DEFAULT_CACHE_IDLE_EXPIRY);
    }

    public DekPolicy withMaxRecordsPerDek(long n) {
        return new DekPolicy(n, maxDekAge, cacheMaxSize, cacheIdleExpiry);
    }

    public DekPolicy withMaxDekAge(Duration d) {
        return new DekPolicy(maxRecordsPerDek, d, cacheMaxSize, cacheIdleExpiry);
    }

    public DekPolicy withCache(int maxSize, Duration idleExpiry) {
        return new DekPolicy(maxRecordsPerDek, maxDekAge, maxSize, idleExpiry);
    }
}
