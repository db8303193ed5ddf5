package io.embedseal.keyring.kms.pkcs11;

import io.embedseal.config.Setting;
import io.embedseal.config.SettingsModel;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsProviderFactory;
import io.embedseal.keyring.kms.KmsSettings;
import java.nio.file.Path;

/** {@code kms.provider=pkcs11}: an HSM through the JDK's SunPKCS11, {@code kms.pkcs11.*}. */
public final class Pkcs11KmsFactory implements KmsProviderFactory {

    public static final Setting<Path> CONFIG = Setting.path("kms.pkcs11.config", null)
            .doc("A SunPKCS11 configuration file of your own; instead of kms.pkcs11.library and a slot.");
    public static final Setting<String> LIBRARY = Setting.string("kms.pkcs11.library", null)
            .required(
                    "when kms.provider=pkcs11 and kms.pkcs11.config is not set (e.g. /usr/lib/softhsm/libsofthsm2.so)")
            .importance(Setting.Importance.HIGH)
            .doc("The PKCS#11 module of the HSM.");
    public static final Setting<Long> SLOT = Setting.longValue("kms.pkcs11.slot", 0, Long.MAX_VALUE)
            .doc("The token's slot id; or kms.pkcs11.slot-list-index.");
    public static final Setting<Long> SLOT_LIST_INDEX = Setting.longValue(
                    "kms.pkcs11.slot-list-index", 0, Integer.MAX_VALUE)
            .doc("The token's index in the slot list; or kms.pkcs11.slot.");
    public static final Setting<String> PIN_ENV = Setting.string("kms.pkcs11.pin-env", "PKCS11_PIN")
            .importance(Setting.Importance.HIGH)
            .doc("The environment variable holding the token's user PIN (read, never logged).");
    public static final Setting<Path> PIN_FILE = Setting.path("kms.pkcs11.pin-file", null)
            .importance(Setting.Importance.HIGH)
            .doc("A file holding the PIN; wins over the environment variable.");

    @Override
    public String name() {
        return Pkcs11Kms.PROVIDER;
    }

    @Override
    public SettingsModel settings() {
        return SettingsModel.of("PKCS#11 KMS", CONFIG, LIBRARY, SLOT, SLOT_LIST_INDEX, PIN_ENV, PIN_FILE);
    }

    @Override
    public KmsProvider create(KmsSettings s) {
        char[] pin = s.secret(PIN_ENV, PIN_FILE, "PKCS#11 PIN").toCharArray();
        Path config = s.getOrNull(CONFIG);
        if (config != null) {
            return new Pkcs11Kms(Pkcs11Kms.Pkcs11Settings.ofConfigFile(config, pin));
        }
        Long index = s.getOrNull(SLOT_LIST_INDEX);
        return new Pkcs11Kms(Pkcs11Kms.Pkcs11Settings.ofLibrary(
                s.get(LIBRARY), s.getOrNull(SLOT), index == null ? null : index.intValue(), pin));
    }
}
