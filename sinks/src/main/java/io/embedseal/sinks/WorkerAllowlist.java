package io.embedseal.sinks;

import io.embedseal.keyring.KeyringSettings;
import java.io.IOException;
import java.io.Reader;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the Connect worker lets a connector use: which KMS, Vault addresses, token and PIN files and variables,
 * PKCS#11 modules, local key directories, Kafka clusters, database URLs and index directories. Anyone who may
 * submit a connector configuration to Connect's REST API could otherwise make a sink send any file the worker can
 * read, as its Vault token, to any address, load any native library, or copy plaintext vectors to any database.
 *
 * <p>The list is a properties file on the worker's host, named by the worker process's environment variable
 * {@value #ENV} (or its system property {@value #PROPERTY}, which wins). A connector configuration cannot set either:
 * Connect hands a connector only its own settings, and neither environment variables nor system properties are among
 * them; worker properties are not visible to connectors at all, which is why the list is not one. Each key is a
 * governed connector setting, each value the comma-separated values a connector may give it; a setting the file does
 * not name allows nothing. Paths are compared absolute and normalised, addresses by scheme, host, port and path, the
 * rest exactly. The values checked are the ones the connector would use, defaults included ({@code kms.provider}
 * defaults to {@code local}, a Vault token comes from {@code kms.vault.token-env=VAULT_TOKEN} unless a token or token
 * file is given).
 *
 * <p>Without the variable or property there is no list and every value is allowed, as before (a warning says so
 * once); the shipped deployment sets one. A named file that cannot be read refuses every connector.
 */
public final class WorkerAllowlist {

    private static final Logger LOG = LoggerFactory.getLogger(WorkerAllowlist.class);
    private static final AtomicBoolean WARNED = new AtomicBoolean();

    /** The worker's environment variable naming the allowlist file. */
    public static final String ENV = "EMBEDSEAL_CONNECT_ALLOWLIST";

    /** The worker's system property naming the allowlist file (wins over {@link #ENV}). */
    public static final String PROPERTY = "embedseal.connect.allowlist";

    enum Kind {
        EXACT,
        PATH,
        ADDRESS,
        HOSTS
    }

    /** The settings the worker decides, and how their values compare. */
    static final Map<String, Kind> GOVERNED = governed();

    private static Map<String, Kind> governed() {
        Map<String, Kind> m = new LinkedHashMap<>();
        m.put(EmbedsealSinkConfig.KMS_PROVIDER, Kind.EXACT);
        m.put("kms.vault.address", Kind.ADDRESS);
        m.put("kms.vault.token-file", Kind.PATH);
        m.put("kms.vault.token-env", Kind.EXACT);
        m.put("kms.vault.ca-file", Kind.PATH);
        m.put("kms.pkcs11.library", Kind.PATH);
        m.put("kms.pkcs11.config", Kind.PATH);
        m.put("kms.pkcs11.pin-file", Kind.PATH);
        m.put("kms.pkcs11.pin-env", Kind.EXACT);
        m.put("kms.local.dir", Kind.PATH);
        m.put(EmbedsealSinkConfig.BOOTSTRAP_SERVERS, Kind.HOSTS);
        m.put("postgres.url", Kind.EXACT);
        m.put("lucene.dir", Kind.PATH);
        // The trust roots of key events, and where they are read: a connector that could turn verification off,
        // trust its own key or read another topic (a replay of genuinely signed events without the REVOKED) would
        // unseal revoked tenants into the allowed store.
        m.put(KeyringSettings.EVENTS_VERIFICATION.name(), Kind.EXACT);
        m.put(KeyringSettings.EVENTS_TRUSTED_SIGNERS.name(), Kind.EXACT);
        m.put(EmbedsealSinkConfig.KEY_EVENTS_TOPIC, Kind.EXACT);
        return java.util.Collections.unmodifiableMap(m);
    }

    private final String source;
    private final Map<String, Set<String>> allowed;

    private WorkerAllowlist(String source, Map<String, Set<String>> allowed) {
        this.source = source;
        this.allowed = allowed;
    }

    /**
     * The worker's list: from the file {@value #PROPERTY} or {@value #ENV} names, or empty when neither is set.
     *
     * @throws InvalidSettingException (on {@code kms.provider}) if the file named cannot be read or is wrong
     */
    public static Optional<WorkerAllowlist> ofWorker() {
        return of(System::getProperty, System::getenv);
    }

    static Optional<WorkerAllowlist> of(
            Function<String, @Nullable String> properties, Function<String, @Nullable String> env) {
        String fromProperty = properties.apply(PROPERTY);
        String named = fromProperty != null && !fromProperty.isBlank() ? fromProperty : env.apply(ENV);
        String by = fromProperty != null && !fromProperty.isBlank() ? "system property " + PROPERTY : ENV;
        if (named == null || named.isBlank()) {
            if (WARNED.compareAndSet(false, true)) {
                LOG.warn(
                        "no connector allowlist ({} or -D{}): connector configurations choose KMS addresses, token "
                                + "files, PKCS#11 modules, Kafka clusters and database URLs freely; set one "
                                + "(docs/operations.md, \"What a connector may use\")",
                        ENV,
                        PROPERTY);
            }
            return Optional.empty();
        }
        Path file = Path.of(named.strip());
        String source = file + " (named by " + by + ")";
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (IOException | IllegalArgumentException e) {
            throw new InvalidSettingException(
                    EmbedsealSinkConfig.KMS_PROVIDER,
                    "(not checked)",
                    "this worker's connector allowlist " + source + " cannot be read ("
                            + e.getClass().getSimpleName() + "): no embedseal connector starts until it can");
        }
        return Optional.of(parse(source, p));
    }

    /** A list from its properties ({@code source} says where they came from, for messages). */
    static WorkerAllowlist parse(String source, Properties p) {
        Map<String, Set<String>> allowed = new LinkedHashMap<>();
        for (String key : p.stringPropertyNames()) {
            Kind kind = kindOf(key);
            if (kind == null) {
                throw new InvalidSettingException(
                        EmbedsealSinkConfig.KMS_PROVIDER,
                        "(not checked)",
                        "this worker's connector allowlist " + source + " names '" + key
                                + "', which it does not govern (misspelt?); it governs " + GOVERNED.keySet());
            }
            Set<String> values = new LinkedHashSet<>();
            for (String v : p.getProperty(key).split(",", -1)) {
                if (!v.isBlank()) {
                    String n = normalise(kind, v.strip());
                    if (n == null || (kind == Kind.PATH && !Path.of(v.strip()).isAbsolute())) {
                        throw new InvalidSettingException(
                                EmbedsealSinkConfig.KMS_PROVIDER,
                                "(not checked)",
                                "this worker's connector allowlist " + source + " has an entry for " + key
                                        + " that is not " + (kind == Kind.PATH ? "an absolute path" : "valid"));
                    }
                    values.add(n);
                }
            }
            allowed.put(key, values);
        }
        return new WorkerAllowlist(source, allowed);
    }

    /**
     * Refuses a connector configuration that uses what this list does not allow.
     *
     * @param config the parsed connector configuration (for defaults)
     * @throws InvalidSettingException naming the first setting whose value is not allowed
     */
    void check(EmbedsealSinkConfig config) {
        Map<String, String> given = new LinkedHashMap<>();
        config.originalsStrings().forEach((k, v) -> {
            if (v != null && !v.isBlank()) {
                given.put(k, v.strip());
            }
        });
        for (Map.Entry<String, String> e : used(config, given).entrySet()) {
            check(e.getKey(), e.getValue());
        }
    }

    /** The governed settings the connector will use, with the values it will use. */
    private static Map<String, String> used(EmbedsealSinkConfig config, Map<String, String> given) {
        Map<String, String> used = new LinkedHashMap<>();
        String provider = config.getString(EmbedsealSinkConfig.KMS_PROVIDER);
        used.put(EmbedsealSinkConfig.KMS_PROVIDER, provider);
        used.put(
                EmbedsealSinkConfig.BOOTSTRAP_SERVERS,
                String.join(",", config.getList(EmbedsealSinkConfig.BOOTSTRAP_SERVERS)));
        used.put(
                KeyringSettings.EVENTS_VERIFICATION.name(),
                given.getOrDefault(
                        KeyringSettings.EVENTS_VERIFICATION.name(),
                        java.util.Objects.requireNonNull(KeyringSettings.EVENTS_VERIFICATION.defaultValue())));
        used.put(
                KeyringSettings.EVENTS_TRUSTED_SIGNERS.name(),
                given.getOrDefault(
                        KeyringSettings.EVENTS_TRUSTED_SIGNERS.name(),
                        java.util.Objects.requireNonNull(KeyringSettings.EVENTS_TRUSTED_SIGNERS.defaultValue())));
        used.put(EmbedsealSinkConfig.KEY_EVENTS_TOPIC, config.keyEventsTopic());
        // Every governed value given, whichever provider it belongs to, so nothing unchecked lies in wait; and every
        // Kafka client setting (embedseal.client.*): a login, a token endpoint, a key store or a class to load is the
        // worker's to allow.
        for (Map.Entry<String, String> e : given.entrySet()) {
            if (kindOf(e.getKey()) != null && !used.containsKey(e.getKey())) {
                used.put(e.getKey(), e.getValue());
            }
        }
        // The defaults the chosen provider falls back on.
        switch (provider) {
            case "vault" -> {
                boolean literal = given.containsKey(EmbedsealSinkConfig.VAULT_TOKEN);
                if (!literal && !given.containsKey("kms.vault.token-file")) {
                    used.putIfAbsent("kms.vault.token-env", "VAULT_TOKEN");
                }
            }
            case "pkcs11" -> {
                boolean literal = given.containsKey(EmbedsealSinkConfig.PKCS11_PIN);
                if (!literal && !given.containsKey("kms.pkcs11.pin-file")) {
                    used.putIfAbsent("kms.pkcs11.pin-env", "PKCS11_PIN");
                }
            }
            case "local" -> used.putIfAbsent("kms.local.dir", ".embedseal/kms");
            default -> {
                // another provider: its own settings are not governed here
            }
        }
        return used;
    }

    /** How a setting's values compare, or null if the list does not govern it. */
    static @Nullable Kind kindOf(String setting) {
        Kind kind = GOVERNED.get(setting);
        if (kind == null && setting.startsWith(EmbedsealSinkConfig.CLIENT_PREFIX)) {
            return Kind.EXACT;
        }
        return kind;
    }

    private void check(String setting, String value) {
        Kind kind = kindOf(setting);
        if (kind == null || value.isEmpty()) {
            return; // a required setting left out is the configuration's own error
        }
        Set<String> ok = allowed.getOrDefault(setting, Set.of());
        List<String> values = kind == Kind.HOSTS ? List.of(value.split("\\s*,\\s*", -1)) : List.of(value);
        for (String v : values) {
            String n = normalise(kind, v);
            if (n == null || !ok.contains(n)) {
                throw new InvalidSettingException(
                        setting,
                        shown(setting, v),
                        "not allowed by this Connect worker: its connector allowlist " + source + " "
                                + (allowed.containsKey(setting)
                                        ? "does not list this value for "
                                        : "allows no value for ")
                                + setting + ". The worker's operator decides this, not a connector configuration "
                                + "(docs/operations.md, \"What a connector may use\")");
            }
        }
    }

    /** The value as an error may show it: a JDBC URL without its parameters (they may hold a password). */
    private static String shown(String setting, String value) {
        if (setting.equals("postgres.url")) {
            int q = value.indexOf('?');
            return q < 0 ? value : value.substring(0, q) + "?...";
        }
        return value;
    }

    /** The form two values are compared in, or null if the value cannot be one of its kind. */
    static @Nullable String normalise(Kind kind, String value) {
        switch (kind) {
            case PATH -> {
                try {
                    return Path.of(value).toAbsolutePath().normalize().toString();
                } catch (InvalidPathException e) {
                    return null;
                }
            }
            case ADDRESS -> {
                try {
                    URI u = new URI(value);
                    String scheme = u.getScheme();
                    String host = u.getHost();
                    if (scheme == null
                            || host == null
                            || u.getUserInfo() != null
                            || u.getQuery() != null
                            || u.getFragment() != null) {
                        return null;
                    }
                    scheme = scheme.toLowerCase(Locale.ROOT);
                    int port = u.getPort() >= 0 ? u.getPort() : scheme.equals("https") ? 443 : 80;
                    String path = u.getPath() == null ? "" : u.getPath().replaceAll("/+$", "");
                    return scheme + "://" + host.toLowerCase(Locale.ROOT) + ":" + port + path;
                } catch (URISyntaxException e) {
                    return null;
                }
            }
            case HOSTS -> {
                String v = value.strip().toLowerCase(Locale.ROOT);
                return v.isEmpty() || v.contains("/") ? null : v;
            }
            default -> {
                return value;
            }
        }
    }

    /** Where the list came from. */
    public String source() {
        return source;
    }

    /** The governed settings this list names (for tests and logs; values are not secret but stay out of logs). */
    List<String> settings() {
        return new ArrayList<>(allowed.keySet());
    }
}
