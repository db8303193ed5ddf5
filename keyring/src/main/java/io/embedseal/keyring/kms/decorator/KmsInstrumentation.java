package io.embedseal.keyring.kms.decorator;

import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsOutcome;
import java.util.Objects;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/** Reports every call, its outcome and its latency to a {@link KmsObserver}. */
public final class KmsInstrumentation implements KmsInterceptor {

    private final KmsObserver observer;

    public KmsInstrumentation(KmsObserver observer) {
        this.observer = Objects.requireNonNull(observer, "observer");
    }

    @Override
    public <T> T around(
            String provider, KmsOperation operation, String keyName, @Nullable Integer version, Supplier<T> call) {
        long start = System.nanoTime();
        try {
            T result = call.get();
            observer.onCall(provider, operation, KmsOutcome.OK, System.nanoTime() - start);
            return result;
        } catch (RuntimeException e) {
            observer.onCall(provider, operation, KmsOutcome.of(e), System.nanoTime() - start);
            throw e;
        }
    }
}
