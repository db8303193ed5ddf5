package io.embedseal.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.jspecify.annotations.Nullable;

/**
 * One setting, defined once: name, type, default, what is allowed, importance and documentation. Parsing and
 * validation ({@link #parse}), the error a person reads and the generated reference (docs/configuration.md) all come
 * from this definition, so they cannot drift apart. Immutable; the {@code with...} methods return a copy.
 *
 * <p>A <em>family</em> is a setting whose name is a prefix followed by a part the user chooses
 * ({@code validation.dimensions.model.<model>}); a <em>pass-through</em> family hands its settings on, unparsed, to
 * another component ({@code streams.<any Kafka Streams setting>}).
 *
 * @param <T> the parsed value's type
 */
public final class Setting<T> {

    /** How much a setting matters to someone deploying embedseal, as in Kafka's {@code ConfigDef}. */
    public enum Importance {
        HIGH,
        MEDIUM,
        LOW
    }

    /** Parses a raw value; throws {@link IllegalArgumentException} with what is wrong, without the setting's name. */
    @FunctionalInterface
    public interface Parser<T> {
        T parse(String raw);
    }

    private final String name;
    private final String type;
    private final @Nullable T defaultValue;
    private final @Nullable String allowed;
    private final Parser<T> parser;
    private final String doc;
    private final Importance importance;
    private final @Nullable String requiredWhen;
    private final @Nullable String placeholder;
    private final boolean passThrough;

    private Setting(
            String name,
            String type,
            @Nullable T defaultValue,
            @Nullable String allowed,
            Parser<T> parser,
            String doc,
            Importance importance,
            @Nullable String requiredWhen,
            @Nullable String placeholder,
            boolean passThrough) {
        this.name = Objects.requireNonNull(name, "name");
        this.type = type;
        this.defaultValue = defaultValue;
        this.allowed = allowed;
        this.parser = parser;
        this.doc = doc;
        this.importance = importance;
        this.requiredWhen = requiredWhen;
        this.placeholder = placeholder;
        this.passThrough = passThrough;
    }

    private static <T> Setting<T> of(
            String name, String type, @Nullable T defaultValue, @Nullable String allowed, Parser<T> parser) {
        return new Setting<>(name, type, defaultValue, allowed, parser, "", Importance.MEDIUM, null, null, false);
    }

    // --- kinds -------------------------------------------------------------------------------------------

    public static Setting<String> string(String name, @Nullable String defaultValue) {
        return of(name, "string", defaultValue, null, raw -> raw);
    }

    public static Setting<Boolean> bool(String name, boolean defaultValue) {
        return of(name, "boolean", defaultValue, "true, false", raw -> {
            if (raw.equalsIgnoreCase("true") || raw.equalsIgnoreCase("false")) {
                return Boolean.parseBoolean(raw);
            }
            throw new IllegalArgumentException("must be true or false");
        });
    }

    /** A whole number from {@code min} to {@code max}; underscores are allowed as separators ({@code 10_000}). */
    public static Setting<Long> longValue(String name, long defaultValue, long min, long max) {
        return of(name, "long", defaultValue, range(min, max), raw -> whole(raw, min, max));
    }

    /** As {@link #longValue}, without a default. */
    public static Setting<Long> longValue(String name, long min, long max) {
        return of(name, "long", null, range(min, max), raw -> whole(raw, min, max));
    }

    /** As {@link #intValue(String, int, int, int)}, without a default (an optional setting, or a family). */
    public static Setting<Integer> intValue(String name, int min, int max) {
        return of(name, "int", null, range(min, max), raw -> (int) whole(raw, min, max));
    }

    public static Setting<Integer> intValue(String name, int defaultValue, int min, int max) {
        return of(name, "int", defaultValue, range(min, max), raw -> (int) whole(raw, min, max));
    }

    /** One of the given values, compared exactly. */
    public static Setting<String> oneOf(String name, @Nullable String defaultValue, List<String> values) {
        return of(name, "string", defaultValue, String.join(", ", values), raw -> {
            if (!values.contains(raw)) {
                throw new IllegalArgumentException("must be one of " + String.join(", ", values));
            }
            return raw;
        });
    }

    public static Setting<Path> path(String name, @Nullable String defaultValue) {
        return of(name, "path", defaultValue == null ? null : Path.of(defaultValue), null, Path::of);
    }

    /** A Java regular expression. */
    public static Setting<Pattern> regex(String name) {
        return of(name, "regex", null, null, raw -> {
            try {
                return Pattern.compile(raw);
            } catch (PatternSyntaxException e) {
                throw new IllegalArgumentException("is not a regular expression: " + e.getDescription(), e);
            }
        });
    }

    /** A comma-separated list of non-empty strings. */
    public static Setting<List<String>> list(String name) {
        return of(name, "list", null, null, raw -> {
            List<String> parts = List.of(raw.split("\\s*,\\s*"));
            if (parts.stream().anyMatch(String::isEmpty)) {
                throw new IllegalArgumentException("must be a comma-separated list without empty entries");
            }
            return parts;
        });
    }

    /**
     * Settings handed on unparsed to another component under a prefix ({@code streams.}): documented once, each
     * value reaches that component as it is.
     */
    public static Setting<String> passThrough(String prefix, String placeholder) {
        return new Setting<>(prefix, "string", null, null, raw -> raw, "", Importance.LOW, null, placeholder, true);
    }

    /** This kind of setting as a family: its name is {@code prefix + <placeholder>}. */
    public Setting<T> family(String placeholder) {
        return new Setting<>(
                name, type, defaultValue, allowed, parser, doc, importance, requiredWhen, placeholder, passThrough);
    }

    // --- description -------------------------------------------------------------------------------------

    public Setting<T> doc(String text) {
        return new Setting<>(
                name, type, defaultValue, allowed, parser, text, importance, requiredWhen, placeholder, passThrough);
    }

    public Setting<T> importance(Importance i) {
        return new Setting<>(name, type, defaultValue, allowed, parser, doc, i, requiredWhen, placeholder, passThrough);
    }

    /**
     * Required, with when and an example, for the error and the docs: {@code "(e.g. https://vault.example:8200)"}
     * or {@code "when kms.provider=vault (e.g. ...)"}.
     */
    public Setting<T> required(String when) {
        return new Setting<>(
                name, type, defaultValue, allowed, parser, doc, importance, when, placeholder, passThrough);
    }

    /** Adds a check to the parser: {@code check} throws with what is wrong (without the name). */
    public Setting<T> check(Function<T, T> check, @Nullable String allowedText) {
        Parser<T> p = parser;
        return new Setting<>(
                name,
                type,
                defaultValue,
                allowedText == null ? allowed : allowedText,
                raw -> check.apply(p.parse(raw)),
                doc,
                importance,
                requiredWhen,
                placeholder,
                passThrough);
    }

    public String name() {
        return name;
    }

    /** The name as documented: {@code validation.dimensions.model.<model>} for a family. */
    public String displayName() {
        return placeholder == null ? name : name + "<" + placeholder + ">";
    }

    public String type() {
        return type;
    }

    public @Nullable T defaultValue() {
        return defaultValue;
    }

    public @Nullable String allowed() {
        return allowed;
    }

    public String doc() {
        return doc;
    }

    public Importance importance() {
        return importance;
    }

    public boolean isRequired() {
        return requiredWhen != null;
    }

    public @Nullable String requiredWhen() {
        return requiredWhen;
    }

    public boolean isFamily() {
        return placeholder != null;
    }

    public boolean isPassThrough() {
        return passThrough;
    }

    /** Whether {@code key} is this setting, or a member of this family. */
    public boolean matches(String key) {
        return isFamily() ? key.startsWith(name) && key.length() > name.length() : key.equals(name);
    }

    /**
     * Parses a raw value of this setting (or of the family member {@code key}).
     *
     * @throws ConfigValueException naming the setting, with what was given and what is allowed
     */
    public T parse(String key, String raw) {
        try {
            return parser.parse(raw.trim());
        } catch (IllegalArgumentException e) {
            throw new ConfigValueException(key, key + " " + e.getMessage() + ", got '" + raw + "'", e);
        }
    }

    /** The error for a required setting that is missing. */
    public ConfigValueException missing() {
        return new ConfigValueException(
                name,
                name + " is required " + requiredWhen + " (set it in the configuration or "
                        + SettingsModel.envName(name) + ")");
    }

    /** The default as documented. */
    public String defaultText() {
        if (defaultValue == null) {
            return "";
        }
        return String.valueOf(defaultValue);
    }

    private static String range(long min, long max) {
        return max == Long.MAX_VALUE || max == Integer.MAX_VALUE || max == Long.MAX_VALUE / 1000
                ? "at least " + min
                : min + ".." + max;
    }

    private static long whole(String raw, long min, long max) {
        String what = max == Long.MAX_VALUE || max == Integer.MAX_VALUE || max == Long.MAX_VALUE / 1000
                ? "must be a whole number of at least " + min
                : "must be a whole number from " + min + " to " + max;
        long n;
        try {
            n = Long.parseLong(raw.replace("_", ""));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(what, e);
        }
        if (n < min || n > max) {
            throw new IllegalArgumentException(what);
        }
        return n;
    }

    @Override
    public String toString() {
        return "Setting[" + displayName() + "]";
    }
}
