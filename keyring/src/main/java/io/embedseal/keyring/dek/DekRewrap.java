package io.embedseal.keyring.dek;

import io.embedseal.keyring.KeyMismatchException;
import io.embedseal.keyring.kms.InvalidWrappedKeyException;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.WrappedDek;
import java.util.Arrays;

/**
 * Re-wraps one stored DEK under another KEK (a newer version of the tenant's key, or a key in another KMS) without
 * anything it protects being decrypted: the DEK is unwrapped through the KEK that wrapped it, bound to its tenant and
 * DEK id, and wrapped again with the same binding. The raw DEK lives only between the two calls and is zeroed.
 *
 * <p>Vault Transit's {@code rewrap} endpoint would do this in one call without the DEK leaving Vault, but it takes no
 * associated data (tried on OpenBao 2.7: a ciphertext made with {@code associated_data} fails to rewrap with "message
 * authentication failed"), and every embedseal wrap is bound to its tenant and DEK id; so it is two calls everywhere.
 */
public final class DekRewrap {

    private DekRewrap() {}

    /**
     * Whether a wrapped DEK found under the target (an interrupted run's) unwraps there for this tenant and DEK id:
     * the KMS binding then proves it is this DEK, and it can be reused instead of wrapping again. One KMS call.
     */
    public static boolean unwrapsFor(String tenantId, DekId id, KekRef kek, byte[] wrapped, Kms target) {
        try {
            byte[] dek = target.unwrapDek(kek, wrapped, DekFactory.associatedData(tenantId, id));
            boolean ok = dek.length == DekFactory.KEY_BYTES;
            Arrays.fill(dek, (byte) 0);
            return ok;
        } catch (KmsException e) {
            return false;
        }
    }

    /**
     * @param source       the KMS holding {@code from}; its key must be {@code expectedSource}'s key
     * @param target       the KMS to wrap under; may be the same as {@code source}
     * @param targetKey    the key name in {@code target}
     * @throws KeyMismatchException       if {@code from} is not the tenant's key ({@code expectedSource})
     * @throws InvalidWrappedKeyException if the wrapped DEK does not unwrap for this tenant and DEK id
     * @throws KmsException               as either KMS reports it
     */
    public static WrappedDek rewrap(
            String tenantId,
            DekId id,
            KekRef from,
            byte[] wrapped,
            KekRef expectedSource,
            Kms source,
            Kms target,
            String targetKey) {
        if (!from.sameKeyAs(expectedSource)) {
            throw new KeyMismatchException("DEK " + id + " of tenant " + tenantId + " names " + from
                    + ", which is not the tenant's key " + expectedSource.provider() + ":" + expectedSource.keyName());
        }
        byte[] binding = DekFactory.associatedData(tenantId, id);
        byte[] dek = source.unwrapDek(from, wrapped, binding);
        try {
            if (dek.length != DekFactory.KEY_BYTES) {
                throw new InvalidWrappedKeyException("wrapped DEK " + id + " unwrapped to " + dek.length
                        + " bytes, expected " + DekFactory.KEY_BYTES);
            }
            WrappedDek out = target.wrapDek(targetKey, dek, binding);
            if (!out.kek().keyName().equals(targetKey) || !out.kek().provider().equals(target.provider())) {
                throw new KmsException("KMS wrapped DEK " + id + " for key '" + targetKey + "' under " + out.kek());
            }
            return out;
        } finally {
            Arrays.fill(dek, (byte) 0);
        }
    }
}
