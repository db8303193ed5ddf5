package io.embedseal.keyring.tenant;

import java.time.Instant;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A tenant's state after the key events applied so far.
 *
 * @param tenantId   the tenant
 * @param status     what the pipeline does with its records
 * @param kms        the KMS provider named by the tenant's registration
 * @param kekName    the tenant's KEK name in that KMS (its own key name if it brought one)
 * @param kekVersion the KEK version named by the latest event (the newest after a rotation)
 * @param lastEvent  the type of the event that set this state (REGISTERED, ROTATED, ...)
 * @param since      when that event was made
 * @param sequence   the sequence number of that event (0 for an unsigned event read in development mode)
 * @param authority  the public key (X.509, base64) that must sign the tenant's events from now on; null: the
 *                   operator's trusted keys
 * @param kekPublicKey the public half of KEK version {@code kekVersion} (X.509 SubjectPublicKeyInfo, base64) when the
 *                   tenant's KEK is a public-key one: sealing wraps with it and calls no KMS; null for a symmetric KEK
 */
public record TenantState(
        String tenantId,
        TenantStatus status,
        String kms,
        String kekName,
        int kekVersion,
        String lastEvent,
        Instant since,
        long sequence,
        @Nullable String authority,
        @Nullable String kekPublicKey) {

    public TenantState {
        Objects.requireNonNull(tenantId, "tenantId");
        Objects.requireNonNull(status, "status");
    }

    /** A state with a symmetric KEK. */
    public TenantState(
            String tenantId,
            TenantStatus status,
            String kms,
            String kekName,
            int kekVersion,
            String lastEvent,
            Instant since,
            long sequence,
            @Nullable String authority) {
        this(tenantId, status, kms, kekName, kekVersion, lastEvent, since, sequence, authority, null);
    }

    /** The pinned public KEK, or null for a symmetric KEK. */
    public io.embedseal.keyring.kms.@Nullable PublicKek publicKek() {
        return kekPublicKey == null
                ? null
                : io.embedseal.keyring.kms.PublicKek.of(
                        new io.embedseal.keyring.kms.KekRef(kms, kekName, kekVersion),
                        java.util.Base64.getDecoder().decode(kekPublicKey));
    }

    @Override
    public String toString() {
        return "TenantState[" + tenantId + ", " + status + ", " + kms + ":" + kekName + ":" + kekVersion + ", "
                + lastEvent + " #" + sequence + " at " + since
                + (authority == null ? "" : ", own authority")
                + (kekPublicKey == null
                        ? ""
                        : ", public key "
                                + io.embedseal.keyring.kms.PublicKek.fingerprint(
                                        java.util.Base64.getDecoder().decode(kekPublicKey)))
                + "]";
    }

    /** A state with no sequence and no tenant authority (tests, stores). */
    public TenantState(
            String tenantId,
            TenantStatus status,
            String kms,
            String kekName,
            int kekVersion,
            String lastEvent,
            Instant since) {
        this(tenantId, status, kms, kekName, kekVersion, lastEvent, since, 0, null, null);
    }

    public boolean isActive() {
        return status == TenantStatus.ACTIVE;
    }
}
