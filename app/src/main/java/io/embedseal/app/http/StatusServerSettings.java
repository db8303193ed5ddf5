package io.embedseal.app.http;

import io.embedseal.config.ConfigValueException;
import io.embedseal.config.Setting;
import io.embedseal.config.Settings;
import io.embedseal.config.SettingsModel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The status server's own settings ({@code http.*} beyond {@code http.enabled}, {@code http.bind} and {@code
 * http.port}, which the pipeline's model holds): request timeout, connection cap, the bearer token that guards the
 * page and {@code /metrics}, and how many tenants the page lists. Read from the pipeline's configuration file with
 * the same {@code EMBEDSEAL_*} overrides.
 *
 * The token is kept only as its SHA-256 digest.
 */
public final class StatusServerSettings {

    private static final Logger LOG = LoggerFactory.getLogger(StatusServerSettings.class);

    /** The shortest token accepted. */
    static final int MIN_TOKEN_LENGTH = 16;

    public static final Setting<Path> TOKEN_FILE = Setting.path("http.auth.token-file", null)
            .importance(Setting.Importance.HIGH)
            .doc("A file holding a bearer token (at least 16 printable characters, e.g. `openssl rand -hex 32`): "
                    + "the status page, `/status.json` and `/metrics` then answer only requests with "
                    + "`Authorization: Bearer <token>` (or HTTP Basic with the token as the password, for a browser); "
                    + "`/health/live` and `/health/ready` stay open. Read once at start, compared in constant time, "
                    + "never logged. Unset: no authentication (keep `http.bind` on loopback or a private network).");
    public static final Setting<Long> REQUEST_TIMEOUT_MS = Setting.longValue(
                    "http.request-timeout-ms", 10_000, 100, 600_000)
            .doc("How long a client has to send a whole request, and then to read the answer; a connection that "
                    + "takes longer is closed. Slow clients never hold a handler thread: requests are read without "
                    + "blocking and `/health/live` is answered by the server's own thread.");
    public static final Setting<Integer> MAX_CONNECTIONS = Setting.intValue("http.max-connections", 64, 32, 10_000)
            .doc("Open connections at most. A new connection beyond this closes the oldest one that is still "
                    + "sending its request, so stalled clients cannot lock the probes out.");
    public static final Setting<Integer> TENANT_ROWS = Setting.intValue("http.status.tenant-rows", 20, 0, 500)
            .doc("Tenants listed on the status page and in `/status.json`: those with dead letters first, then those "
                    + "not ACTIVE (latest change first), then the busiest. The others are shown only as counts and "
                    + "totals; 0 lists none. No page shows key names (`embedseal tenants list` does).");

    /** The status server's settings, as documented in docs/configuration.md. */
    public static final SettingsModel MODEL =
            SettingsModel.of("status server", TOKEN_FILE, REQUEST_TIMEOUT_MS, MAX_CONNECTIONS, TENANT_ROWS);

    /** The pipeline's own http.* settings (PipelineConfig). */
    private static final java.util.Set<String> PIPELINE_HTTP =
            java.util.Set.of("http.enabled", "http.bind", "http.port");

    private static final java.util.List<String> MODEL_NAMES =
            java.util.List.of(TOKEN_FILE.name(), REQUEST_TIMEOUT_MS.name(), MAX_CONNECTIONS.name(), TENANT_ROWS.name());

    private final Duration requestTimeout;
    private final int maxConnections;
    private final byte @Nullable [] tokenDigest;
    private final int tenantRows;

    public StatusServerSettings(
            Duration requestTimeout, int maxConnections, byte @Nullable [] tokenDigest, int tenantRows) {
        this.requestTimeout = requestTimeout;
        this.maxConnections = maxConnections;
        this.tokenDigest = tokenDigest == null ? null : tokenDigest.clone();
        this.tenantRows = tenantRows;
    }

    public Duration requestTimeout() {
        return requestTimeout;
    }

    public int maxConnections() {
        return maxConnections;
    }

    public int tenantRows() {
        return tenantRows;
    }

    /** The defaults: no authentication. */
    public static StatusServerSettings defaults() {
        return new StatusServerSettings(
                Duration.ofMillis(Objects.requireNonNull(REQUEST_TIMEOUT_MS.defaultValue())),
                Objects.requireNonNull(MAX_CONNECTIONS.defaultValue()),
                null,
                Objects.requireNonNull(TENANT_ROWS.defaultValue()));
    }

    /**
     * Reads the settings from the pipeline's configuration values, applying {@code EMBEDSEAL_*} overrides, and the
     * token from its file.
     *
     * @throws ConfigValueException naming the setting that is wrong (the token file unreadable, empty or short)
     */
    public static StatusServerSettings from(Map<String, String> values, Function<String, String> env) {
        // A misspelt http.* setting (http.auth.tokenfile) would serve the page and /metrics without the token meant
        // for them: refuse to start instead of warning.
        for (String key : MODEL.unknown(values)) {
            if (key.startsWith("http.") && !PIPELINE_HTTP.contains(key)) {
                throw new ConfigValueException(
                        key, "no such setting of the status server; it has " + PIPELINE_HTTP + " and " + MODEL_NAMES);
            }
        }
        Settings s = Settings.of(MODEL.withEnvironment(values, env), env);
        MODEL.validate(s);
        Path file = s.getOrNull(TOKEN_FILE);
        return new StatusServerSettings(
                Duration.ofMillis(s.get(REQUEST_TIMEOUT_MS)),
                s.get(MAX_CONNECTIONS),
                file == null ? null : readToken(file),
                s.get(TENANT_ROWS));
    }

    /** These settings with a bearer token given directly (tests). */
    public StatusServerSettings withToken(String token) {
        byte[] bytes = token.getBytes(StandardCharsets.US_ASCII);
        try {
            return new StatusServerSettings(requestTimeout, maxConnections, digest(bytes), tenantRows);
        } finally {
            Arrays.fill(bytes, (byte) 0);
        }
    }

    /** These settings with another request timeout (tests). */
    public StatusServerSettings withRequestTimeout(Duration timeout) {
        return new StatusServerSettings(timeout, maxConnections, tokenDigest, tenantRows);
    }

    /** These settings listing at most {@code rows} tenants. */
    public StatusServerSettings withTenantRows(int rows) {
        return new StatusServerSettings(requestTimeout, maxConnections, tokenDigest, rows);
    }

    /** Whether the page and {@code /metrics} need the token. */
    public boolean authenticated() {
        return tokenDigest != null;
    }

    /** Whether {@code presented} is the token, in constant time. */
    boolean tokenMatches(byte[] presented) {
        byte[] expected = tokenDigest;
        return expected != null && MessageDigest.isEqual(expected, digest(presented));
    }

    @Override
    public String toString() {
        return "StatusServerSettings[requestTimeout=" + requestTimeout + ", maxConnections=" + maxConnections
                + ", authenticated=" + authenticated() + ", tenantRows=" + tenantRows + "]";
    }

    /** The token file's content without surrounding whitespace, kept only as its SHA-256. */
    static byte[] readToken(Path file) {
        String name = TOKEN_FILE.name();
        byte[] raw;
        try {
            raw = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new ConfigValueException(
                    name, name + ": cannot read " + file + ": " + e.getClass().getSimpleName());
        }
        try {
            int from = 0;
            int to = raw.length;
            while (from < to && Character.isWhitespace(raw[from])) {
                from++;
            }
            while (to > from && Character.isWhitespace(raw[to - 1])) {
                to--;
            }
            if (to - from < MIN_TOKEN_LENGTH) {
                throw new ConfigValueException(
                        name,
                        name + ": " + file + " holds " + (to - from) + " characters; a token needs at least "
                                + MIN_TOKEN_LENGTH + " (e.g. openssl rand -hex 32)");
            }
            for (int i = from; i < to; i++) {
                if (raw[i] < 0x21 || raw[i] > 0x7e) {
                    throw new ConfigValueException(
                            name, name + ": " + file + " must hold one token of printable ASCII characters only");
                }
            }
            warnIfOthersMayRead(file);
            return digest(Arrays.copyOfRange(raw, from, to));
        } finally {
            Arrays.fill(raw, (byte) 0);
        }
    }

    private static void warnIfOthersMayRead(Path file) {
        try {
            Set<PosixFilePermission> p = Files.getPosixFilePermissions(file);
            if (p.contains(PosixFilePermission.OTHERS_READ)) {
                LOG.warn("{} {} is readable by every user of this host; make it 0400 or 0600", TOKEN_FILE.name(), file);
            }
        } catch (IOException | UnsupportedOperationException e) {
            // not a POSIX file system: nothing to say
        }
    }

    /** SHA-256, so tokens of any length compare in constant time. The input is zeroed. */
    static byte[] digest(byte[] secret) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(secret);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        } finally {
            Arrays.fill(secret, (byte) 0);
        }
    }
}
