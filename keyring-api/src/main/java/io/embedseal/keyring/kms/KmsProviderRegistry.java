package io.embedseal.keyring.kms;

import io.embedseal.config.SettingsModel;
import java.util.List;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/** Finds the provider {@code kms.provider} names among the provider modules on the class path. */
public final class KmsProviderRegistry {

    /** The providers this project ships, each in its own module {@code embedseal-kms-<name>}. */
    public static final Set<String> SHIPPED = Set.of("local", "vault", "pkcs11");

    private KmsProviderRegistry() {}

    /**
     * The provider the settings name.
     *
     * @throws IllegalArgumentException if no module on the class path provides it (the message names the module to
     *                                  add), if two claim it, or if its settings are wrong
     */
    public static KmsProvider create(KmsSettings settings) {
        String name = settings.provider();
        List<KmsProviderFactory> matching =
                factories().stream().filter(f -> f.name().equals(name)).toList();
        if (matching.size() > 1) {
            throw new IllegalArgumentException("kms.provider '" + name + "' is claimed by " + matching.size()
                    + " factories on the class path ("
                    + matching.stream().map(f -> f.getClass().getName()).collect(Collectors.joining(", "))
                    + "); refusing to guess which one holds the keys");
        }
        if (matching.isEmpty()) {
            throw new IllegalArgumentException("kms.provider '" + name + "' is not available here"
                    + (SHIPPED.contains(name) ? ": add the module embedseal-kms-" + name + " to the class path" : "")
                    + " (available: " + String.join(", ", available()) + ")");
        }
        return matching.get(0).create(settings);
    }

    /** The settings of every provider on the class path, in name order. */
    public static SettingsModel settings() {
        SettingsModel all = SettingsModel.of("KMS providers");
        for (KmsProviderFactory f : factories().stream()
                .sorted(java.util.Comparator.comparing(KmsProviderFactory::name))
                .toList()) {
            all = all.with(f.settings());
        }
        return all;
    }

    /** The settings of the provider {@code name}, if its module is on the class path. */
    public static java.util.Optional<SettingsModel> settingsOf(String name) {
        return factories().stream()
                .filter(f -> f.name().equals(name))
                .findFirst()
                .map(KmsProviderFactory::settings);
    }

    /** The provider names on the class path. */
    public static Set<String> available() {
        return factories().stream().map(KmsProviderFactory::name).collect(Collectors.toCollection(TreeSet::new));
    }

    private static List<KmsProviderFactory> factories() {
        return ServiceLoader.load(KmsProviderFactory.class, KmsProviderRegistry.class.getClassLoader()).stream()
                .map(ServiceLoader.Provider::get)
                .toList();
    }
}
