package io.embedseal.keyring.kms.pkcs11;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsProviderRegistry;
import io.embedseal.keyring.kms.KmsSettings;
import io.embedseal.keyring.kms.SigningKeys;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.kms.testsupport.SoftHsm;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.PublicKey;
import java.security.Security;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@DisplayName("PKCS#11 signing keys on a SoftHSM2 token")
class Pkcs11SigningTest {

    private static final byte[] MESSAGE = "embedseal.key-event.v1|acme|ROTATED|3".getBytes(StandardCharsets.US_ASCII);

    private static KmsProvider kms;
    private static SigningKeys keys;

    @BeforeAll
    static void start() {
        kms = KmsProviderRegistry.create(KmsSettings.of(SoftHsm.sharedToken().settings()));
        keys = kms.signingKeys().orElseThrow();
    }

    @AfterAll
    static void stop() {
        if (kms != null) {
            kms.close();
        }
    }

    private static String name(String what) {
        return "pkcs11-signing-" + what + "-" + System.nanoTime();
    }

    @Test
    void aSignature_verifiesWithTheJdkAndThePublicKey_andNotOnAnotherMessage() throws Exception {
        String name = name("verify");
        keys.createSigningKey(name);

        byte[] signature = keys.sign(name, MESSAGE);
        PublicKey publicKey = keys.publicKey(name);

        assertThat(keys.provider()).isEqualTo("pkcs11");
        assertThat(publicKey.getAlgorithm()).isEqualTo("EC");
        assertThat(publicKey.getFormat()).isEqualTo("X.509");
        assertThat(((ECPublicKey) publicKey).getParams().getCurve().getField().getFieldSize())
                .isEqualTo(256);
        assertThat(signature[0]).as("DER SEQUENCE").isEqualTo((byte) 0x30);

        Signature verifier = Signature.getInstance("SHA256withECDSA"); // the JDK's own provider, not the token
        verifier.initVerify(publicKey);
        assertThat(verifier.getProvider().getName()).doesNotStartWith("SunPKCS11");
        verifier.update(MESSAGE);
        assertThat(verifier.verify(signature)).as("signature over the message").isTrue();

        byte[] tampered = MESSAGE.clone();
        tampered[5] ^= 0x01;
        verifier.initVerify(publicKey);
        verifier.update(tampered);
        assertThat(verifier.verify(signature))
                .as("signature over a message one bit off")
                .isFalse();
    }

    @Test
    void createSigningKey_isIdempotent_andKeepsTheKey() throws Exception {
        String name = name("twice");
        keys.createSigningKey(name);
        PublicKey first = keys.publicKey(name);

        keys.createSigningKey(name);

        assertThat(keys.publicKey(name).getEncoded()).isEqualTo(first.getEncoded());
        Signature verifier = Signature.getInstance("SHA256withECDSA");
        verifier.initVerify(first);
        verifier.update(MESSAGE);
        assertThat(verifier.verify(keys.sign(name, MESSAGE))).isTrue();
    }

    @Test
    void theKeyPair_isATokenObject_whosePrivateKeyCannotBeRead() throws Exception {
        String name = name("extract");
        keys.createSigningKey(name);

        // An independent SunPKCS11 session on the same token sees the key pair and cannot read the private key.
        SoftHsm.Token token = SoftHsm.sharedToken();
        Provider p = Security.getProvider("SunPKCS11")
                .configure("--name = check\nlibrary = " + SoftHsm.LIBRARY + "\nslot = " + token.slot() + "\n");
        KeyStore ks = KeyStore.getInstance("PKCS11", p);
        ks.load(null, Files.readString(token.pinFile()).toCharArray());

        assertThat(ks.entryInstanceOf(name, KeyStore.PrivateKeyEntry.class)).isTrue();
        Key k = ks.getKey(name, null);
        assertThat(k).isInstanceOf(PrivateKey.class);
        assertThat(k.getAlgorithm()).isEqualTo("EC");
        assertThat(k.getEncoded()).as("private key bytes").isNull();
        // SunPKCS11 names the object's CKA_TOKEN, CKA_SENSITIVE and CKA_EXTRACTABLE in its description.
        assertThat(k.toString()).contains("token object", ", sensitive", "unextractable");
        X509Certificate cert = (X509Certificate) ks.getCertificate(name);
        assertThat(cert.getPublicKey().getEncoded())
                .isEqualTo(keys.publicKey(name).getEncoded());
        assertThat(cert.getSubjectX500Principal().getName()).isEqualTo("CN=" + name);
    }

    @Test
    void aKeyCreatedByAnotherSession_afterThisOneStarted_isFound() throws Exception {
        SigningKeys reader = KmsProviderRegistry.create(
                        KmsSettings.of(SoftHsm.sharedToken().settings()))
                .signingKeys()
                .orElseThrow();
        SigningKeys operator = KmsProviderRegistry.create(
                        KmsSettings.of(SoftHsm.sharedToken().settings()))
                .signingKeys()
                .orElseThrow(); // the CLI, another session
        String name = name("late");

        operator.createSigningKey(name);
        PublicKey publicKey = reader.publicKey(name);

        assertThat(publicKey.getEncoded()).isEqualTo(operator.publicKey(name).getEncoded());
        Signature verifier = Signature.getInstance("SHA256withECDSA");
        verifier.initVerify(publicKey);
        verifier.update(MESSAGE);
        assertThat(verifier.verify(reader.sign(name, MESSAGE))).isTrue();
    }

    @Test
    void aHandWrittenConfigWithoutTheEcAttributes_getsItsReadableKeyRefused(@TempDir Path dir) throws Exception {
        // Without the block, SoftHSM2 generates a session key that is not sensitive (its CKA_VALUE can be read,
        // though getEncoded() is null as it is not extractable); the key store copies it into the token.
        SoftHsm.Token token = SoftHsm.sharedToken();
        Path config = dir.resolve("pkcs11.cfg");
        Files.writeString(
                config,
                "name = handwritten\nlibrary = " + SoftHsm.LIBRARY + "\nslot = " + token.slot() + "\n",
                StandardCharsets.US_ASCII);
        Map<String, String> settings = new HashMap<>(token.settings());
        settings.remove("kms.pkcs11.library");
        settings.remove("kms.pkcs11.slot");
        settings.put("kms.pkcs11.config", config.toString());
        SigningKeys careless = KmsProviderRegistry.create(KmsSettings.of(settings))
                .signingKeys()
                .orElseThrow();
        String name = name("readable");

        assertThatThrownBy(() -> careless.createSigningKey(name))
                .isInstanceOf(KmsException.class)
                .hasMessageContaining(name)
                .hasMessageContaining("refusing it")
                .hasMessageContaining("CKO_PRIVATE_KEY, CKK_EC");
        assertThatThrownBy(() -> careless.publicKey(name)).isInstanceOf(UnknownKeyException.class);
    }

    @Test
    void anUnknownKey_isUnknown() {
        String name = name("unknown");

        assertThatThrownBy(() -> keys.publicKey(name))
                .isInstanceOf(UnknownKeyException.class)
                .hasMessageContaining(name);
        assertThatThrownBy(() -> keys.sign(name, MESSAGE))
                .isInstanceOf(UnknownKeyException.class)
                .hasMessageContaining(name);
    }

    @Test
    void aKeksName_isRefused_asNotASigningKey() {
        String name = name("kek");
        kms.createKek(name);

        for (var call : new org.assertj.core.api.ThrowableAssert.ThrowingCallable[] {
            () -> keys.createSigningKey(name), () -> keys.publicKey(name), () -> keys.sign(name, MESSAGE)
        }) {
            assertThatThrownBy(call)
                    .isInstanceOf(KmsException.class)
                    .isNotInstanceOf(UnknownKeyException.class)
                    .hasMessageContaining(name)
                    .hasMessageContaining("not a signing key");
        }
        // The KEK is untouched.
        assertThat(kms.describe(name).latestVersion()).isEqualTo(1);
        byte[] dek = new byte[32];
        var wrapped = kms.wrapDek(name, dek, MESSAGE);
        assertThat(kms.unwrapDek(wrapped.kek(), wrapped.wrapped(), MESSAGE)).isEqualTo(dek);
    }

    @Test
    void aKekVersionsLabel_isRefused_andASigningKeyNamedLikeOne_isNoKekVersion() {
        String kek = name("kek-label");
        kms.createKek(kek);

        assertThatThrownBy(() -> keys.createSigningKey(kek + ".v1"))
                .isInstanceOf(KmsException.class)
                .isNotInstanceOf(UnknownKeyException.class)
                .hasMessageContaining(kek + ".v1");

        String lone = name("lone");
        keys.createSigningKey(lone + ".v1");
        assertThatThrownBy(() -> kms.describe(lone)).isInstanceOf(UnknownKeyException.class);
        assertThatThrownBy(() -> kms.createKek(lone))
                .isInstanceOf(KmsException.class)
                .hasMessageContaining("not replacing it");
        assertThat(keys.publicKey(lone + ".v1").getAlgorithm()).isEqualTo("EC");
    }
}
