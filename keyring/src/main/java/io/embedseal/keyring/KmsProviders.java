package io.embedseal.keyring;

import io.embedseal.keyring.kms.KeyAdministration;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.decorator.InterceptedKeyAdministration;
import io.embedseal.keyring.kms.decorator.InterceptedKms;
import io.embedseal.keyring.kms.decorator.KmsAuditListener;
import io.embedseal.keyring.kms.decorator.KmsAuditing;
import io.embedseal.keyring.kms.decorator.KmsInstrumentation;
import io.embedseal.keyring.kms.decorator.KmsObserver;
import io.embedseal.keyring.kms.decorator.KmsRetry;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.keyring.kms.pkcs11.Pkcs11Kms;
import io.embedseal.keyring.kms.vault.VaultTransitKms;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.function.Function;

/**
 * Creates KMS providers by the name in {@code kms.provider}, and hands out the two narrow views of one:
 * {@link #decorate data-key use} (the pipeline, sinks, search, serializers) and
 * {@link #administer key administration} (the operator command line), each wrapped in the standard
 * interceptors. There is no discovery: a provider exists only if this class names it.
 */
public final class KmsProviders {

    private KmsProviders() {
    }

    /**
     * The bare provider the settings name, able to use and administer keys. Give it to no one as it is: hand out
     * {@link #decorate} or {@link #administer} views.
     *
     * @throws IllegalArgumentException naming the setting, if the provider's settings are incomplete or wrong
     */
    public static KmsProvider create(KeyringSettings s) {
        return switch (s.provider()) {
            case "local" -> new LocalKms(s.localDir());
            case "vault" -> new VaultTransitKms(new VaultTransitKms.VaultSettings(
                    s.require("kms.vault.address", "when kms.provider=vault (e.g. https://vault.example:8200)"),
                    secret(s, "kms.vault.token-env", "VAULT_TOKEN", "kms.vault.token-file", "Vault token"),
                    s.get("kms.vault.namespace", null),
                    s.get("kms.vault.mount", "transit"),
                    pathOrNull(s.get("kms.vault.ca-file", null), "kms.vault.ca-file"),
                    Duration.ofMillis(s.positiveLong("kms.vault.connect-timeout-ms", 5_000)),
                    Duration.ofMillis(s.positiveLong("kms.vault.read-timeout-ms", 10_000))));
            case "pkcs11" -> {
                char[] pin = secret(s, "kms.pkcs11.pin-env", "PKCS11_PIN", "kms.pkcs11.pin-file", "PKCS#11 PIN").toCharArray();
                String config = s.get("kms.pkcs11.config", null);
                if (config != null) {
                    yield new Pkcs11Kms(Pkcs11Kms.Pkcs11Settings.ofConfigFile(Path.of(config), pin));
                }
                String slot = s.get("kms.pkcs11.slot", null);
                String index = s.get("kms.pkcs11.slot-list-index", null);
                yield new Pkcs11Kms(Pkcs11Kms.Pkcs11Settings.ofLibrary(
                        s.require("kms.pkcs11.library", "when kms.provider=pkcs11 and kms.pkcs11.config is not set "
                                + "(e.g. /usr/lib/softhsm/libsofthsm2.so)"),
                        slot == null ? null : s.nonNegativeLong("kms.pkcs11.slot", 0),
                        index == null ? null : (int) s.nonNegativeLong("kms.pkcs11.slot-list-index", 0),
                        pin));
            }
            default -> throw new IllegalArgumentException("kms.provider '" + s.provider() + "' is not known");
        };
    }

    /**
     * Data-key use of a provider (wrap, unwrap, describe) and nothing else: audit (one event per operation,
     * outermost) around retry around instrumentation (one observation per attempt).
     *
     * @param observer        may be null for none
     * @param audit           may be null for none
     * @param tenantOfKeyName which tenant a key name belongs to, for the audit entries: the pipeline's tenant
     *                        directory where tenants bring their own key names, else {@link KeyringSettings#naming()}
     */
    public static Kms decorate(Kms provider, KeyringSettings s, KmsObserver observer, KmsAuditListener audit,
                               Function<String, String> tenantOfKeyName, Clock clock) {
        Kms kms = provider;
        if (observer != null) {
            kms = new InterceptedKms(kms, new KmsInstrumentation(observer));
        }
        kms = new InterceptedKms(kms, new KmsRetry(s.retryPolicy()));
        if (audit != null) {
            kms = new InterceptedKms(kms, new KmsAuditing(tenantOfKeyName, audit, clock));
        }
        return kms;
    }

    /** {@link #decorate(Kms, KeyringSettings, KmsObserver, KmsAuditListener, Function, Clock)} with the configured naming. */
    public static Kms decorate(Kms provider, KeyringSettings s, KmsObserver observer, KmsAuditListener audit, Clock clock) {
        return decorate(provider, s, observer, audit, s.naming()::tenantFor, clock);
    }

    /**
     * Key administration of a provider (create, rotate, restrict, disable, enable, destroy) for the operator,
     * audited (outermost) and retried; it cannot wrap or unwrap DEKs.
     *
     * @param audit may be null for none
     */
    public static KeyAdministration administer(KeyAdministration provider, KeyringSettings s, KmsAuditListener audit,
                                               Function<String, String> tenantOfKeyName, Clock clock) {
        KeyAdministration admin = new InterceptedKeyAdministration(provider, new KmsRetry(s.retryPolicy()));
        if (audit != null) {
            admin = new InterceptedKeyAdministration(admin, new KmsAuditing(tenantOfKeyName, audit, clock));
        }
        return admin;
    }

    /**
     * A keyring on the configured, decorated provider, with the configured naming and DEK policy. Only where
     * {@code kms.create-missing-keys=true} (development) does it also hold the right to create keys.
     */
    public static Keyring keyring(KeyringSettings s, KmsObserver observer, KmsAuditListener audit) {
        KmsProvider provider = create(s);
        Kms kms = decorate(provider, s, observer, audit, Clock.systemUTC());
        return Keyring.builder(kms)
                .naming(s.naming())
                .policy(s.dekPolicy())
                .createMissingKeys(s.createMissingKeys()
                        ? administer(provider, s, audit, s.naming()::tenantFor, Clock.systemUTC()) : null)
                .build();
    }

    /** Reads a secret from a file (if that setting is given) or an environment variable. Never logged. */
    private static String secret(KeyringSettings s, String envKey, String defaultEnv, String fileKey, String what) {
        String file = s.get(fileKey, null);
        if (file != null) {
            try {
                String value = Files.readString(Path.of(file), StandardCharsets.UTF_8).strip();
                if (value.isEmpty()) {
                    throw new IllegalArgumentException(fileKey + ": " + file + " is empty; it must hold the " + what);
                }
                return value;
            } catch (IOException e) {
                throw new IllegalArgumentException(fileKey + ": cannot read the " + what + " from " + file, e);
            }
        }
        String variable = s.get(envKey, defaultEnv);
        String value = s.env(variable);
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException("the " + what + " is missing: set the environment variable " + variable
                    + " (or name another with " + envKey + "), or set " + fileKey);
        }
        return value;
    }

    private static Path pathOrNull(String value, String key) {
        if (value == null) {
            return null;
        }
        Path p = Path.of(value);
        if (!Files.isReadable(p)) {
            throw new IllegalArgumentException(key + ": cannot read " + value);
        }
        return p;
    }
}
