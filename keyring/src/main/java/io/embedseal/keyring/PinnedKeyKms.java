package io.embedseal.keyring;

import io.embedseal.keyring.dek.DekFactory;
import io.embedseal.keyring.kms.InvalidWrappedKeyException;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KeyDescription;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.PublicKek;
import io.embedseal.keyring.kms.WrappedDek;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * A {@link Kms} that wraps under a public-key KEK with the public key pinned in the tenant's signed key events, here and
 * without the KMS, and hands every other call to the KMS. Whatever wraps a key for a tenant (the pipeline's DEKs, a
 * sink's Lucene index keys and blind-mode vector keys, {@code keys rewrap}) goes through it, so none of them needs a
 * grant on a public-key tenant's key, and none ever wraps with a public key read from the KMS rather than the one the
 * tenant's signed events pinned: the providers refuse to wrap under a key pair themselves.
 *
 * <p><b>Public-key wraps are for DEKs only.</b> A wrap made with a public key proves nothing about who made it: anyone
 * holding the key (it is public) can make one the KMS will open. For a DEK inside an envelope that is the topic's write
 * ACL's concern (docs/threat-model.md). For a key a sink keeps in the store (a Lucene index key, a blind-mode vector
 * key) it would let the store plant a key it knows, which the sink would then encrypt the tenant's index with; so a
 * public-key wrap bound to anything but a DEK ({@code "embedseal.dek.v1"}) is refused both ways: not made, and not
 * opened. Such a tenant's records go to a store that needs no key of its own (PostgreSQL in sealed or index mode).
 */
public final class PinnedKeyKms implements Kms {

    private final Kms delegate;
    private final Function<String, @Nullable PublicKek> pinned;
    private final boolean guard;

    /**
     * @param pinned the public KEK pinned for a key name (the current version of a tenant's key pair), or null for a
     *               key that is not a pinned key pair
     */
    public PinnedKeyKms(Kms delegate, Function<String, @Nullable PublicKek> pinned) {
        this(delegate, pinned, true);
    }

    private PinnedKeyKms(Kms delegate, Function<String, @Nullable PublicKek> pinned, boolean guard) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
        this.pinned = Objects.requireNonNull(pinned, "pinned");
        this.guard = guard;
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
            if (!isDekBinding(associatedData)) {
                throw new KmsException("key '" + keyName + "' is a public-key KEK: a key a sink keeps in the store (a "
                        + "Lucene index key, a blind-mode vector key) is not wrapped with it, since a wrap made with a "
                        + "public key could as well be the store's own; give this tenant a store that needs no key of its "
                        + "own (PostgreSQL, sealed or index mode), or a symmetric KEK");
            }
            return pk.wrap(dek, associatedData);
        }
        return delegate.wrapDek(keyName, dek, associatedData);
    }

    @Override
    public byte[] unwrapDek(KekRef kek, byte[] wrappedDek, byte[] associatedData) {
        if (guard && PublicKek.isPublicKeyWrap(wrappedDek) && !isDekBinding(associatedData)) {
            throw new InvalidWrappedKeyException("a key held in the store and wrapped with " + kek
                    + "'s public key is refused: anyone with the public key could have made it (a planted key)");
        }
        return delegate.unwrapDek(kek, wrappedDek, associatedData);
    }

    /** Whether associated data binds a DEK ({@code "embedseal.dek.v1" 0x00 ...}, as {@link DekFactory} makes it). */
    static boolean isDekBinding(byte[] associatedData) {
        return associatedData.length > DEK_BINDING.length
                && Arrays.equals(associatedData, 0, DEK_BINDING.length, DEK_BINDING, 0, DEK_BINDING.length);
    }

    private static final byte[] DEK_BINDING = {
        'e', 'm', 'b', 'e', 'd', 's', 'e', 'a', 'l', '.', 'd', 'e', 'k', '.', 'v', '1', 0
    };

    /** Test only: false lets a planted store-held key through, so a test can show the attack. */
    PinnedKeyKms withoutPlantGuard() {
        return new PinnedKeyKms(delegate, pinned, false);
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
