package io.embedseal.keyring.kms;

/**
 * A KMS provider's implementation: it can both use keys ({@link Kms}) and administer them
 * ({@link KeyAdministration}). Only {@link io.embedseal.keyring.KmsProviders} and tests hold one;
 * everything else receives one of the two narrow views, which a cast cannot widen.
 */
public interface KmsProvider extends Kms, KeyAdministration {

    @Override
    String provider();

    @Override
    KeyDescription describe(String keyName);

    /**
     * The provider's signing keys, a capability separate from both views; empty where the provider holds none.
     * Only the control plane (the CLI that signs key events, and processes that read a trusted public key at
     * start) asks for it.
     */
    default java.util.Optional<SigningKeys> signingKeys() {
        return java.util.Optional.empty();
    }

    @Override
    default void close() {}
}
