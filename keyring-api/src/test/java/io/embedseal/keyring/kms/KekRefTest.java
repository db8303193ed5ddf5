package io.embedseal.keyring.kms;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class KekRefTest {

    @Test
    void printsAndParsesAsProviderNameVersion() {
        KekRef ref = new KekRef("vault", "tenant-acme", 3);

        assertThat(ref).hasToString("vault:tenant-acme:3");
        assertThat(KekRef.parse("vault:tenant-acme:3")).isEqualTo(ref);
    }

    @Test
    void keyNameMayContainColons() {
        KekRef ref = KekRef.parse("pkcs11:slot:0:tenant-acme:2");

        assertThat(ref.provider()).isEqualTo("pkcs11");
        assertThat(ref.keyName()).isEqualTo("slot:0:tenant-acme");
        assertThat(ref.version()).isEqualTo(2);
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "",
                "vault",
                "vault:",
                "vault:k",
                "vault:k:",
                ":k:1",
                "vault::1",
                "vault:k:x",
                "vault:k:0",
                "Vault:k:1",
                "vault:has space:1",
                "vault:k:-1"
            })
    void malformedReferences_areRejected(String text) {
        assertThatThrownBy(() -> KekRef.parse(text)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void sameKeyAs_ignoresVersion() {
        assertThat(KekRef.parse("local:k:1").sameKeyAs(KekRef.parse("local:k:7")))
                .isTrue();
        assertThat(KekRef.parse("local:k:1").sameKeyAs(KekRef.parse("vault:k:1")))
                .isFalse();
    }
}
