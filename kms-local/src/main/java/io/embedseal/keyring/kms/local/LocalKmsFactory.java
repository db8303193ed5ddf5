package io.embedseal.keyring.kms.local;

import io.embedseal.config.Setting;
import io.embedseal.config.SettingsModel;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsProviderFactory;
import io.embedseal.keyring.kms.KmsSettings;
import java.nio.file.Path;

/** {@code kms.provider=local}: Tink keysets in {@code kms.local.dir} (development only). */
public final class LocalKmsFactory implements KmsProviderFactory {

    public static final Setting<Path> DIR = Setting.path("kms.local.dir", ".embedseal/kms")
            .doc(
                    "kms.provider=local: the directory holding the keyset files (created, owner-only). Anyone who can read it "
                            + "holds every tenant's key: development only.");

    @Override
    public String name() {
        return LocalKms.PROVIDER;
    }

    @Override
    public SettingsModel settings() {
        return SettingsModel.of("local KMS", DIR);
    }

    @Override
    public KmsProvider create(KmsSettings s) {
        return new LocalKms(s.get(DIR));
    }
}
