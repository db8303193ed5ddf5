package io.embedseal.keyring.dek;

import io.embedseal.keyring.kms.InvalidWrappedKeyException;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.PublicKek;
import io.embedseal.keyring.kms.WrappedDek;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * Makes {@link Dek}s: generates fresh ones and has the KMS wrap them, or has the KMS unwrap stored ones.
 * Raw key bytes exist only inside these two methods and are zeroed before they return.
 *
 * <p>The KMS binds every wrapped DEK to associated data {@code "embedseal.dek.v1" 0x00 len(tenant) tenant dekId},
 * so a wrapped DEK copied into another tenant's envelope, or under another DEK id, does not unwrap.
 */
public final class DekFactory {

    /** DEKs are AES-256 keys. */
    public static final int KEY_BYTES = 32;

    private static final byte[] WRAP_CONTEXT = "embedseal.dek.v1".getBytes(StandardCharsets.US_ASCII);
    private final Kms kms;
    private final Randomness randomness;

    public DekFactory(Kms kms) {
        this(kms, Randomness.secure());
    }

    /** @param randomness where key bytes, ids and nonces come from; production uses {@link Randomness#secure()} */
    public DekFactory(Kms kms, Randomness randomness) {
        this.kms = Objects.requireNonNull(kms, "kms");
        this.randomness = Objects.requireNonNull(randomness, "randomness");
    }

    public Kms kms() {
        return kms;
    }

    /**
     * Generates a DEK for the tenant and has the KMS wrap it under the named key's current version: one
     * KMS call.
     *
     * @throws io.embedseal.keyring.kms.KmsException as the KMS reports it
     */
    public Dek create(String tenantId, String keyName) {
        byte[] raw = new byte[KEY_BYTES];
        randomness.nextBytes(raw);
        byte[] idBytes = new byte[DekId.LENGTH];
        randomness.nextBytes(idBytes);
        DekId id = DekId.of(idBytes, 0, DekId.LENGTH);
        try {
            WrappedDek wrapped = kms.wrapDek(keyName, raw, associatedData(tenantId, id));
            if (!wrapped.kek().keyName().equals(keyName)
                    || !wrapped.kek().provider().equals(kms.provider())) {
                throw new KmsException("KMS wrapped a DEK for key '" + keyName + "' under " + wrapped.kek());
            }
            return new Dek(tenantId, id, wrapped.kek(), wrapped.wrapped(), raw, randomness);
        } finally {
            Arrays.fill(raw, (byte) 0);
        }
    }

    /**
     * Generates a DEK for the tenant and wraps it with the tenant's public KEK, here: no KMS call, and nothing this
     * process holds can unwrap it again.
     *
     * @throws KmsException if the public KEK is not one of {@code keyName}
     */
    public Dek create(String tenantId, String keyName, PublicKek publicKek) {
        if (!publicKek.kek().keyName().equals(keyName)) {
            throw new KmsException("tenant " + tenantId + "'s pinned public KEK is " + publicKek.kek()
                    + ", not a version of its KEK '" + keyName + "'");
        }
        byte[] raw = new byte[KEY_BYTES];
        randomness.nextBytes(raw);
        byte[] idBytes = new byte[DekId.LENGTH];
        randomness.nextBytes(idBytes);
        DekId id = DekId.of(idBytes, 0, DekId.LENGTH);
        try {
            WrappedDek wrapped = publicKek.wrap(raw, associatedData(tenantId, id));
            return new Dek(tenantId, id, wrapped.kek(), wrapped.wrapped(), raw, randomness);
        } finally {
            Arrays.fill(raw, (byte) 0);
        }
    }

    /**
     * Unwraps a stored DEK of the tenant.
     *
     * @throws InvalidWrappedKeyException if the wrapped bytes do not unwrap to an AES-256 key for this tenant and id
     * @throws io.embedseal.keyring.kms.KmsException as the KMS reports it
     */
    public Dek open(String tenantId, KekRef kek, DekId id, byte[] wrapped) {
        byte[] raw = kms.unwrapDek(kek, wrapped, associatedData(tenantId, id));
        try {
            if (raw.length != KEY_BYTES) {
                throw new InvalidWrappedKeyException(
                        "wrapped DEK " + id + " unwrapped to " + raw.length + " bytes, expected " + KEY_BYTES);
            }
            return new Dek(tenantId, id, kek, wrapped, raw, randomness);
        } finally {
            Arrays.fill(raw, (byte) 0);
        }
    }

    /** The associated data every wrapped DEK of this tenant and id is bound to. */
    public static byte[] associatedData(String tenantId, DekId id) {
        byte[] tenant = tenantId.getBytes(StandardCharsets.UTF_8);
        if (tenant.length > 255) {
            throw new IllegalArgumentException("tenant id longer than 255 bytes");
        }
        byte[] aad = new byte[WRAP_CONTEXT.length + 2 + tenant.length + DekId.LENGTH];
        int p = 0;
        System.arraycopy(WRAP_CONTEXT, 0, aad, p, WRAP_CONTEXT.length);
        p += WRAP_CONTEXT.length;
        aad[p++] = 0;
        aad[p++] = (byte) tenant.length;
        System.arraycopy(tenant, 0, aad, p, tenant.length);
        p += tenant.length;
        id.copyTo(aad, p);
        return aad;
    }
}
