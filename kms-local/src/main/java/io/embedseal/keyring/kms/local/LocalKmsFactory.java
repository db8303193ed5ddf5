package io.embedseal.keyring.kms.local;

import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsProviderFactory;
import io.embedseal.keyring.kms.KmsSettings;

import java.nio.file.Path;

/** {@code kms.provider=local}: Tink keysets in {@code kms.local.dir} (development only). */
public final class LocalKmsFactory implements KmsProviderFactory {

    @Override
    public String name() {
        return LocalKms.PROVIDER;
    }

    @Override
    public KmsProvider create(KmsSettings s) {
        return new LocalKms(Path.of(s.get("kms.local.dir", ".embedseal/kms")));
    }
}
