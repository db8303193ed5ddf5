package io.embedseal.keyring.kms.vault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsProviderRegistry;
import io.embedseal.keyring.kms.KmsSettings;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.keyring.kms.UnsupportedKmsOperationException;
import io.embedseal.keyring.kms.WrappedDek;
import io.embedseal.kms.testsupport.VaultTransitStandIn;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@DisplayName("Vault Transit provider against the local stand-in (test code)")
class VaultTransitKmsTest {

    private static final byte[] DEK = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] AAD = "aad".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    private VaultTransitStandIn vault;

    @BeforeEach
    void start() {
        vault = VaultTransitStandIn.start();
    }

    @AfterEach
    void stop() {
        vault.close();
    }

    private KmsProvider kms(String token, Map<String, String> extra) {
        Map<String, String> s = new HashMap<>(Map.of("kms.provider", "vault", "kms.vault.address", vault.address()));
        s.putAll(extra);
        return KmsProviderRegistry.create(KmsSettings.of(s, name -> name.equals("VAULT_TOKEN") ? token : null));
    }

    @Test
    void aWrapIsOneHttpRequest() {
        KmsProvider kms = kms(VaultTransitStandIn.ROOT_TOKEN, Map.of());
        kms.createKek("tenant-a");
        int before = vault.requestCount();

        kms.wrapDek("tenant-a", DEK, AAD);

        assertThat(vault.requestCount() - before).isEqualTo(1);
    }

    @Test
    void wrappedDekIsVaultsCiphertext_boundToItsVersion() {
        KmsProvider kms = kms(VaultTransitStandIn.ROOT_TOKEN, Map.of());
        kms.createKek("tenant-a");

        WrappedDek w = kms.wrapDek("tenant-a", DEK, AAD);

        assertThat(new String(w.wrapped(), StandardCharsets.US_ASCII)).startsWith("vault:v1:");
    }

    @Test
    void unknownToken_isDenied() {
        kms(VaultTransitStandIn.ROOT_TOKEN, Map.of()).createKek("tenant-a");

        assertThatThrownBy(() -> kms("not-a-token", Map.of()).wrapDek("tenant-a", DEK, AAD))
                .isInstanceOf(KeyDeniedException.class)
                .hasMessageContaining("403")
                .hasMessageNotContaining("not-a-token");
    }

    @Test
    void pipelineToken_cannotRotateOrDestroy() {
        kms(VaultTransitStandIn.ROOT_TOKEN, Map.of()).createKek("tenant-a");
        KmsProvider pipeline = kms(VaultTransitStandIn.PIPELINE_TOKEN, Map.of());

        assertThatThrownBy(() -> pipeline.rotate("tenant-a")).isInstanceOf(KeyDeniedException.class);
        assertThatThrownBy(() -> pipeline.destroy("tenant-a")).isInstanceOf(KeyDeniedException.class);
        assertThat(vault.hasKey("tenant-a")).isTrue();
    }

    @Test
    void sealedVault_isUnavailable_andRecovers() {
        KmsProvider kms = kms(VaultTransitStandIn.ROOT_TOKEN, Map.of());
        kms.createKek("tenant-a");
        vault.seal();

        assertThatThrownBy(() -> kms.wrapDek("tenant-a", DEK, AAD))
                .isInstanceOf(KmsUnavailableException.class)
                .hasMessageContaining("503");

        vault.unseal();
        assertThat(kms.wrapDek("tenant-a", DEK, AAD).kek().version()).isEqualTo(1);
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
                "kms.vault.connect-timeout-ms",
                "1000");
        KmsProvider kms = KmsProviderRegistry.create(KmsSettings.of(s, name -> "some-token"));

        assertThatThrownBy(() -> kms.wrapDek("tenant-a", DEK, AAD)).isInstanceOf(KmsUnavailableException.class);
    }

    @Test
    void ownerAdvice_namesTheConfiguredMount_notADefault() {
        KmsProvider kms = kms(VaultTransitStandIn.ROOT_TOKEN, Map.of("kms.vault.mount", "tenants/acme-transit"));

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
    void namespace_isSentWithEveryRequest() {
        vault.requireNamespace("customers/acme");
        KmsProvider kms = kms(VaultTransitStandIn.ROOT_TOKEN, Map.of("kms.vault.namespace", "customers/acme"));

        kms.createKek("tenant-a");

        assertThat(vault.lastNamespace()).isEqualTo("customers/acme");
        assertThatThrownBy(() -> kms(VaultTransitStandIn.ROOT_TOKEN, Map.of()).describe("tenant-a"))
                .isInstanceOf(KeyDeniedException.class);
    }

    @Test
    void tokenFromAFile_isRead_andNeverShown() throws Exception {
        Path tokenFile = dir.resolve("token");
        Files.writeString(tokenFile, VaultTransitStandIn.ROOT_TOKEN + "\n");
        KmsProvider kms = KmsProviderRegistry.create(KmsSettings.of(
                Map.of(
                        "kms.provider",
                        "vault",
                        "kms.vault.address",
                        vault.address(),
                        "kms.vault.token-file",
                        tokenFile.toString()),
                name -> null));

        assertThat(kms.createKek("tenant-a").version()).isEqualTo(1);
        assertThat(kms.toString()).contains("token=<redacted>").doesNotContain(VaultTransitStandIn.ROOT_TOKEN);
    }

    @Test
    void missingToken_isAConfigurationErrorNamingTheSettings() {
        Map<String, String> s = Map.of("kms.provider", "vault", "kms.vault.address", vault.address());

        assertThatThrownBy(() -> KmsProviderRegistry.create(KmsSettings.of(s, name -> null)))
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
