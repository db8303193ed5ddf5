package io.embedseal.keyring.kms;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * One contract every KMS provider must keep. Subclasses provide the KMS (and say in their display name
 * which one ran); every test uses its own key name, so a shared KMS is fine.
 */
public abstract class KmsContractTest {

    protected static final byte[] DEK = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    protected static final byte[] AAD = "embedseal.dek.v1|acme|some-dek-id".getBytes(StandardCharsets.US_ASCII);

    /** A KMS with operator rights (create, rotate, restrict, destroy). */
    protected abstract KmsProvider kms();

    /** A KMS with the pipeline's rights only; the same as {@link #kms()} unless the provider has roles. */
    protected Kms pipelineKms() {
        return kms();
    }

    protected String newKeyName() {
        return "contract-" + UUID.randomUUID().toString().substring(0, 12);
    }

    private boolean supports(KmsOperation op) {
        return kms().supportedOperations().contains(op);
    }

    @Test
    void createdKey_startsAtVersionOne_enabled() {
        String name = newKeyName();

        KekRef kek = kms().createKek(name);

        assertThat(kek).isEqualTo(new KekRef(kms().provider(), name, 1));
        KeyDescription d = kms().describe(name);
        assertThat(d.latestVersion()).isEqualTo(1);
        assertThat(d.minDecryptionVersion()).isEqualTo(1);
        assertThat(d.state()).isEqualTo(KeyState.ENABLED);
    }

    @Test
    void createIsIdempotent() {
        String name = newKeyName();
        kms().createKek(name);
        kms().rotate(name);

        assertThat(kms().createKek(name).version()).isEqualTo(2);
    }

    @Test
    void wrapThenUnwrap_returnsTheDek_underTheCurrentVersion() {
        String name = newKeyName();
        kms().createKek(name);

        WrappedDek w = pipelineKms().wrapDek(name, DEK, AAD);

        assertThat(w.kek()).isEqualTo(new KekRef(kms().provider(), name, 1));
        assertThat(indexOf(w.wrapped(), Arrays.copyOf(DEK, 8)))
                .as("raw DEK bytes in the wrapped form")
                .isEqualTo(-1);
        assertThat(pipelineKms().unwrapDek(w.kek(), w.wrapped(), AAD)).isEqualTo(DEK);
    }

    @Test
    void twoWrapsOfTheSameDek_differ() {
        String name = newKeyName();
        kms().createKek(name);

        assertThat(pipelineKms().wrapDek(name, DEK, AAD).wrapped())
                .isNotEqualTo(pipelineKms().wrapDek(name, DEK, AAD).wrapped());
    }

    @Test
    void unwrapWithOtherAssociatedData_isAnInvalidWrappedKey() {
        String name = newKeyName();
        kms().createKek(name);
        WrappedDek w = pipelineKms().wrapDek(name, DEK, AAD);

        assertThatThrownBy(() ->
                        pipelineKms().unwrapDek(w.kek(), w.wrapped(), "other".getBytes(StandardCharsets.US_ASCII)))
                .isInstanceOf(InvalidWrappedKeyException.class);
    }

    @Test
    void unwrapOfAnAlteredWrappedDek_isAnInvalidWrappedKey() {
        String name = newKeyName();
        kms().createKek(name);
        WrappedDek w = pipelineKms().wrapDek(name, DEK, AAD);
        byte[] altered = w.wrapped();
        altered[altered.length / 2] ^= 0x04;

        assertThatThrownBy(() -> pipelineKms().unwrapDek(w.kek(), altered, AAD))
                .isInstanceOf(InvalidWrappedKeyException.class);
    }

    @Test
    void unwrapUnderAnotherKey_fails() {
        String a = newKeyName();
        String b = newKeyName();
        kms().createKek(a);
        kms().createKek(b);
        WrappedDek w = pipelineKms().wrapDek(a, DEK, AAD);

        assertThatThrownBy(() -> pipelineKms().unwrapDek(new KekRef(kms().provider(), b, 1), w.wrapped(), AAD))
                .isInstanceOf(InvalidWrappedKeyException.class);
    }

    @Test
    void wrapUnderAMissingKey_failsClosed_andCreatesNothing() {
        String name = newKeyName();

        assertThatThrownBy(() -> pipelineKms().wrapDek(name, DEK, AAD))
                .isInstanceOfAny(UnknownKeyException.class, KeyDeniedException.class);
        assertThatThrownBy(() -> kms().describe(name)).isInstanceOf(UnknownKeyException.class);
    }

    @Test
    void describingAMissingKey_isUnknown() {
        assertThatThrownBy(() -> kms().describe(newKeyName())).isInstanceOf(UnknownKeyException.class);
    }

    @Test
    void kekOfAnotherProvider_isUnknown() {
        String name = newKeyName();
        kms().createKek(name);
        WrappedDek w = pipelineKms().wrapDek(name, DEK, AAD);
        String other = kms().provider().equals("local") ? "vault" : "local";

        assertThatThrownBy(() -> pipelineKms().unwrapDek(new KekRef(other, name, 1), w.wrapped(), AAD))
                .isInstanceOf(UnknownKeyException.class);
    }

    @Test
    void rotation_wrapsUnderTheNewVersion_andTheOldStillUnwraps() {
        String name = newKeyName();
        kms().createKek(name);
        WrappedDek v1 = pipelineKms().wrapDek(name, DEK, AAD);

        KekRef rotated = kms().rotate(name);
        WrappedDek v2 = pipelineKms().wrapDek(name, DEK, AAD);

        assertThat(rotated.version()).isEqualTo(2);
        assertThat(v2.kek().version()).isEqualTo(2);
        assertThat(kms().describe(name).latestVersion()).isEqualTo(2);
        assertThat(pipelineKms().unwrapDek(v1.kek(), v1.wrapped(), AAD)).isEqualTo(DEK);
        assertThat(pipelineKms().unwrapDek(v2.kek(), v2.wrapped(), AAD)).isEqualTo(DEK);
    }

    @Test
    void aWrappedDekStoredUnderTheWrongVersion_doesNotOpen() {
        String name = newKeyName();
        kms().createKek(name);
        WrappedDek v1 = pipelineKms().wrapDek(name, DEK, AAD);
        kms().rotate(name);

        assertThatThrownBy(() -> pipelineKms().unwrapDek(v1.kek().withVersion(2), v1.wrapped(), AAD))
                .isInstanceOf(InvalidWrappedKeyException.class);
    }

    @Test
    void restriction_deniesOldVersions_andIsReversible() {
        assumeTrue(supports(KmsOperation.RESTRICT), kms().provider() + " cannot restrict versions");
        String name = newKeyName();
        kms().createKek(name);
        WrappedDek v1 = pipelineKms().wrapDek(name, DEK, AAD);
        kms().rotate(name);

        kms().restrictVersions(name, 2);

        assertThat(kms().describe(name).minDecryptionVersion()).isEqualTo(2);
        assertThatThrownBy(() -> pipelineKms().unwrapDek(v1.kek(), v1.wrapped(), AAD))
                .isInstanceOf(KeyDeniedException.class);
        kms().restrictVersions(name, 1);
        assertThat(pipelineKms().unwrapDek(v1.kek(), v1.wrapped(), AAD)).isEqualTo(DEK);
    }

    @Test
    void restrictionBeyondTheLatestVersion_isRefused() {
        assumeTrue(supports(KmsOperation.RESTRICT), kms().provider() + " cannot restrict versions");
        String name = newKeyName();
        kms().createKek(name);

        assertThatThrownBy(() -> kms().restrictVersions(name, 2)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void disabling_deniesWrapAndUnwrap_andEnablingRestores() {
        assumeTrue(supports(KmsOperation.DISABLE), kms().provider() + " cannot disable keys");
        String name = newKeyName();
        kms().createKek(name);
        WrappedDek w = pipelineKms().wrapDek(name, DEK, AAD);

        kms().disable(name);

        assertThat(kms().describe(name).state()).isEqualTo(KeyState.DISABLED);
        assertThatThrownBy(() -> pipelineKms().wrapDek(name, DEK, AAD)).isInstanceOf(KeyDeniedException.class);
        assertThatThrownBy(() -> pipelineKms().unwrapDek(w.kek(), w.wrapped(), AAD))
                .isInstanceOf(KeyDeniedException.class);
        kms().enable(name);
        assertThat(pipelineKms().unwrapDek(w.kek(), w.wrapped(), AAD)).isEqualTo(DEK);
    }

    @Test
    void destruction_makesEveryWrappedDekUnreadable() {
        String name = newKeyName();
        kms().createKek(name);
        WrappedDek v1 = pipelineKms().wrapDek(name, DEK, AAD);
        kms().rotate(name);
        WrappedDek v2 = pipelineKms().wrapDek(name, DEK, AAD);

        kms().destroy(name);

        assertThatThrownBy(() -> kms().describe(name)).isInstanceOf(UnknownKeyException.class);
        for (WrappedDek w : new WrappedDek[] {v1, v2}) {
            assertThatThrownBy(() -> pipelineKms().unwrapDek(w.kek(), w.wrapped(), AAD))
                    .isInstanceOf(UnknownKeyException.class);
        }
    }

    @Test
    void recreatingADestroyedKey_doesNotBringOldDataBack() {
        String name = newKeyName();
        kms().createKek(name);
        WrappedDek old = pipelineKms().wrapDek(name, DEK, AAD);
        kms().destroy(name);

        kms().createKek(name);

        assertThatThrownBy(() -> pipelineKms().unwrapDek(old.kek(), old.wrapped(), AAD))
                .isInstanceOfAny(InvalidWrappedKeyException.class, UnknownKeyException.class);
    }

    @Test
    void unsupportedOperations_failWithATypedErrorThatSaysWhatToDoInstead() {
        String name = newKeyName();
        kms().createKek(name);
        for (KmsOperation op : KmsOperation.values()) {
            if (kms().supportedOperations().contains(op)) {
                continue;
            }
            Runnable call = switch (op) {
                case DISABLE -> () -> kms().disable(name);
                case ENABLE -> () -> kms().enable(name);
                case RESTRICT -> () -> kms().restrictVersions(name, 1);
                default -> throw new AssertionError("the data path and create/rotate/destroy must be supported: " + op);
            };
            assertThatThrownBy(call::run).isInstanceOfSatisfying(UnsupportedKmsOperationException.class, e -> {
                assertThat(e.operation()).isEqualTo(op);
                assertThat(e.getMessage()).contains(kms().provider());
            });
        }
    }

    // --- public-key KEKs ------------------------------------------------------------------------------

    @Test
    void publicKeyKek_wrapsWithItsPublicKeyAlone_andTheKmsUnwraps() {
        String name = newKeyName();
        KekRef created = kms().createKek(name, KekKind.PUBLIC_KEY);
        assertThat(created).isEqualTo(new KekRef(kms().provider(), name, 1));

        PublicKek pk = publicKekOf(name, 1);
        assertThat(pk.kek()).isEqualTo(created);
        WrappedDek w = pk.wrap(DEK, AAD); // no KMS involved

        assertThat(w.kek()).isEqualTo(created);
        assertThat(PublicKek.isPublicKeyWrap(w.wrapped())).isTrue();
        assertThat(indexOf(w.wrapped(), Arrays.copyOf(DEK, 8))).isEqualTo(-1);
        assertThat(pipelineKms().unwrapDek(w.kek(), w.wrapped(), AAD)).isEqualTo(DEK);
    }

    @Test
    void publicKeyWrap_opensOnlyForItsAssociatedData() {
        String name = newKeyName();
        kms().createKek(name, KekKind.PUBLIC_KEY);
        WrappedDek w = publicKekOf(name, 1).wrap(DEK, AAD);
        byte[] otherTenant = "embedseal.dek.v1|evil|some-dek-id".getBytes(StandardCharsets.US_ASCII);

        assertThatThrownBy(() -> pipelineKms().unwrapDek(w.kek(), w.wrapped(), otherTenant))
                .isInstanceOf(InvalidWrappedKeyException.class);
    }

    @Test
    void publicKeyWrap_altered_isAnInvalidWrappedKey() {
        String name = newKeyName();
        kms().createKek(name, KekKind.PUBLIC_KEY);
        WrappedDek w = publicKekOf(name, 1).wrap(DEK, AAD);
        for (int at : new int[] {10, w.wrapped().length - 5}) { // inside the KEM part, inside the DEK's ciphertext
            byte[] altered = w.wrapped();
            altered[at] ^= 0x01;
            assertThatThrownBy(() -> pipelineKms().unwrapDek(w.kek(), altered, AAD))
                    .as("a bit flipped at %d", at)
                    .isInstanceOf(InvalidWrappedKeyException.class);
        }
    }

    @Test
    void publicKeyWrap_underAnotherKeyPair_doesNotOpen() {
        String a = newKeyName();
        String b = newKeyName();
        kms().createKek(a, KekKind.PUBLIC_KEY);
        kms().createKek(b, KekKind.PUBLIC_KEY);
        WrappedDek w = publicKekOf(a, 1).wrap(DEK, AAD);

        assertThat(publicKekOf(b, 1).spki()).isNotEqualTo(publicKekOf(a, 1).spki());
        assertThatThrownBy(() -> pipelineKms().unwrapDek(new KekRef(kms().provider(), b, 1), w.wrapped(), AAD))
                .isInstanceOf(InvalidWrappedKeyException.class);
    }

    @Test
    void publicKeyKek_rotation_givesANewKeyPair_andOldWrapsStillOpen() {
        String name = newKeyName();
        kms().createKek(name, KekKind.PUBLIC_KEY);
        WrappedDek old = publicKekOf(name, 1).wrap(DEK, AAD);

        KekRef v2 = kms().rotate(name);

        assertThat(v2.version()).isEqualTo(2);
        PublicKek pk2 = publicKekOf(name, 2);
        assertThat(pk2.spki()).isNotEqualTo(publicKekOf(name, 1).spki());
        assertThat(pipelineKms()
                        .unwrapDek(pk2.wrap(DEK, AAD).kek(), pk2.wrap(DEK, AAD).wrapped(), AAD))
                .isEqualTo(DEK);
        assertThat(pipelineKms().unwrapDek(old.kek(), old.wrapped(), AAD)).isEqualTo(DEK);
        assertThatThrownBy(() -> pipelineKms().unwrapDek(new KekRef(kms().provider(), name, 2), old.wrapped(), AAD))
                .as("a version-1 wrap presented as version 2")
                .isInstanceOf(InvalidWrappedKeyException.class);
    }

    @Test
    void symmetricKek_hasNoPublicKey_andRefusesAPublicKeyWrap() {
        String name = newKeyName();
        String pair = newKeyName();
        kms().createKek(name);
        kms().createKek(pair, KekKind.PUBLIC_KEY);
        WrappedDek w = publicKekOf(pair, 1).wrap(DEK, AAD);

        assertThat(kms().publicKek(name, 1)).isNull();
        assertThatThrownBy(() -> pipelineKms().unwrapDek(new KekRef(kms().provider(), name, 1), w.wrapped(), AAD))
                .isInstanceOf(InvalidWrappedKeyException.class);
    }

    /**
     * The KMS never wraps under a key pair: only the public key pinned in the tenant's signed events does (a key the KMS
     * reports now could be another than the one the tenant registered).
     */
    @Test
    void wrapDek_underAPublicKeyKek_isRefused() {
        String name = newKeyName();
        kms().createKek(name, KekKind.PUBLIC_KEY);

        assertThatThrownBy(() -> pipelineKms().wrapDek(name, DEK, AAD))
                .isInstanceOf(KmsException.class)
                .hasMessageContaining("public-key KEK");
    }

    /** A symmetric wrap presented under a key pair is the record's fault, never the key's or an outage. */
    @Test
    void aSymmetricWrapUnderAPublicKeyKek_isAnInvalidWrappedKey() {
        String symmetric = newKeyName();
        String pair = newKeyName();
        kms().createKek(symmetric);
        kms().createKek(pair, KekKind.PUBLIC_KEY);
        WrappedDek w = pipelineKms().wrapDek(symmetric, DEK, AAD);

        assertThatThrownBy(() -> pipelineKms().unwrapDek(new KekRef(kms().provider(), pair, 1), w.wrapped(), AAD))
                .isInstanceOf(InvalidWrappedKeyException.class);
    }

    @Test
    void destroyingAPublicKeyKek_makesItsWrapsUnreadable() {
        String name = newKeyName();
        kms().createKek(name, KekKind.PUBLIC_KEY);
        WrappedDek w = publicKekOf(name, 1).wrap(DEK, AAD);

        kms().destroy(name);

        assertThatThrownBy(() -> pipelineKms().unwrapDek(w.kek(), w.wrapped(), AAD))
                .isInstanceOfAny(UnknownKeyException.class, KeyDeniedException.class);
    }

    @Test
    void publicKeyOfAMissingVersion_isUnknown() {
        String name = newKeyName();
        kms().createKek(name, KekKind.PUBLIC_KEY);

        assertThatThrownBy(() -> publicKekOf(name, 2)).isInstanceOf(UnknownKeyException.class);
    }

    // --- key import -----------------------------------------------------------------------------------

    private KeyImport keyImport() {
        assumeTrue(kms().keyImport().isPresent(), kms().provider() + " cannot import keys");
        return kms().keyImport().orElseThrow();
    }

    @Test
    void importedSymmetricKey_isTheTenantsOwn_andWrapsAndUnwraps() {
        KeyImport imports = keyImport();
        String name = newKeyName();
        ImportParameters p = imports.parameters(name, KekKind.SYMMETRIC);
        assertThat(p.material()).isEqualTo(ImportParameters.Material.AES_256_RAW);
        KeyImportWrap.Material made = KeyImportWrap.generate(p); // the tenant's side

        KekRef imported = imports.importKek(name, KekKind.SYMMETRIC, KeyImportWrap.wrap(p, made.secret()));

        assertThat(imported).isEqualTo(new KekRef(kms().provider(), name, 1));
        assertThat(kms().publicKek(name, 1)).isNull();
        byte[] check = imports.checkAsWrappedDek(imported, KeyImportWrap.check(made.secret()));
        assertThat(KeyImportWrap.verify(pipelineKms(), imported, check))
                .as("the KMS opens the tenant's key check")
                .isTrue();
        byte[] otherKey = KeyImportWrap.generate(p).secret();
        byte[] otherCheck = imports.checkAsWrappedDek(imported, KeyImportWrap.check(otherKey));
        assertThat(KeyImportWrap.verify(pipelineKms(), imported, otherCheck))
                .as("a check made with another key")
                .isFalse();
        WrappedDek w = pipelineKms().wrapDek(name, DEK, AAD);
        assertThat(pipelineKms().unwrapDek(w.kek(), w.wrapped(), AAD)).isEqualTo(DEK);
    }

    @Test
    void importedKeyPair_reportsThePublicKeyTheTenantMade() {
        KeyImport imports = keyImport();
        assumeTrue(imports.kinds().contains(KekKind.PUBLIC_KEY), kms().provider() + " cannot import key pairs");
        String name = newKeyName();
        ImportParameters p = imports.parameters(name, KekKind.PUBLIC_KEY);
        KeyImportWrap.Material made = KeyImportWrap.generate(p);

        KekRef imported = imports.importKek(name, KekKind.PUBLIC_KEY, KeyImportWrap.wrap(p, made.secret()));

        PublicKek pk = publicKekOf(name, imported.version());
        assertThat(pk.spki()).as("the public key the KMS reports").isEqualTo(made.publicKey());
        WrappedDek w = pk.wrap(DEK, AAD);
        assertThat(pipelineKms().unwrapDek(w.kek(), w.wrapped(), AAD)).isEqualTo(DEK);
    }

    @Test
    void importNeverReplacesAKey() {
        KeyImport imports = keyImport();
        String name = newKeyName();
        kms().createKek(name);
        WrappedDek before = pipelineKms().wrapDek(name, DEK, AAD);
        ImportParameters p = imports.parameters(name, KekKind.SYMMETRIC);

        assertThatThrownBy(() -> imports.importKek(
                        name,
                        KekKind.SYMMETRIC,
                        KeyImportWrap.wrap(p, KeyImportWrap.generate(p).secret())))
                .isInstanceOf(KmsException.class)
                .hasMessageContaining("never replaces");
        assertThat(pipelineKms().unwrapDek(before.kek(), before.wrapped(), AAD)).isEqualTo(DEK);
    }

    @Test
    void importOfMaterialNotWrappedForThisKms_isRefused_andCreatesNothing() {
        KeyImport imports = keyImport();
        String name = newKeyName();
        ImportParameters p = imports.parameters(name, KekKind.SYMMETRIC);
        byte[] wrapped = KeyImportWrap.wrap(p, KeyImportWrap.generate(p).secret());
        wrapped[10] ^= 0x01; // inside the RSA part: the transport key does not open it

        assertThatThrownBy(() -> imports.importKek(name, KekKind.SYMMETRIC, wrapped))
                .isInstanceOf(KmsException.class);
        assertThatThrownBy(() -> kms().describe(name)).isInstanceOf(UnknownKeyException.class);
    }

    /** The public half of a public-key KEK's version, which must be there. */
    protected PublicKek publicKekOf(String name, int version) {
        PublicKek pk = kms().publicKek(name, version);
        assertThat(pk).as("the public half of %s version %d", name, version).isNotNull();
        return java.util.Objects.requireNonNull(pk);
    }

    static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
