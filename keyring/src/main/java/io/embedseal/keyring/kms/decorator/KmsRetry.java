package io.embedseal.keyring.kms.decorator;

import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsUnavailableException;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Retries operations that failed with {@link KmsUnavailableException}, and only those: a denied, unknown
 * or invalid key fails at once. {@link KmsOperation#ROTATE} is never retried, because a timeout may hide a
 * rotation that happened, and a retry would rotate twice.
 */
public final class KmsRetry implements KmsInterceptor {

    /** Waits; replaceable in tests. */
    @FunctionalInterface
    public interface Sleeper {
        void sleep(long millis) throws InterruptedException;
    }

    private static final Logger LOG = LoggerFactory.getLogger(KmsRetry.class);

    private final RetryPolicy policy;
    private final Sleeper sleeper;

    public KmsRetry(RetryPolicy policy) {
        this(policy, Thread::sleep);
    }

    public KmsRetry(RetryPolicy policy, Sleeper sleeper) {
        this.policy = Objects.requireNonNull(policy, "policy");
        this.sleeper = Objects.requireNonNull(sleeper, "sleeper");
    }

    @Override
    public <T> T around(
            String provider, KmsOperation operation, String keyName, @Nullable Integer version, Supplier<T> call) {
        int attempts = operation.isIdempotent() ? policy.maxAttempts() : 1;
        for (int attempt = 1; ; attempt++) {
            try {
                return call.get();
            } catch (KmsUnavailableException e) {
                if (attempt >= attempts) {
                    throw e;
                }
                long waitMillis = ThreadLocalRandom.current().nextLong(policy.ceilingMillis(attempt) + 1);
                LOG.warn(
                        "KMS {} unavailable for {} of key {} (attempt {}/{}), retrying in {} ms: {}",
                        provider,
                        operation,
                        keyName,
                        attempt,
                        attempts,
                        waitMillis,
                        e.getMessage());
                try {
                    sleeper.sleep(waitMillis);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    e.addSuppressed(interrupted);
                    throw e;
                }
            }
        }
    }
}
