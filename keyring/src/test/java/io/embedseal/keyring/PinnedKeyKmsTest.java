package io.embedseal.keyring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.keyring.dek.DekFactory;
import io.embedseal.keyring.dek.DekId;
import io.embedseal.keyring.kms.InvalidWrappedKeyException;
import io.embedseal.keyring.kms.KekKind;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.PublicKek;
import io.embedseal.keyring.kms.WrappedDek;
import io.embedseal.keyring.kms.local.LocalKms;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Objects;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Wraps with a tenant's pinned public key, and only for DEKs: a key the store could have planted is refused. */
class PinnedKeyKmsTest {

    @TempDir
    Path dir;

    private static final byte[] KEY = new byte[32];

    @Test
    void aDekIsWrappedWithThePinnedKey_withoutTheKms() {
        LocalKms kms = new LocalKms(dir);
        kms.createKek("tenant-acme", KekKind.PUBLIC_KEY);
        PublicKek pinned = Objects.requireNonNull(kms.publicKek("tenant-acme", 1));
        PinnedKeyKms kmsView = new PinnedKeyKms(kms, k -> k.equals("tenant-acme") ? pinned : null);
        byte[] binding = DekFactory.associatedData("acme", DekId.of(new byte[16], 0, 16));

        WrappedDek w = kmsView.wrapDek("tenant-acme", KEY, binding); // the KMS itself refuses key pairs

        assertThat(PublicKek.isPublicKeyWrap(w.wrapped())).isTrue();
        assertThat(kmsView.unwrapDek(w.kek(), w.wrapped(), binding)).isEqualTo(KEY);
        assertThatThrownBy(() -> kms.wrapDek("tenant-acme", KEY, binding)).isInstanceOf(KmsException.class);
    }

    /**
     * The store's attack on a sink's own keys: it knows the tenant's public key, so it writes a Lucene index key (or a
     * blind-mode vector key) it chose, wrapped with that key; the sink would unwrap it through the KMS and encrypt the
     * tenant's index under a key the store knows. Without the guard the KMS opens it (the attack works); with it, it is
     * refused, and the sink never makes such a wrap itself.
     */
    @Test
    void aStoreHeldKeyWrappedWithThePublicKey_isRefused() {
        LocalKms kms = new LocalKms(dir);
        kms.createKek("tenant-acme", KekKind.PUBLIC_KEY);
        PublicKek pinned = Objects.requireNonNull(kms.publicKek("tenant-acme", 1));
        byte[] indexKeyBinding = "embedseal.index-key.v1\0\4acme0123456789abcdef".getBytes(StandardCharsets.UTF_8);
        WrappedDek planted = pinned.wrap(KEY, indexKeyBinding); // made by the store, with the public key alone
        PinnedKeyKms kmsView = new PinnedKeyKms(kms, k -> pinned);

        assertThat(kmsView.withoutPlantGuard().unwrapDek(planted.kek(), planted.wrapped(), indexKeyBinding))
                .as("the control: the KMS opens the planted key")
                .isEqualTo(KEY);
        assertThatThrownBy(() -> kmsView.unwrapDek(planted.kek(), planted.wrapped(), indexKeyBinding))
                .isInstanceOf(InvalidWrappedKeyException.class)
                .hasMessageContaining("planted");
        assertThatThrownBy(() -> kmsView.wrapDek("tenant-acme", KEY, indexKeyBinding))
                .isInstanceOf(KmsException.class)
                .hasMessageContaining("PostgreSQL, sealed or index mode");
    }
}
