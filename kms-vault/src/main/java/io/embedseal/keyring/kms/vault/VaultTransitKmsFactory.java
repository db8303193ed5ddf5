package io.embedseal.keyring.kms.vault;

import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsProviderFactory;
import io.embedseal.keyring.kms.KmsSettings;

import java.time.Duration;

/** {@code kms.provider=vault}: a Vault (or OpenBao) Transit engine, {@code kms.vault.*}. */
public final class VaultTransitKmsFactory implements KmsProviderFactory {

    @Override
    public String name() {
        return VaultTransitKms.PROVIDER;
    }

    @Override
    public KmsProvider create(KmsSettings s) {
        return new VaultTransitKms(new VaultTransitKms.VaultSettings(
                s.require("kms.vault.address", "when kms.provider=vault (e.g. https://vault.example:8200)"),
                s.secret("kms.vault.token-env", "VAULT_TOKEN", "kms.vault.token-file", "Vault token"),
                s.get("kms.vault.namespace", null),
                s.get("kms.vault.mount", "transit"),
                s.readableFileOrNull("kms.vault.ca-file"),
                Duration.ofMillis(s.positiveLong("kms.vault.connect-timeout-ms", 5_000)),
                Duration.ofMillis(s.positiveLong("kms.vault.read-timeout-ms", 10_000))));
    }
}
