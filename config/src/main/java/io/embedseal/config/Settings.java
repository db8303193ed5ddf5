package io.embedseal.config;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * Values for settings, read through their definitions ({@link Setting}): a missing value is the default, a missing
 * required one or a bad one is a {@link ConfigValueException} naming the setting. The environment is kept for
 * secrets, which are read from a variable or a file that a setting names and are never stored here.
 */
public class Settings {

    private final Map<String, String> values;
    private final Function<String, @Nullable String> env;

    protected Settings(Map<String, String> values, Function<String, String> env) {
        Map<String, String> trimmed = new LinkedHashMap<>();
        values.forEach((k, v) -> trimmed.put(k, v == null ? "" : v.trim()));
        this.values = Collections.unmodifiableMap(new TreeMap<>(trimmed));
        this.env = Objects.requireNonNull(env, "env");
    }

    public static Settings of(Map<String, String> values, Function<String, String> env) {
        return new Settings(values, env);
    }

    /**
     * The setting's value, or its default when unset or empty, for a setting that has a default or is required.
     *
     * @throws ConfigValueException if a required setting is missing or the value is wrong
     * @throws IllegalStateException if the setting has neither a default nor is required (use {@link #getOrNull})
     */
    public <T> T get(Setting<T> setting) {
        T value = getOrNull(setting);
        if (value == null) {
            throw new IllegalStateException(setting.name() + " has no default and is optional: read it with getOrNull");
        }
        return value;
    }

    /** The value of an optional setting without a default, or null when it is unset. */
    public <T> @Nullable T getOrNull(Setting<T> setting) {
        String raw = values.get(setting.name());
        if (raw == null || raw.isEmpty()) {
            if (setting.isRequired()) {
                throw setting.missing();
            }
            return setting.defaultValue();
        }
        return setting.parse(setting.name(), raw);
    }

    /** Whether the setting has a value. */
    public boolean isSet(Setting<?> setting) {
        String raw = values.get(setting.name());
        return raw != null && !raw.isEmpty();
    }

    /** Every member of a family, by the part after its prefix, parsed. */
    public <T> Map<String, T> family(Setting<T> family) {
        Map<String, T> out = new TreeMap<>();
        values.forEach((k, v) -> {
            if (family.matches(k) && !v.isEmpty()) {
                out.put(k.substring(family.name().length()), family.parse(k, v));
            }
        });
        return out;
    }

    /** A raw value by name, or the default; for settings handed on to another component as they are. */
    public @Nullable String raw(String key, @Nullable String defaultValue) {
        String v = values.get(key);
        return v == null || v.isEmpty() ? defaultValue : v;
    }

    /** An environment variable through the configured lookup. */
    public @Nullable String env(String name) {
        return env.apply(name);
    }

    /** The lookup for environment variables. */
    protected Function<String, String> environment() {
        return env;
    }

    /**
     * The values as given. Settings name where secrets are rather than hold them, but pass-through settings
     * ({@code client.sasl.jaas.config}, SSL passwords) may hold one: never log this map.
     */
    public Map<String, String> asMap() {
        return values;
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + values.keySet(); // names only: a pass-through value may be a secret
    }
}
