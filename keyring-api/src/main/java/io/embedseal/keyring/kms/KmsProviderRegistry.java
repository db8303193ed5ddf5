package io.embedseal.keyring.kms;

import io.embedseal.config.SettingsModel;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * Finds the provider {@code kms.provider} names. There is no discovery: a provider exists only if this class names its
 * factory, and it is available only when its module ({@code embedseal-kms-<name>}) is on the class path. A jar that
 * claims to be a provider is never loaded, let alone run (Tink deprecated picking a KMS by what the class path offers
 * because a planted class could take the keys).
 */
public final class KmsProviderRegistry {

    /** The providers this project ships, by name, with their factories, each in its own module. */
    private static final Map<String, String> FACTORIES = new LinkedHashMap<>();

    static {
        FACTORIES.put("local", "io.embedseal.keyring.kms.local.LocalKmsFactory");
        FACTORIES.put("pkcs11", "io.embedseal.keyring.kms.pkcs11.Pkcs11KmsFactory");
        FACTORIES.put("vault", "io.embedseal.keyring.kms.vault.VaultTransitKmsFactory");
        FACTORIES.put("aws", "io.embedseal.keyring.kms.aws.AwsKmsFactory");
    }

    /** The providers this project ships, each in its own module {@code embedseal-kms-<name>}. */
    public static final Set<String> SHIPPED = Set.copyOf(FACTORIES.keySet());

    private static final Map<String, Optional<KmsProviderFactory>> LOADED =
            new java.util.concurrent.ConcurrentHashMap<>();

    private KmsProviderRegistry() {}

    /**
     * The provider the settings name.
     *
     * @throws IllegalArgumentException if the name is not a provider this project ships, or its module is not on the
     *                                  class path (the message names the module to add), or its settings are wrong
     */
    public static KmsProvider create(KmsSettings settings) {
        String name = settings.provider();
        if (!FACTORIES.containsKey(name)) {
            throw new IllegalArgumentException("kms.provider '" + name + "' is not known; it must be one of "
                    + String.join(", ", FACTORIES.keySet()));
        }
        return factory(name)
                .orElseThrow(() -> new IllegalArgumentException(
                        "kms.provider '" + name + "' is not available here: add the module " + "embedseal-kms-" + name
                                + " to the class path (available: " + String.join(", ", available()) + ")"))
                .create(settings);
    }

    /** The settings of every provider on the class path, in name order. */
    public static SettingsModel settings() {
        SettingsModel all = SettingsModel.of("KMS providers");
        for (String name : new TreeSet<>(FACTORIES.keySet())) {
            Optional<KmsProviderFactory> f = factory(name);
            if (f.isPresent()) {
                all = all.with(f.get().settings());
            }
        }
        return all;
    }

    /** The settings of the provider {@code name}, if its module is on the class path. */
    public static Optional<SettingsModel> settingsOf(String name) {
        return FACTORIES.containsKey(name) ? factory(name).map(KmsProviderFactory::settings) : Optional.empty();
    }

    /** The shipped providers whose module is on the class path. */
    public static Set<String> available() {
        Set<String> out = new TreeSet<>();
        for (String name : FACTORIES.keySet()) {
            if (factory(name).isPresent()) {
                out.add(name);
            }
        }
        return out;
    }

    private static Optional<KmsProviderFactory> factory(String name) {
        return LOADED.computeIfAbsent(name, n -> Optional.ofNullable(load(FACTORIES.get(n))));
    }

    private static @Nullable KmsProviderFactory load(@Nullable String className) {
        if (className == null) {
            return null;
        }
        Class<?> type;
        try {
            type = Class.forName(className, true, KmsProviderRegistry.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            return null;
        }
        try {
            return (KmsProviderFactory) type.getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | ClassCastException e) {
            throw new IllegalStateException("cannot create the KMS provider factory " + className, e);
        }
    }
}
