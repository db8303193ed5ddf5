package io.embedseal.keyring;

import io.embedseal.keyring.kms.PublicKek;
import org.jspecify.annotations.Nullable;

/**
 * Which KEK belongs to a tenant, and which tenant a KEK belongs to. {@link KekNaming} answers from
 * configuration; the pipeline answers from the tenant's REGISTERED key event first (the tenant may bring its
 * own key name), falling back to configuration.
 */
public interface KekResolver {

    /** The KEK name of a tenant. */
    String kekNameFor(String tenantId);

    /** The tenant a KEK name belongs to, or null when it belongs to none. */
    @Nullable
    String tenantFor(String keyName);

    /**
     * The public KEK a tenant's new data keys are wrapped with, locally and without the KMS (pinned in its signed
     * registration or rotation); null when the tenant's KEK is symmetric, or the tenant is unknown here.
     */
    default @Nullable PublicKek publicKekFor(String tenantId) {
        return null;
    }
}
