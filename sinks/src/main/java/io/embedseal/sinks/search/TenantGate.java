package io.embedseal.sinks.search;

import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KeyDescription;
import io.embedseal.keyring.kms.KeyState;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.keyring.tenant.TenantStatus;

/**
 * Decides whether a tenant's data may be searched: the tenant's key events (when known) and its KMS must both
 * allow it. A refusal says why and since when; it is never an empty result.
 */
public final class TenantGate {

    private TenantGate() {
    }

    /**
     * @param state the tenant's state from the key-event topic, or null if it has none (or the topic was not read)
     * @throws SearchRefusedException if the tenant is REVOKED or DESTROYED
     */
    public static void checkState(String tenantId, TenantState state) {
        if (state == null || state.status() == TenantStatus.ACTIVE) {
            return;
        }
        String since = state.since() == null ? "" : " since " + state.since();
        if (state.status() == TenantStatus.REVOKED) {
            throw new SearchRefusedException(tenantId, "REVOKED", "tenant " + tenantId + " has REVOKED its key" + since
                    + ": its data cannot be searched until the tenant RESTORES it");
        }
        throw new SearchRefusedException(tenantId, "DESTROYED", "tenant " + tenantId + " DESTROYED its key" + since
                + ": its data is crypto-shredded and cannot be searched, ever");
    }

    /**
     * Asks the tenant's KMS about its key.
     *
     * @return the key's description when it may be used
     * @throws SearchRefusedException if the key is unknown (destroyed), disabled or access is denied
     */
    public static KeyDescription checkKms(String tenantId, Kms kms, String kekName) {
        KeyDescription d;
        try {
            d = kms.describe(kekName);
        } catch (UnknownKeyException e) {
            throw new SearchRefusedException(tenantId, "DENIED", "the " + kms.provider() + " KMS does not know tenant " + tenantId
                    + "'s key " + kekName + " (never created, or destroyed): its data cannot be searched");
        } catch (KeyDeniedException e) {
            throw new SearchRefusedException(tenantId, "DENIED", "the " + kms.provider() + " KMS denies access to tenant " + tenantId
                    + "'s key " + kekName + ": " + e.getMessage());
        }
        if (d.state() != KeyState.ENABLED) {
            throw new SearchRefusedException(tenantId, "DENIED", "tenant " + tenantId + "'s key " + kekName + " is " + d.state()
                    + " in the " + kms.provider() + " KMS: its data cannot be searched");
        }
        return d;
    }
}
