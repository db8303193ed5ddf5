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
     * @param source       the KMS holding {@code from}; its key must be {@code expectedSource}'s key
     * @param target       the KMS to wrap under; may be the same as {@code source}
     * @param targetKey    the key name in {@code target}
     * @param candidate    a wrapped form already under the target (an interrupted run's), or null: reused if it unwraps
     *                     there to the very same DEK (compared in constant time), so every row of the DEK keeps one
     *                     wrapped form (a reader's DEK cache holds one); one that holds another key (a row planted with
     *                     a DEK id it does not own) is not used
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
            String targetKey,
            @org.jspecify.annotations.Nullable WrappedDek candidate) {
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
            if (candidate != null
                    && candidate.kek().provider().equals(target.provider())
                    && candidate.kek().keyName().equals(targetKey)) {
                byte[] other = null;
                try {
                    other = target.unwrapDek(candidate.kek(), candidate.wrapped(), binding);
                    if (java.security.MessageDigest.isEqual(dek, other)) {
                        return candidate;
                    }
                } catch (KmsException e) {
                    // not a usable wrapped form of this DEK: wrap afresh
                } finally {
                    if (other != null) {
                        Arrays.fill(other, (byte) 0);
                    }
                }
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
