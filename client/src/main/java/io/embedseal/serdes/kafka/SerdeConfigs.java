package io.embedseal.serdes.kafka;

import io.embedseal.config.Setting;
import io.embedseal.config.Settings;
import io.embedseal.config.SettingsModel;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.serdes.avro.ConfluentSchemaRegistryClient;
import io.embedseal.serdes.avro.EmbeddingEventSerializer;
import io.embedseal.serdes.validation.ValidationLimits;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.common.config.ConfigException;
import org.jspecify.annotations.Nullable;

/**
 * The settings of {@link SealingSerializer} and {@link UnsealingDeserializer}, given in the Kafka client's
 * configuration, and the keyring built from them. Bad settings are reported as Kafka's {@link ConfigException}, which
 * names the setting the model says is wrong.
 */
public final class SerdeConfigs {

    public static final Setting<Integer> MAX_DIMENSIONS = Setting.intValue(
                    SealingSerializer.MAX_DIMENSIONS_CONFIG, ValidationLimits.DEFAULT_MAX_DIMENSIONS, 1, 1 << 20)
            .doc("SealingSerializer: the most dimensions a vector may have.");
    public static final Setting<String> ONLY_TENANT = Setting.string(UnsealingDeserializer.ONLY_TENANT_CONFIG, null)
            .doc("UnsealingDeserializer: open only this tenant's records; any other is refused.");

    public static final Setting<String> PURPOSE = Setting.string(
                    "embedseal.envelope.purpose", io.embedseal.serdes.envelope.Sealer.DEFAULT_PURPOSE)
            .check(io.embedseal.serdes.envelope.Sealer::requirePurpose, "1 to 64 printable ASCII characters")
            .doc("What envelopes are sealed for (SealingSerializer) and must have been sealed for to open "
                    + "(UnsealingDeserializer): the sealed topic's logical name or a deployment id. The pipeline's "
                    + "envelope.purpose and the sinks' embedseal.envelope.purpose must say the same.");
    public static final Setting<Boolean> ACCEPT_V1 = Setting.bool("embedseal.envelope.accept-v1", true)
            .doc("UnsealingDeserializer: whether version-1 envelopes (no record version) open. Turn off once none "
                    + "is left in the topics you read.");

    public static final Setting<String> PUBLIC_KEKS_FILE = Setting.string("embedseal.public-keks.file", null)
            .doc(
                    "SealingSerializer: a file of tenants' public KEKs (written by 'embedseal tenants public-keks' from the "
                            + "signed key events). Those tenants are sealed with their public key and no KMS; with no kms.provider "
                            + "set, the producer has no KMS at all and seals only them.");

    /** Every setting a producer or consumer using the client artifact may give, with the keyring's and the registry's. */
    public static SettingsModel model() {
        return SettingsModel.of(
                        "client (serializers)",
                        MAX_DIMENSIONS,
                        ONLY_TENANT,
                        PURPOSE,
                        ACCEPT_V1,
                        PUBLIC_KEKS_FILE,
                        EmbeddingEventSerializer.AUTO_REGISTER,
                        EmbeddingEventSerializer.VALUE_SUBJECT_STRATEGY)
                .with(ConfluentSchemaRegistryClient.MODEL, KeyringSettings.modelWithProviders());
    }

    private SerdeConfigs() {}

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

    /**
     * @param mayCreateKeys whether {@code kms.create-missing-keys} is honoured (a sealing producer in development); a
     *                      consumer never creates keys, whatever its configuration says
     */
    static Keyring keyring(Map<String, ?> configs, boolean mayCreateKeys) {
        try {
            String pinnedFile = mayCreateKeys ? get(configs, PUBLIC_KEKS_FILE) : null;
            if (pinnedFile != null) {
                java.util.Map<String, io.embedseal.keyring.kms.PublicKek> pinned;
                try {
                    pinned = io.embedseal.keyring.PinnedPublicKeks.read(java.nio.file.Path.of(pinnedFile));
                } catch (IllegalArgumentException e) {
                    throw new ConfigException(PUBLIC_KEKS_FILE.name(), pinnedFile, e.getMessage());
                }
                if (configs.get("kms.provider") == null) {
                    return KmsProviders.publicKeyOnlyKeyring(KeyringSettings.of(Map.of()), pinned);
                }
                KeyringSettings s = keyringSettings(configs);
                return KmsProviders.keyring(
                        s, io.embedseal.keyring.PinnedPublicKeks.resolver(s.naming(), pinned), null, null);
            }
            KeyringSettings s = keyringSettings(configs);
            if (!mayCreateKeys) {
                s = s.with(Map.of(KeyringSettings.CREATE_MISSING_KEYS.name(), "false"));
            }
            return KmsProviders.keyring(s, null, null);
        } catch (IllegalArgumentException e) {
            throw configException(e);
        }
    }

    /** A sealer on the keyring for the configured purpose. */
    static io.embedseal.serdes.envelope.Sealer sealer(Keyring keyring, Map<String, ?> configs) {
        String purpose = get(configs, PURPOSE);
        Boolean v1 = get(configs, ACCEPT_V1);
        return new io.embedseal.serdes.envelope.Sealer(
                keyring,
                purpose == null ? io.embedseal.serdes.envelope.Sealer.DEFAULT_PURPOSE : purpose,
                v1 == null || v1);
    }

    /** A setting's value from a client configuration, through its definition. */
    static <T> @Nullable T get(Map<String, ?> configs, Setting<T> setting) {
        Object v = configs.get(setting.name());
        Map<String, String> one = new HashMap<>();
        if (v != null) {
            one.put(setting.name(), v.toString());
        }
        try {
            return Settings.of(one, name -> null).getOrNull(setting);
        } catch (IllegalArgumentException e) {
            throw configException(e);
        }
    }

    static @Nullable String string(Map<String, ?> configs, String key) {
        Object v = configs.get(key);
        return v == null || v.toString().isBlank() ? null : v.toString().trim();
    }

    /** Kafka's ConfigException, naming the setting the model found wrong (never guessed from the text). */
    static ConfigException configException(IllegalArgumentException e) {
        // The message names the setting (ConfigValueException's come from the model); Kafka's exception has no field
        // for it.
        ConfigException c = new ConfigException(e.getMessage());
        c.initCause(e);
        return c;
    }
}
