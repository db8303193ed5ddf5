package io.embedseal.keyring.kms.vault;

import io.embedseal.keyring.kms.InvalidWrappedKeyException;
import io.embedseal.keyring.kms.KekKind;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KeyDescription;
import io.embedseal.keyring.kms.KeyState;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.keyring.kms.PublicKek;
import io.embedseal.keyring.kms.RsaKeyWrap;
import io.embedseal.keyring.kms.SigningKeys;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.keyring.kms.UnsupportedKmsOperationException;
import io.embedseal.keyring.kms.WrappedDek;
import io.github.jopenlibs.vault.SslConfig;
import io.github.jopenlibs.vault.Vault;
import io.github.jopenlibs.vault.VaultConfig;
import io.github.jopenlibs.vault.VaultException;
import io.github.jopenlibs.vault.api.Logical;
import io.github.jopenlibs.vault.json.Json;
import io.github.jopenlibs.vault.json.JsonObject;
import io.github.jopenlibs.vault.json.JsonValue;
import io.github.jopenlibs.vault.response.LogicalResponse;
import io.github.jopenlibs.vault.rest.RestResponse;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HashiCorp Vault's Transit secrets engine as a KMS. KEKs are Transit keys of type {@code aes256-gcm96}; a
 * DEK is wrapped by {@code encrypt/<key>} with {@code associated_data} (so Vault's AES-GCM binds it to the
 * tenant and DEK id) and unwrapped by {@code decrypt/<key>}. The wrapped DEK is Vault's ciphertext string,
 * {@code vault:v<N>:<base64>}; its version must match the KEK reference it is stored with.
 *
 * <p>Vault's answers map to the typed failures (docs/key-management.md has the table): a 403 of the policy to
 * {@link KeyDeniedException}, a 403 for a dead token (expired, revoked) to {@link KmsUnavailableException} (see
 * {@link #send}); 404 and "key not found" to {@link UnknownKeyException}, but "no handler for route" (nothing
 * mounted there) to {@link KmsUnavailableException}; 400 "disallowed by policy (too old)" (a version below
 * {@code min_decryption_version}) to {@link KeyDeniedException}; 400 "invalid ciphertext" and "message
 * authentication failed" on decrypt to {@link InvalidWrappedKeyException}; 429, 5xx (503 when sealed), connection
 * failures, timeouts and unreadable answers to {@link KmsUnavailableException}.
 *
 * <p>Transit cannot disable a key: revocation in Vault is a policy change (the key's owner removes the pipeline's
 * grant on the key's paths), which embedseal observes as a 403 of the policy. Revoking embedseal's token is not a
 * revocation of a tenant: it stops every tenant, as an outage. {@link #disable} and {@link #enable} therefore
 * throw {@link UnsupportedKmsOperationException}. {@link #destroy} sets {@code deletion_allowed} and deletes the
 * key. One HTTP client is shared by every request; the token is never logged or shown.
 *
 * <p><b>Public-key KEKs</b> ({@link KekKind#PUBLIC_KEY}) are Transit keys of type {@code rsa-3072} (an existing
 * {@code rsa-2048} or {@code rsa-4096} key serves too): {@link #publicKek} reads a version's public key from
 * {@code keys/<key>}, data keys are wrapped with it outside Vault ({@link RsaKeyWrap}: RSA-OAEP-SHA256 of a one-use key,
 * AES-GCM of the DEK under the associated data, as Transit's RSA decryption takes no associated data; {@link #wrapDek}
 * refuses such a key: sealers wrap with the public key pinned in the tenant's key events), and
 * {@link #unwrapDek} sends only the RSA part to {@code decrypt/<key>} as {@code vault:v<N>:<base64>}: the private key
 * never leaves Vault, and a wrap opened under another tenant's or DEK's associated data fails its tag here.
 *
 * <p>{@link #signingKeys} signs with Transit's asymmetric keys in the same mount ({@code ed25519}, or an existing
 * {@code ecdsa-p256}): {@code keys/<key>} for the public key, {@code sign/<key>} for a signature, with the same
 * failure mapping.
 */
public final class VaultTransitKms implements KmsProvider {

    /** The provider name under which this KMS is configured and which appears in its KEK references. */
    public static final String PROVIDER = "vault";

    private static final Logger LOG = LoggerFactory.getLogger(VaultTransitKms.class);

    /** Transit's {@code vault:v<N>:<base64>}: its ciphertexts and its signatures. */
    private static final Pattern CIPHERTEXT = Pattern.compile("vault:v(\\d{1,9}):([A-Za-z0-9+/=]+)");
    /** How failures name a signing ({@link KmsOperation} has no such operation: it is not a data-key use). */
    private static final String SIGN = "SIGN";
    /** The Transit key type new signing keys get. */
    private static final String ED25519 = "ed25519";
    /** The other Transit key type used for signing (SHA-256, DER signatures), e.g. where Ed25519 is not allowed. */
    private static final String ECDSA_P256 = "ecdsa-p256";
    /** An Ed25519 SubjectPublicKeyInfo (RFC 8410) in DER up to the raw key: SEQUENCE, algorithm, BIT STRING. */
    private static final byte[] ED25519_SPKI_PREFIX = {
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00
    };

    /** The Transit key type of new public-key KEKs. */
    static final String RSA_KEK_TYPE = "rsa-3072";
    /** How Transit refuses associated data for an RSA key (the sign that a wrap met a public-key KEK). */
    private static final String NON_AEAD_RSA = "non-AEAD cipher suite rsa-";

    private static final Set<KmsOperation> SUPPORTED =
            EnumSet.complementOf(EnumSet.of(KmsOperation.DISABLE, KmsOperation.ENABLE));

    private final VaultSettings settings;
    /** One HTTP client for every request and every token (the driver builds one per request otherwise). */
    private final HttpClient http;

    private final @Nullable SslConfig ssl;
    /** The token in use and the driver client that sends it; replaced whole when the token file changes. */
    private volatile Session session;
    /** Runs each request, so that a deadline bounds the whole exchange (see {@link #call}). */
    private final ExecutorService requests;

    private final Duration deadline;
    /** Renews the token when due (see {@link #renewIfDue}); null when renewal is off. */
    private final @Nullable ScheduledExecutorService renewer;

    public VaultTransitKms(VaultSettings settings) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.deadline = settings.connectTimeout().plus(settings.readTimeout());
        HttpClient.Builder http =
                HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(settings.connectTimeout());
        try {
            if (settings.caFile() != null) {
                this.ssl = new SslConfig().pemFile(settings.caFile().toFile()).build();
                http.sslContext(ssl.getSslContext());
            } else {
                this.ssl = null;
            }
            this.http = http.build();
            this.session = newSession(settings.token());
        } catch (VaultException e) {
            throw new KmsException("cannot configure the Vault client for " + settings.address(), e);
        }
        this.requests = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "vault-request");
            t.setDaemon(true);
            return t;
        });
        long every = settings.tokenRenewCheck().toMillis();
        if (every > 0) {
            this.renewer = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "vault-token-renewal");
                t.setDaemon(true);
                return t;
            });
            // renewIfDue catches everything: the schedule never ends by an exception, so its future is not needed.
            var unused = renewer.scheduleWithFixedDelay(this::renewIfDue, every, every, TimeUnit.MILLISECONDS);
        } else {
            this.renewer = null;
        }
    }

    /**
     * Looks the token up and renews it ({@code auth/token/renew-self}) once less than half of its TTL (or period)
     * is left. Root tokens and tokens that are not renewable are left alone; failures are logged (never the token)
     * and tried again at the next check.
     */
    void renewIfDue() {
        try {
            Session s = session;
            long deadlineNanos = System.nanoTime() + deadline.toNanos();
            LogicalResponse r = call(
                    KmsOperation.DESCRIBE.name(),
                    "(token renewal)",
                    s,
                    v -> v.logical().read("auth/token/lookup-self"),
                    deadlineNanos);
            if (status(r) != 200) {
                LOG.warn("Vault token lookup at {} answered HTTP {}: not renewed", settings.address(), status(r));
                return;
            }
            JsonObject d = r.getDataObject();
            if (d == null || !d.getBoolean("renewable", false)) {
                return;
            }
            long ttl = d.getLong("ttl", 0);
            long full = d.getLong("period", 0) > 0 ? d.getLong("period", 0) : d.getLong("creation_ttl", 0);
            if (ttl <= 0 || ttl * 2 > full) {
                return;
            }
            LogicalResponse renewed = call(
                    KmsOperation.DESCRIBE.name(),
                    "(token renewal)",
                    s,
                    v -> v.logical().write("auth/token/renew-self", Map.of()),
                    deadlineNanos);
            if (status(renewed) == 200) {
                LOG.info("renewed the Vault token at {} ({} s were left)", settings.address(), ttl);
            } else {
                LOG.warn(
                        "Vault refused to renew the token at {}: HTTP {} {}",
                        settings.address(),
                        status(renewed),
                        errors(renewed));
            }
        } catch (RuntimeException e) {
            LOG.warn("Vault token renewal at {} failed: {}", settings.address(), e.getMessage());
        }
    }

    /**
     * A token and a driver client that sends exactly that token. Never changed: a request, its 403 and the lookup of
     * its token all use one session, so a token swapped by another thread cannot make a dead token look valid.
     */
    private record Session(String token, Vault vault) {
        @Override
        public String toString() {
            return "Session[token=<redacted>]";
        }
    }

    private Session newSession(String token) throws VaultException {
        VaultConfig config = new VaultConfig();
        if (ssl != null) {
            config.sslConfig(ssl);
        }
        config.address(settings.address())
                .token(token)
                .engineVersion(1) // Transit is not KV v2: the default would rewrite paths to <mount>/data/...
                .readTimeout(Math.toIntExact(Math.max(1, settings.readTimeout().toSeconds())))
                .openTimeout(
                        Math.toIntExact(Math.max(1, settings.connectTimeout().toSeconds())))
                .httpClient(http);
        if (settings.namespace() != null) {
            config.nameSpace(settings.namespace());
        }
        return new Session(token, Vault.create(config.build()));
    }

    @Override
    public String provider() {
        return PROVIDER;
    }

    /**
     * {@inheritDoc}
     *
     * <p>The DEK goes to Vault as base64 bytes in a request body built as bytes, and the body is zeroed once the
     * exchange is over: it never becomes a {@link String} (the driver's JSON is made of Strings, so this request and
     * {@link #unwrapDek}'s are sent by this class itself, over the same HTTP client). The JDK's HTTP and TLS layers
     * copy the body into buffers of their own, which this class cannot zero.
     */
    @Override
    public WrappedDek wrapDek(String keyName, byte[] dek, byte[] associatedData) {
        byte[] plaintext = Base64.getEncoder().encode(dek);
        byte[] body;
        try {
            body = VaultJson.object(
                    new String[] {"plaintext", "associated_data"},
                    new byte[][] {plaintext, Base64.getEncoder().encode(associatedData)});
        } finally {
            Arrays.fill(plaintext, (byte) 0);
        }
        Answer a;
        try {
            a = post(KmsOperation.WRAP, keyName, "encrypt/" + path(keyName), body);
        } catch (KmsException e) {
            // Transit refuses associated data for RSA keys: a public-key KEK, which is never wrapped under by the KMS.
            if (e.getClass() == KmsException.class
                    && String.valueOf(e.getMessage()).contains(NON_AEAD_RSA)) {
                throw new KmsException(
                        "key '" + keyName
                                + "' is a public-key KEK: data keys are wrapped with the public key pinned in the tenant's "
                                + "signed key events (the keyring does it, without the KMS), never by the KMS",
                        e);
            }
            throw e;
        } finally {
            Arrays.fill(body, (byte) 0);
        }
        int[] at = member(a, KmsOperation.WRAP, keyName, "ciphertext");
        if (at == null) {
            throw new KmsUnavailableException("Vault at " + settings.address() + " answered the wrap under key '"
                    + keyName + "' without a ciphertext (a proxy in between, or a server in trouble?)");
        }
        String ciphertext = new String(a.body(), at[0], at[1] - at[0], StandardCharsets.US_ASCII);
        int version = versionOf(ciphertext, keyName);
        return new WrappedDek(new KekRef(PROVIDER, keyName, version), ciphertext.getBytes(StandardCharsets.US_ASCII));
    }

    /**
     * {@inheritDoc}
     *
     * <p>Vault's answer carries the DEK in base64; it is read from the answer's bytes and decoded into the returned
     * array, and the answer and the base64 copy are zeroed: the DEK never becomes a {@link String}.
     */
    @Override
    public byte[] unwrapDek(KekRef kek, byte[] wrappedDek, byte[] associatedData) {
        if (!PROVIDER.equals(kek.provider())) {
            throw new UnknownKeyException(
                    "KEK " + kek + " belongs to KMS provider '" + kek.provider() + "', not to '" + PROVIDER + "'");
        }
        if (PublicKek.isPublicKeyWrap(wrappedDek)) {
            return RsaKeyWrap.unwrap(wrappedDek, associatedData, c1 -> rsaDecrypt(kek, c1));
        }
        // The wrapped DEK is not secret: a String of it is fine.
        String ciphertext = new String(wrappedDek, StandardCharsets.US_ASCII);
        Matcher m = CIPHERTEXT.matcher(ciphertext);
        if (!m.matches()) {
            throw new InvalidWrappedKeyException("wrapped DEK under " + kek + " is not a Vault Transit ciphertext");
        }
        if (Integer.parseInt(m.group(1)) != kek.version()) {
            throw new InvalidWrappedKeyException(
                    "wrapped DEK names Vault key version " + m.group(1) + " but is stored under " + kek);
        }
        byte[] body = VaultJson.object(new String[] {"ciphertext", "associated_data"}, new byte[][] {
            ciphertext.getBytes(StandardCharsets.US_ASCII), Base64.getEncoder().encode(associatedData)
        });
        return decrypt(kek, body);
    }

    /**
     * The private-key step of a public-key wrap: Transit's RSA-OAEP-SHA256 decryption of {@code c1} under the KEK's
     * version (no associated data: Transit takes none for RSA; {@link RsaKeyWrap} checks it).
     */
    private byte[] rsaDecrypt(KekRef kek, byte[] c1) {
        String ciphertext =
                "vault:v" + kek.version() + ":" + Base64.getEncoder().encodeToString(c1);
        return decrypt(kek, VaultJson.object(new String[] {"ciphertext"}, new byte[][] {
            ciphertext.getBytes(StandardCharsets.US_ASCII)
        }));
    }

    /** {@code decrypt/<key>} with a prepared body; the plaintext is decoded from the answer's bytes. */
    private byte[] decrypt(KekRef kek, byte[] body) {
        Answer a = post(KmsOperation.UNWRAP, kek.keyName(), "decrypt/" + path(kek.keyName()), body);
        try {
            int[] at = member(a, KmsOperation.UNWRAP, kek.keyName(), "plaintext");
            if (at == null) {
                throw new KmsUnavailableException("Vault at " + settings.address() + " answered the unwrap under " + kek
                        + " without a plaintext (a proxy in between, or a server in trouble?)");
            }
            byte[] base64 = Arrays.copyOfRange(a.body(), at[0], at[1]);
            try {
                return Base64.getDecoder().decode(base64);
            } catch (IllegalArgumentException e) {
                throw new KmsUnavailableException("Vault at " + settings.address() + " answered the unwrap under " + kek
                        + " with a plaintext that is not base64 (a proxy in between, or a server in trouble?)");
            } finally {
                Arrays.fill(base64, (byte) 0);
            }
        } finally {
            Arrays.fill(a.body(), (byte) 0);
        }
    }

    /** Where {@code data.<field>} of a successful answer lies; an answer that is not JSON is an outage. */
    private int @Nullable [] member(Answer a, KmsOperation op, String keyName, String field) {
        try {
            return VaultJson.stringMember(a.body(), "data", field);
        } catch (IllegalArgumentException e) {
            throw new KmsUnavailableException(
                    "Vault at " + settings.address() + " gave an answer to " + op + " of key '" + keyName
                            + "' that cannot be read (" + e.getMessage() + ")",
                    e);
        }
    }

    /**
     * POSTs a JSON body built as bytes to {@code <mount>/<relativePath>} through {@link #send} (deadline, token
     * handling, failure mapping), with the headers the driver sends, and keeps the answer as bytes.
     */
    private Answer post(KmsOperation op, String keyName, String relativePath, byte[] body) {
        URI uri = URI.create(settings.address() + "/v1/" + mount() + "/" + relativePath);
        return send(
                op.name(),
                keyName,
                s -> {
                    HttpRequest.Builder request = HttpRequest.newBuilder(uri)
                            .timeout(settings.readTimeout())
                            .header("X-Vault-Token", s.token())
                            .header("X-Vault-Request", "true")
                            .header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofByteArray(body));
                    if (settings.namespace() != null) {
                        request.header("X-Vault-Namespace", settings.namespace());
                    }
                    HttpRequest built = request.build();
                    HttpResponse<byte[]> r;
                    try {
                        r = http.send(built, HttpResponse.BodyHandlers.ofByteArray());
                    } catch (IOException e) {
                        if (e instanceof HttpTimeoutException || e instanceof ConnectException) {
                            throw e;
                        }
                        // The connection broke before a full answer: most often a keep-alive connection the server
                        // closed as idle just as it was reused (the JDK's client retries only GETs on its own).
                        // encrypt and decrypt change nothing in Vault, so once more on a new connection, within
                        // the same deadline, is safe; a second failure is the outage it looks like.
                        if (Thread.currentThread().isInterrupted()) {
                            throw e; // the caller's deadline passed: no second request
                        }
                        try {
                            r = http.send(built, HttpResponse.BodyHandlers.ofByteArray());
                        } catch (IOException again) {
                            again.addSuppressed(e);
                            throw again;
                        }
                        LOG.debug(
                                "Vault at {}: {} of key '{}' answered on a second connection",
                                settings.address(),
                                op,
                                keyName);
                    }
                    return new Answer(r.statusCode(), r.body() == null ? new byte[0] : r.body());
                },
                RAW);
    }

    @Override
    public KeyDescription describe(String keyName) {
        LogicalResponse r =
                send(KmsOperation.DESCRIBE, keyName, v -> v.logical().read(mount() + "/keys/" + path(keyName)));
        JsonObject data = r.getDataObject();
        int latest = intField(data, "latest_version", keyName);
        int minDecryption = Math.max(1, intField(data, "min_decryption_version", keyName));
        return new KeyDescription(PROVIDER, keyName, latest, Math.min(minDecryption, latest), KeyState.ENABLED);
    }

    @Override
    public KekRef createKek(String keyName) {
        return createKek(keyName, KekKind.SYMMETRIC);
    }

    /** {@code aes256-gcm96} for a symmetric KEK, {@code rsa-3072} for a public-key one. */
    @Override
    public KekRef createKek(String keyName, KekKind kind) {
        write(
                KmsOperation.CREATE,
                keyName,
                "keys/" + path(keyName),
                Map.of("type", kind == KekKind.PUBLIC_KEY ? RSA_KEK_TYPE : "aes256-gcm96"));
        return describe(keyName).current();
    }

    /**
     * The public key of an RSA KEK's version, from {@code GET <mount>/keys/<name>} ({@code keys.<N>.public_key}, PEM);
     * null for an {@code aes256-gcm96} or other symmetric key.
     */
    @Override
    public @Nullable PublicKek publicKek(String keyName, int version) {
        JsonObject key = readKey(keyName);
        JsonValue type = key.get("type");
        if (type == null || !type.isString()) {
            throw unreadable(keyName, "a key description without a type", null);
        }
        String t = type.asString();
        if (ED25519.equals(t) || t.startsWith("ecdsa-")) {
            throw new KmsException("Vault Transit key '" + keyName + "' is a signing key (" + t + "), not a KEK");
        }
        if (!t.startsWith("rsa-")) {
            return null;
        }
        int latest = intField(key, "latest_version", keyName);
        if (version < 1 || version > latest) {
            throw new UnknownKeyException(
                    "Vault Transit key '" + keyName + "' has no version " + version + " (latest is " + latest + ")");
        }
        JsonValue versions = key.get("keys");
        JsonValue entry =
                versions != null && versions.isObject() ? versions.asObject().get(String.valueOf(version)) : null;
        JsonValue published =
                entry != null && entry.isObject() ? entry.asObject().get("public_key") : null;
        if (published == null || !published.isString()) {
            throw new UnknownKeyException("Vault Transit key '" + keyName + "' has no public key for version " + version
                    + " (trimmed, or not readable by this token)");
        }
        try {
            return PublicKek.of(new KekRef(PROVIDER, keyName, version), pemToDer(published.asString()));
        } catch (IllegalArgumentException e) {
            throw unreadable(keyName, "a public_key that cannot be read (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Transit's BYOK import ({@link TransitKeyImport}): the transport key is {@code <mount>/wrapping_key} (RSA-4096),
     * the material goes to {@code <mount>/keys/<key>/import}.
     */
    @Override
    public Optional<io.embedseal.keyring.kms.KeyImport> keyImport() {
        return Optional.of(new TransitKeyImport());
    }

    /**
     * Key import into Transit (OpenBao and Vault 1.11+): the key material wrapped with RSA-OAEP-SHA256 under the mount's
     * wrapping key and AES-KWP, as {@code keys/<key>/import} takes it ({@code hash_function=SHA256}); the key is created
     * not exportable, without plaintext backup, and Transit will not rotate it itself ({@code allow_rotation} false): a
     * new version is new material from the tenant ({@code import_version}). The tenant's key check is a Transit
     * ciphertext of that version as it is ({@code vault:v<N>:} and the check in base64).
     */
    private final class TransitKeyImport implements io.embedseal.keyring.kms.KeyImport {

        @Override
        public io.embedseal.keyring.kms.ImportParameters parameters(String keyName, KekKind kind) {
            LogicalResponse r =
                    send(KmsOperation.DESCRIBE.name(), keyName, v -> v.logical().read(mount() + "/wrapping_key"));
            JsonObject data = r.getDataObject();
            JsonValue pem = data == null ? null : data.get("public_key");
            if (pem == null || !pem.isString()) {
                throw unreadable(keyName, "a wrapping key without a public_key", null);
            }
            byte[] spki;
            try {
                spki = pemToDer(pem.asString());
            } catch (IllegalArgumentException e) {
                throw unreadable(keyName, "a wrapping key that is not a PEM public key", e);
            }
            return new io.embedseal.keyring.kms.ImportParameters(
                    PROVIDER,
                    keyName,
                    kind,
                    io.embedseal.keyring.kms.ImportParameters.Wrapping.RSA_OAEP_SHA256_AES_KWP,
                    spki,
                    kind == KekKind.PUBLIC_KEY
                            ? io.embedseal.keyring.kms.ImportParameters.Material.RSA_3072_PKCS8
                            : io.embedseal.keyring.kms.ImportParameters.Material.AES_256_RAW);
        }

        @Override
        public KekRef importKek(String keyName, KekKind kind, byte[] wrapped) {
            try {
                KeyDescription existing = describe(keyName);
                throw new KmsException("Vault Transit already has a key '" + keyName + "' (version "
                        + existing.latestVersion() + "); an import never replaces a key: choose another name");
            } catch (UnknownKeyException expected) {
                // the name is free
            }
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("ciphertext", Base64.getEncoder().encodeToString(wrapped));
            body.put("type", kind == KekKind.PUBLIC_KEY ? RSA_KEK_TYPE : "aes256-gcm96");
            body.put("hash_function", "SHA256");
            body.put("exportable", false);
            body.put("allow_plaintext_backup", false);
            body.put("allow_rotation", false);
            write(KmsOperation.CREATE, keyName, "keys/" + path(keyName) + "/import", body);
            return describe(keyName).current();
        }

        /** Transit's own account of the key: {@code imported_key}, one version, not exportable, no plaintext backup. */
        @Override
        public void requireImportedOnly(String keyName) {
            JsonObject key = readKey(keyName);
            int latest = intField(key, "latest_version", keyName);
            JsonValue imported = key.get("imported_key");
            JsonValue exportable = key.get("exportable");
            JsonValue backup = key.get("allow_plaintext_backup");
            if (imported == null || !imported.isBoolean() || !imported.asBoolean()) {
                throw new KmsException("Vault Transit key '" + keyName + "' was not imported (Transit made it)");
            }
            if (latest != 1) {
                throw new KmsException("Vault Transit key '" + keyName + "' has " + latest
                        + " versions; only version 1 is the tenant's proven import");
            }
            if ((exportable != null && exportable.isBoolean() && exportable.asBoolean())
                    || (backup != null && backup.isBoolean() && backup.asBoolean())) {
                throw new KmsException(
                        "Vault Transit key '" + keyName + "' is exportable or allows a plaintext backup");
            }
        }

        /** {@code vault:v<N>:<base64>}: Transit's ciphertext form is the nonce, the ciphertext and the tag. */
        @Override
        public byte[] checkAsWrappedDek(KekRef kek, byte[] check) {
            return ("vault:v" + kek.version() + ":" + Base64.getEncoder().encodeToString(check))
                    .getBytes(StandardCharsets.US_ASCII);
        }

        @Override
        public String toString() {
            return "VaultTransitKms.keyImport[" + settings + "]";
        }
    }

    /** The DER inside a PEM {@code PUBLIC KEY} block. */
    private static byte[] pemToDer(String text) {
        String pem = text.strip();
        if (!pem.startsWith("-----BEGIN PUBLIC KEY-----") || !pem.endsWith("-----END PUBLIC KEY-----")) {
            throw new IllegalArgumentException("not a PEM public key");
        }
        String body = pem.substring(
                        "-----BEGIN PUBLIC KEY-----".length(), pem.length() - "-----END PUBLIC KEY-----".length())
                .replaceAll("\\s", "");
        return Base64.getDecoder().decode(body);
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
        send(KmsOperation.DESTROY, keyName, v -> v.logical().delete(mount() + "/keys/" + path(keyName)));
    }

    @Override
    public Set<KmsOperation> supportedOperations() {
        return SUPPORTED;
    }

    /** Transit's asymmetric keys in the same mount, under the same token (see {@link TransitSigningKeys}). */
    @Override
    public Optional<SigningKeys> signingKeys() {
        return Optional.of(new TransitSigningKeys());
    }

    /**
     * Signing keys as Transit keys of type {@code ed25519} ({@code ecdsa-p256} keys made otherwise are used too),
     * sent with the same session, deadline and failure mapping as the data-key requests ({@link #send}). A key of
     * another type is refused with a {@link KmsException} naming its type. {@link #sign} reads the key first, as
     * its type decides the request: a signer needs {@code read} on {@code <mount>/keys/<name>} beside {@code
     * update} on {@code <mount>/sign/<name>}. Neither the message nor the signature appears in a failure.
     */
    private final class TransitSigningKeys implements SigningKeys {

        @Override
        public String provider() {
            return PROVIDER;
        }

        /** {@code POST <mount>/keys/<name>} with type ed25519; Transit leaves an existing key as it is. */
        @Override
        public void createSigningKey(String keyName) {
            requireSigningKeyName(keyName);
            // An existing key is read first, so that a token that may read and use a key but not create one (a
            // tenant's authority token, a pipeline's audit key) gets "exists" rather than a refused create.
            try {
                signingType(keyName, readKey(keyName));
                return;
            } catch (UnknownKeyException | KeyDeniedException e) {
                // missing, or not readable by this token: ask to create it (which says which)
            }
            LogicalResponse r = write(KmsOperation.CREATE, keyName, "keys/" + path(keyName), Map.of("type", ED25519));
            // Transit answers with the key, new or existing (older Vaults: 204 without a body, so it is read).
            JsonObject answered = r.getDataObject();
            signingType(keyName, answered != null && answered.get("type") != null ? answered : readKey(keyName));
        }

        /** The public key of {@code latest_version}, from {@code GET <mount>/keys/<name>}. */
        @Override
        public PublicKey publicKey(String keyName) {
            requireSigningKeyName(keyName);
            JsonObject key = readKey(keyName);
            String type = signingType(keyName, key);
            int latest = intField(key, "latest_version", keyName);
            JsonValue versions = key.get("keys");
            JsonValue version = versions != null && versions.isObject()
                    ? versions.asObject().get(String.valueOf(latest))
                    : null;
            JsonValue published =
                    version != null && version.isObject() ? version.asObject().get("public_key") : null;
            if (published == null || !published.isString()) {
                throw unreadable(keyName, "no public_key for its latest version " + latest, null);
            }
            try {
                if (ED25519.equals(type)) {
                    byte[] raw = Base64.getDecoder().decode(published.asString());
                    if (raw.length != 32) {
                        throw unreadable(keyName, "an Ed25519 public_key of " + raw.length + " bytes", null);
                    }
                    byte[] spki = Arrays.copyOf(ED25519_SPKI_PREFIX, ED25519_SPKI_PREFIX.length + raw.length);
                    System.arraycopy(raw, 0, spki, ED25519_SPKI_PREFIX.length, raw.length);
                    return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(spki));
                }
                String pem = published.asString().strip();
                if (!pem.startsWith("-----BEGIN PUBLIC KEY-----") || !pem.endsWith("-----END PUBLIC KEY-----")) {
                    throw unreadable(keyName, "an ECDSA public_key that is not a PEM public key", null);
                }
                String body = pem.substring(
                                "-----BEGIN PUBLIC KEY-----".length(),
                                pem.length() - "-----END PUBLIC KEY-----".length())
                        .replaceAll("\\s", "");
                return KeyFactory.getInstance("EC")
                        .generatePublic(
                                new X509EncodedKeySpec(Base64.getDecoder().decode(body)));
            } catch (IllegalArgumentException | GeneralSecurityException e) {
                throw unreadable(
                        keyName,
                        "a public_key that cannot be read (" + e.getClass().getSimpleName() + ")",
                        e);
            }
        }

        /**
         * {@code POST <mount>/sign/<name>} with the message as {@code input} (ECDSA: SHA-256, ASN.1), after reading
         * the key's type. Vault's {@code vault:v<N>:<base64>} becomes the signature's bytes.
         */
        @Override
        public byte[] sign(String keyName, byte[] message) {
            requireSigningKeyName(keyName);
            Objects.requireNonNull(message, "message");
            String type = signingType(keyName, readKey(keyName));
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("input", Base64.getEncoder().encodeToString(message));
            if (ECDSA_P256.equals(type)) {
                body.put("hash_algorithm", "sha2-256");
                body.put("marshaling_algorithm", "asn1");
            }
            String signature = write(SIGN, keyName, "sign/" + path(keyName), body)
                    .getData()
                    .get("signature");
            Matcher m = signature == null ? null : CIPHERTEXT.matcher(signature);
            if (m == null || !m.matches()) {
                throw unreadable(keyName, "a signing answer without a vault:vN: signature", null);
            }
            byte[] bytes;
            try {
                bytes = Base64.getDecoder().decode(m.group(2));
            } catch (IllegalArgumentException e) {
                throw unreadable(keyName, "a signature that is not base64", e);
            }
            if (ED25519.equals(type) && bytes.length != 64) {
                throw unreadable(keyName, "an Ed25519 signature of " + bytes.length + " bytes, not 64", null);
            }
            return bytes;
        }

        @Override
        public String toString() {
            return "VaultTransitKms.signingKeys[" + settings + "]";
        }
    }

    /** {@code GET <mount>/keys/<name>}: the key's description (types, versions, public keys; no private key). */
    private JsonObject readKey(String keyName) {
        JsonObject data = send(
                        KmsOperation.DESCRIBE, keyName, v -> v.logical().read(mount() + "/keys/" + path(keyName)))
                .getDataObject();
        if (data == null) {
            throw unreadable(keyName, "a key description without data", null);
        }
        return data;
    }

    /** The key's type if it is one this provider signs with; else a {@link KmsException} naming it. */
    private String signingType(String keyName, JsonObject key) {
        JsonValue type = key.get("type");
        if (type == null || !type.isString()) {
            throw unreadable(keyName, "a key description without a type", null);
        }
        String t = type.asString();
        if (!ED25519.equals(t) && !ECDSA_P256.equals(t)) {
            throw new KmsException("Vault Transit key '" + keyName + "' at " + settings.address() + " is of type " + t
                    + ", not a signing key (the vault provider signs with " + ED25519 + " or " + ECDSA_P256
                    + " keys): name another key, or create one with createSigningKey");
        }
        return t;
    }

    private KmsUnavailableException unreadable(String keyName, String what, @Nullable Throwable cause) {
        String message = "Vault at " + settings.address() + " gave " + what + " for key '" + keyName
                + "' (a proxy in between, or a server in trouble?)";
        return cause == null ? new KmsUnavailableException(message) : new KmsUnavailableException(message, cause);
    }

    /** Signing key names follow the rule for KEK names ({@link KekRef}: printable ASCII, no spaces, 1-200). */
    private static void requireSigningKeyName(String keyName) {
        try {
            var unused = new KekRef(PROVIDER, keyName, 1);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("invalid signing key name: " + e.getMessage(), e);
        }
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
        LogicalResponse run(Vault vault) throws VaultException;
    }

    /** One exchange with Vault under a session's token: through the driver, or sent by this class itself. */
    @FunctionalInterface
    private interface Exchange<T> {
        T run(Session s) throws Exception;
    }

    /** An answer as status and body bytes: what failures are judged by, and how {@link #post} keeps a DEK. */
    private record Answer(int status, byte[] body) {
        static Answer of(LogicalResponse r) {
            byte[] body = r.getRestResponse().getBody();
            return new Answer(r.getRestResponse().getStatus(), body == null ? new byte[0] : body);
        }
    }

    /**
     * How {@link #send} and {@link #call} read the two kinds of exchange: its answer, and what a 4xx the driver threw
     * becomes.
     */
    private record Shape<T>(Function<T, Answer> answer, Function<LogicalResponse, T> fromDriver) {}

    private static final Shape<LogicalResponse> DRIVER = new Shape<>(Answer::of, r -> r);
    private static final Shape<Answer> RAW = new Shape<>(a -> a, Answer::of);

    private LogicalResponse write(KmsOperation op, String keyName, String relativePath, Map<String, Object> body) {
        return write(op.name(), keyName, relativePath, body);
    }

    /** As {@link #write(KmsOperation, String, String, Map)}, for an operation named as messages show it. */
    private LogicalResponse write(String op, String keyName, String relativePath, Map<String, Object> body) {
        return send(op, keyName, v -> v.logical().write(mount() + "/" + relativePath, body));
    }

    private LogicalResponse send(KmsOperation op, String keyName, VaultCall c) {
        return send(op.name(), keyName, c);
    }

    private LogicalResponse send(String op, String keyName, VaultCall c) {
        return send(op, keyName, s -> c.run(s.vault()), DRIVER);
    }

    /**
     * Runs a request under one deadline (connect plus read timeout) and requires success.
     *
     * <p>A 403 is Vault's answer both to a policy that does not grant the path (the tenant's revocation, or least
     * privilege) and to a token that is no longer valid (expired, revoked). The first is the tenant's decision; the
     * second is this client's credential problem and must not look like a revocation of every tenant. So on a 403:
     * if another thread has meanwhile switched to a new token, the request is retried with it; else the token file
     * (when configured) is read again, as Vault Agent rewrites it, and the request retried with a new token. A 403
     * that remains is a denial when Vault says the policy refused it (its ACL check answers {@code 1 error
     * occurred: * permission denied}); a bare {@code permission denied} is what Vault answers for a token it does not
     * know, and is confirmed with {@code auth/token/lookup-self} on the same token: refused there too, the token is
     * dead and the failure is {@link KmsUnavailableException} naming the token setting.
     *
     * @param op the operation as failures name it: a {@link KmsOperation}'s name, or {@value #SIGN}
     */
    private <T> T send(String op, String keyName, Exchange<T> c, Shape<T> shape) {
        long deadlineNanos = System.nanoTime() + deadline.toNanos();
        Session s = session;
        T r = call(op, keyName, s, c, shape, deadlineNanos);
        if (shape.answer().apply(r).status() == 403) {
            Session fresh = freshSession(s);
            if (fresh != null) {
                s = fresh;
                r = call(op, keyName, s, c, shape, deadlineNanos);
            }
        }
        Answer a = shape.answer().apply(r);
        if (a.status() == 403 && !refusedByPolicy(a) && !tokenValid(op, keyName, s, deadlineNanos)) {
            throw new KmsUnavailableException("Vault at " + settings.address() + " does not accept this client's token"
                    + " (expired or revoked) for " + op + " of key '" + keyName + "': give it a valid token in "
                    + settings.tokenSource() + "; until then no tenant's key can be used");
        }
        requireSuccess(op, keyName, a);
        return r;
    }

    private static int status(LogicalResponse r) {
        return r.getRestResponse().getStatus();
    }

    /**
     * A session with another token than {@code stale}'s: one another thread already switched to, or one made from
     * the token file if it now holds another token. Null when there is none.
     */
    private synchronized @Nullable Session freshSession(Session stale) {
        Session current = session;
        if (current != stale) {
            return current;
        }
        Path file = settings.tokenFile();
        if (file == null) {
            return null;
        }
        String token;
        try {
            token = Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            return null;
        }
        if (token.isEmpty() || token.equals(stale.token())) {
            return null;
        }
        try {
            Session fresh = newSession(token);
            session = fresh;
            return fresh;
        } catch (VaultException e) {
            return null;
        }
    }

    /** Whether the 403 came from the ACL check of a valid token (Vault wraps those in a multi-error). */
    private static boolean refusedByPolicy(Answer a) {
        return errors(a).contains("error occurred");
    }

    /**
     * Whether Vault still accepts the session's token: {@code auth/token/lookup-self} answers 200, or refuses by
     * policy (a valid token without that grant). A bare 403 there too: the token is dead.
     */
    private boolean tokenValid(String op, String keyName, Session s, long deadlineNanos) {
        LogicalResponse r = call(op, keyName, s, v -> v.logical().read("auth/token/lookup-self"), deadlineNanos);
        int status = status(r);
        if (status == 429 || status >= 500) {
            throw new KmsUnavailableException("Vault at " + settings.address() + " is unavailable (HTTP " + status
                    + ") for " + op + " of key '" + keyName + "'");
        }
        return status == 200 || refusedByPolicy(Answer.of(r));
    }

    /**
     * Runs one request on {@link #requests} and waits until the deadline. The driver's read timeout bounds the
     * wait for the status line only, so a server (or a proxy) that hangs mid-body would otherwise hold the caller
     * forever; past the deadline the exchange is interrupted (the JDK's HTTP client then cancels it). Driver
     * exceptions become typed failures; a 4xx the driver throws (its delete does) comes back as a response.
     */
    private LogicalResponse call(String op, String keyName, Session s, VaultCall c, long deadlineNanos) {
        return call(op, keyName, s, x -> c.run(x.vault()), DRIVER, deadlineNanos);
    }

    private <T> T call(String op, String keyName, Session s, Exchange<T> c, Shape<T> shape, long deadlineNanos) {
        Future<T> f;
        try {
            f = requests.submit(() -> c.run(s));
        } catch (RejectedExecutionException e) {
            throw new KmsUnavailableException("the Vault client for " + settings.address() + " is closed", e);
        }
        try {
            return f.get(Math.max(0, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new KmsUnavailableException(
                    "Vault at " + settings.address() + " did not finish answering " + op + " of key '" + keyName
                            + "' within " + deadline.toMillis()
                            + " ms (kms.vault.connect-timeout-ms + read-timeout-ms)",
                    e);
        } catch (InterruptedException e) {
            f.cancel(true);
            Thread.currentThread().interrupt();
            throw new KmsUnavailableException("interrupted while waiting for Vault at " + settings.address(), e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            if (cause instanceof VaultException ve) {
                int status = ve.getHttpStatusCode();
                if (status >= 400 && status < 500 && status != 429) {
                    return shape.fromDriver().apply(asResponse(status, ve));
                }
                throw new KmsUnavailableException(
                        "Vault at " + settings.address() + " is unavailable for " + op + " of key '" + keyName + "'"
                                + (status == 0 ? "" : " (HTTP " + status + ")"),
                        ve);
            }
            if (cause instanceof ConnectException || cause instanceof HttpTimeoutException) {
                throw new KmsUnavailableException(
                        "Vault at " + settings.address() + " is unavailable for " + op + " of key '" + keyName + "' ("
                                + cause.getClass().getSimpleName() + ")",
                        cause);
            }
            // The answer could not be read (not JSON, cut short): a proxy or a server in trouble.
            throw new KmsUnavailableException(
                    "Vault at " + settings.address() + " gave an answer to " + op + " of key '" + keyName
                            + "' that cannot be read (" + cause.getClass().getSimpleName() + ")",
                    cause);
        }
    }

    /** A 4xx the driver threw, as the response it was: its body follows "Response body: " in the message. */
    private static LogicalResponse asResponse(int status, VaultException e) {
        String message = String.valueOf(e.getMessage());
        int at = message.indexOf("Response body: ");
        String body = at < 0 ? "{}" : message.substring(at + "Response body: ".length());
        return new LogicalResponse(
                new RestResponse(status, "application/json", body.getBytes(StandardCharsets.UTF_8)),
                0,
                Logical.logicalOperations.deleteV1);
    }

    private void requireSuccess(String op, String keyName, Answer r) {
        int status = r.status();
        if (status == 200 || status == 204) {
            return;
        }
        String errors = errors(r);
        String what = op + " of Vault Transit key '" + keyName + "' at " + settings.address() + ": HTTP " + status
                + (errors.isEmpty() ? "" : " " + errors);
        if (status == 403) {
            throw new KeyDeniedException("permission denied for " + what);
        }
        if (errors.contains("no handler for route")) {
            // Not a missing key: nothing is mounted there. Treating it as "destroyed" would refuse every tenant.
            throw new KmsUnavailableException("no Transit engine at " + mount() + "/ ("
                    + (settings.namespace() == null ? "root namespace" : "namespace " + settings.namespace())
                    + "): check kms.vault.mount and kms.vault.namespace; " + what);
        }
        if (status == 404
                || errors.contains("not found")
                || errors.contains("could be found") // keys/<k>/config of a missing key
                || errors.contains("no existing key")) {
            throw new UnknownKeyException("no such key: " + what);
        }
        // Transit answers a failed RSA-OAEP decryption (another key pair, an altered wrap) with HTTP 500, and a
        // symmetric
        // ciphertext (with associated data) presented to an RSA key with 400 "non-AEAD cipher suite": both are the
        // record's fault, not an outage nor the key's, and retrying would never succeed.
        if (op.equals(KmsOperation.UNWRAP.name())
                && (errors.contains("failed to RSA decrypt") || errors.contains("non-AEAD cipher suite"))) {
            throw new InvalidWrappedKeyException("wrapped DEK does not open: " + what);
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
        // Vault and OpenBao: "invalid ciphertext: ..." for a malformed one, "cipher: message authentication failed"
        // when AES-GCM refuses it (altered, other associated data, another key or a re-created one).
        if (op.equals(KmsOperation.UNWRAP.name())
                && (errors.contains("invalid ciphertext") || errors.contains("message authentication failed"))) {
            throw new InvalidWrappedKeyException("wrapped DEK does not open: " + what);
        }
        throw new KmsException("Vault refused " + what);
    }

    /** Vault's {@code errors} array, joined; Vault never echoes request bodies there. */
    private static String errors(LogicalResponse r) {
        return errors(Answer.of(r));
    }

    /** As {@link #errors(LogicalResponse)}; only ever called on a failed answer, which carries no key. */
    private static String errors(Answer r) {
        byte[] body = r.body();
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
            throw new KmsUnavailableException(
                    "Vault encrypt with key '" + keyName + "' returned no vault:vN: ciphertext (a proxy in between?)");
        }
        return Integer.parseInt(m.group(1));
    }

    private static int intField(JsonObject data, String field, String keyName) {
        JsonValue v = data == null ? null : data.get(field);
        if (v == null || !v.isNumber()) {
            throw new KmsUnavailableException(
                    "Vault key '" + keyName + "' description has no numeric " + field + " (a proxy in between?)");
        }
        return v.asInt();
    }

    /** Stops the request threads; an exchange still running is interrupted. */
    @Override
    public void close() {
        if (renewer != null) {
            renewer.shutdownNow();
        }
        requests.shutdownNow();
    }

    @Override
    public String toString() {
        return "VaultTransitKms[" + settings + "]";
    }

    /** Vault client settings. The token is held here and in the provider's client; no toString shows it. */
    public static final class VaultSettings {
        private final String address;
        private final String token;
        private final @Nullable Path tokenFile;
        private final @Nullable String namespace;
        private final String mount;
        private final @Nullable Path caFile;
        private final Duration connectTimeout;
        private final Duration readTimeout;
        private final Duration tokenRenewCheck;

        /**
         * @param tokenFile where {@code token} was read from, or null when it came from the environment; read again
         *     when Vault refuses the token (Vault Agent rewrites such a file with a fresh token)
         * @param allowInsecureHttp whether an {@code http://} address is accepted (development only): the token and
         *     every DEK would cross the network in the clear
         * @param tokenRenewCheck how often to check whether the token is due for renewal; zero for never
         */
        public VaultSettings(
                String address,
                String token,
                @Nullable Path tokenFile,
                @Nullable String namespace,
                String mount,
                @Nullable Path caFile,
                Duration connectTimeout,
                Duration readTimeout,
                boolean allowInsecureHttp,
                Duration tokenRenewCheck) {
            this.address = stripTrailingSlash(Objects.requireNonNull(address, "address"));
            if (this.address.startsWith("http://")) {
                if (!allowInsecureHttp) {
                    throw new IllegalArgumentException("kms.vault.address is " + this.address + ": plain http would"
                            + " send the Vault token and every data-encryption key in the clear. Use https:// (with"
                            + " kms.vault.ca-file for a private CA), or for a development server only set "
                            + VaultTransitKmsFactory.ALLOW_INSECURE_HTTP.name() + "=true");
                }
            } else if (!this.address.startsWith("https://")) {
                throw new IllegalArgumentException("kms.vault.address must start with https://, got: " + address);
            }
            if (token == null || token.isBlank()) {
                throw new IllegalArgumentException(
                        "the Vault token is empty; set kms.vault.token-env or kms.vault.token-file");
            }
            this.token = token.strip();
            this.tokenFile = tokenFile;
            this.namespace = namespace == null || namespace.isBlank() ? null : namespace;
            this.mount = mount == null || mount.isBlank() ? "transit" : stripTrailingSlash(mount);
            this.caFile = caFile;
            this.connectTimeout = Objects.requireNonNull(connectTimeout);
            this.readTimeout = Objects.requireNonNull(readTimeout);
            this.tokenRenewCheck = Objects.requireNonNull(tokenRenewCheck);
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

        @Nullable
        Path tokenFile() {
            return tokenFile;
        }

        /** Where the token comes from, for messages (never the token itself). */
        String tokenSource() {
            return tokenFile != null ? "kms.vault.token-file (" + tokenFile + ")" : "kms.vault.token-env";
        }

        public @Nullable String namespace() {
            return namespace;
        }

        public String mount() {
            return mount;
        }

        public @Nullable Path caFile() {
            return caFile;
        }

        public Duration connectTimeout() {
            return connectTimeout;
        }

        public Duration readTimeout() {
            return readTimeout;
        }

        public Duration tokenRenewCheck() {
            return tokenRenewCheck;
        }

        @Override
        public String toString() {
            return "address=" + address + ", mount=" + mount + (namespace == null ? "" : ", namespace=" + namespace)
                    + (caFile == null ? "" : ", caFile=" + caFile) + ", token=<redacted>";
        }
    }
}
