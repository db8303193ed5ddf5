package io.embedseal.keyring.kms.decorator;

import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KeyDescription;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.WrappedDek;

import java.util.Objects;
import java.util.Set;
import java.util.function.Supplier;

/**
 * A {@link Kms} that forwards every operation to another through one hook, {@link #around}, which a
 * decorator overrides to add its behaviour to all operations at once.
 */
public abstract class ForwardingKms implements Kms {

    protected final Kms delegate;

    protected ForwardingKms(Kms delegate) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
    }

    /**
     * Runs one operation.
     *
     * @param keyName the key the operation is about
     * @param version the KEK version named by the caller, or null when the KMS picks it
     */
    protected abstract <T> T around(KmsOperation operation, String keyName, Integer version, Supplier<T> call);

    @Override
    public String provider() {
        return delegate.provider();
    }

    @Override
    public WrappedDek wrapDek(String keyName, byte[] dek, byte[] associatedData) {
        return around(KmsOperation.WRAP, keyName, null, () -> delegate.wrapDek(keyName, dek, associatedData));
    }

    @Override
    public byte[] unwrapDek(KekRef kek, byte[] wrappedDek, byte[] associatedData) {
        return around(KmsOperation.UNWRAP, kek.keyName(), kek.version(), () -> delegate.unwrapDek(kek, wrappedDek, associatedData));
    }

    @Override
    public KeyDescription describe(String keyName) {
        return around(KmsOperation.DESCRIBE, keyName, null, () -> delegate.describe(keyName));
    }

    @Override
    public KekRef createKek(String keyName) {
        return around(KmsOperation.CREATE, keyName, null, () -> delegate.createKek(keyName));
    }

    @Override
    public KekRef rotate(String keyName) {
        return around(KmsOperation.ROTATE, keyName, null, () -> delegate.rotate(keyName));
    }

    @Override
    public void restrictVersions(String keyName, int minDecryptionVersion) {
        around(KmsOperation.RESTRICT, keyName, minDecryptionVersion, () -> {
            delegate.restrictVersions(keyName, minDecryptionVersion);
            return null;
        });
    }

    @Override
    public void disable(String keyName) {
        around(KmsOperation.DISABLE, keyName, null, () -> {
            delegate.disable(keyName);
            return null;
        });
    }

    @Override
    public void enable(String keyName) {
        around(KmsOperation.ENABLE, keyName, null, () -> {
            delegate.enable(keyName);
            return null;
        });
    }

    @Override
    public void destroy(String keyName) {
        around(KmsOperation.DESTROY, keyName, null, () -> {
            delegate.destroy(keyName);
            return null;
        });
    }

    @Override
    public Set<KmsOperation> supportedOperations() {
        return delegate.supportedOperations();
    }

    @Override
    public void close() {
        delegate.close();
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + delegate + "]";
    }
}
