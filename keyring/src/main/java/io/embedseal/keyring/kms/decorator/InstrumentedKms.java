package io.embedseal.keyring.kms.decorator;

import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsOutcome;

import java.util.Objects;
import java.util.function.Supplier;

/** Reports every call, its outcome and its latency to a {@link KmsObserver}. */
public final class InstrumentedKms extends ForwardingKms {

    private final KmsObserver observer;

    public InstrumentedKms(Kms delegate, KmsObserver observer) {
        super(delegate);
        this.observer = Objects.requireNonNull(observer, "observer");
    }

    @Override
    protected <T> T around(KmsOperation operation, String keyName, Integer version, Supplier<T> call) {
        long start = System.nanoTime();
        try {
            T result = call.get();
            observer.onCall(delegate.provider(), operation, KmsOutcome.OK, System.nanoTime() - start);
            return result;
        } catch (RuntimeException e) {
            observer.onCall(delegate.provider(), operation, KmsOutcome.of(e), System.nanoTime() - start);
            throw e;
        }
    }
}
