package io.embedseal.keyring.kms;

import io.embedseal.config.ConfigValueException;
import io.embedseal.config.Setting;
import io.embedseal.config.Settings;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The {@code kms.*} settings a provider reads, through the definitions its factory declares
 * ({@link KmsProviderFactory#settings()}), with the environment for secrets. Every error names the setting; a
 * secret's value is never part of a message or of {@link #toString()}.
 */
public class KmsSettings extends Settings {

    public static final Setting<String> PROVIDER = Setting.string("kms.provider", "local")
            .importance(Setting.Importance.HIGH)
            .doc(
                    "The tenants' KMS, by name: `vault` (Vault or OpenBao Transit; production), `pkcs11` (an HSM), `aws` (AWS KMS), `local` "
                            + "(keyset files; development only). Its module (embedseal-kms-<name>) must be on the class path.");

    protected KmsSettings(Map<String, String> values, Function<String, String> env) {
        super(values, env);
    }

    /**
     * @param values settings (they name where secrets are, never hold them)
     * @param env    how to read environment variables (for a token or PIN)
     */
    public static KmsSettings of(Map<String, String> values, Function<String, String> env) {
        return new KmsSettings(values, env);
    }

    /** Settings whose secrets come from this process's environment. */
    public static KmsSettings of(Map<String, String> values) {
        return new KmsSettings(values, System::getenv);
    }

    /** The provider's name ({@code kms.provider}), {@code local} when unset. */
    public String provider() {
        return get(PROVIDER);
    }

    /**
     * A secret read from the file {@code file} names, if set, else from the environment variable {@code variable}
     * names. Never logged, never in a message.
     *
     * @param what the secret, for messages ("Vault token")
     */
    public String secret(Setting<String> variable, Setting<Path> file, String what) {
        Path path = getOrNull(file);
        if (path != null) {
            try {
                String value = Files.readString(path, StandardCharsets.UTF_8).strip();
                if (value.isEmpty()) {
                    throw new ConfigValueException(
                            file.name(), file.name() + ": " + path + " is empty; it must hold the " + what);
                }
                return value;
            } catch (IOException e) {
                throw new ConfigValueException(
                        file.name(), file.name() + ": cannot read the " + what + " from " + path, e);
            }
        }
        String name = get(variable);
        String value = env(name);
        if (value == null || value.isBlank()) {
            throw new ConfigValueException(
                    variable.name(),
                    "the " + what + " is missing: set the environment variable " + name + " (or name another with "
                            + variable.name() + "), or set " + file.name());
        }
        return value;
    }

    /** A readable file the setting names, or null when it is unset. */
    public @Nullable Path readableFileOrNull(Setting<Path> setting) {
        Path p = getOrNull(setting);
        if (p != null && !Files.isReadable(p)) {
            throw new ConfigValueException(setting.name(), setting.name() + ": cannot read " + p);
        }
        return p;
    }
}
