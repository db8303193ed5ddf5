package io.embedseal.keyring;

import io.embedseal.keyring.kms.KekRef;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Maps a tenant to the name of its KEK in the KMS: an explicit per-tenant name when the tenant brings its
 * own key, otherwise a template such as {@code tenant-{tenant}}. Also maps a key name back to its tenant,
 * for audit events.
 */
public final class KekNaming implements KekResolver {

    /** The placeholder a template must contain. */
    public static final String PLACEHOLDER = "{tenant}";

    /** The default template: tenant {@code acme} gets KEK {@code tenant-acme}. */
    public static final String DEFAULT_TEMPLATE = "tenant-" + PLACEHOLDER;

    private final String template;
    private final String prefix;
    private final String suffix;
    private final Map<String, String> explicit;
    private final Map<String, String> tenantByExplicitName;

    private KekNaming(String template, Map<String, String> explicit) {
        this.template = template;
        int at = template.indexOf(PLACEHOLDER);
        this.prefix = template.substring(0, at);
        this.suffix = template.substring(at + PLACEHOLDER.length());
        this.explicit = Map.copyOf(explicit);
        Map<String, String> reverse = new HashMap<>();
        explicit.forEach((tenant, name) -> {
            String other = reverse.put(name, tenant);
            if (other != null) {
                throw new IllegalArgumentException("tenants " + other + " and " + tenant + " are both mapped to KEK '"
                        + name + "'; every tenant needs its own key");
            }
        });
        this.tenantByExplicitName = Map.copyOf(reverse);
        explicit.forEach((tenant, name) -> {
            // A tenant's own key must not be the name the template gives another tenant (one key, one tenant).
            if (name.length() > prefix.length() + suffix.length() && name.startsWith(prefix) && name.endsWith(suffix)) {
                String owner = name.substring(prefix.length(), name.length() - suffix.length());
                if (!owner.equals(tenant) && TenantIds.isValid(owner) && !explicit.containsKey(owner)) {
                    throw new IllegalArgumentException("kms.key-name." + tenant + " names '" + name
                            + "', the key the template " + template + " gives tenant " + owner
                            + "; every tenant needs its own key");
                }
            }
        });
    }

    /**
     * @throws IllegalArgumentException if the template lacks {@value #PLACEHOLDER} or has it twice
     */
    public static KekNaming template(String template) {
        Objects.requireNonNull(template, "template");
        int first = template.indexOf(PLACEHOLDER);
        if (first < 0 || template.indexOf(PLACEHOLDER, first + 1) >= 0) {
            throw new IllegalArgumentException(
                    "kms.key-name-template must contain " + PLACEHOLDER + " exactly once, got: '" + template + "'");
        }
        return new KekNaming(template, Map.of());
    }

    public static KekNaming defaults() {
        return template(DEFAULT_TEMPLATE);
    }

    /**
     * The same template with explicit names for some tenants (bring your own key).
     *
     * @throws IllegalArgumentException if a tenant id is invalid or two tenants share a key name
     */
    public KekNaming withExplicitNames(Map<String, String> keyNameByTenant) {
        Map<String, String> merged = new HashMap<>(explicit);
        keyNameByTenant.forEach((tenant, name) -> {
            TenantIds.requireValid(tenant);
            if (name == null || name.isBlank()) {
                throw new IllegalArgumentException("kms.key-name." + tenant + " is empty");
            }
            merged.put(tenant, name);
        });
        return new KekNaming(template, merged);
    }

    /** The KEK name of a (valid) tenant. */
    @Override
    public String kekNameFor(String tenantId) {
        TenantIds.requireValid(tenantId);
        String name = explicit.get(tenantId);
        if (name == null) {
            name = prefix + tenantId + suffix;
        }
        if (name.length() > KekRef.MAX_KEY_NAME_LENGTH) {
            throw new IllegalArgumentException("KEK name for tenant " + tenantId + " is longer than "
                    + KekRef.MAX_KEY_NAME_LENGTH + " characters; shorten the template");
        }
        return name;
    }

    /** The tenant a key name belongs to, or null if none does. */
    @Override
    public @Nullable String tenantFor(@Nullable String keyName) {
        if (keyName == null) {
            return null;
        }
        String tenant = tenantByExplicitName.get(keyName);
        if (tenant != null) {
            return tenant;
        }
        if (keyName.length() > prefix.length() + suffix.length()
                && keyName.startsWith(prefix)
                && keyName.endsWith(suffix)) {
            String candidate = keyName.substring(prefix.length(), keyName.length() - suffix.length());
            // A tenant with an explicit name does not own the templated name.
            if (TenantIds.isValid(candidate) && !explicit.containsKey(candidate)) {
                return candidate;
            }
        }
        return null;
    }

    @Override
    public String toString() {
        return template + (explicit.isEmpty() ? "" : " (+" + explicit.size() + " explicit)");
    }
}
