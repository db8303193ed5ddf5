package io.embedseal.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/** Verification works for each key type a KMS may hold, and only for the signed message with its context. */
class KeyEventSignaturesTest {

    private static final byte[] EVENT = "an event".getBytes(StandardCharsets.UTF_8);

    @Test
    void ed25519_ecdsaP256_andRsaPss_verify_andATamperedMessageDoesNot() throws Exception {
        KeyPairGenerator ed = KeyPairGenerator.getInstance("Ed25519");
        KeyPairGenerator ec = KeyPairGenerator.getInstance("EC");
        ec.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPairGenerator rsa = KeyPairGenerator.getInstance("RSA");
        rsa.initialize(3072);
        check(ed.generateKeyPair(), Signature.getInstance("Ed25519"));
        check(ec.generateKeyPair(), Signature.getInstance("SHA256withECDSA"));
        Signature pss = Signature.getInstance("RSASSA-PSS");
        pss.setParameter(new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 32, 1));
        check(rsa.generateKeyPair(), pss);
    }

    private static void check(KeyPair kp, Signature signer) throws Exception {
        signer.initSign(kp.getPrivate());
        signer.update(KeyEventSignatures.message(EVENT));
        byte[] sig = signer.sign();
        assertThat(KeyEventSignatures.verify(kp.getPublic(), EVENT, sig)).isTrue();
        assertThat(KeyEventSignatures.verify(kp.getPublic(), "an evenT".getBytes(StandardCharsets.UTF_8), sig))
                .isFalse();
        // the public key travels as base64 X.509 and as PEM, and keeps its id
        String b64 = KeyEventSignatures.encode(kp.getPublic());
        String pem = "-----BEGIN PUBLIC KEY-----\n"
                + Base64.getMimeEncoder().encodeToString(kp.getPublic().getEncoded()) + "\n-----END PUBLIC KEY-----\n";
        assertThat(KeyEventSignatures.keyId(KeyEventSignatures.parse(b64)))
                .isEqualTo(KeyEventSignatures.keyId(KeyEventSignatures.parse(pem)))
                .isEqualTo(KeyEventSignatures.keyId(kp.getPublic()))
                .hasSize(32);
    }

    @Test
    void garbage_isNeitherAKeyNorAValidSignature() throws Exception {
        assertThatThrownBy(() -> KeyEventSignatures.parse("bm90IGEga2V5")).isInstanceOf(IllegalArgumentException.class);
        KeyPair kp = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        assertThat(KeyEventSignatures.verify(kp.getPublic(), EVENT, new byte[64]))
                .isFalse();
        assertThat(KeyEventSignatures.verify(kp.getPublic(), EVENT, new byte[3]))
                .isFalse();
    }
}
