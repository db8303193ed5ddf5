package io.embedseal.keyring.kms.pkcs11;

import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsProviderFactory;
import io.embedseal.keyring.kms.KmsSettings;

import java.nio.file.Path;

/** {@code kms.provider=pkcs11}: an HSM through the JDK's SunPKCS11, {@code kms.pkcs11.*}. */
public final class Pkcs11KmsFactory implements KmsProviderFactory {

    @Override
    public String name() {
        return Pkcs11Kms.PROVIDER;
    }

    @Override
    public KmsProvider create(KmsSettings s) {
        char[] pin = s.secret("kms.pkcs11.pin-env", "PKCS11_PIN", "kms.pkcs11.pin-file", "PKCS#11 PIN").toCharArray();
        String config = s.get("kms.pkcs11.config", null);
        if (config != null) {
            return new Pkcs11Kms(Pkcs11Kms.Pkcs11Settings.ofConfigFile(Path.of(config), pin));
        }
        String slot = s.get("kms.pkcs11.slot", null);
        String index = s.get("kms.pkcs11.slot-list-index", null);
        return new Pkcs11Kms(Pkcs11Kms.Pkcs11Settings.ofLibrary(
                s.require("kms.pkcs11.library", "when kms.provider=pkcs11 and kms.pkcs11.config is not set "
                        + "(e.g. /usr/lib/softhsm/libsofthsm2.so)"),
                slot == null ? null : s.nonNegativeLong("kms.pkcs11.slot", 0),
                index == null ? null : (int) s.nonNegativeLong("kms.pkcs11.slot-list-index", 0),
                pin));
    }
}
