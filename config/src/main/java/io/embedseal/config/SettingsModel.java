package io.embedseal.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * A component's settings, defined once, in the order they are documented. Models combine ({@link #with}): the
 * pipeline's model holds its own settings and those of the keyring, every KMS provider on the class path, validation
 * and the schema-registry client. From a model come the environment overrides ({@code EMBEDSEAL_<NAME>} for every
 * setting), the check that every setting parses at start-up, and the reference tables of docs/configuration.md.
 */
public final class SettingsModel {

    private final String title;
    private final List<Setting<?>> settings;

    private SettingsModel(String title, List<Setting<?>> settings) {
        this.title = title;
        Map<String, Setting<?>> byName = new LinkedHashMap<>();
        for (Setting<?> s : settings) {
            Setting<?> earlier = byName.putIfAbsent(s.displayName(), s);
            if (earlier != null && earlier != s) {
                throw new IllegalStateException("setting " + s.displayName() + " is defined twice in " + title);
            }
        }
        this.settings = List.copyOf(byName.values());
    }

    public static SettingsModel of(String title, Setting<?>... settings) {
        return new SettingsModel(title, List.of(settings));
    }

    /** This model followed by the others' settings (each defined once). */
    public SettingsModel with(SettingsModel... others) {
        List<Setting<?>> all = new ArrayList<>(settings);
        for (SettingsModel m : others) {
            all.addAll(m.settings);
        }
        return new SettingsModel(title, all);
    }

    public String title() {
        return title;
    }

    public List<Setting<?>> settings() {
        return settings;
    }

    /** The definition {@code key} is, or belongs to (a family or pass-through prefix). */
    public Optional<Setting<?>> find(String key) {
        for (Setting<?> s : settings) {
            if (!s.isFamily() && s.name().equals(key)) {
                return Optional.of(s);
            }
        }
        return settings.stream().filter(s -> s.isFamily() && s.matches(key)).findFirst();
    }

    /** The environment variable that overrides a setting: {@code EMBEDSEAL_} and the name upper-cased, {@code .} and {@code -} as {@code _}. */
    public static String envName(String key) {
        return "EMBEDSEAL_" + key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
    }

    /**
     * The values with environment overrides applied: for every setting of this model (families and pass-through
     * prefixes excepted), {@link #envName} wins over the file, whether or not the file names the setting; for
     * family members the file names, their variable wins too.
     */
    public Map<String, String> withEnvironment(Map<String, String> values, Function<String, String> env) {
        Map<String, String> out = new LinkedHashMap<>(values);
        for (Setting<?> s : settings) {
            if (!s.isFamily()) {
                String v = env.apply(envName(s.name()));
                if (v != null) {
                    out.put(s.name(), v.trim());
                }
            }
        }
        for (String key : values.keySet()) {
            if (find(key).filter(Setting::isFamily).isPresent()) {
                String v = env.apply(envName(key));
                if (v != null) {
                    out.put(key, v.trim());
                }
            }
        }
        return out;
    }

    /** The names given that no setting of this model defines (misspelt, or meant for another component). */
    public List<String> unknown(Map<String, String> values) {
        return values.keySet().stream().filter(k -> find(k).isEmpty()).sorted().toList();
    }

    /**
     * Reads every setting once, so a bad or missing value fails at start-up, not at first use.
     *
     * @throws ConfigValueException naming the first setting that is wrong
     */
    public void validate(Settings values) {
        for (Setting<?> s : settings) {
            if (s.isPassThrough()) {
                continue;
            }
            if (s.isFamily()) {
                values.family(s);
            } else if (!s.isRequired() || values.isSet(s)) {
                values.getOrNull(s);
            }
        }
    }

    /** The reference table of this model, in Markdown, naming each setting's environment variable. */
    public String markdown() {
        return markdown(true);
    }

    /**
     * The reference table of this model, in Markdown.
     *
     * @param environment whether the reader of these settings applies {@code EMBEDSEAL_*} overrides (the pipeline and
     *                    the operator commands do; a Kafka client's serializers and Connect's connectors do not)
     */
    public String markdown(boolean environment) {
        StringBuilder b = new StringBuilder();
        b.append("| setting | type | default | allowed | importance | description |\n");
        b.append("|---|---|---|---|---|---|\n");
        for (Setting<?> s : settings) {
            String description = s.doc();
            if (s.isRequired()) {
                description = "**Required** " + s.requiredWhen() + ". " + description;
            }
            if (environment && !s.isFamily()) {
                description = description + " Environment: `" + envName(s.name()) + "`.";
            }
            b.append("| `")
                    .append(s.displayName())
                    .append("` | ")
                    .append(s.isPassThrough() ? "passed on" : s.type())
                    .append(" | ")
                    .append(code(s.defaultText()))
                    .append(" | ")
                    .append(escape(s.allowed() == null ? "" : s.allowed()))
                    .append(" | ")
                    .append(s.importance().name().toLowerCase(Locale.ROOT))
                    .append(" | ")
                    .append(escape(description.strip()))
                    .append(" |\n");
        }
        return b.toString();
    }

    private static String code(String s) {
        return s.isEmpty() ? "" : "`" + s + "`";
    }

    private static String escape(String s) {
        return s.replace("|", "\\|").replace("\n", " ");
    }

    @Override
    public String toString() {
        return "SettingsModel[" + title + ", " + settings.size() + " settings]";
    }
}
