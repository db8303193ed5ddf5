package io.embedseal.keyring;

import io.embedseal.keyring.kms.KmsProviderRegistry;
import io.embedseal.keyring.kms.KmsSettings;
import io.embedseal.keyring.kms.decorator.RetryPolicy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;

/**
 * The keyring's configuration, read from flat {@code key=value} settings (a properties file, environment
 * overrides, command-line options). Every problem is reported with the setting's name, the value given and
 * what is allowed. Secrets (Vault token, PKCS#11 PIN) are never settings themselves: settings name the
 * environment variable or file that holds them, read only when the KMS is created.
 *
 * <table>
 *   <caption>Settings</caption>
 *   <tr><th>setting</th><th>default</th><th>meaning</th></tr>
 *   <tr><td>kms.provider</td><td>local</td><td>{@code local}, {@code vault} or {@code pkcs11}</td></tr>
 *   <tr><td>kms.key-name-template</td><td>tenant-{tenant}</td><td>KEK name of a tenant</td></tr>
 *   <tr><td>kms.key-name.&lt;tenant&gt;</td><td></td><td>explicit KEK name (bring your own key)</td></tr>
 *   <tr><td>kms.create-missing-keys</td><td>false</td><td>create a tenant's KEK on first use</td></tr>
 *   <tr><td>kms.local.dir</td><td>.embedseal/kms</td><td>local keyset directory</td></tr>
 *   <tr><td>kms.vault.*</td><td></td><td>address, token-env (VAULT_TOKEN), token-file, namespace, mount (transit),
 *       ca-file, connect-timeout-ms (5000), read-timeout-ms (10000)</td></tr>
 *   <tr><td>kms.pkcs11.*</td><td></td><td>config, or library with slot / slot-list-index; pin-env (PKCS11_PIN), pin-file</td></tr>
 *   <tr><td>kms.retry.*</td><td>5, 100, 5000</td><td>max-attempts, initial-backoff-ms, max-backoff-ms</td></tr>
 *   <tr><td>dek.*</td><td>10000000, 3600, 10000, 600</td><td>max-records, max-age-seconds, cache.max-size,
 *       cache.idle-expiry-seconds</td></tr>
 * </table>
 */
public final class KeyringSettings extends KmsSettings {

    /** The providers this project ships; each lives in its own module ({@code embedseal-kms-<name>}). */
    public static final Set<String> PROVIDERS = KmsProviderRegistry.SHIPPED;

    private final Function<String, String> env;

    private KeyringSettings(Map<String, String> values, Function<String, String> env) {
        super(values, env);
        this.env = env;
        // Validate everything now, so a bad setting fails at start-up and not at the first record.
        provider();
        naming();
        dekPolicy();
        retryPolicy();
        createMissingKeys();
    }

    /**
     * @param values settings; keys outside {@code kms.} and {@code dek.} are ignored
     * @param env    how to read environment variables (for the token and PIN)
     * @throws IllegalArgumentException naming the setting, if one is invalid
     */
    public static KeyringSettings of(Map<String, String> values, Function<String, String> env) {
        Map<String, String> ours = new LinkedHashMap<>();
        values.forEach((k, v) -> {
            if (k.startsWith("kms.") || k.startsWith("dek.")) {
                ours.put(k, v == null ? "" : v.trim());
            }
        });
        return new KeyringSettings(ours, Objects.requireNonNull(env, "env"));
    }

    public static KeyringSettings of(Map<String, String> values) {
        return of(values, System::getenv);
    }

    /** The same settings with some replaced or added. */
    public KeyringSettings with(Map<String, String> overrides) {
        Map<String, String> merged = new LinkedHashMap<>(asMap());
        merged.putAll(overrides);
        return of(merged, env);
    }

    @Override
    public String provider() {
        String p = super.provider();
        if (!PROVIDERS.contains(p)) {
            throw new IllegalArgumentException("kms.provider must be one of local, vault, pkcs11"
                    + ", got '" + p + "'");
        }
        return p;
    }

    public KekNaming naming() {
        Map<String, String> explicit = new LinkedHashMap<>();
        asMap().forEach((k, v) -> {
            if (k.startsWith("kms.key-name.")) {
                explicit.put(k.substring("kms.key-name.".length()), v);
            }
        });
        try {
            return KekNaming.template(get("kms.key-name-template", KekNaming.DEFAULT_TEMPLATE)).withExplicitNames(explicit);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("kms.key-name settings: " + e.getMessage(), e);
        }
    }

    public boolean createMissingKeys() {
        return bool("kms.create-missing-keys", false);
    }

    public DekPolicy dekPolicy() {
        return new DekPolicy(
                positiveLong("dek.max-records", DekPolicy.DEFAULT_MAX_RECORDS_PER_DEK),
                Duration.ofSeconds(positiveLong("dek.max-age-seconds", DekPolicy.DEFAULT_MAX_DEK_AGE.toSeconds())),
                (int) positiveLong("dek.cache.max-size", DekPolicy.DEFAULT_CACHE_MAX_SIZE),
                Duration.ofSeconds(positiveLong("dek.cache.idle-expiry-seconds", DekPolicy.DEFAULT_CACHE_IDLE_EXPIRY.toSeconds())));
    }

    public RetryPolicy retryPolicy() {
        RetryPolicy d = RetryPolicy.defaults();
        try {
            return new RetryPolicy((int) positiveLong("kms.retry.max-attempts", d.maxAttempts()),
                    Duration.ofMillis(nonNegativeLong("kms.retry.initial-backoff-ms", d.initialBackoff().toMillis())),
                    Duration.ofMillis(nonNegativeLong("kms.retry.max-backoff-ms", d.maxBackoff().toMillis())));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("kms.retry settings: " + e.getMessage(), e);
        }
    }

    public Path localDir() {
        return Path.of(get("kms.local.dir", ".embedseal/kms"));
    }

    @Override
    public String toString() {
        return "KeyringSettings" + asMap();
    }
}
