package io.embedseal.keyring.kms;

import io.embedseal.config.SettingsModel;

/**
 * Creates one KMS provider from its settings. Each provider module registers one factory
 * ({@code META-INF/services/io.embedseal.keyring.kms.KmsProviderFactory}); {@link KmsProviderRegistry} picks the one
 * whose {@link #name()} the configuration names, and refuses two factories claiming the same name, so a planted jar
 * cannot take over a provider by being first on the class path.
 */
public interface KmsProviderFactory {

    /** The name {@code kms.provider} selects this provider by, and which appears in its KEK references. */
    String name();

    /** The provider's own settings ({@code kms.<name>.*}), for parsing, environment overrides and the docs. */
    SettingsModel settings();

    /**
     * @throws IllegalArgumentException naming the setting, if the provider's settings are incomplete or wrong
     * @throws KmsUnavailableException  if the KMS cannot be reached or logged in to
     */
    KmsProvider create(KmsSettings settings);
}
