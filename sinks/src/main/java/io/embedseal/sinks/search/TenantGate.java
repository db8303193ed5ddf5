package io.embedseal.sinks.search;

import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KeyDescription;
import io.embedseal.keyring.kms.KeyState;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.keyring.tenant.TenantStatus;
import org.jspecify.annotations.Nullable;

/**
 * Decides whether a tenant's data may be searched: the tenant's key events (when known) and its KMS must both
 * allow it. A refusal says why and since when; it is never an empty result.
 */
public final class TenantGate {

    private TenantGate() {}

    /**
     * Refuses a tenant the key-event topic does not know, once the topic was read: like the pipeline and the sinks,
     * search needs an ACTIVE registration.
     *
     * @param state the tenant's state after reading the whole key-event topic
     * @throws SearchRefusedException if the tenant never registered (or was forgotten)
     */
    public static void checkRegistered(String tenantId, @Nullable TenantState state) {
        if (state == null) {
            throw new SearchRefusedException(
                    tenantId,
                    "UNREGISTERED",
                    "tenant " + tenantId
                            + " has not registered a key on the key-event topic: it has nothing to search");
        }
        checkState(tenantId, state);
    }

    /**
     * @param state the tenant's state from the key-event topic, or null if it has none (or the topic was not read)
     * @throws SearchRefusedException if the tenant is REVOKED or DESTROYED
     */
    public static void checkState(String tenantId, @Nullable TenantState state) {
        if (state == null || state.status() == TenantStatus.ACTIVE) {
            return;
        }
        String since = state.since() == null ? "" : " since " + state.since();
        if (state.status() == TenantStatus.REVOKED) {
            throw new SearchRefusedException(
                    tenantId,
                    "REVOKED",
                    "tenant " + tenantId + " has REVOKED its key" + since
                            + ": its data cannot be searched until the tenant RESTORES it");
        }
        throw new SearchRefusedException(
                tenantId,
                "DESTROYED",
                "tenant " + tenantId + " DESTROYED its key" + since
                        + ": its data is crypto-shredded and cannot be searched, ever");
    }

    /**
     * Asks the tenant's KMS about its key.
     *
     * @param keyEventsRead whether the tenant's state came from the key-event topic: then a KMS identity that may use
     *                      but not read the key (least privilege) is accepted on the key events' word
     * @return the key's description when it may be used, or null when the KMS would not describe it to this
     *         identity and the key events say the tenant is active
     * @throws SearchRefusedException if the key is unknown (destroyed) or disabled, or access is denied and no key
     *                                events vouch for the tenant
     */
    public static @Nullable KeyDescription checkKms(String tenantId, Kms kms, String kekName, boolean keyEventsRead) {
        KeyDescription d;
        try {
            d = kms.describe(kekName);
        } catch (UnknownKeyException e) {
            throw new SearchRefusedException(
                    tenantId,
                    "DENIED",
                    "the " + kms.provider() + " KMS does not know tenant " + tenantId + "'s key " + kekName
                            + " (never created, or destroyed): its data cannot be searched");
        } catch (KeyDeniedException e) {
            if (keyEventsRead) {
                return null;
            }
            throw new SearchRefusedException(
                    tenantId,
                    "DENIED",
                    "the " + kms.provider() + " KMS denies this identity access to tenant "
                            + tenantId + "'s key " + kekName + " (" + e.getMessage()
                            + "), and no key-event topic was read to vouch "
                            + "for the tenant: give --config or --bootstrap-servers, or a KMS identity that may read the key");
        }
        if (d.state() != KeyState.ENABLED) {
            throw new SearchRefusedException(
                    tenantId,
                    "DENIED",
                    "tenant " + tenantId + "'s key " + kekName + " is " + d.state() + " in the " + kms.provider()
                            + " KMS: its data cannot be searched");
        }
        return d;
    }
}
