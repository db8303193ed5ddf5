package io.embedseal.keyring;

import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KeyDescription;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.PublicKek;
import io.embedseal.keyring.kms.WrappedDek;
import java.util.Objects;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * A {@link Kms} that wraps under a public-key KEK with the public key pinned in the tenant's signed key events, here and
 * without the KMS, and hands every other call to the KMS. Whatever wraps a key for a tenant (the pipeline's DEKs, a
 * sink's Lucene index keys and blind-mode vector keys, {@code keys rewrap}) goes through it, so none of them needs a
 * grant on a public-key tenant's key, and none ever wraps with a public key read from the KMS rather than the one the
 * tenant's signed events pinned: the providers refuse to wrap under a key pair themselves.
 */
public final class PinnedKeyKms implements Kms {

    private final Kms delegate;
    private final Function<String, @Nullable PublicKek> pinned;

    /**
     * @param pinned the public KEK pinned for a key name (the current version of a tenant's key pair), or null for a
     *               key that is not a pinned key pair
     */
    public PinnedKeyKms(Kms delegate, Function<String, @Nullable PublicKek> pinned) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
        this.pinned = Objects.requireNonNull(pinned, "pinned");
    }

    /** Pins from the tenants' registrations: the key's tenant, then that tenant's pinned public KEK. */
    public static PinnedKeyKms of(Kms delegate, KekResolver naming) {
        return new PinnedKeyKms(delegate, keyName -> {
            String tenant = naming.tenantFor(keyName);
            return tenant == null ? null : naming.publicKekFor(tenant);
        });
    }

    @Override
    public String provider() {
        return delegate.provider();
    }

    @Override
    public WrappedDek wrapDek(String keyName, byte[] dek, byte[] associatedData) {
        PublicKek pk = pinned.apply(keyName);
        if (pk != null
                && pk.kek().keyName().equals(keyName)
                && pk.kek().provider().equals(delegate.provider())) {
            return pk.wrap(dek, associatedData);
        }
        return delegate.wrapDek(keyName, dek, associatedData);
    }

    @Override
    public byte[] unwrapDek(KekRef kek, byte[] wrappedDek, byte[] associatedData) {
        return delegate.unwrapDek(kek, wrappedDek, associatedData);
    }

    @Override
    public KeyDescription describe(String keyName) {
        return delegate.describe(keyName);
    }

    @Override
    public void close() {
        delegate.close();
    }

    @Override
    public String toString() {
        return "PinnedKeyKms[" + delegate + "]";
    }
}
