package io.embedseal.keyring.kms;

import io.embedseal.config.SettingsModel;

/**
 * Creates one KMS provider from its settings. Each provider module has one factory, which {@link KmsProviderRegistry}
 * names by class: nothing is discovered on the class path, so a planted jar cannot become a provider.
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
