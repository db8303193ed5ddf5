package io.embedseal.keyring.kms;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The {@code kms.*} settings a provider reads, with the environment for secrets. Every error names the setting,
 * what was given and what is allowed; a secret's value is never part of a message or of {@link #toString()}.
 */
public class KmsSettings {

    private final Map<String, String> values;
    private final Function<String, String> env;

    protected KmsSettings(Map<String, String> values, Function<String, String> env) {
        Map<String, String> trimmed = new LinkedHashMap<>();
        values.forEach((k, v) -> trimmed.put(k, v == null ? "" : v.trim()));
        this.values = Collections.unmodifiableMap(new TreeMap<>(trimmed));
        this.env = Objects.requireNonNull(env, "env");
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
        return get("kms.provider", "local");
    }

    /** A setting's value, or the default when it is unset or empty. */
    public String get(String key, String defaultValue) {
        String v = values.get(key);
        return v == null || v.isEmpty() ? defaultValue : v;
    }

    /** A required setting; {@code why} says when it is required and gives an example. */
    public String require(String key, String why) {
        String v = values.get(key);
        if (v == null || v.isEmpty()) {
            throw new IllegalArgumentException(key + " is required " + why);
        }
        return v;
    }

    /** An environment variable through the configured lookup. */
    public String env(String name) {
        return env.apply(name);
    }

    public boolean bool(String key, boolean defaultValue) {
        String v = get(key, null);
        if (v == null) {
            return defaultValue;
        }
        if (v.equalsIgnoreCase("true") || v.equalsIgnoreCase("false")) {
            return Boolean.parseBoolean(v);
        }
        throw new IllegalArgumentException(key + " must be true or false, got '" + v + "'");
    }

    public long positiveLong(String key, long defaultValue) {
        long n = longValue(key, defaultValue);
        if (n < 1) {
            throw new IllegalArgumentException(key + " must be a positive whole number, got '" + get(key, "") + "'");
        }
        return n;
    }

    public long nonNegativeLong(String key, long defaultValue) {
        long n = longValue(key, defaultValue);
        if (n < 0) {
            throw new IllegalArgumentException(key + " must be zero or more, got '" + get(key, "") + "'");
        }
        return n;
    }

    private long longValue(String key, long defaultValue) {
        String v = get(key, null);
        if (v == null) {
            return defaultValue;
        }
        try {
            return Long.parseLong(v.replace("_", ""));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + " must be a whole number, got '" + v + "'", e);
        }
    }

    /**
     * A secret read from the file {@code fileKey} names, if set, else from the environment variable {@code envKey}
     * names ({@code defaultEnv} when unset). Never logged, never in a message.
     *
     * @param what the secret, for messages ("Vault token")
     */
    public String secret(String envKey, String defaultEnv, String fileKey, String what) {
        String file = get(fileKey, null);
        if (file != null) {
            try {
                String value = Files.readString(Path.of(file), StandardCharsets.UTF_8).strip();
                if (value.isEmpty()) {
                    throw new IllegalArgumentException(fileKey + ": " + file + " is empty; it must hold the " + what);
                }
                return value;
            } catch (IOException e) {
                throw new IllegalArgumentException(fileKey + ": cannot read the " + what + " from " + file, e);
            }
        }
        String variable = get(envKey, defaultEnv);
        String value = env(variable);
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException("the " + what + " is missing: set the environment variable " + variable
                    + " (or name another with " + envKey + "), or set " + fileKey);
        }
        return value;
    }

    /** A readable file the setting names, or null when it is unset. */
    public Path readableFileOrNull(String key) {
        String value = get(key, null);
        if (value == null) {
            return null;
        }
        Path p = Path.of(value);
        if (!Files.isReadable(p)) {
            throw new IllegalArgumentException(key + ": cannot read " + value);
        }
        return p;
    }

    /** The settings as given (they hold no secrets, only where secrets are). */
    public Map<String, String> asMap() {
        return values;
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + values;
    }
}
