package io.embedseal.config.archfixture;

/** Breaks the layering on purpose, for ArchitectureTest: the configuration model reaching the keyring. Never used. */
final class ConfigReachingUp {
    io.embedseal.keyring.KeyringSettings settings;
}
