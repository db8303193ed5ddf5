package io.embedseal.keyring;

import io.embedseal.keyring.kms.KekRef;

import java.util.Objects;

/**
 * Maps a tenant to the name of its KEK in the KMS through a template such as {@code tenant-{tenant}}.
 */
public final class KekNaming {

    /** The placeholder a template must contain. */
    public static final String PLACEHOLDER = "{tenant}";

    /** The default template: tenant {@code acme} gets KEK {@code tenant-acme}. */
    public static final String DEFAULT_TEMPLATE = "tenant-" + PLACEHOLDER;

    private final String template;

    private KekNaming(String template) {
        this.template = template;
    }

    /**
     * @throws IllegalArgumentException if the template lacks {@value #PLACEHOLDER}
     */
    public static KekNaming template(String template) {
        Objects.requireNonNull(template, "template");
        if (!template.contains(PLACEHOLDER)) {
            throw new IllegalArgumentException("KEK name template must contain " + PLACEHOLDER + ", got: '" + template + "'");
        }
        return new KekNaming(template);
    }

    public static KekNaming defaults() {
        return template(DEFAULT_TEMPLATE);
    }

    /** The KEK name of a (valid) tenant. */
    public String kekNameFor(String tenantId) {
        String name = template.replace(PLACEHOLDER, TenantIds.requireValid(tenantId));
        if (name.length() > KekRef.MAX_KEY_NAME_LENGTH) {
            throw new IllegalArgumentException("KEK name for tenant " + tenantId + " is longer than "
                    + KekRef.MAX_KEY_NAME_LENGTH + " characters; shorten the template");
        }
        return name;
    }

    @Override
    public String toString() {
        return template;
    }
}
