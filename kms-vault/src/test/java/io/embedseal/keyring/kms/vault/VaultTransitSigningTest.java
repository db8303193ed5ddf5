package io.embedseal.keyring.kms.vault;

import static io.embedseal.keyring.kms.vault.OpenBaoKmsContractTest.provider;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.keyring.kms.SigningKeys;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.kms.testsupport.OpenBao;
import io.embedseal.openbao.dev.OpenBaoDevServer;
import java.nio.charset.StandardCharsets;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.EdECPublicKey;
import java.util.Arrays;
import java.util.Base64;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The Vault provider's signing keys on a real OpenBao: Transit {@code ed25519} (and {@code ecdsa-p256}) keys whose
 * signatures the JDK verifies, under the deploy/vault policies as they are: the operator signs, the pipeline and the
 * sinks only read the public key, a tenant's authority policy signs with its own key only.
 */
@DisplayName("Vault Transit signing keys on a real OpenBao dev server")
class VaultTransitSigningTest {

    private static final String OPERATOR_KEY = "embedseal-operator-signing";
    private static final byte[] MESSAGE =
            "key event: tenant acme rotated to vault:tenant-acme:2".getBytes(StandardCharsets.UTF_8);
    private static final ObjectMapper JSON = new ObjectMapper();

    private static OpenBao.Namespace ns;
    private static KmsProvider operatorKms;
    private static KmsProvider pipelineKms;
    private static KmsProvider sinkKms;
    private static SigningKeys operator;
    private static SigningKeys pipeline;
    private static SigningKeys sink;

    @BeforeAll
    static void namespace() {
        ns = OpenBao.namespace();
        // Not one of the roles every namespace gets: the policy a BYOK tenant keeps in its own Vault.
        ns.writePolicy("embedseal-tenant-authority-acme", OpenBao.policyFile("tenant-authority-acme"));
        operatorKms = provider(ns, ns.token("embedseal-operator"));
        pipelineKms = provider(ns, ns.token("embedseal-pipeline"));
        sinkKms = provider(ns, ns.token("embedseal-sink"));
        operator = operatorKms.signingKeys().orElseThrow();
        pipeline = pipelineKms.signingKeys().orElseThrow();
        sink = sinkKms.signingKeys().orElseThrow();
    }

    @AfterAll
    static void close() {
        for (KmsProvider p : new KmsProvider[] {operatorKms, pipelineKms, sinkKms}) {
            if (p != null) {
                p.close();
            }
        }
    }

    /** The key as the server reports it, read with the root token (not through the provider). */
    static JsonNode keyOnServer(String key) throws Exception {
        return JSON.readTree(ns.server().require("GET", "transit/keys/" + key, ns.name(), null))
                .path("data");
    }

    static boolean verifies(String algorithm, PublicKey key, byte[] message, byte[] signature) throws Exception {
        Signature v = Signature.getInstance(algorithm);
        v.initVerify(key);
        v.update(message);
        return v.verify(signature);
    }

    static byte[] oneBitChanged(byte[] message) {
        byte[] changed = Arrays.copyOf(message, message.length);
        changed[changed.length / 2] ^= 0x01;
        return changed;
    }

    @Test
    void theOperatorCreatesAnEd25519Key_andItsSignaturesVerifyWithTheJdk() throws Exception {
        operator.createSigningKey(OPERATOR_KEY);
        operator.createSigningKey(OPERATOR_KEY); // idempotent: the same key, still one version

        JsonNode onServer = keyOnServer(OPERATOR_KEY);
        assertThat(onServer.path("type").asText()).isEqualTo("ed25519");
        assertThat(onServer.path("latest_version").asInt()).isEqualTo(1);

        PublicKey publicKey = operator.publicKey(OPERATOR_KEY);
        assertThat(publicKey).isInstanceOf(EdECPublicKey.class);
        assertThat(((EdECPublicKey) publicKey).getParams().getName()).isEqualTo("Ed25519");
        assertThat(publicKey.getFormat()).isEqualTo("X.509");
        byte[] raw = Base64.getDecoder()
                .decode(onServer.path("keys").path("1").path("public_key").asText());
        byte[] spki = publicKey.getEncoded();
        assertThat(Arrays.copyOfRange(spki, spki.length - 32, spki.length))
                .as("the server's raw public key, inside the SubjectPublicKeyInfo")
                .isEqualTo(raw);

        byte[] signature = operator.sign(OPERATOR_KEY, MESSAGE);

        assertThat(signature).hasSize(64);
        assertThat(verifies("Ed25519", publicKey, MESSAGE, signature)).isTrue();
        assertThat(verifies("Ed25519", publicKey, oneBitChanged(MESSAGE), signature))
                .as("control: one bit of the message changed")
                .isFalse();
    }

    @Test
    void aRotatedKey_signsWithItsLatestVersion_andThePublicKeyFollows() throws Exception {
        String key = "embedseal-rotated-signing";
        operator.createSigningKey(key);
        PublicKey v1 = operator.publicKey(key);
        ns.server().require("POST", "transit/keys/" + key + "/rotate", ns.name(), null);

        PublicKey v2 = operator.publicKey(key);
        byte[] signature = operator.sign(key, MESSAGE);

        assertThat(v2.getEncoded()).isNotEqualTo(v1.getEncoded());
        assertThat(verifies("Ed25519", v2, MESSAGE, signature)).isTrue();
        assertThat(verifies("Ed25519", v1, MESSAGE, signature)).isFalse();
    }

    @Test
    void pipelineAndSinkTokens_readThePublicKey_butCannotSignOrCreate() {
        operator.createSigningKey(OPERATOR_KEY);
        byte[] operatorsView = operator.publicKey(OPERATOR_KEY).getEncoded();
        String input = Base64.getEncoder().encodeToString(MESSAGE);

        for (SigningKeys reader : new SigningKeys[] {pipeline, sink}) {
            assertThat(reader.publicKey(OPERATOR_KEY).getEncoded()).isEqualTo(operatorsView);
            assertThatThrownBy(() -> reader.sign(OPERATOR_KEY, MESSAGE))
                    .isInstanceOf(KeyDeniedException.class)
                    .hasMessageContaining(OPERATOR_KEY)
                    .hasMessageNotContaining(input)
                    .hasMessageNotContaining(new String(MESSAGE, StandardCharsets.UTF_8));
            reader.createSigningKey(OPERATOR_KEY); // it exists and may be read: nothing to create, nothing refused
            assertThatThrownBy(() -> reader.createSigningKey("embedseal-readers-signing"))
                    .isInstanceOf(KeyDeniedException.class);
        }
        assertThat(ns.hasKey("embedseal-readers-signing")).isFalse();
    }

    @Test
    void anUnknownKey_isUnknown() {
        String key = "embedseal-missing-signing";
        assertThatThrownBy(() -> operator.publicKey(key)).isInstanceOf(UnknownKeyException.class);
        assertThatThrownBy(() -> operator.sign(key, MESSAGE)).isInstanceOf(UnknownKeyException.class);
        assertThatThrownBy(() -> pipeline.publicKey(key)).isInstanceOf(UnknownKeyException.class);
        assertThat(ns.hasKey(key)).isFalse();
    }

    @Test
    void aDataKek_isNotASigningKey() throws Exception {
        String kek = "tenant-x";
        operatorKms.createKek(kek);

        assertThatThrownBy(() -> operator.publicKey(kek))
                .isExactlyInstanceOf(KmsException.class)
                .hasMessageContaining("'" + kek + "'")
                .hasMessageContaining("aes256-gcm96")
                .hasMessageContaining("not a signing key");
        assertThatThrownBy(() -> operator.sign(kek, MESSAGE))
                .isExactlyInstanceOf(KmsException.class)
                .hasMessageContaining("not a signing key");
        // Transit answers a create of an existing key with that key, unchanged: the provider must look at its type.
        assertThatThrownBy(() -> operator.createSigningKey(kek))
                .isExactlyInstanceOf(KmsException.class)
                .hasMessageContaining("'" + kek + "'")
                .hasMessageContaining("aes256-gcm96");
        assertThat(keyOnServer(kek).path("type").asText()).isEqualTo("aes256-gcm96");
    }

    @Test
    void theTenantAuthorityPolicy_signsWithItsOwnKeyOnly() throws Exception {
        ns.server().require("POST", "transit/keys/acme-authority", ns.name(), "{\"type\":\"ed25519\"}");
        operator.createSigningKey(OPERATOR_KEY);
        try (KmsProvider acmeKms = provider(ns, ns.token("embedseal-tenant-authority-acme"))) {
            SigningKeys acme = acmeKms.signingKeys().orElseThrow();

            byte[] signature = acme.sign("acme-authority", MESSAGE);

            assertThat(verifies("Ed25519", acme.publicKey("acme-authority"), MESSAGE, signature))
                    .isTrue();
            assertThat(verifies("Ed25519", operator.publicKey(OPERATOR_KEY), MESSAGE, signature))
                    .as("control: not the operator's key")
                    .isFalse();
            assertThatThrownBy(() -> acme.sign(OPERATOR_KEY, MESSAGE)).isInstanceOf(KeyDeniedException.class);
            assertThatThrownBy(() -> acme.publicKey(OPERATOR_KEY)).isInstanceOf(KeyDeniedException.class);
            acme.createSigningKey("acme-authority"); // exists, readable: idempotent without the right to create
            assertThatThrownBy(() -> acme.createSigningKey("acme-other")).isInstanceOf(KeyDeniedException.class);
        }
        assertThat(ns.hasKey("acme-other")).isFalse();
    }

    @Test
    void aSealedServer_isAnOutage() throws Exception {
        try (OpenBaoDevServer own = OpenBao.startOwn(false)) {
            OpenBao.Namespace rootNs = OpenBao.root(own);
            try (KmsProvider kms = provider(rootNs, rootNs.token("embedseal-operator"))) {
                SigningKeys signing = kms.signingKeys().orElseThrow();
                signing.createSigningKey(OPERATOR_KEY);
                PublicKey publicKey = signing.publicKey(OPERATOR_KEY);

                own.seal();

                assertThatThrownBy(() -> signing.sign(OPERATOR_KEY, MESSAGE))
                        .isInstanceOf(KmsUnavailableException.class)
                        .hasMessageContaining("503");
                assertThatThrownBy(() -> signing.publicKey(OPERATOR_KEY)).isInstanceOf(KmsUnavailableException.class);
                assertThatThrownBy(() -> signing.createSigningKey(OPERATOR_KEY))
                        .isInstanceOf(KmsUnavailableException.class);

                own.unseal();

                assertThat(verifies("Ed25519", publicKey, MESSAGE, signing.sign(OPERATOR_KEY, MESSAGE)))
                        .isTrue();
            }
        }
    }

    @Test
    void anEcdsaP256Key_signsInDer_andVerifiesWithSha256WithEcdsa() throws Exception {
        String key = "embedseal-ecdsa-signing";
        ns.server().require("POST", "transit/keys/" + key, ns.name(), "{\"type\":\"ecdsa-p256\"}");
        operator.createSigningKey(key); // an existing signing key of another algorithm is fine, and left as it is

        PublicKey publicKey = operator.publicKey(key);
        byte[] signature = operator.sign(key, MESSAGE);

        assertThat(keyOnServer(key).path("type").asText()).isEqualTo("ecdsa-p256");
        assertThat(publicKey).isInstanceOf(ECPublicKey.class);
        assertThat(((ECPublicKey) publicKey).getParams().getCurve().getField().getFieldSize())
                .isEqualTo(256);
        assertThat(signature[0]).as("a DER SEQUENCE").isEqualTo((byte) 0x30);
        assertThat(verifies("SHA256withECDSA", publicKey, MESSAGE, signature)).isTrue();
        assertThat(verifies("SHA256withECDSA", publicKey, oneBitChanged(MESSAGE), signature))
                .as("control: one bit of the message changed")
                .isFalse();
        assertThat(pipeline.publicKey(key).getEncoded()).isEqualTo(publicKey.getEncoded());
    }

    @Test
    void keyNames_followTheRuleForKekNames() {
        assertThatThrownBy(() -> operator.createSigningKey("embedseal operator signing"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("signing key name");
        assertThatThrownBy(() -> operator.sign("", MESSAGE)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> operator.publicKey("embedseal-" + "x".repeat(200)))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
