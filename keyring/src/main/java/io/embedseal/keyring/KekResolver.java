package io.embedseal.keyring;

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
}
