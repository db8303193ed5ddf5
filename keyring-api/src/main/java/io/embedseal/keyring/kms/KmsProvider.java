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

    @Override
    default void close() {}
}
