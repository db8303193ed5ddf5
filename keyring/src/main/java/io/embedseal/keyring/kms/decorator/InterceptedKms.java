package io.embedseal.keyring.kms.decorator;

import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KeyDescription;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.WrappedDek;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A {@link Kms} whose every call runs through a {@link KmsInterceptor}. It implements {@link Kms} only, so a
 * holder cannot reach the provider's administration by a cast.
 */
public final class InterceptedKms implements Kms {

    private final Kms delegate;
    private final KmsInterceptor interceptor;

    public InterceptedKms(Kms delegate, KmsInterceptor interceptor) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
        this.interceptor = Objects.requireNonNull(interceptor, "interceptor");
    }

    /** {@code kms} with nothing around it, seen as data-key use only. */
    public static Kms view(Kms kms) {
        return new InterceptedKms(kms, Passthrough.INSTANCE);
    }

    @Override
    public String provider() {
        return delegate.provider();
    }

    @Override
    public WrappedDek wrapDek(String keyName, byte[] dek, byte[] associatedData) {
        return interceptor.around(
                provider(), KmsOperation.WRAP, keyName, null, () -> delegate.wrapDek(keyName, dek, associatedData));
    }

    @Override
    public byte[] unwrapDek(KekRef kek, byte[] wrappedDek, byte[] associatedData) {
        return interceptor.around(
                provider(),
                KmsOperation.UNWRAP,
                kek.keyName(),
                kek.version(),
                () -> delegate.unwrapDek(kek, wrappedDek, associatedData));
    }

    @Override
    public KeyDescription describe(String keyName) {
        return interceptor.around(provider(), KmsOperation.DESCRIBE, keyName, null, () -> delegate.describe(keyName));
    }

    @Override
    public void close() {
        delegate.close();
    }

    @Override
    public String toString() {
        return "InterceptedKms[" + interceptor.getClass().getSimpleName() + " around " + delegate + "]";
    }

    /** Runs the call as it is. */
    enum Passthrough implements KmsInterceptor {
        INSTANCE;

        @Override
        public <T> T around(
                String provider,
                KmsOperation operation,
                String keyName,
                @Nullable Integer version,
                java.util.function.Supplier<T> call) {
            return call.get();
        }
    }
}
