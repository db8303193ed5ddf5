package io.embedseal.keyring.kms;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.interfaces.RSAPrivateKey;
import java.security.interfaces.RSAPublicKey;
import java.util.Random;
import javax.crypto.Cipher;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class RsaKeyWrapTest {

    static KeyPair pair;
    static KeyPair other;

    @BeforeAll
    static void keys() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(3072);
        pair = g.generateKeyPair();
        other = g.generateKeyPair();
    }

    /** What a KMS does with the private key: RSA-OAEP-SHA256 decryption (JCE's, as Vault Transit does it). */
    static RsaKeyWrap.OaepDecryptor kms(KeyPair p) {
        return c1 -> {
            try {
                Cipher rsa = Cipher.getInstance("RSA/ECB/OAEPPadding");
                rsa.init(Cipher.DECRYPT_MODE, p.getPrivate(), RsaKeyWrap.OAEP_SHA256);
                return rsa.doFinal(c1);
            } catch (java.security.GeneralSecurityException e) {
                throw new InvalidWrappedKeyException("decryption error");
            }
        };
    }

    /** A KMS that can only do raw RSA (a PKCS#11 token through SunPKCS11): OAEP decoded by {@link RsaKeyWrap}. */
    static RsaKeyWrap.OaepDecryptor rawKms(KeyPair p) {
        RSAPrivateKey k = (RSAPrivateKey) p.getPrivate();
        int bytes = (k.getModulus().bitLength() + 7) / 8;
        return c1 -> {
            BigInteger m = new BigInteger(1, c1).modPow(k.getPrivateExponent(), k.getModulus());
            byte[] em = m.toByteArray();
            if (em.length > bytes) {
                em = java.util.Arrays.copyOfRange(em, em.length - bytes, em.length);
            }
            return RsaKeyWrap.oaepDecode(em, bytes);
        };
    }

    static byte[] aad(String tenant, String dek) {
        return ("embedseal.dek.v1|" + tenant + "|" + dek).getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void wrapsWithThePublicKeyAlone_andTheKmsUnwraps_throughOaepOrRawRsa() {
        byte[] dek = new byte[32];
        new Random(1).nextBytes(dek);
        byte[] wrapped = RsaKeyWrap.wrap((RSAPublicKey) pair.getPublic(), dek, aad("acme", "d1"));
        assertThat(RsaKeyWrap.unwrap(wrapped, aad("acme", "d1"), kms(pair))).isEqualTo(dek);
        assertThat(RsaKeyWrap.unwrap(wrapped, aad("acme", "d1"), rawKms(pair))).isEqualTo(dek);
        assertThat(RsaKeyWrap.wrap((RSAPublicKey) pair.getPublic(), dek, aad("acme", "d1")))
                .as("randomised")
                .isNotEqualTo(wrapped);
    }

    /**
     * The binding the RSA step cannot carry: a wrapped DEK of acme's presented as globex's (or as another DEK id).
     * With the RSA part alone (the defence off) the KMS hands back the key that opens it; the GCM part refuses.
     */
    @Test
    void aWrappedKeyMovedToAnotherBinding_doesNotOpen() {
        byte[] dek = new byte[32];
        byte[] wrapped = RsaKeyWrap.wrap((RSAPublicKey) pair.getPublic(), dek, aad("acme", "d1"));
        byte[] c1 = java.util.Arrays.copyOfRange(wrapped, 7, 7 + 384);
        assertThat(kms(pair).decrypt(c1)).as("the RSA step alone: no binding").hasSize(32);
        assertThatThrownBy(() -> RsaKeyWrap.unwrap(wrapped, aad("globex", "d1"), kms(pair)))
                .isInstanceOf(InvalidWrappedKeyException.class);
        assertThatThrownBy(() -> RsaKeyWrap.unwrap(wrapped, aad("acme", "d2"), kms(pair)))
                .isInstanceOf(InvalidWrappedKeyException.class);
        assertThatThrownBy(() -> RsaKeyWrap.unwrap(wrapped, aad("acme", "d1"), kms(other)))
                .isInstanceOf(InvalidWrappedKeyException.class);
    }

    @Test
    void alteredOrForeignBytes_areRefused_neverOpened() {
        byte[] wrapped = RsaKeyWrap.wrap((RSAPublicKey) pair.getPublic(), new byte[32], aad("acme", "d1"));
        for (int i : new int[] {0, 4, 5, 6, 100, wrapped.length - 1}) {
            byte[] bad = wrapped.clone();
            bad[i] ^= 1;
            assertThatThrownBy(() -> RsaKeyWrap.unwrap(bad, aad("acme", "d1"), kms(pair)))
                    .as("byte %d flipped", i)
                    .isInstanceOf(InvalidWrappedKeyException.class);
            assertThatThrownBy(() -> RsaKeyWrap.unwrap(bad, aad("acme", "d1"), rawKms(pair)))
                    .isInstanceOf(InvalidWrappedKeyException.class);
        }
        assertThatThrownBy(() -> RsaKeyWrap.unwrap(new byte[3], new byte[0], kms(pair)))
                .isInstanceOf(InvalidWrappedKeyException.class);
    }

    /** RFC 8017 decoding against the JDK's own OAEP: the same message from the same ciphertexts. */
    @Test
    void oaepDecode_agreesWithTheJdk() throws Exception {
        Random r = new Random(2);
        Cipher enc = Cipher.getInstance("RSA/ECB/OAEPPadding");
        enc.init(Cipher.ENCRYPT_MODE, pair.getPublic(), RsaKeyWrap.OAEP_SHA256);
        for (int len : new int[] {0, 1, 32, 100, 384 - 66}) {
            byte[] m = new byte[len];
            r.nextBytes(m);
            byte[] c = enc.doFinal(m);
            assertThat(rawKms(pair).decrypt(c)).isEqualTo(m);
        }
        assertThatThrownBy(() -> RsaKeyWrap.oaepDecode(new byte[384], 384))
                .isInstanceOf(InvalidWrappedKeyException.class);
    }

    @Test
    void shortKeys_areRefused() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(1024);
        RSAPublicKey small = (RSAPublicKey) g.generateKeyPair().getPublic();
        assertThatThrownBy(() -> RsaKeyWrap.wrap(small, new byte[32], new byte[0]))
                .hasMessageContaining("2048");
    }
}
