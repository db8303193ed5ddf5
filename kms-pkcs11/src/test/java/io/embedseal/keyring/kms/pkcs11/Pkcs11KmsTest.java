package io.embedseal.keyring.kms.pkcs11;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsProviderRegistry;
import io.embedseal.keyring.kms.KmsSettings;
import io.embedseal.keyring.kms.WrappedDek;
import io.embedseal.kms.testsupport.SoftHsm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.security.KeyStore;
import java.security.Provider;
import java.security.Security;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@DisplayName("PKCS#11 provider on a SoftHSM2 token")
class Pkcs11KmsTest {

    private static final byte[] DEK =
            "0123456789abcdef0123456789abcdef".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private static final byte[] AAD = "embedseal.dek.v1|acme|late".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    @Test
    void keks_areNonExtractableTokenObjects_perVersion() throws Exception {
        SoftHsm.Token token = SoftHsm.sharedToken();
        KmsProvider kms = KmsProviderRegistry.create(KmsSettings.of(token.settings()));
        kms.createKek("pkcs11-extract-check");
        kms.rotate("pkcs11-extract-check");

        // An independent SunPKCS11 session on the same token sees the objects and cannot read their bytes.
        Provider p = Security.getProvider("SunPKCS11")
                .configure("--name = check\nlibrary = " + SoftHsm.LIBRARY + "\nslot = " + token.slot() + "\n");
        KeyStore ks = KeyStore.getInstance("PKCS11", p);
        ks.load(null, Files.readString(token.pinFile()).toCharArray());
        for (String alias : new String[] {"pkcs11-extract-check.v1", "pkcs11-extract-check.v2"}) {
            Key k = ks.getKey(alias, null);
            assertThat(k).as(alias).isNotNull();
            assertThat(k.getAlgorithm()).isEqualTo("AES");
            assertThat(k.getEncoded()).as("key bytes of " + alias).isNull();
        }
    }

    @Test
    void wrongPin_isAClearFailure() throws Exception {
        SoftHsm.Token token = SoftHsm.sharedToken();
        Path wrongPin = dir.resolve("pin");
        Files.writeString(wrongPin, "not-the-pin");
        Map<String, String> s = new HashMap<>(token.settings());
        s.put("kms.pkcs11.pin-file", wrongPin.toString());

        assertThatThrownBy(() -> KmsProviderRegistry.create(KmsSettings.of(s)))
                .isInstanceOf(KmsException.class)
                .hasMessageContaining("log in")
                .hasMessageNotContaining("not-the-pin");
    }

    @Test
    void aKeyCreatedByAnotherSession_afterThisOneStarted_isFound() {
        SoftHsm.Token token = SoftHsm.sharedToken();
        KmsProvider pipeline = KmsProviderRegistry.create(KmsSettings.of(token.settings()));
        KmsProvider operator = KmsProviderRegistry.create(KmsSettings.of(token.settings())); // the CLI, another session
        String name = "pkcs11-late-" + System.nanoTime();

        operator.createKek(name);
        WrappedDek w = pipeline.wrapDek(name, DEK, AAD);

        assertThat(w.kek().version()).isEqualTo(1);
        assertThat(operator.unwrapDek(w.kek(), w.wrapped(), AAD)).isEqualTo(DEK);
        assertThat(pipeline.describe(name).latestVersion()).isEqualTo(1);
    }

    @Test
    void settings_hideThePin() {
        SoftHsm.Token token = SoftHsm.sharedToken();
        KmsProvider kms = KmsProviderRegistry.create(KmsSettings.of(token.settings()));

        assertThat(kms.toString()).contains("pin=<redacted>", "slot=" + token.slot());
    }
}
