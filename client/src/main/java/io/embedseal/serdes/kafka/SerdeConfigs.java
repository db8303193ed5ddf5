package io.embedseal.serdes.kafka;

import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import org.apache.kafka.common.config.ConfigException;

import java.util.HashMap;
import java.util.Map;

/** Builds a keyring from a Kafka client's configuration map, reporting bad settings as {@link ConfigException}. */
final class SerdeConfigs {

    private SerdeConfigs() {
    }

    static KeyringSettings keyringSettings(Map<String, ?> configs) {
        Map<String, String> flat = new HashMap<>();
        configs.forEach((k, v) -> {
            if (v != null && (k.startsWith("kms.") || k.startsWith("dek."))) {
                flat.put(k, v.toString());
            }
        });
        try {
            return KeyringSettings.of(flat);
        } catch (IllegalArgumentException e) {
            throw configException(e);
        }
    }

    static Keyring keyring(Map<String, ?> configs) {
        try {
            return KmsProviders.keyring(keyringSettings(configs), null, null);
        } catch (IllegalArgumentException e) {
            throw configException(e);
        }
    }

    static String string(Map<String, ?> configs, String key) {
        Object v = configs.get(key);
        return v == null || v.toString().isBlank() ? null : v.toString().trim();
    }

    private static ConfigException configException(IllegalArgumentException e) {
        ConfigException c = new ConfigException(e.getMessage());
        c.initCause(e);
        return c;
    }
}
