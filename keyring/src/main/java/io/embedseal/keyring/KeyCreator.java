package io.embedseal.keyring;

import io.embedseal.keyring.kms.KekRef;

/**
 * The one administrative right a keyring may hold, and only in development ({@code kms.create-missing-keys=true}):
 * creating a tenant's missing KEK. Never rotate, disable or destroy; a keyring given a {@link
 * io.embedseal.keyring.kms.KeyAdministration} would hold all of them.
 */
@FunctionalInterface
public interface KeyCreator {

    /** Creates the key if it does not exist and returns its current version. */
    KekRef createKek(String keyName);
}
