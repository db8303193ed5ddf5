package io.embedseal.keyring.dek;

import com.google.crypto.tink.InsecureSecretKeyAccess;
import com.google.crypto.tink.aead.AesGcmKey;
import com.google.crypto.tink.aead.AesGcmParameters;
import com.google.crypto.tink.subtle.AesGcmJce;
import com.google.crypto.tink.util.SecretBytes;
import io.embedseal.keyring.kms.InvalidWrappedKeyException;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.WrappedDek;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
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
    private static final AesGcmParameters PARAMETERS;

    static {
        try {
            PARAMETERS = AesGcmParameters.builder()
                    .setKeySizeBytes(KEY_BYTES)
                    .setIvSizeBytes(12)
                    .setTagSizeBytes(16)
                    .setVariant(AesGcmParameters.Variant.NO_PREFIX)
                    .build();
        } catch (GeneralSecurityException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Kms kms;
    private final SecureRandom random = new SecureRandom();

    public DekFactory(Kms kms) {
        this.kms = Objects.requireNonNull(kms, "kms");
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
        DekId id = DekId.random();
        byte[] raw = new byte[KEY_BYTES];
        random.nextBytes(raw);
        try {
            WrappedDek wrapped = kms.wrapDek(keyName, raw, associatedData(tenantId, id));
            if (!wrapped.kek().keyName().equals(keyName) || !wrapped.kek().provider().equals(kms.provider())) {
                throw new KmsException("KMS wrapped a DEK for key '" + keyName + "' under " + wrapped.kek());
            }
            return new Dek(tenantId, id, wrapped.kek(), wrapped.wrapped(), aead(raw));
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
                throw new InvalidWrappedKeyException("wrapped DEK " + id + " unwrapped to " + raw.length
                        + " bytes, expected " + KEY_BYTES);
            }
            return new Dek(tenantId, id, kek, wrapped, aead(raw));
        } finally {
            Arrays.fill(raw, (byte) 0);
        }
    }

    static byte[] associatedData(String tenantId, DekId id) {
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

    private static com.google.crypto.tink.Aead aead(byte[] raw) {
        try {
            AesGcmKey key = AesGcmKey.builder()
                    .setParameters(PARAMETERS)
                    .setKeyBytes(SecretBytes.copyFrom(raw, InsecureSecretKeyAccess.get()))
                    .build();
            return AesGcmJce.create(key);
        } catch (GeneralSecurityException e) {
            throw new KmsException("could not build an AES-GCM cipher from a DEK", e);
        }
    }
}
