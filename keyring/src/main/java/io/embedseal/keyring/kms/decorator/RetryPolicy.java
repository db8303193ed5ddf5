package io.embedseal.keyring.kms.decorator;

import java.time.Duration;

/**
 * How {@link KmsRetry} retries: up to {@code maxAttempts} tries in all, waiting a random time between
 * zero and {@code min(maxBackoff, initialBackoff * 2^(attempt-1))} before each retry ("full jitter").
 */
public record RetryPolicy(int maxAttempts, Duration initialBackoff, Duration maxBackoff) {

    public RetryPolicy {
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("retry attempts must be at least 1, got " + maxAttempts);
        }
        if (initialBackoff.isNegative() || maxBackoff.compareTo(initialBackoff) < 0) {
            throw new IllegalArgumentException(
                    "retry backoff must satisfy 0 <= initial (" + initialBackoff + ") <= max (" + maxBackoff + ")");
        }
    }

    /** 5 attempts, 100 ms doubling up to 5 s: about 1.5 s of waiting on average before giving up. */
    public static RetryPolicy defaults() {
        return new RetryPolicy(5, Duration.ofMillis(100), Duration.ofSeconds(5));
    }

    /** The longest wait before retry number {@code retry} (1 for the first retry). */
    public long ceilingMillis(int retry) {
        long ceiling = initialBackoff.toMillis() << Math.min(retry - 1, 30);
        return Math.min(ceiling < 0 ? Long.MAX_VALUE : ceiling, maxBackoff.toMillis());
    }
}
