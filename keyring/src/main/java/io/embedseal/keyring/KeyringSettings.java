package io.embedseal.keyring;

import io.embedseal.config.ConfigValueException;
import io.embedseal.config.Setting;
import io.embedseal.config.SettingsModel;
import io.embedseal.keyring.kms.KmsProviderRegistry;
import io.embedseal.keyring.kms.KmsSettings;
import io.embedseal.keyring.kms.decorator.RetryPolicy;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;

/**
 * The keyring's configuration ({@code kms.*} and {@code dek.*}), read through the definitions in {@link #MODEL} and,
 * for the provider's own settings, those its module declares. Every problem is reported with the setting's name, the
 * value given and what is allowed ({@link ConfigValueException}). Secrets (Vault token, PKCS#11 PIN) are never
 * settings themselves: settings name the environment variable or file that holds them, read only when the KMS is
 * created.
 */
public final class KeyringSettings extends KmsSettings {

    /** The providers this project ships; each lives in its own module ({@code embedseal-kms-<name>}). */
    public static final Set<String> PROVIDERS = KmsProviderRegistry.SHIPPED;

    public static final Setting<String> PROVIDER = KmsSettings.PROVIDER.check(
            p -> {
                if (!PROVIDERS.contains(p)) {
                    throw new IllegalArgumentException("must be one of local, vault, pkcs11, aws");
                }
                return p;
            },
            "local, vault, pkcs11, aws");
    public static final Setting<String> KEY_NAME_TEMPLATE = Setting.string(
                    "kms.key-name-template", KekNaming.DEFAULT_TEMPLATE)
            .doc("A tenant's KEK name in the KMS; `{tenant}` stands for the tenant id.");
    public static final Setting<String> KEY_NAME = Setting.string("kms.key-name.", null)
            .family("tenant")
            .doc("The KEK name of one tenant that brings its own key (else the template's).");
    public static final Setting<Boolean> CREATE_MISSING_KEYS = Setting.bool("kms.create-missing-keys", false)
            .doc(
                    "Development only: create a tenant's KEK on first use, which gives the pipeline the right to create keys. "
                            + "Production onboards tenants with `tenants add`.");
    public static final Setting<Integer> RETRY_MAX_ATTEMPTS = Setting.intValue(
                    "kms.retry.max-attempts", RetryPolicy.defaults().maxAttempts(), 1, Integer.MAX_VALUE)
            .doc("Tries of a KMS call that found the KMS unavailable, in all (the CLI and search; the pipeline and "
                    + "the sinks retry a record instead, see docs/reliability.md).");
    public static final Setting<Long> CALL_DEADLINE_MS = Setting.longValue("kms.call-deadline-ms", 1_000, 10, 600_000)
            .doc("The pipeline and the sinks wait at most this long for one wrap, unwrap or describe, whatever the "
                    + "provider's own timeouts: a tenant key that hangs then costs the other tenants on the thread at "
                    + "most this, once per fault cool-down.");
    public static final Setting<Long> RETRY_INITIAL_BACKOFF_MS = Setting.longValue(
                    "kms.retry.initial-backoff-ms",
                    RetryPolicy.defaults().initialBackoff().toMillis(),
                    0,
                    Long.MAX_VALUE / 1000)
            .doc("The first retry's longest wait (full jitter).");
    public static final Setting<Long> RETRY_MAX_BACKOFF_MS = Setting.longValue(
                    "kms.retry.max-backoff-ms",
                    RetryPolicy.defaults().maxBackoff().toMillis(),
                    0,
                    Long.MAX_VALUE / 1000)
            .doc("The longest wait between retries.");
    public static final Setting<Long> DEK_MAX_RECORDS = Setting.longValue(
                    "dek.max-records", DekPolicy.DEFAULT_MAX_RECORDS_PER_DEK, 1, 1L << 32)
            .doc("Records sealed under one DEK before a new one is made (one KMS call).");
    public static final Setting<Long> DEK_MAX_AGE_SECONDS = Setting.longValue(
                    "dek.max-age-seconds", DekPolicy.DEFAULT_MAX_DEK_AGE.toSeconds(), 1, Long.MAX_VALUE / 1000)
            .doc("Seconds a DEK seals before a new one is made; sooner if `dek.max-open-seconds` is shorter.");
    public static final Setting<Integer> DEK_CACHE_MAX_SIZE = Setting.intValue(
                    "dek.cache.max-size", 0, 0, Integer.MAX_VALUE)
            .doc("Unwrapped DEKs kept in memory, per cache. 0 (the default): a thirty-second of the JVM's maximum heap "
                    + "at ~1.6 KB a DEK, at least 10,000 and at most 1,000,000 (20,971 with -Xmx1g), per keyring (a "
                    + "Connect worker has one per embedseal task: with several, set it); size it to the tenants that "
                    + "send within `dek.cache.idle-expiry-seconds`, or every record of the others costs a KMS call.");
    public static final Setting<Long> DEK_CACHE_IDLE_EXPIRY_SECONDS = Setting.longValue(
                    "dek.cache.idle-expiry-seconds",
                    DekPolicy.DEFAULT_CACHE_IDLE_EXPIRY.toSeconds(),
                    1,
                    Long.MAX_VALUE / 1000)
            .doc("Seconds an unused DEK stays in memory; then it is destroyed (its key bytes zeroed).");
    public static final Setting<Long> DEK_MAX_OPEN_SECONDS = Setting.longValue(
                    "dek.max-open-seconds", DekPolicy.DEFAULT_MAX_OPEN.toSeconds(), 1, Long.MAX_VALUE / 1000)
            .doc("Seconds a DEK is used from memory at most, however busy, before the KMS is asked again (a new "
                    + "sealing DEK, a new unwrap): a revocation done only in the KMS, without a key event, takes "
                    + "effect within this bound. The DEK is destroyed then.");

    /** The operator's signing key's default name, in the configured KMS. */
    public static final String DEFAULT_SIGNING_KEY = "embedseal-operator-signing";

    public static final Setting<String> EVENTS_VERIFICATION = Setting.oneOf(
                    "kms.events.verification", "required", List.of("required", "disabled-insecure"))
            .doc("`required`: apply only key events signed by a trusted key (docs/key-lifecycle.md). "
                    + "`disabled-insecure` applies any event and lets a tombstone forget a tenant, as before signing "
                    + "existed: development, and reading a topic during its one-time migration, only.");
    public static final Setting<String> EVENTS_TRUSTED_SIGNERS = Setting.string(
                    "kms.events.trusted-signers", "kms:" + DEFAULT_SIGNING_KEY)
            .doc("The public keys that may register tenants, comma-separated: `kms:<name>` (read from the "
                    + "configured KMS at start), `file:<path>` (a PEM public key) or base64 X.509 "
                    + "SubjectPublicKeyInfo. List the old and the new key while the operator's key changes.");
    public static final Setting<String> EVENTS_SIGNING_KEY = Setting.string(
                    "kms.events.signing-key", DEFAULT_SIGNING_KEY)
            .doc("The key, in the configured KMS, that operator commands sign key events with (`keys signing-key` "
                    + "creates it). A tenant that brings its own authority signs with `--sign-with`.");

    public static final Setting<String> AUDIT_SIGNING_KEY = Setting.string("kms.audit.signing-key", null)
            .doc("The key, in the configured KMS, this process signs its audit checkpoints with. Default: its role's "
                    + "(`audit-pipeline`, `audit-sink`, `audit-operator`), created on first use with the local "
                    + "provider, by the KMS administrator elsewhere (deploy/vault/init.sh).");
    public static final Setting<String> AUDIT_TRUSTED_SIGNERS = Setting.string(
                    "kms.audit.trusted-signers", "kms:audit-pipeline,kms:audit-sink,kms:audit-operator")
            .doc("The public keys `audit verify` accepts on checkpoints, comma-separated, in the forms of "
                    + "`kms.events.trusted-signers`.");

    /** The keyring's own settings; each provider's come from its module ({@link KmsProviderRegistry#settings()}). */
    public static final SettingsModel MODEL = SettingsModel.of(
            "keyring",
            PROVIDER,
            KEY_NAME_TEMPLATE,
            KEY_NAME,
            CREATE_MISSING_KEYS,
            RETRY_MAX_ATTEMPTS,
            RETRY_INITIAL_BACKOFF_MS,
            RETRY_MAX_BACKOFF_MS,
            CALL_DEADLINE_MS,
            DEK_MAX_RECORDS,
            DEK_MAX_AGE_SECONDS,
            DEK_CACHE_MAX_SIZE,
            DEK_CACHE_IDLE_EXPIRY_SECONDS,
            DEK_MAX_OPEN_SECONDS,
            EVENTS_VERIFICATION,
            EVENTS_TRUSTED_SIGNERS,
            EVENTS_SIGNING_KEY,
            AUDIT_SIGNING_KEY,
            AUDIT_TRUSTED_SIGNERS);

    private final Function<String, String> env;

    private KeyringSettings(Map<String, String> values, Function<String, String> env) {
        super(values, env);
        this.env = env;
        // Validate everything now, so a bad setting fails at start-up and not at the first record.
        MODEL.validate(this);
        // The chosen provider's own settings too (a value present and wrong; a missing required one fails at creation).
        KmsProviderRegistry.settingsOf(provider()).ifPresent(m -> m.validate(this));
        naming();
        dekPolicy();
        retryPolicy();
    }

    /**
     * @param values settings; keys outside {@code kms.} and {@code dek.} are ignored
     * @param env    how to read environment variables (for the token and PIN)
     * @throws ConfigValueException naming the setting, if one is invalid
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
        return get(PROVIDER);
    }

    public KekNaming naming() {
        try {
            return KekNaming.template(get(KEY_NAME_TEMPLATE)).withExplicitNames(family(KEY_NAME));
        } catch (IllegalArgumentException e) {
            if (e instanceof ConfigValueException) {
                throw e;
            }
            throw new ConfigValueException(KEY_NAME_TEMPLATE.name(), "kms.key-name settings: " + e.getMessage(), e);
        }
    }

    /** {@code kms.events.verification}: true for {@code disabled-insecure}. */
    public boolean eventVerificationDisabled() {
        return "disabled-insecure".equals(get(EVENTS_VERIFICATION));
    }

    /** The entries of {@code kms.events.trusted-signers}. */
    public List<String> trustedSigners() {
        String raw = get(EVENTS_TRUSTED_SIGNERS);
        if (raw == null || raw.isBlank()) {
            return List.of();
        }
        return List.of(raw.strip().split("\\s*,\\s*"));
    }

    public @org.jspecify.annotations.Nullable String auditSigningKey() {
        return getOrNull(AUDIT_SIGNING_KEY);
    }

    /** The entries of {@code kms.audit.trusted-signers}. */
    public List<String> auditTrustedSigners() {
        String raw = get(AUDIT_TRUSTED_SIGNERS);
        if (raw == null || raw.isBlank()) {
            return List.of();
        }
        return List.of(raw.strip().split("\\s*,\\s*"));
    }

    public String signingKey() {
        return get(EVENTS_SIGNING_KEY);
    }

    public boolean createMissingKeys() {
        return get(CREATE_MISSING_KEYS);
    }

    public DekPolicy dekPolicy() {
        return new DekPolicy(
                get(DEK_MAX_RECORDS),
                Duration.ofSeconds(get(DEK_MAX_AGE_SECONDS)),
                get(DEK_CACHE_MAX_SIZE) == 0 ? DekPolicy.DEFAULT_CACHE_MAX_SIZE : get(DEK_CACHE_MAX_SIZE),
                Duration.ofSeconds(get(DEK_CACHE_IDLE_EXPIRY_SECONDS)),
                Duration.ofSeconds(get(DEK_MAX_OPEN_SECONDS)));
    }

    /** {@code kms.call-deadline-ms}. */
    public java.time.Duration callDeadline() {
        return java.time.Duration.ofMillis(get(CALL_DEADLINE_MS));
    }

    public RetryPolicy retryPolicy() {
        try {
            return new RetryPolicy(
                    get(RETRY_MAX_ATTEMPTS),
                    Duration.ofMillis(get(RETRY_INITIAL_BACKOFF_MS)),
                    Duration.ofMillis(get(RETRY_MAX_BACKOFF_MS)));
        } catch (IllegalArgumentException e) {
            if (e instanceof ConfigValueException) {
                throw e;
            }
            throw new ConfigValueException(RETRY_MAX_BACKOFF_MS.name(), "kms.retry settings: " + e.getMessage(), e);
        }
    }

    /** Every keyring and provider setting, for environment overrides and the docs. */
    public static SettingsModel modelWithProviders() {
        return MODEL.with(KmsProviderRegistry.settings());
    }

    /** Every keyring setting's name, for callers that pick them out of a larger configuration. */
    public static List<String> names() {
        return modelWithProviders().settings().stream().map(Setting::name).toList();
    }

    @Override
    public String toString() {
        return "KeyringSettings" + asMap().keySet();
    }
}
