package io.embedseal.keyring.tenant;

import java.time.Instant;
import java.util.Objects;

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
 */
public record TenantState(
        String tenantId,
        TenantStatus status,
        String kms,
        String kekName,
        int kekVersion,
        String lastEvent,
        Instant since) {

    public TenantState {
        Objects.requireNonNull(tenantId, "tenantId");
        Objects.requireNonNull(status, "status");
    }

    public boolean isActive() {
        return status == TenantStatus.ACTIVE;
    }
}
