package io.embedseal.keyring.kms.vault;

import io.embedseal.keyring.kms.InvalidWrappedKeyException;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KeyDescription;
import io.embedseal.keyring.kms.KeyState;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.keyring.kms.UnsupportedKmsOperationException;
import io.embedseal.keyring.kms.WrappedDek;
import io.github.jopenlibs.vault.SslConfig;
import io.github.jopenlibs.vault.Vault;
import io.github.jopenlibs.vault.VaultConfig;
import io.github.jopenlibs.vault.VaultException;
import io.github.jopenlibs.vault.json.Json;
import io.github.jopenlibs.vault.json.JsonObject;
import io.github.jopenlibs.vault.json.JsonValue;
import io.github.jopenlibs.vault.response.LogicalResponse;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * HashiCorp Vault's Transit secrets engine as a KMS. KEKs are Transit keys of type {@code aes256-gcm96}; a
 * DEK is wrapped by {@code encrypt/<key>} with {@code associated_data} (so Vault's AES-GCM binds it to the
 * tenant and DEK id) and unwrapped by {@code decrypt/<key>}. The wrapped DEK is Vault's ciphertext string,
 * {@code vault:v<N>:<base64>}; its version must match the KEK reference it is stored with.
 *
 * <p>Vault's answers map to the typed failures: 403 to {@link KeyDeniedException}; 404 and "encryption key
 * not found" to {@link UnknownKeyException}; 400 "disallowed by policy (too old)" (a version below
 * {@code min_decryption_version}) to {@link KeyDeniedException}; 400 "invalid ciphertext" to
 * {@link InvalidWrappedKeyException}; 429, 5xx (503 when sealed) and connection failures to
 * {@link KmsUnavailableException}.
 *
 * <p>Transit cannot disable a key: revocation in Vault is a policy change (remove the pipeline's grant on the
 * key's paths, or revoke its token), which embedseal observes as 403. {@link #disable} and {@link #enable}
 * therefore throw {@link UnsupportedKmsOperationException}. {@link #destroy} sets {@code deletion_allowed}
 * and deletes the key. One HTTP client is shared by every request; the token is never logged.
 */
public final class VaultTransitKms implements KmsProvider {

    /** The provider name under which this KMS is configured and which appears in its KEK references. */
    public static final String PROVIDER = "vault";

    private static final Pattern CIPHERTEXT = Pattern.compile("vault:v(\\d{1,9}):[A-Za-z0-9+/=]+");
    private static final Set<KmsOperation> SUPPORTED =
            EnumSet.complementOf(EnumSet.of(KmsOperation.DISABLE, KmsOperation.ENABLE));

    private final VaultSettings settings;
    private final Vault vault;

    public VaultTransitKms(VaultSettings settings) {
        this.settings = Objects.requireNonNull(settings, "settings");
        try {
            // One HTTP client for every request (the driver builds one per request otherwise).
            HttpClient.Builder http = HttpClient.newBuilder()
                    .version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(settings.connectTimeout());
            VaultConfig config = new VaultConfig();
            if (settings.caFile() != null) {
                SslConfig ssl =
                        new SslConfig().pemFile(settings.caFile().toFile()).build();
                http.sslContext(ssl.getSslContext());
                config.sslConfig(ssl);
            }
            config.address(settings.address())
                    .token(settings.token())
                    .engineVersion(1) // Transit is not KV v2: the default would rewrite paths to <mount>/data/...
                    .readTimeout(
                            Math.toIntExact(Math.max(1, settings.readTimeout().toSeconds())))
                    .openTimeout(Math.toIntExact(
                            Math.max(1, settings.connectTimeout().toSeconds())))
                    .httpClient(http.build());
            if (settings.namespace() != null) {
                config.nameSpace(settings.namespace());
            }
            this.vault = Vault.create(config.build());
        } catch (VaultException e) {
            throw new KmsException("cannot configure the Vault client for " + settings.address(), e);
        }
    }

    @Override
    public String provider() {
        return PROVIDER;
    }

    @Override
    public WrappedDek wrapDek(String keyName, byte[] dek, byte[] associatedData) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("plaintext", Base64.getEncoder().encodeToString(dek));
        body.put("associated_data", Base64.getEncoder().encodeToString(associatedData));
        LogicalResponse r = write(KmsOperation.WRAP, keyName, "encrypt/" + path(keyName), body);
        String ciphertext = r.getData().get("ciphertext");
        if (ciphertext == null) {
            throw new KmsException("Vault answered the wrap under key '" + keyName + "' at " + settings.address()
                    + " without a ciphertext");
        }
        int version = versionOf(ciphertext, keyName);
        return new WrappedDek(new KekRef(PROVIDER, keyName, version), ciphertext.getBytes(StandardCharsets.US_ASCII));
    }

    @Override
    public byte[] unwrapDek(KekRef kek, byte[] wrappedDek, byte[] associatedData) {
        if (!PROVIDER.equals(kek.provider())) {
            throw new UnknownKeyException(
                    "KEK " + kek + " belongs to KMS provider '" + kek.provider() + "', not to '" + PROVIDER + "'");
        }
        String ciphertext = new String(wrappedDek, StandardCharsets.US_ASCII);
        Matcher m = CIPHERTEXT.matcher(ciphertext);
        if (!m.matches()) {
            throw new InvalidWrappedKeyException("wrapped DEK under " + kek + " is not a Vault Transit ciphertext");
        }
        if (Integer.parseInt(m.group(1)) != kek.version()) {
            throw new InvalidWrappedKeyException(
                    "wrapped DEK names Vault key version " + m.group(1) + " but is stored under " + kek);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("ciphertext", ciphertext);
        body.put("associated_data", Base64.getEncoder().encodeToString(associatedData));
        LogicalResponse r = write(KmsOperation.UNWRAP, kek.keyName(), "decrypt/" + path(kek.keyName()), body);
        String plaintext = r.getData().get("plaintext");
        if (plaintext == null) {
            throw new KmsException("Vault decrypt of " + kek + " returned no plaintext");
        }
        return Base64.getDecoder().decode(plaintext);
    }

    @Override
    public KeyDescription describe(String keyName) {
        LogicalResponse r =
                call(KmsOperation.DESCRIBE, keyName, () -> vault.logical().read(mount() + "/keys/" + path(keyName)));
        requireSuccess(KmsOperation.DESCRIBE, keyName, r);
        JsonObject data = r.getDataObject();
        int latest = intField(data, "latest_version", keyName);
        int minDecryption = Math.max(1, intField(data, "min_decryption_version", keyName));
        return new KeyDescription(PROVIDER, keyName, latest, Math.min(minDecryption, latest), KeyState.ENABLED);
    }

    @Override
    public KekRef createKek(String keyName) {
        write(KmsOperation.CREATE, keyName, "keys/" + path(keyName), Map.of("type", "aes256-gcm96"));
        return describe(keyName).current();
    }

    @Override
    public KekRef rotate(String keyName) {
        write(KmsOperation.ROTATE, keyName, "keys/" + path(keyName) + "/rotate", Map.of());
        return describe(keyName).current();
    }

    @Override
    public void restrictVersions(String keyName, int minDecryptionVersion) {
        int latest = describe(keyName).latestVersion();
        if (minDecryptionVersion < 1 || minDecryptionVersion > latest) {
            throw new IllegalArgumentException("minimum decryption version for '" + keyName + "' must be 1.." + latest
                    + ", got " + minDecryptionVersion);
        }
        write(
                KmsOperation.RESTRICT,
                keyName,
                "keys/" + path(keyName) + "/config",
                Map.of("min_decryption_version", minDecryptionVersion));
    }

    @Override
    public void disable(String keyName) {
        throw new UnsupportedKmsOperationException(
                PROVIDER,
                KmsOperation.DISABLE,
                "Vault Transit keys cannot be disabled; " + ownerAdvice(KmsOperation.DISABLE, keyName));
    }

    @Override
    public void enable(String keyName) {
        throw new UnsupportedKmsOperationException(
                PROVIDER,
                KmsOperation.ENABLE,
                "Vault Transit keys cannot be disabled or enabled; " + ownerAdvice(KmsOperation.ENABLE, keyName));
    }

    /** Transit has no disabled state: revocation is the pipeline's policy losing its grant on this mount's paths. */
    @Override
    public String ownerAdvice(KmsOperation operation, String keyName) {
        String paths = mount() + "/encrypt/" + keyName + " and " + mount() + "/decrypt/" + keyName;
        return switch (operation) {
            case DISABLE ->
                "the key's owner revokes by removing the pipeline and sink policies' grant on " + paths
                        + " (embedseal then sees HTTP 403 and treats it as a revocation)";
            case ENABLE -> "the key's owner restores by granting the pipeline and sink policies " + paths + " again";
            default -> KmsProvider.super.ownerAdvice(operation, keyName);
        };
    }

    @Override
    public void destroy(String keyName) {
        write(KmsOperation.DESTROY, keyName, "keys/" + path(keyName) + "/config", Map.of("deletion_allowed", true));
        LogicalResponse r =
                call(KmsOperation.DESTROY, keyName, () -> vault.logical().delete(mount() + "/keys/" + path(keyName)));
        requireSuccess(KmsOperation.DESTROY, keyName, r);
    }

    @Override
    public Set<KmsOperation> supportedOperations() {
        return SUPPORTED;
    }

    // --- plumbing ------------------------------------------------------------------------------------

    private String mount() {
        return settings.mount();
    }

    private static String path(String keyName) {
        return URLEncoder.encode(keyName, StandardCharsets.UTF_8);
    }

    @FunctionalInterface
    private interface VaultCall {
        LogicalResponse run() throws VaultException;
    }

    private LogicalResponse write(KmsOperation op, String keyName, String relativePath, Map<String, Object> body) {
        LogicalResponse r = call(op, keyName, () -> vault.logical().write(mount() + "/" + relativePath, body));
        requireSuccess(op, keyName, r);
        return r;
    }

    /** Runs a request; exceptions from the driver (5xx, I/O) become typed failures. 4xx come back as responses. */
    private LogicalResponse call(KmsOperation op, String keyName, VaultCall c) {
        LogicalResponse r;
        try {
            r = c.run();
        } catch (VaultException e) {
            int status = e.getHttpStatusCode();
            if (status == 0 || status == 429 || status >= 500) {
                throw new KmsUnavailableException(
                        "Vault at " + settings.address() + " is unavailable for " + op + " of key '" + keyName + "'"
                                + (status == 0 ? "" : " (HTTP " + status + ")"),
                        e);
            }
            throw new KmsException("Vault refused " + op + " of key '" + keyName + "' (HTTP " + status + ")", e);
        }
        return r;
    }

    private void requireSuccess(KmsOperation op, String keyName, LogicalResponse r) {
        int status = r.getRestResponse().getStatus();
        if (status == 200 || status == 204) {
            return;
        }
        String errors = errors(r);
        String what = op + " of Vault Transit key '" + keyName + "' at " + settings.address() + ": HTTP " + status
                + (errors.isEmpty() ? "" : " " + errors);
        if (status == 403) {
            throw new KeyDeniedException("permission denied for " + what);
        }
        if (status == 404 || errors.contains("encryption key not found") || errors.contains("not found")) {
            throw new UnknownKeyException("no such key: " + what);
        }
        if (status == 429 || status >= 500) {
            throw new KmsUnavailableException("Vault unavailable: " + what);
        }
        if (errors.contains("disallowed by policy")) {
            throw new KeyDeniedException("key version restricted (min_decryption_version): " + what);
        }
        if (errors.contains("too new")) {
            throw new UnknownKeyException("key version unknown: " + what);
        }
        if (op == KmsOperation.UNWRAP && errors.contains("invalid ciphertext")) {
            throw new InvalidWrappedKeyException("wrapped DEK does not open: " + what);
        }
        throw new KmsException("Vault refused " + what);
    }

    /** Vault's {@code errors} array, joined; Vault never echoes request bodies there. */
    private static String errors(LogicalResponse r) {
        byte[] body = r.getRestResponse().getBody();
        if (body == null || body.length == 0) {
            return "";
        }
        try {
            JsonValue errors = Json.parse(new String(body, StandardCharsets.UTF_8))
                    .asObject()
                    .get("errors");
            if (errors == null || !errors.isArray()) {
                return "";
            }
            StringBuilder b = new StringBuilder();
            for (JsonValue e : errors.asArray()) {
                b.append(b.length() == 0 ? "" : "; ").append(e.isString() ? e.asString() : e.toString());
            }
            return b.length() > 300 ? b.substring(0, 300) + "..." : b.toString();
        } catch (RuntimeException e) {
            return "";
        }
    }

    private static int versionOf(String ciphertext, String keyName) {
        Matcher m = ciphertext == null ? null : CIPHERTEXT.matcher(ciphertext);
        if (m == null || !m.matches()) {
            throw new KmsException("Vault encrypt with key '" + keyName + "' returned no vault:vN: ciphertext");
        }
        return Integer.parseInt(m.group(1));
    }

    private static int intField(JsonObject data, String field, String keyName) {
        JsonValue v = data == null ? null : data.get(field);
        if (v == null || !v.isNumber()) {
            throw new KmsException("Vault key '" + keyName + "' description has no numeric " + field);
        }
        return v.asInt();
    }

    @Override
    public String toString() {
        return "VaultTransitKms[" + settings + "]";
    }

    /** Vault client settings. The token is held here and nowhere else; {@link #toString()} never shows it. */
    public static final class VaultSettings {
        private final String address;
        private final String token;
        private final @Nullable String namespace;
        private final String mount;
        private final java.nio.file.@Nullable Path caFile;
        private final Duration connectTimeout;
        private final Duration readTimeout;

        public VaultSettings(
                String address,
                String token,
                @Nullable String namespace,
                String mount,
                java.nio.file.@Nullable Path caFile,
                Duration connectTimeout,
                Duration readTimeout) {
            this.address = stripTrailingSlash(Objects.requireNonNull(address, "address"));
            if (!this.address.startsWith("http://") && !this.address.startsWith("https://")) {
                throw new IllegalArgumentException(
                        "kms.vault.address must start with http:// or https://, got: " + address);
            }
            if (token == null || token.isBlank()) {
                throw new IllegalArgumentException(
                        "the Vault token is empty; set kms.vault.token-env or kms.vault.token-file");
            }
            this.token = token.strip();
            this.namespace = namespace == null || namespace.isBlank() ? null : namespace;
            this.mount = mount == null || mount.isBlank() ? "transit" : stripTrailingSlash(mount);
            this.caFile = caFile;
            this.connectTimeout = Objects.requireNonNull(connectTimeout);
            this.readTimeout = Objects.requireNonNull(readTimeout);
        }

        private static String stripTrailingSlash(String s) {
            return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
        }

        public String address() {
            return address;
        }

        String token() {
            return token;
        }

        public @Nullable String namespace() {
            return namespace;
        }

        public String mount() {
            return mount;
        }

        public java.nio.file.@Nullable Path caFile() {
            return caFile;
        }

        public Duration connectTimeout() {
            return connectTimeout;
        }

        public Duration readTimeout() {
            return readTimeout;
        }

        @Override
        public String toString() {
            return "address=" + address + ", mount=" + mount + (namespace == null ? "" : ", namespace=" + namespace)
                    + (caFile == null ? "" : ", caFile=" + caFile) + ", token=<redacted>";
        }
    }
}
