package io.embedseal.keyring.tenant;

/**
 * A tenant's key state as the pipeline acts on it.
 * <pre>
 *   REGISTERED / ROTATED / RESTORED -> ACTIVE     seal under the tenant's KEK
 *   REVOKED                         -> REVOKED    reject the tenant's records (metadata-only dead letters)
 *   DESTROYED                       -> DESTROYED  reject, for good: no event brings the tenant back
 * </pre>
 */
public enum TenantStatus {
    ACTIVE,
    REVOKED,
    DESTROYED
}
