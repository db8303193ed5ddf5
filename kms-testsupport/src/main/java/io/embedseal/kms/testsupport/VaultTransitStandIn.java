package io.embedseal.kms.testsupport;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.jspecify.annotations.Nullable;

/**
 * <b>Test code.</b> A stand-in for HashiCorp Vault's Transit secrets engine over HTTP, for machines where
 * Vault cannot run. It implements the part of the API embedseal uses, with Vault's status codes and error
 * texts (taken from Vault's {@code builtin/logical/transit} and {@code sdk/helper/keysutil}):
 *
 * <ul>
 *   <li>{@code POST/GET/DELETE /v1/transit/keys/:name}, {@code .../rotate}, {@code .../config}
 *       ({@code min_decryption_version}, {@code min_encryption_version}, {@code deletion_allowed});</li>
 *   <li>{@code POST /v1/transit/encrypt/:name} and {@code decrypt/:name} with {@code associated_data},
 *       AES-256-GCM with a 96-bit random nonce per key version, ciphertext {@code vault:v<N>:<base64>};
 *       encrypting with a missing key creates it only for a token allowed to create (Vault's upsert);</li>
 *   <li>403 {@code permission denied} for an unknown token or a path the token's policy does not grant;
 *       503 {@code Vault is sealed} while {@link #seal() sealed}; 400 with Vault's texts for a version below
 *       {@code min_decryption_version}, a failed authentication, a missing key, a forbidden delete.</li>
 * </ul>
 *
 * Two tokens exist: {@link #ROOT_TOKEN} (everything) and {@link #PIPELINE_TOKEN}, whose policy is the
 * pipeline's least privilege: read keys, update encrypt and decrypt, nothing else (so no upsert). What it
 * does not model: other key types, convergent encryption, batch input, derived keys, trimming, auth methods,
 * leases. The contract tests also run against the real Vault image wherever Docker is available.
 */
public final class VaultTransitStandIn implements AutoCloseable {

    public static final String ROOT_TOKEN = "standin-root-token";
    public static final String PIPELINE_TOKEN = "standin-pipeline-token";
    private static final String MOUNT = "/v1/transit/";
    private static final ObjectMapper JSON = new ObjectMapper();

    private volatile @Nullable HttpServer server;
    private final int port;
    private final ExecutorService executor;
    private final SecureRandom random = new SecureRandom();
    private final Map<String, TransitKey> keys = new HashMap<>();
    private final AtomicInteger requests = new AtomicInteger();
    private static final java.util.regex.Pattern SLASH = java.util.regex.Pattern.compile("/");
    private volatile boolean sealed;
    private volatile @Nullable String requiredNamespace;
    private volatile @Nullable String lastNamespace;

    private static final class TransitKey {
        final List<byte[]> versions = new ArrayList<>();
        final List<Long> created = new ArrayList<>();
        int minDecryptionVersion = 1;
        int minEncryptionVersion = 0;
        boolean deletionAllowed;
    }

    private VaultTransitStandIn() throws IOException {
        // The JDK's server writes headers and body separately; without TCP_NODELAY each response then waits
        // ~40 ms for a delayed ACK. Vault (Go) sets TCP_NODELAY, so the stand-in must too, or it would
        // invent latency. Read once, when the server classes first load.
        System.setProperty("sun.net.httpserver.nodelay", "true");
        executor = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "vault-stand-in");
            t.setDaemon(true);
            return t;
        });
        server = listen(0);
        port = server.getAddress().getPort();
    }

    private HttpServer listen(int onPort) throws IOException {
        HttpServer s = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), onPort), 0);
        s.setExecutor(executor);
        s.createContext("/", this::handle);
        s.start();
        return s;
    }

    /**
     * Takes the server off the network, as a crashed or partitioned Vault: connections are refused until
     * {@link #goOnline()}. Keys are kept.
     */
    public synchronized void goOffline() {
        if (server != null) {
            server.stop(0);
            server = null;
        }
    }

    /** Listens again on the same port, with the same keys. */
    public synchronized void goOnline() {
        if (server == null) {
            try {
                server = listen(port);
            } catch (IOException e) {
                throw new IllegalStateException("cannot listen again on port " + port, e);
            }
        }
    }

    public static VaultTransitStandIn start() {
        try {
            return new VaultTransitStandIn();
        } catch (IOException e) {
            throw new IllegalStateException("cannot start the Vault stand-in", e);
        }
    }

    /** {@code http://127.0.0.1:<port>}, for {@code kms.vault.address}. */
    public String address() {
        return "http://127.0.0.1:" + port;
    }

    /** Answer every request with 503, as a sealed Vault does. */
    public void seal() {
        sealed = true;
    }

    public void unseal() {
        sealed = false;
    }

    /** Refuse (403) requests that do not carry this {@code X-Vault-Namespace}. */
    public void requireNamespace(String namespace) {
        requiredNamespace = namespace;
    }

    /** The {@code X-Vault-Namespace} of the last request, or null. */
    public @Nullable String lastNamespace() {
        return lastNamespace;
    }

    /** How many requests arrived. */
    public int requestCount() {
        return requests.get();
    }

    /** Whether a key exists (for assertions that bypass the API). */
    public synchronized boolean hasKey(String name) {
        return keys.containsKey(name);
    }

    @Override
    public void close() {
        goOffline();
        executor.shutdownNow();
    }

    // --- HTTP ----------------------------------------------------------------------------------------

    private void handle(HttpExchange ex) throws IOException {
        requests.incrementAndGet();
        try (ex) {
            lastNamespace = ex.getRequestHeaders().getFirst("X-Vault-Namespace");
            if (sealed) {
                reply(ex, 503, errors("Vault is sealed"));
                return;
            }
            String token = ex.getRequestHeaders().getFirst("X-Vault-Token");
            boolean root = ROOT_TOKEN.equals(token);
            boolean pipeline = PIPELINE_TOKEN.equals(token);
            if ((!root && !pipeline) || (requiredNamespace != null && !requiredNamespace.equals(lastNamespace))) {
                reply(ex, 403, errors("permission denied"));
                return;
            }
            String path = ex.getRequestURI().getRawPath();
            if (!path.startsWith(MOUNT)) {
                reply(ex, 404, errors("no handler for route \"" + path + "\""));
                return;
            }
            String[] parts = SLASH.split(path.substring(MOUNT.length()), 0); // 0: a trailing slash adds no empty part
            String method = ex.getRequestMethod();
            JsonNode body = readBody(ex);
            if (parts.length < 2) {
                reply(ex, 404, errors("unsupported path"));
                return;
            }
            String name = URLDecoder.decode(parts[1], StandardCharsets.UTF_8);
            String op = parts[0] + (parts.length > 2 ? "/" + parts[2] : "") + " " + method;
            synchronized (this) {
                switch (op) {
                    case "keys GET" -> readKey(ex, name);
                    case "keys POST", "keys PUT" -> {
                        if (root) {
                            createKey(ex, name, body);
                        } else {
                            reply(ex, 403, errors("permission denied"));
                        }
                    }
                    case "keys DELETE" -> {
                        if (root) {
                            deleteKey(ex, name);
                        } else {
                            reply(ex, 403, errors("permission denied"));
                        }
                    }
                    case "keys/rotate POST", "keys/rotate PUT" -> {
                        if (root) {
                            rotateKey(ex, name);
                        } else {
                            reply(ex, 403, errors("permission denied"));
                        }
                    }
                    case "keys/config POST", "keys/config PUT" -> {
                        if (root) {
                            configKey(ex, name, body);
                        } else {
                            reply(ex, 403, errors("permission denied"));
                        }
                    }
                    case "encrypt POST", "encrypt PUT" -> encrypt(ex, name, body, root);
                    case "decrypt POST", "decrypt PUT" -> decrypt(ex, name, body);
                    default -> reply(ex, 405, errors("unsupported operation"));
                }
            }
        } catch (RuntimeException e) {
            reply(ex, 500, errors("internal error: " + e.getClass().getSimpleName()));
        }
    }

    private void readKey(HttpExchange ex, String name) throws IOException {
        TransitKey k = keys.get(name);
        if (k == null) {
            reply(ex, 404, errors());
            return;
        }
        reply(ex, 200, keyInfo(name, k));
    }

    private void createKey(HttpExchange ex, String name, JsonNode body) throws IOException {
        String type = body.path("type").asText("aes256-gcm96");
        if (!type.equals("aes256-gcm96")) {
            reply(ex, 400, errors("unknown key type " + type));
            return;
        }
        TransitKey k = keys.get(name);
        if (k == null) {
            k = newKey();
            keys.put(name, k);
        }
        reply(ex, 200, keyInfo(name, k));
    }

    private void deleteKey(HttpExchange ex, String name) throws IOException {
        TransitKey k = keys.get(name);
        if (k == null) {
            reply(ex, 400, errors("could not delete key; not found"));
            return;
        }
        if (!k.deletionAllowed) {
            reply(ex, 400, errors("error deleting policy " + name + ": deletion is not allowed for this key"));
            return;
        }
        k.versions.forEach(v -> Arrays.fill(v, (byte) 0));
        keys.remove(name);
        reply(ex, 204, null);
    }

    private void rotateKey(HttpExchange ex, String name) throws IOException {
        TransitKey k = keys.get(name);
        if (k == null) {
            reply(ex, 400, errors("key not found"));
            return;
        }
        addVersion(k);
        reply(ex, 200, keyInfo(name, k));
    }

    private void configKey(HttpExchange ex, String name, JsonNode body) throws IOException {
        TransitKey k = keys.get(name);
        if (k == null) {
            reply(ex, 400, errors("key not found"));
            return;
        }
        if (body.has("min_decryption_version")) {
            int v = body.get("min_decryption_version").asInt();
            if (v > k.versions.size()) {
                reply(ex, 400, errors("cannot set min decryption version higher than the latest version"));
                return;
            }
            k.minDecryptionVersion = Math.max(1, v);
        }
        if (body.has("min_encryption_version")) {
            int v = body.get("min_encryption_version").asInt();
            if (v > k.versions.size()) {
                reply(ex, 400, errors("cannot set min encryption version higher than the latest version"));
                return;
            }
            k.minEncryptionVersion = v;
        }
        if (body.has("deletion_allowed")) {
            k.deletionAllowed = body.get("deletion_allowed").asBoolean();
        }
        reply(ex, 200, keyInfo(name, k));
    }

    private void encrypt(HttpExchange ex, String name, JsonNode body, boolean root) throws IOException {
        TransitKey k = keys.get(name);
        if (k == null) {
            if (!root) {
                // Upsert needs the "create" capability, which the pipeline policy does not grant.
                reply(ex, 403, errors("permission denied"));
                return;
            }
            k = newKey();
            keys.put(name, k);
        }
        byte[] plaintext;
        byte[] aad;
        try {
            plaintext = Base64.getDecoder().decode(body.path("plaintext").asText(""));
            aad = body.has("associated_data")
                    ? Base64.getDecoder().decode(body.get("associated_data").asText())
                    : new byte[0];
        } catch (IllegalArgumentException e) {
            reply(ex, 400, errors("failed to base64-decode plaintext"));
            return;
        }
        int version = body.path("key_version").asInt(0);
        if (version == 0) {
            version = k.versions.size();
        }
        if (version > k.versions.size()) {
            reply(ex, 400, errors("requested version for encryption is higher than the latest key version"));
            return;
        }
        if (version < k.minEncryptionVersion) {
            reply(ex, 400, errors("requested version for encryption is less than the minimum encryption key version"));
            return;
        }
        byte[] nonce = new byte[12];
        random.nextBytes(nonce);
        byte[] sealedBytes = gcm(Cipher.ENCRYPT_MODE, k.versions.get(version - 1), nonce, aad, plaintext);
        byte[] out = Arrays.copyOf(nonce, 12 + sealedBytes.length);
        System.arraycopy(sealedBytes, 0, out, 12, sealedBytes.length);
        ObjectNode data = JSON.createObjectNode();
        data.put("ciphertext", "vault:v" + version + ":" + Base64.getEncoder().encodeToString(out));
        data.put("key_version", version);
        reply(ex, 200, envelope(data));
    }

    private void decrypt(HttpExchange ex, String name, JsonNode body) throws IOException {
        TransitKey k = keys.get(name);
        if (k == null) {
            reply(ex, 400, errors("encryption key not found"));
            return;
        }
        String ciphertext = body.path("ciphertext").asText("");
        if (!ciphertext.startsWith("vault:v")) {
            reply(ex, 400, errors("invalid ciphertext: no prefix"));
            return;
        }
        String[] split = ciphertext.substring("vault:v".length()).split(":", 2);
        int version;
        byte[] decoded;
        byte[] aad;
        try {
            version = Integer.parseInt(split[0]);
            decoded = Base64.getDecoder().decode(split.length > 1 ? split[1] : "");
            aad = body.has("associated_data")
                    ? Base64.getDecoder().decode(body.get("associated_data").asText())
                    : new byte[0];
        } catch (IllegalArgumentException e) {
            reply(ex, 400, errors("invalid ciphertext: could not decode"));
            return;
        }
        if (version > k.versions.size()) {
            reply(ex, 400, errors("invalid ciphertext: version is too new"));
            return;
        }
        if (version < k.minDecryptionVersion) {
            reply(ex, 400, errors("ciphertext or signature version is disallowed by policy (too old)"));
            return;
        }
        if (decoded.length < 12 + 16) {
            reply(ex, 400, errors("invalid ciphertext: unable to decrypt"));
            return;
        }
        byte[] plaintext;
        try {
            plaintext = gcm(
                    Cipher.DECRYPT_MODE,
                    k.versions.get(version - 1),
                    Arrays.copyOf(decoded, 12),
                    aad,
                    Arrays.copyOfRange(decoded, 12, decoded.length));
        } catch (IllegalStateException e) {
            reply(ex, 400, errors("invalid ciphertext: unable to decrypt"));
            return;
        }
        ObjectNode data = JSON.createObjectNode();
        data.put("plaintext", Base64.getEncoder().encodeToString(plaintext));
        reply(ex, 200, envelope(data));
    }

    // --- helpers -------------------------------------------------------------------------------------

    private TransitKey newKey() {
        TransitKey k = new TransitKey();
        addVersion(k);
        return k;
    }

    private void addVersion(TransitKey k) {
        byte[] key = new byte[32];
        random.nextBytes(key);
        k.versions.add(key);
        k.created.add(Instant.now().getEpochSecond());
    }

    private static byte[] gcm(int mode, byte[] key, byte[] nonce, byte[] aad, byte[] input) {
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(mode, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, nonce));
            c.updateAAD(aad);
            return c.doFinal(input);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("GCM " + (mode == Cipher.DECRYPT_MODE ? "open" : "seal") + " failed", e);
        }
    }

    private static ObjectNode keyInfo(String name, TransitKey k) {
        ObjectNode data = JSON.createObjectNode();
        data.put("name", name);
        data.put("type", "aes256-gcm96");
        data.put("latest_version", k.versions.size());
        data.put("min_decryption_version", k.minDecryptionVersion);
        data.put("min_encryption_version", k.minEncryptionVersion);
        data.put("deletion_allowed", k.deletionAllowed);
        data.put("exportable", false);
        data.put("supports_encryption", true);
        data.put("supports_decryption", true);
        ObjectNode versions = data.putObject("keys");
        for (int i = 0; i < k.versions.size(); i++) {
            versions.put(Integer.toString(i + 1), k.created.get(i));
        }
        return envelope(data);
    }

    private static ObjectNode envelope(ObjectNode data) {
        ObjectNode o = JSON.createObjectNode();
        o.put("request_id", UUID.randomUUID().toString());
        o.put("lease_id", "");
        o.put("renewable", false);
        o.put("lease_duration", 0);
        o.set("data", data);
        o.putNull("wrap_info");
        o.putNull("warnings");
        o.putNull("auth");
        return o;
    }

    private static ObjectNode errors(String... messages) {
        ObjectNode o = JSON.createObjectNode();
        var array = o.putArray("errors");
        for (String m : messages) {
            array.add(m);
        }
        return o;
    }

    private static JsonNode readBody(HttpExchange ex) throws IOException {
        try (InputStream in = ex.getRequestBody()) {
            byte[] bytes = in.readAllBytes();
            if (bytes.length == 0) {
                return JSON.createObjectNode();
            }
            try {
                return JSON.readTree(bytes);
            } catch (IOException e) {
                return JSON.createObjectNode();
            }
        }
    }

    private static void reply(HttpExchange ex, int status, @Nullable ObjectNode body) throws IOException {
        if (body == null || status == 204) {
            ex.sendResponseHeaders(status, -1);
            return;
        }
        byte[] bytes = JSON.writeValueAsBytes(body);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }
}
