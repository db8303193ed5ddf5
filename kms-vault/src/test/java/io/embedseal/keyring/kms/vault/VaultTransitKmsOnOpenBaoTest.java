package io.embedseal.keyring.kms.vault;

import static io.embedseal.keyring.kms.vault.OpenBaoKmsContractTest.provider;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.keyring.kms.InvalidWrappedKeyException;
import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsProviderRegistry;
import io.embedseal.keyring.kms.KmsSettings;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.keyring.kms.UnsupportedKmsOperationException;
import io.embedseal.keyring.kms.WrappedDek;
import io.embedseal.kms.testsupport.OpenBao;
import io.embedseal.kms.testsupport.VaultFaultInjector;
import io.embedseal.openbao.dev.OpenBaoDevServer;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the Vault provider does with a real Vault API (OpenBao's Transit engine) beyond the contract: key versions,
 * {@code min_decryption_version}, {@code deletion_allowed}, associated data, least-privilege tokens, expired and
 * revoked tokens, a sealed server, TLS under the server's own CA, namespaces.
 */
@DisplayName("Vault Transit provider on a real OpenBao dev server")
class VaultTransitKmsOnOpenBaoTest {

    private static final byte[] DEK = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    private static final ObjectMapper JSON = new ObjectMapper();

    private static OpenBao.Namespace ns;
    private static KmsProvider operator;
    private static KmsProvider pipeline;

    @TempDir
    Path dir;

    @BeforeAll
    static void namespace() {
        ns = OpenBao.namespace();
        operator = provider(ns, ns.token("embedseal-operator"));
        pipeline = provider(ns, ns.token("embedseal-pipeline"));
    }

    static String key() {
        return "tenant-" + UUID.randomUUID().toString().substring(0, 12);
    }

    static byte[] aad(String tenant, String dekId) {
        return ("embedseal.dek.v1|" + tenant + "|" + dekId).getBytes(StandardCharsets.US_ASCII);
    }

    /** The key as the server reports it, read with the root token (not through the provider). */
    static JsonNode keyOnServer(OpenBao.Namespace ns, String key) throws Exception {
        return JSON.readTree(ns.server().require("GET", "transit/keys/" + key, ns.name(), null))
                .path("data");
    }

    /** A provider in {@link #ns} whose token is read from {@code file}, which is written with {@code token} first. */
    static KmsProvider withTokenFile(Path file, String token) throws Exception {
        Files.writeString(file, token + "\n");
        Map<String, String> s = new HashMap<>(ns.settings());
        s.put("kms.vault.token-file", file.toString());
        return KmsProviderRegistry.create(KmsSettings.of(s, name -> null));
    }

    /** Waits (at most 30 s) for {@code more} wraps; fails with what the wrapping threads met instead. */
    static void awaitMoreWraps(AtomicInteger wraps, int more, List<Throwable> failures) throws InterruptedException {
        int target = wraps.get() + more;
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (wraps.get() < target) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no " + more + " wraps within 30 s; failures: " + failures);
            }
            Thread.sleep(5);
        }
    }

    @Test
    void keysAreAes256Gcm96_andTheWrappedDekIsTheServersCiphertext_boundToItsVersion() throws Exception {
        String key = key();
        operator.createKek(key);
        WrappedDek v1 = pipeline.wrapDek(key, DEK, aad("acme", "d1"));
        operator.rotate(key);
        WrappedDek v2 = pipeline.wrapDek(key, DEK, aad("acme", "d2"));

        assertThat(keyOnServer(ns, key).path("type").asText()).isEqualTo("aes256-gcm96");
        assertThat(keyOnServer(ns, key).path("latest_version").asInt()).isEqualTo(2);
        assertThat(new String(v1.wrapped(), StandardCharsets.US_ASCII)).startsWith("vault:v1:");
        assertThat(new String(v2.wrapped(), StandardCharsets.US_ASCII)).startsWith("vault:v2:");
        assertThat(v2.kek().version()).isEqualTo(2);
    }

    /**
     * Transit's BYOK import, end to end: the tenant wraps its AES key for the mount's wrapping key, the operator imports
     * it, the server keeps it not exportable (the export endpoint refuses), and every DEK Transit wraps from then on
     * opens with the tenant's own copy of the key: the server holds the key the tenant made.
     */
    @Test
    void importedKey_isTheTenantsKey_andNeverLeavesTheServer() throws Exception {
        String key = key();
        io.embedseal.keyring.kms.KeyImport imports = operator.keyImport().orElseThrow();
        io.embedseal.keyring.kms.ImportParameters p =
                imports.parameters(key, io.embedseal.keyring.kms.KekKind.SYMMETRIC);
        assertThat(p.wrapping().label()).isEqualTo("rsa-oaep-sha256+aes-kwp");
        byte[] tenantKey = io.embedseal.keyring.kms.KeyImportWrap.generate(p).secret();

        imports.importKek(
                key,
                io.embedseal.keyring.kms.KekKind.SYMMETRIC,
                io.embedseal.keyring.kms.KeyImportWrap.wrap(p, tenantKey));

        JsonNode onServer = keyOnServer(ns, key);
        assertThat(onServer.path("type").asText()).isEqualTo("aes256-gcm96");
        assertThat(onServer.path("imported_key").asBoolean()).isTrue();
        assertThat(onServer.path("exportable").asBoolean()).isFalse();
        assertThatThrownBy(() -> ns.server().require("GET", "transit/export/encryption-key/" + key, ns.name(), null))
                .as("exporting the imported key, even as root")
                .hasMessageContaining("400");
        WrappedDek w = pipeline.wrapDek(key, DEK, aad("acme", "d1"));
        byte[] sealed = java.util.Base64.getDecoder()
                .decode(new String(w.wrapped(), StandardCharsets.US_ASCII).substring("vault:v1:".length()));
        javax.crypto.Cipher gcm = javax.crypto.Cipher.getInstance("AES/GCM/NoPadding");
        gcm.init(
                javax.crypto.Cipher.DECRYPT_MODE,
                new javax.crypto.spec.SecretKeySpec(tenantKey, "AES"),
                new javax.crypto.spec.GCMParameterSpec(128, sealed, 0, 12));
        gcm.updateAAD(aad("acme", "d1"));
        assertThat(gcm.doFinal(sealed, 12, sealed.length - 12))
                .as("Transit's wrap, opened by the tenant with the key it made")
                .isEqualTo(DEK);
    }

    @Test
    void restrictIsMinDecryptionVersion_onTheServer() throws Exception {
        String key = key();
        operator.createKek(key);
        WrappedDek v1 = pipeline.wrapDek(key, DEK, aad("acme", "d1"));
        operator.rotate(key);

        operator.restrictVersions(key, 2);

        assertThat(keyOnServer(ns, key).path("min_decryption_version").asInt()).isEqualTo(2);
        assertThatThrownBy(() -> pipeline.unwrapDek(v1.kek(), v1.wrapped(), aad("acme", "d1")))
                .isInstanceOf(KeyDeniedException.class)
                .hasMessageContaining("min_decryption_version");
    }

    @Test
    void destroyAllowsDeletion_thenDeletes() {
        String key = key();
        operator.createKek(key);
        // Transit refuses to delete a key until deletion_allowed is set: the provider sets it first.
        OpenBaoDevServer.Response refused = ns.server().api("DELETE", "transit/keys/" + key, ns.name(), null);
        assertThat(refused.status()).isEqualTo(400);
        assertThat(refused.body()).contains("deletion is not allowed");

        operator.destroy(key);

        assertThat(ns.hasKey(key)).isFalse();
        assertThatThrownBy(() -> operator.destroy(key)).isInstanceOf(UnknownKeyException.class);
    }

    @Test
    void associatedData_bindsTheWrapToItsTenantAndDekId() {
        String key = key();
        operator.createKek(key);
        WrappedDek w = pipeline.wrapDek(key, DEK, aad("acme", "d1"));

        assertThatThrownBy(() -> pipeline.unwrapDek(w.kek(), w.wrapped(), aad("globex", "d1")))
                .as("another tenant")
                .isInstanceOf(InvalidWrappedKeyException.class)
                .hasMessageContaining("message authentication failed");
        assertThatThrownBy(() -> pipeline.unwrapDek(w.kek(), w.wrapped(), aad("acme", "d2")))
                .as("another DEK id")
                .isInstanceOf(InvalidWrappedKeyException.class);
        assertThat(pipeline.unwrapDek(w.kek(), w.wrapped(), aad("acme", "d1"))).isEqualTo(DEK);
    }

    @Test
    void aWrapIsOneHttpRequest() {
        String key = key();
        operator.createKek(key);
        try (VaultFaultInjector proxy = VaultFaultInjector.inFrontOf(ns.server())) {
            KmsProvider kms =
                    provider(ns, ns.token("embedseal-pipeline"), Map.of("kms.vault.address", proxy.address()));
            int before = proxy.requestCount();

            kms.wrapDek(key, DEK, aad("acme", "d1"));

            assertThat(proxy.requestCount() - before).isEqualTo(1);
        }
    }

    /** What docs/operations.md tells a tenant that brings its own key to write: deploy/vault/embedseal-pipeline-acme.hcl. */
    @Nested
    @DisplayName("a token whose policy grants encrypt/decrypt on one tenant's key only")
    class OneTenantsKey {

        private final OpenBao.Namespace own = OpenBao.namespace();
        private final KmsProvider root = provider(own, own.rootToken());
        private final String token;
        private final KmsProvider pipeline;

        OneTenantsKey() {
            own.writePolicy("embedseal-pipeline-acme", OpenBao.policyFile("pipeline-acme"));
            token = own.token("embedseal-pipeline-acme");
            pipeline = provider(own, token);
            root.createKek("acme-own-key");
            root.createKek("tenant-globex");
        }

        @Test
        void wrapsAndUnwrapsUnderThatKey() {
            WrappedDek w = pipeline.wrapDek("acme-own-key", DEK, aad("acme", "d1"));

            assertThat(pipeline.unwrapDek(w.kek(), w.wrapped(), aad("acme", "d1")))
                    .isEqualTo(DEK);
            assertThat(pipeline.describe("acme-own-key").latestVersion()).isEqualTo(1);
        }

        @Test
        void isRefusedEverythingElse() {
            // The control: the root token may do all of this, so each refusal below is the policy's.
            assertThat(root.wrapDek("tenant-globex", DEK, aad("globex", "d1"))
                            .kek()
                            .version())
                    .isEqualTo(1);

            assertThatThrownBy(() -> pipeline.createKek("acme-second-key")).isInstanceOf(KeyDeniedException.class);
            assertThatThrownBy(() -> pipeline.rotate("acme-own-key")).isInstanceOf(KeyDeniedException.class);
            assertThatThrownBy(() -> pipeline.restrictVersions("acme-own-key", 1))
                    .isInstanceOf(KeyDeniedException.class);
            assertThatThrownBy(() -> pipeline.destroy("acme-own-key")).isInstanceOf(KeyDeniedException.class);
            assertThatThrownBy(() -> pipeline.wrapDek("tenant-globex", DEK, aad("globex", "d1")))
                    .as("another tenant's key")
                    .isInstanceOf(KeyDeniedException.class);
            assertThatThrownBy(() -> pipeline.describe("tenant-globex")).isInstanceOf(KeyDeniedException.class);
            assertThatThrownBy(() -> pipeline.wrapDek("acme-typo-key", DEK, aad("acme", "d1")))
                    .as("encrypt would create a missing key for a token that may create")
                    .isInstanceOf(KeyDeniedException.class);
            assertThat(own.hasKey("acme-typo-key")).isFalse();
            assertThat(own.hasKey("acme-own-key")).isTrue();
            for (String sys : new String[] {"sys/mounts", "sys/policies/acl", "sys/namespaces?list=true"}) {
                assertThat(own.server().api("GET", sys, own.name(), null, token).status())
                        .as(sys)
                        .isEqualTo(403);
            }
            assertThat(own.server()
                            .api("POST", "sys/mounts/other", own.name(), "{\"type\":\"transit\"}", token)
                            .status())
                    .isEqualTo(403);
        }
    }

    @Nested
    @DisplayName("tokens that stop being valid")
    class Tokens {

        @Test
        void aRevokedToken_isTheClientsCredentialProblem_notEveryTenantsRevocation() {
            String key = key();
            operator.createKek(key);
            String token = ns.token("embedseal-pipeline");
            KmsProvider pipeline = provider(ns, token);
            assertThat(pipeline.wrapDek(key, DEK, aad("acme", "d1")).kek().version())
                    .isEqualTo(1);

            ns.revoke(token);

            assertThatThrownBy(() -> pipeline.wrapDek(key, DEK, aad("acme", "d1")))
                    .isInstanceOf(KmsUnavailableException.class)
                    .hasMessageContaining("does not accept this client's token")
                    .hasMessageContaining("kms.vault.token-env")
                    .hasMessageNotContaining(token);
        }

        @Test
        void anExpiredToken_isTheClientsCredentialProblem() throws Exception {
            String key = key();
            operator.createKek(key);
            String token = ns.token(Duration.ofSeconds(2), "embedseal-pipeline");
            KmsProvider pipeline = provider(ns, token);
            assertThat(pipeline.wrapDek(key, DEK, aad("acme", "d1")).kek().version())
                    .isEqualTo(1);

            ns.awaitExpiry(token);

            assertThatThrownBy(() -> pipeline.wrapDek(key, DEK, aad("acme", "d1")))
                    .isInstanceOf(KmsUnavailableException.class)
                    .hasMessageContaining("expired or revoked");
        }

        @Test
        void aPolicyDenial_withAValidToken_staysADenial() {
            String key = key();
            operator.createKek(key);
            KmsProvider sink = provider(ns, ns.token("embedseal-sink"));

            assertThatThrownBy(() -> sink.wrapDek(key, DEK, aad("acme", "d1")))
                    .as("a sink never seals: its policy has no encrypt")
                    .isInstanceOf(KeyDeniedException.class)
                    .hasMessageContaining("403");
        }

        @Test
        void aPeriodicToken_isRenewedBeforeItExpires_andWithoutRenewalItDies() throws Exception {
            String key = key();
            operator.createKek(key);
            String renewedToken = ns.periodicToken(Duration.ofSeconds(6), "embedseal-pipeline");
            String controlToken = ns.periodicToken(Duration.ofSeconds(6), "embedseal-pipeline");
            try (KmsProvider renewed = provider(ns, renewedToken, Map.of("kms.vault.token-renew-check-seconds", "1"));
                    KmsProvider control =
                            provider(ns, controlToken, Map.of("kms.vault.token-renew-check-seconds", "0"))) {
                ns.awaitExpiry(controlToken);

                assertThatThrownBy(() -> control.wrapDek(key, DEK, aad("acme", "d1")))
                        .as("the control: the same token, not renewed, died after its period")
                        .isInstanceOf(KmsUnavailableException.class);
                assertThat(renewed.wrapDek(key, DEK, aad("acme", "d1")).kek().version())
                        .isEqualTo(1);
            }
        }

        @Test
        void aPolicyDenial_isADenial_evenForATokenThatMayNotLookItselfUp() {
            String key = key();
            operator.createKek(key);
            ns.writePolicyText(
                    "decrypt-only-no-lookup", "path \"transit/decrypt/tenant-*\" { capabilities = [\"update\"] }\n");
            KmsProvider noLookup = provider(ns, ns.token(Duration.ofHours(1), false, "decrypt-only-no-lookup"));

            assertThatThrownBy(() -> noLookup.wrapDek(key, DEK, aad("acme", "d1")))
                    .as("Vault's ACL refusal, not a dead token: no lookup needed to tell")
                    .isInstanceOf(KeyDeniedException.class);
        }

        @Test
        void aTokenRotatedUnderConcurrentRequests_neverLooksLikeARevocation() throws Exception {
            String key = key();
            operator.createKek(key);
            Path file = dir.resolve("agent-token");
            KmsProvider pipeline = withTokenFile(file, ns.token("embedseal-pipeline"));
            AtomicBoolean stop = new AtomicBoolean();
            List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
            AtomicInteger wraps = new AtomicInteger();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 6; t++) {
                int id = t;
                Thread thread = new Thread(() -> {
                    while (!stop.get()) {
                        try {
                            pipeline.wrapDek(key, DEK, aad("acme", "d" + id));
                            wraps.incrementAndGet();
                        } catch (RuntimeException e) {
                            failures.add(e);
                        }
                    }
                });
                thread.start();
                threads.add(thread);
            }
            try {
                for (int rotation = 0; rotation < 5; rotation++) {
                    awaitMoreWraps(wraps, 20, failures);
                    // As Vault Agent does: the new token is in the file before the old one dies.
                    String previous = Files.readString(file).strip();
                    Files.writeString(file, ns.token("embedseal-pipeline") + "\n");
                    ns.revoke(previous);
                }
                awaitMoreWraps(wraps, 20, failures);
            } finally {
                stop.set(true);
                for (Thread thread : threads) {
                    thread.join();
                }
            }

            assertThat(failures).as("wraps while the token was rotated 5 times").isEmpty();
        }

        @Test
        void aTokenFileRewritten_asVaultAgentDoes_isReadAgainWhenTheOldTokenIsRefused() throws Exception {
            String key = key();
            operator.createKek(key);
            String first = ns.token("embedseal-pipeline");
            Path file = dir.resolve("vault-token");
            KmsProvider pipeline = withTokenFile(file, first);
            assertThat(pipeline.wrapDek(key, DEK, aad("acme", "d1")).kek().version())
                    .isEqualTo(1);

            ns.revoke(first);
            Files.writeString(file, ns.token("embedseal-pipeline") + "\n");

            assertThat(pipeline.wrapDek(key, DEK, aad("acme", "d2")).kek().version())
                    .isEqualTo(1);
            assertThat(pipeline.toString()).contains("token=<redacted>").doesNotContain(first);
        }
    }

    @Test
    void aSealedServer_isAnOutage_andKeysAreThereAfterUnsealing() {
        try (OpenBaoDevServer own = OpenBao.startOwn(false)) {
            OpenBao.Namespace rootNs = OpenBao.root(own);
            KmsProvider kms = provider(rootNs, rootNs.token("embedseal-operator", "embedseal-pipeline"));
            String key = key();
            kms.createKek(key);
            WrappedDek w = kms.wrapDek(key, DEK, aad("acme", "d1"));

            own.seal();

            assertThatThrownBy(() -> kms.wrapDek(key, DEK, aad("acme", "d2")))
                    .isInstanceOf(KmsUnavailableException.class)
                    .hasMessageContaining("503");
            assertThatThrownBy(() -> kms.unwrapDek(w.kek(), w.wrapped(), aad("acme", "d1")))
                    .isInstanceOf(KmsUnavailableException.class);

            own.unseal();

            assertThat(kms.unwrapDek(w.kek(), w.wrapped(), aad("acme", "d1"))).isEqualTo(DEK);
        }
    }

    @Test
    void tls_withTheServersOwnCa_andPlainHttpRefusedUnlessAllowedForDevelopment() {
        try (OpenBaoDevServer tls = OpenBao.startOwn(true)) {
            OpenBao.Namespace rootNs = OpenBao.root(tls);
            String token = rootNs.token("embedseal-operator", "embedseal-pipeline");
            assertThat(tls.address()).startsWith("https://");
            KmsProvider kms = provider(rootNs, token);
            String key = key();
            kms.createKek(key);
            WrappedDek w = kms.wrapDek(key, DEK, aad("acme", "d1"));
            assertThat(kms.unwrapDek(w.kek(), w.wrapped(), aad("acme", "d1"))).isEqualTo(DEK);

            Map<String, String> noCa = new HashMap<>(rootNs.settings());
            noCa.remove("kms.vault.ca-file");
            KmsProvider untrusting = KmsProviderRegistry.create(KmsSettings.of(noCa, name -> token));
            assertThatThrownBy(() -> untrusting.wrapDek(key, DEK, aad("acme", "d2")))
                    .as("the JDK's trust store does not know the dev server's CA")
                    .isInstanceOf(KmsUnavailableException.class);
        }

        Map<String, String> http = new HashMap<>(ns.settings());
        http.remove("kms.vault.allow-insecure-http");
        assertThatThrownBy(() -> KmsProviderRegistry.create(KmsSettings.of(http, name -> "a-token")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("kms.vault.allow-insecure-http=true")
                .hasMessageContaining("https://")
                .hasMessageNotContaining("a-token");
        http.put("kms.vault.allow-insecure-http", "true");
        assertThat(KmsProviderRegistry.create(KmsSettings.of(http, name -> "a-token")))
                .isNotNull();
    }

    @Test
    void aMountWithNoTransitEngine_isAConfigurationProblem_notEveryKeyDestroyed() {
        KmsProvider wrongMount = provider(ns, ns.rootToken(), Map.of("kms.vault.mount", "transit-typo"));

        assertThatThrownBy(() -> wrongMount.describe(key()))
                .isInstanceOf(KmsUnavailableException.class)
                .hasMessageContaining("kms.vault.mount");
        assertThatThrownBy(() -> wrongMount.wrapDek(key(), DEK, aad("acme", "d1")))
                .isInstanceOf(KmsUnavailableException.class);
    }

    @Test
    void destroyWithoutTheDeleteGrant_isDenied_andTheKeyStays() {
        String key = key();
        operator.createKek(key);
        ns.writePolicyText(
                "config-no-delete", "path \"transit/keys/tenant-*/config\" { capabilities = [\"update\"] }\n");
        KmsProvider configOnly = provider(ns, ns.token("config-no-delete"));

        // The driver throws on a refused DELETE instead of answering: it must still be a denial, not a generic error.
        assertThatThrownBy(() -> configOnly.destroy(key)).isInstanceOf(KeyDeniedException.class);
        assertThat(ns.hasKey(key)).isTrue();
    }

    @Test
    void namespaces_separateKeys() {
        String key = key();
        operator.createKek(key);
        OpenBao.Namespace other = OpenBao.namespace();

        assertThatThrownBy(() -> provider(other, other.rootToken()).describe(key))
                .isInstanceOf(UnknownKeyException.class);
        assertThat(operator.describe(key).latestVersion()).isEqualTo(1);
    }

    @Test
    void unreachableVault_isUnavailable() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Map<String, String> s = Map.of(
                "kms.provider",
                "vault",
                "kms.vault.address",
                "http://127.0.0.1:" + port,
                "kms.vault.allow-insecure-http",
                "true",
                "kms.vault.connect-timeout-ms",
                "1000");
        KmsProvider kms = KmsProviderRegistry.create(KmsSettings.of(s, name -> "some-token"));

        assertThatThrownBy(() -> kms.wrapDek("tenant-a", DEK, aad("acme", "d1")))
                .isInstanceOf(KmsUnavailableException.class);
    }

    @Test
    void ownerAdvice_namesTheConfiguredMount_notADefault() {
        KmsProvider kms = provider(ns, "unused", Map.of("kms.vault.mount", "tenants/acme-transit"));

        assertThat(kms.ownerAdvice(KmsOperation.DISABLE, "acme-own-key"))
                .contains("tenants/acme-transit/encrypt/acme-own-key", "tenants/acme-transit/decrypt/acme-own-key")
                .doesNotContain(" transit/");
        assertThat(kms.ownerAdvice(KmsOperation.ENABLE, "acme-own-key"))
                .contains("tenants/acme-transit/encrypt/acme-own-key");
        assertThatThrownBy(() -> kms.disable("acme-own-key"))
                .isInstanceOf(UnsupportedKmsOperationException.class)
                .hasMessageContaining("tenants/acme-transit/decrypt/acme-own-key");
    }

    @Test
    void tokenFromAFile_isRead_andNeverShown() throws Exception {
        String token = ns.token("embedseal-operator");
        KmsProvider kms = withTokenFile(dir.resolve("token"), token);

        assertThat(kms.createKek(key()).version()).isEqualTo(1);
        assertThat(kms.toString()).contains("token=<redacted>").doesNotContain(token);
    }

    @Test
    void missingToken_isAConfigurationErrorNamingTheSettings() {
        assertThatThrownBy(() -> KmsProviderRegistry.create(KmsSettings.of(ns.settings(), name -> null)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("VAULT_TOKEN")
                .hasMessageContaining("kms.vault.token-file");
    }

    @Test
    void missingAddress_isAConfigurationErrorNamingTheSetting() {
        assertThatThrownBy(
                        () -> KmsProviderRegistry.create(KmsSettings.of(Map.of("kms.provider", "vault"), name -> "t")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("kms.vault.address");
    }
}
