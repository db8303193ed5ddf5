package io.embedseal.keyring.kms.vault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The byte-level JSON that keeps a Vault DEK out of Strings. */
class VaultJsonTest {

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    private static String member(String json, String inner) {
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        int[] at = VaultJson.stringMember(b, "data", inner);
        return at == null ? null : new String(Arrays.copyOfRange(b, at[0], at[1]), StandardCharsets.UTF_8);
    }

    @Test
    void buildsAFlatObjectOfExactlyItsSize() {
        byte[] json = VaultJson.object(
                new String[] {"plaintext", "associated_data"}, new byte[][] {ascii("AAEC+/=="), ascii("ZW1i")});

        assertThat(new String(json, StandardCharsets.US_ASCII))
                .isEqualTo("{\"plaintext\":\"AAEC+/==\",\"associated_data\":\"ZW1i\"}");
        assertThatThrownBy(() -> VaultJson.object(new String[] {"a"}, new byte[][] {ascii("x\"y")}))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void findsDataPlaintext_inTransitsAnswer_skippingEverythingElse() {
        String answer = "{\"request_id\":\"9f\\\"x\",\"lease_id\":\"\",\"renewable\":false,\"lease_duration\":0,"
                + "\"warnings\":[\"plaintext\",{\"data\":{\"plaintext\":\"WRONG\"}}],"
                + "\"data\":{\"key_version\":1,\"plaintext\":\"AAECAw==\"},\"wrap_info\":null,\"auth\":null}\n";

        assertThat(member(answer, "plaintext")).isEqualTo("AAECAw==");
        assertThat(member(answer, "ciphertext")).isNull();
        assertThat(member("{ \"data\" : null }", "plaintext")).isNull();
        assertThat(member("{}", "plaintext")).isNull();
    }

    @Test
    void refusesWhatIsNotOneJsonObject_orIsAmbiguous() {
        for (String bad : new String[] {
            "",
            "not json",
            "{\"data\":{\"plaintext\":\"AAEC",
            "{\"data\":{\"plaintext\":\"AA\"}} trailing",
            "{\"data\":{\"plaintext\":\"A\\u0041\"}}",
            "{\"data\":{\"plaintext\":\"AA\",\"plaintext\":\"BB\"}}",
            "{\"data\":{\"plaintext\":\"AA\"},\"data\":{}}",
            "[".repeat(100) + "]".repeat(100)
        }) {
            assertThatThrownBy(() -> member(bad, "plaintext")).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> member("{\"x\":" + "[".repeat(100) + "]".repeat(100) + "}", "plaintext"))
                .hasMessageContaining("nested too deeply");
    }
}
