package io.embedseal.keyring.kms.vault;

import io.embedseal.config.Setting;
import io.embedseal.config.SettingsModel;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsProviderFactory;
import io.embedseal.keyring.kms.KmsSettings;
import java.nio.file.Path;
import java.time.Duration;

/** {@code kms.provider=vault}: a Vault (or OpenBao) Transit engine, {@code kms.vault.*}. */
public final class VaultTransitKmsFactory implements KmsProviderFactory {

    public static final Setting<String> ADDRESS = Setting.string("kms.vault.address", null)
            .required("when kms.provider=vault (e.g. https://vault.example:8200)")
            .importance(Setting.Importance.HIGH)
            .doc("The Vault (or OpenBao) server.");
    public static final Setting<String> TOKEN_ENV = Setting.string("kms.vault.token-env", "VAULT_TOKEN")
            .importance(Setting.Importance.HIGH)
            .doc("The environment variable holding the Vault token (read, never logged).");
    public static final Setting<Path> TOKEN_FILE = Setting.path("kms.vault.token-file", null)
            .importance(Setting.Importance.HIGH)
            .doc("A file holding the Vault token; wins over the environment variable.");
    public static final Setting<String> NAMESPACE =
            Setting.string("kms.vault.namespace", null).doc("The Vault Enterprise namespace, sent with every request.");
    public static final Setting<String> MOUNT =
            Setting.string("kms.vault.mount", "transit").doc("Where the Transit engine is mounted.");
    public static final Setting<Path> CA_FILE =
            Setting.path("kms.vault.ca-file", null).doc("PEM certificates to trust for https, instead of the JDK's.");
    public static final Setting<Boolean> ALLOW_INSECURE_HTTP = Setting.bool("kms.vault.allow-insecure-http", false)
            .doc("Development only: accept an http:// kms.vault.address. Over plain http the Vault token and every"
                    + " data-encryption key cross the network in the clear, so the default refuses it.");
    public static final Setting<Long> TOKEN_RENEW_CHECK_SECONDS = Setting.longValue(
                    "kms.vault.token-renew-check-seconds", 60, 0, 86_400)
            .doc("How often to look the token up and renew it (auth/token/renew-self) once less than half of its"
                    + " TTL is left; 0 turns renewal off (e.g. when Vault Agent renews it and rewrites"
                    + " kms.vault.token-file). Tokens that cannot be renewed are left alone.");
    public static final Setting<Long> CONNECT_TIMEOUT_MS = Setting.longValue(
                    "kms.vault.connect-timeout-ms", 5_000, 1, Integer.MAX_VALUE)
            .doc("How long to wait to connect to Vault.");
    public static final Setting<Long> READ_TIMEOUT_MS = Setting.longValue(
                    "kms.vault.read-timeout-ms", 10_000, 1, Integer.MAX_VALUE)
            .doc("How long to wait for Vault's answer.");

    @Override
    public String name() {
        return VaultTransitKms.PROVIDER;
    }

    @Override
    public SettingsModel settings() {
        return SettingsModel.of(
                "Vault Transit KMS",
                ADDRESS,
                TOKEN_ENV,
                TOKEN_FILE,
                NAMESPACE,
                MOUNT,
                CA_FILE,
                ALLOW_INSECURE_HTTP,
                TOKEN_RENEW_CHECK_SECONDS,
                CONNECT_TIMEOUT_MS,
                READ_TIMEOUT_MS);
    }

    @Override
    public KmsProvider create(KmsSettings s) {
        return new VaultTransitKms(new VaultTransitKms.VaultSettings(
                s.get(ADDRESS),
                s.secret(TOKEN_ENV, TOKEN_FILE, "Vault token"),
                s.getOrNull(TOKEN_FILE),
                s.getOrNull(NAMESPACE),
                s.get(MOUNT),
                s.readableFileOrNull(CA_FILE),
                Duration.ofMillis(s.get(CONNECT_TIMEOUT_MS)),
                Duration.ofMillis(s.get(READ_TIMEOUT_MS)),
                s.get(ALLOW_INSECURE_HTTP),
                Duration.ofSeconds(s.get(TOKEN_RENEW_CHECK_SECONDS))));
    }
}
