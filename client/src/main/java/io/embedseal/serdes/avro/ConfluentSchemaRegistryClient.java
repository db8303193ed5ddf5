package io.embedseal.serdes.avro;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.embedseal.config.ConfigValueException;
import io.embedseal.config.Setting;
import io.embedseal.config.SettingsModel;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.jspecify.annotations.Nullable;

/**
 * A client for the Confluent Schema Registry REST API, which Confluent's registry, Apicurio's compatibility API
 * ({@code /apis/ccompat/v7}) and others serve. Confluent's own client is not on Maven Central, hence this one.
 *
 * <p>Caches (bounded, least recently used first out): schemas by id, ids by subject and schema. Ids the
 * registry does not know are remembered for a short while, so records naming random ids cannot turn into one
 * registry request each. With several URLs, a request that cannot reach one tries the next.
 *
 * <p>Answers map to typed failures: 404 with error code 40403 to {@link UnknownSchemaException}, 404
 * 40401/40402 to {@link UnknownSubjectException}, 409 to {@link IncompatibleSchemaException}, 422 to
 * {@link InvalidSchemaException}, 5xx and I/O failures to {@link SchemaRegistryUnavailableException}, 401/403
 * and the rest to {@link SchemaRegistryException}. Credentials are never logged or shown.
 */
public final class ConfluentSchemaRegistryClient implements SchemaRegistry {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";

    private final Settings settings;
    private final HttpClient http;
    private final Lru<Integer, Schema> schemasById;
    private final Lru<String, Integer> idsBySubjectAndSchema;
    private final Lru<Integer, Long> missingIdsUntil;

    /**
     * Client settings.
     *
     * @param urls              one or more base URLs, e.g. {@code http://registry:8081} or
     *                          {@code http://apicurio:8080/apis/ccompat/v7}
     * @param userInfo          {@code user:password} for basic auth, or null
     * @param caFile            a PEM file of CA certificates to trust for https, or null for the JDK's
     * @param timeout           connect and request timeout
     * @param cacheMaxSize      entries per cache
     * @param missingIdCacheFor how long an unknown schema id is remembered as unknown
     */
    public record Settings(
            List<String> urls,
            @Nullable String userInfo,
            @Nullable Path caFile,
            Duration timeout,
            int cacheMaxSize,
            Duration missingIdCacheFor) {
        public Settings {
            if (urls == null || urls.isEmpty()) {
                throw new IllegalArgumentException("schema.registry.url is required");
            }
            for (String u : urls) {
                if (!u.startsWith("http://") && !u.startsWith("https://")) {
                    throw new IllegalArgumentException(
                            "schema.registry.url entries must start with http:// or https://, got: " + u);
                }
            }
            urls = urls.stream()
                    .map(u -> u.endsWith("/") ? u.substring(0, u.length() - 1) : u)
                    .toList();
            if (userInfo != null && !userInfo.contains(":")) {
                throw new IllegalArgumentException("schema registry basic-auth user info must be user:password");
            }
            if (cacheMaxSize < 1) {
                throw new IllegalArgumentException(
                        "schema.registry.cache.max-size must be at least 1, got " + cacheMaxSize);
            }
        }

        @Override
        public String toString() {
            return "urls=" + urls + (userInfo == null ? "" : ", basic-auth=<redacted>")
                    + (caFile == null ? "" : ", caFile=" + caFile);
        }

        /**
         * Reads the {@link #MODEL} settings from a client configuration.
         *
         * @throws io.embedseal.config.ConfigValueException naming the setting
         */
        public static Settings from(Map<String, ?> config, Function<String, String> env) {
            Map<String, String> flat = new java.util.LinkedHashMap<>();
            config.forEach((k, v) -> {
                if (v != null && k.startsWith("schema.registry.")) {
                    flat.put(k, v.toString());
                }
            });
            io.embedseal.config.Settings s = io.embedseal.config.Settings.of(flat, env);
            String userInfo = null;
            Path file = s.getOrNull(USER_INFO_FILE);
            String variable = s.getOrNull(USER_INFO_ENV);
            if (file != null) {
                try {
                    userInfo = Files.readString(file, StandardCharsets.UTF_8).strip();
                } catch (IOException e) {
                    throw new ConfigValueException(
                            USER_INFO_FILE.name(), USER_INFO_FILE.name() + ": cannot read " + file, e);
                }
            } else if (variable != null) {
                userInfo = env.apply(variable);
                if (userInfo == null || userInfo.isBlank()) {
                    throw new ConfigValueException(
                            USER_INFO_ENV.name(), USER_INFO_ENV.name() + " names " + variable + ", which is not set");
                }
            }
            if (userInfo != null && !userInfo.contains(":")) {
                String from = file != null ? USER_INFO_FILE.name() : USER_INFO_ENV.name();
                throw new ConfigValueException(
                        from, "schema registry basic-auth user info (" + from + ") must be user:password");
            }
            try {
                return new Settings(
                        s.get(URL),
                        userInfo,
                        s.getOrNull(CA_FILE),
                        Duration.ofMillis(s.get(TIMEOUT_MS)),
                        s.get(CACHE_MAX_SIZE),
                        Duration.ofSeconds(s.get(MISSING_ID_CACHE_SECONDS)));
            } catch (ConfigValueException e) {
                throw e;
            } catch (IllegalArgumentException e) {
                throw new ConfigValueException(URL.name(), String.valueOf(e.getMessage()), e);
            }
        }
    }

    public static final Setting<List<String>> URL = Setting.list("schema.registry.url")
            .required("(e.g. http://localhost:8081, or several, comma-separated)")
            .importance(Setting.Importance.HIGH)
            .doc(
                    "The Confluent-compatible schema registry (Confluent Schema Registry, Apicurio's `/apis/ccompat/v7`).");
    public static final Setting<Path> USER_INFO_FILE = Setting.path("schema.registry.basic-auth.user-info-file", null)
            .doc("A file holding `user:password` for basic auth.");
    public static final Setting<String> USER_INFO_ENV = Setting.string("schema.registry.basic-auth.user-info-env", null)
            .doc("An environment variable holding `user:password` for basic auth (the file wins).");
    public static final Setting<Path> CA_FILE = Setting.path("schema.registry.ssl.ca-file", null)
            .doc("PEM certificates to trust for https, instead of the JDK's.");
    public static final Setting<Long> TIMEOUT_MS = Setting.longValue(
                    "schema.registry.timeout-ms", 5_000, 1, Integer.MAX_VALUE)
            .doc("Connect and request timeout.");
    public static final Setting<Integer> CACHE_MAX_SIZE = Setting.intValue(
                    "schema.registry.cache.max-size", 1_000, 1, Integer.MAX_VALUE)
            .doc("Entries per cache (schemas by id, ids by subject and schema, unknown ids).");
    public static final Setting<Long> MISSING_ID_CACHE_SECONDS = Setting.longValue(
                    "schema.registry.missing-id-cache-seconds", 30, 0, Long.MAX_VALUE / 1000)
            .doc("How long an unknown schema id is remembered as unknown.");

    /** The schema-registry client's settings. */
    public static final SettingsModel MODEL = SettingsModel.of(
            "schema registry",
            URL,
            USER_INFO_FILE,
            USER_INFO_ENV,
            CA_FILE,
            TIMEOUT_MS,
            CACHE_MAX_SIZE,
            MISSING_ID_CACHE_SECONDS);

    public ConfluentSchemaRegistryClient(Settings settings) {
        this.settings = Objects.requireNonNull(settings, "settings");
        HttpClient.Builder b =
                HttpClient.newBuilder().connectTimeout(settings.timeout()).version(HttpClient.Version.HTTP_1_1);
        if (settings.caFile() != null) {
            b.sslContext(sslContext(settings.caFile()));
        }
        this.http = b.build();
        this.schemasById = new Lru<>(settings.cacheMaxSize());
        this.idsBySubjectAndSchema = new Lru<>(settings.cacheMaxSize());
        this.missingIdsUntil = new Lru<>(settings.cacheMaxSize());
    }

    @Override
    public int register(String subject, Schema schema) {
        String key = subject + "\u0000" + SchemaNormalization.toParsingForm(schema);
        Integer cached = idsBySubjectAndSchema.get(key);
        if (cached != null) {
            return cached;
        }
        JsonNode r = send(
                "POST",
                "/subjects/" + encode(subject) + "/versions",
                schemaBody(schema),
                "register a schema under " + subject);
        int id = r.path("id").asInt(-1);
        if (id < 0) {
            throw new SchemaRegistryException(
                    "schema registry answered a registration under " + subject + " without an id");
        }
        idsBySubjectAndSchema.put(key, id);
        schemasById.put(id, schema);
        return id;
    }

    @Override
    public Schema schemaById(int id) {
        Schema cached = schemasById.get(id);
        if (cached != null) {
            return cached;
        }
        Long until = missingIdsUntil.get(id);
        if (until != null && System.nanoTime() < until) {
            throw new UnknownSchemaException(id);
        }
        JsonNode r;
        try {
            r = send("GET", "/schemas/ids/" + id, null, "look up schema id " + id);
        } catch (UnknownSchemaException | UnknownSubjectException e) {
            // A 404 for an id is "no such schema" whatever error code the registry put in it.
            missingIdsUntil.put(
                    id, System.nanoTime() + settings.missingIdCacheFor().toNanos());
            throw new UnknownSchemaException(id);
        }
        // A registry shared with other applications holds PROTOBUF and JSON schemas too (no schemaType means AVRO).
        String type = r.path("schemaType").asText("AVRO");
        if (!type.equals("AVRO")) {
            throw new NotAvroSchemaException(id, type.length() > 40 ? type.substring(0, 40) + "..." : type);
        }
        Schema schema;
        try {
            schema = parse(r.path("schema").asText(null), "schema id " + id);
        } catch (SchemaRegistryException e) {
            throw new NotAvroSchemaException(id, "AVRO (unparseable)");
        }
        schemasById.put(id, schema);
        return schema;
    }

    @Override
    public int lookup(String subject, Schema schema) {
        String key = subject + "\u0000" + SchemaNormalization.toParsingForm(schema);
        Integer cached = idsBySubjectAndSchema.get(key);
        if (cached != null) {
            return cached;
        }
        JsonNode r =
                send("POST", "/subjects/" + encode(subject), schemaBody(schema), "look up a schema under " + subject);
        int id = r.path("id").asInt(-1);
        idsBySubjectAndSchema.put(key, id);
        return id;
    }

    @Override
    public RegisteredSchema latest(String subject) {
        JsonNode r = send(
                "GET",
                "/subjects/" + encode(subject) + "/versions/latest",
                null,
                "read the latest version of " + subject);
        return new RegisteredSchema(
                subject,
                r.path("version").asInt(),
                r.path("id").asInt(),
                parse(r.path("schema").asText(null), "latest version of " + subject));
    }

    @Override
    public boolean isCompatible(String subject, Schema schema) {
        try {
            JsonNode r = send(
                    "POST",
                    "/compatibility/subjects/" + encode(subject) + "/versions/latest",
                    schemaBody(schema),
                    "check compatibility with " + subject);
            return r.path("is_compatible").asBoolean(false);
        } catch (UnknownSubjectException e) {
            return true; // nothing registered yet: anything is compatible
        }
    }

    @Override
    public void setCompatibility(String subject, String level) {
        ObjectNode body = JSON.createObjectNode();
        body.put("compatibility", level);
        send("PUT", "/config/" + encode(subject), body, "set the compatibility rule of " + subject);
    }

    // --- HTTP ----------------------------------------------------------------------------------------

    private JsonNode send(String method, String path, @Nullable ObjectNode body, String what) {
        SchemaRegistryUnavailableException unreachable = null;
        for (String base : settings.urls()) {
            HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(base + path))
                    .timeout(settings.timeout())
                    .header("Accept", CONTENT_TYPE + ", application/json");
            if (settings.userInfo() != null) {
                req.header(
                        "Authorization",
                        "Basic "
                                + Base64.getEncoder()
                                        .encodeToString(settings.userInfo().getBytes(StandardCharsets.UTF_8)));
            }
            HttpRequest.BodyPublisher publisher = body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofByteArray(json(body));
            if (body != null) {
                req.header("Content-Type", CONTENT_TYPE);
            }
            req.method(method, publisher);
            HttpResponse<byte[]> response;
            try {
                response = http.send(req.build(), HttpResponse.BodyHandlers.ofByteArray());
            } catch (IOException e) {
                unreachable = new SchemaRegistryUnavailableException(
                        "schema registry at " + base + " is unreachable (" + what + "): "
                                + e.getClass().getSimpleName(),
                        e);
                continue;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SchemaRegistryUnavailableException(
                        "interrupted while asking the schema registry to " + what, e);
            }
            int status = response.statusCode();
            if (status >= 500) {
                unreachable = new SchemaRegistryUnavailableException("schema registry at " + base + " failed to " + what
                        + ": HTTP " + status + message(response.body()));
                continue;
            }
            return answer(status, response.body(), what, base);
        }
        throw unreachable;
    }

    private JsonNode answer(int status, byte[] body, String what, String base) {
        if (status >= 200 && status < 300) {
            try {
                return body.length == 0 ? JSON.createObjectNode() : JSON.readTree(body);
            } catch (IOException e) {
                throw new SchemaRegistryException(
                        "schema registry at " + base + " answered " + what + " with invalid JSON", e);
            }
        }
        int code = errorCode(body);
        String detail = ": HTTP " + status + (code > 0 ? " error " + code : "") + message(body);
        switch (status) {
            case 404 -> {
                if (code == 40403) {
                    throw new UnknownSchemaException(-1);
                }
                throw new UnknownSubjectException("cannot " + what + detail);
            }
            case 409 ->
                throw new IncompatibleSchemaException(
                        "cannot " + what + ", the schema is incompatible with the subject's rule" + detail);
            case 422 -> throw new InvalidSchemaException("cannot " + what + ", the registry calls it invalid" + detail);
            case 401, 403 ->
                throw new SchemaRegistryException(
                        "not allowed to " + what + " at " + base + " (check the basic-auth settings)" + detail);
            default -> throw new SchemaRegistryException("cannot " + what + " at " + base + detail);
        }
    }

    private static int errorCode(byte[] body) {
        try {
            return JSON.readTree(body).path("error_code").asInt(-1);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    private static String message(byte[] body) {
        try {
            String m = JSON.readTree(body).path("message").asText("");
            return m.isEmpty() ? "" : " (" + (m.length() > 300 ? m.substring(0, 300) + "..." : m) + ")";
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    private static ObjectNode schemaBody(Schema schema) {
        ObjectNode body = JSON.createObjectNode();
        body.put("schema", schema.toString());
        body.put("schemaType", "AVRO");
        return body;
    }

    private static byte[] json(ObjectNode node) {
        try {
            return JSON.writeValueAsBytes(node);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Schema parse(String text, String what) {
        if (text == null) {
            throw new SchemaRegistryException("schema registry returned no schema for " + what);
        }
        try {
            return new Schema.Parser().parse(text);
        } catch (RuntimeException e) {
            throw new SchemaRegistryException("schema registry returned an unparseable schema for " + what, e);
        }
    }

    private static String encode(String subject) {
        return URLEncoder.encode(subject, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private static SSLContext sslContext(Path caFile) {
        try (InputStream in = Files.newInputStream(caFile)) {
            KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
            trust.load(null, null);
            int n = 0;
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                trust.setCertificateEntry("ca-" + n++, c);
            }
            if (n == 0) {
                throw new IllegalArgumentException("schema.registry.ssl.ca-file " + caFile + " holds no certificate");
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalArgumentException(
                    "schema.registry.ssl.ca-file: cannot load CA certificates from " + caFile, e);
        }
    }

    @Override
    public String toString() {
        return "ConfluentSchemaRegistryClient[" + settings + "]";
    }

    /** A small synchronized LRU map. */
    private static final class Lru<K, V> {
        private final LinkedHashMap<K, V> map;

        Lru(int max) {
            this.map = new LinkedHashMap<>(16, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<K, V> eldest) {
                    return size() > max;
                }
            };
        }

        synchronized @Nullable V get(K k) {
            return map.get(k);
        }

        synchronized void put(K k, V v) {
            map.put(k, v);
        }
    }
}
