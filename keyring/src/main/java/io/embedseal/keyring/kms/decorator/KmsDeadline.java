package io.embedseal.keyring.kms.decorator;

import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsUnavailableException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Bounds how long a caller waits for one data-key call (wrap, unwrap, describe), whatever the provider's own
 * timeouts: the call runs on a small pool of its own, and a caller whose call has not answered within the deadline
 * gets a {@link KmsUnavailableException} at once while the call finishes (and is discarded) in the background.
 *
 * <p>Why: a stream thread or a sink task seals or opens for every tenant in turn. When one tenant's key hangs (its
 * KMS answers others, not this key), waiting out the provider's timeouts (Vault's are 5 s to connect and 10 s to
 * read) would hold every other tenant on that thread as long. With a deadline, a hanging key costs the others at
 * most the deadline per attempt, and the tenant's fault cool-down keeps the attempts rare.
 *
 * <p>Only the rare calls pay the hand-off: a DEK is wrapped once per rollover and unwrapped once per cache miss. At
 * most {@link #MAX_IN_FLIGHT} calls run at once; beyond that a call fails at once as unavailable (hanging keys cannot
 * grow the pool without bound). Administration is not bounded (an operator waits for its answer).
 */
public final class KmsDeadline implements KmsInterceptor {

    static final int MAX_IN_FLIGHT = 16;

    private static final int RUNNING = 0;
    private static final int DONE = 1;
    private static final int ABANDONED = 2;

    /** Every slot is taken by a call waiting for an answer: the KMS hangs for many keys, an outage of all. */
    public static final class KmsBusyException extends KmsUnavailableException {
        private static final long serialVersionUID = 1L;

        KmsBusyException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** Whether {@code e} (or a cause) says the pool of calls is full: an outage of the KMS, not of one key. */
    public static boolean isBusy(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof KmsBusyException) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code e} (or a cause) is a call that did not answer within the deadline. */
    public static boolean isDeadlineMiss(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof KmsUnavailableException && t.getCause() instanceof TimeoutException) {
                return true;
            }
        }
        return false;
    }

    private final Duration deadline;
    private final ThreadPoolExecutor pool;

    public KmsDeadline(Duration deadline) {
        if (deadline.isNegative() || deadline.isZero()) {
            throw new IllegalArgumentException("the KMS call deadline must be positive");
        }
        this.deadline = deadline;
        this.pool = new ThreadPoolExecutor(0, MAX_IN_FLIGHT, 30, TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
            Thread t = new Thread(r, "embedseal-kms-call");
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public <T> T around(
            String provider, KmsOperation operation, String keyName, @Nullable Integer version, Supplier<T> call) {
        if (operation != KmsOperation.WRAP && operation != KmsOperation.UNWRAP && operation != KmsOperation.DESCRIBE) {
            return call.get();
        }
        // RUNNING until one side moves it: the call to DONE (the caller may use the result), or the caller, on its
        // deadline, to ABANDONED (the call zeroes a DEK it returns: nobody will take it).
        java.util.concurrent.atomic.AtomicInteger state = new java.util.concurrent.atomic.AtomicInteger(RUNNING);
        Future<T> f;
        try {
            f = pool.submit(() -> {
                T result = call.get();
                if (!state.compareAndSet(RUNNING, DONE) && result instanceof byte[] dek) {
                    java.util.Arrays.fill(dek, (byte) 0); // an unwrap nobody waits for any more: no DEK left behind
                }
                return result;
            });
        } catch (RejectedExecutionException e) {
            throw new KmsBusyException(
                    "KMS " + provider + ": " + MAX_IN_FLIGHT + " calls are already waiting for an answer; " + operation
                            + " of key " + keyName + " is not sent",
                    e);
        }
        try {
            return f.get(deadline.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            if (!state.compareAndSet(RUNNING, ABANDONED)) {
                try {
                    return f.get(); // it finished at the deadline: take its answer
                } catch (InterruptedException | ExecutionException late) {
                    // fall through: a timeout
                }
            }
            f.cancel(true);
            throw new KmsUnavailableException(
                    "KMS " + provider + " did not answer " + operation + " of key " + keyName + " within "
                            + deadline.toMillis() + " ms (kms.call-deadline-ms)",
                    e);
        } catch (InterruptedException e) {
            f.cancel(true);
            Thread.currentThread().interrupt();
            throw new KmsUnavailableException("interrupted while waiting for KMS " + provider, e);
        } catch (ExecutionException e) {
            Throwable cause = Objects.requireNonNullElse(e.getCause(), e);
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(cause);
        }
    }
}
