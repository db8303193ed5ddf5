package io.embedseal.keyring;

import io.embedseal.keyring.dek.Dek;
import io.embedseal.keyring.kms.InvalidWrappedKeyException;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.local.LocalKms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class KeyringTest {

    private static final byte[] AAD = "record-1".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    @Test
    void oneActiveDekPerTenant_underTheTenantsOwnKek() {
        Keyring keyring = new Keyring(new LocalKms(dir, true));

        Dek a1 = keyring.activeDek("a");
        Dek a2 = keyring.activeDek("a");
        Dek b = keyring.activeDek("b");

        assertThat(a2).isSameAs(a1);
        assertThat(b.id()).isNotEqualTo(a1.id());
        assertThat(a1.kek()).isEqualTo(new KekRef("local", "tenant-a", 1));
        assertThat(b.kek()).isEqualTo(new KekRef("local", "tenant-b", 1));
    }

    @Test
    void anotherProcessOpensTheDekFromItsWrappedForm() throws GeneralSecurityException {
        Dek sealing = new Keyring(new LocalKms(dir, true)).activeDek("a");
        byte[] ciphertext = sealing.encrypt("vector".getBytes(StandardCharsets.UTF_8), AAD);

        Keyring other = new Keyring(new LocalKms(dir, false));
        Dek opened = other.openDek("a", sealing.kek(), sealing.id(), sealing.wrapped());

        assertThat(new String(opened.decrypt(ciphertext, AAD), StandardCharsets.UTF_8)).isEqualTo("vector");
    }

    @Test
    void openingADekUnderAnotherTenantsKek_isRefused() {
        Keyring keyring = new Keyring(new LocalKms(dir, true));
        Dek ofB = keyring.activeDek("b");

        assertThatThrownBy(() -> keyring.openDek("a", ofB.kek(), ofB.id(), ofB.wrapped()))
                .isInstanceOf(KeyMismatchException.class)
                .hasMessageContaining("tenant-b")
                .hasMessageContaining("tenant-a");
    }

    @Test
    void wrappedDekIsBoundToItsTenant_evenWhenTenantsShareAKek() {
        // A template without the tenant's own name would be a misconfiguration, but the wrap binding
        // still keeps tenants apart: b cannot open a's DEK under the same KEK.
        LocalKms kms = new LocalKms(dir, true);
        KekRef shared = kms.currentKek("shared");
        Dek ofA = new io.embedseal.keyring.dek.DekFactory(kms).create("a", shared);

        assertThatThrownBy(() -> new io.embedseal.keyring.dek.DekFactory(kms).open("b", shared, ofA.id(), ofA.wrapped()))
                .isInstanceOf(InvalidWrappedKeyException.class);
    }

    @Test
    void cachedDeksAreReused_andEvictionGoesBackToTheKms() {
        CountingKms kms = new CountingKms(new LocalKms(dir, true));
        Dek sealing = new Keyring(kms).activeDek("a");
        Keyring reader = new Keyring(kms);

        reader.openDek("a", sealing.kek(), sealing.id(), sealing.wrapped());
        reader.openDek("a", sealing.kek(), sealing.id(), sealing.wrapped());
        assertThat(kms.unwraps.get()).isEqualTo(1);
        assertThat(reader.cachedDekCount()).isEqualTo(1);

        reader.evict("a");
        assertThat(reader.cachedDekCount()).isZero();
        reader.openDek("a", sealing.kek(), sealing.id(), sealing.wrapped());
        assertThat(kms.unwraps.get()).isEqualTo(2);
    }

    @Test
    void cacheIsBounded() {
        LocalKms kms = new LocalKms(dir, true);
        Keyring writer = new Keyring(kms);
        Keyring reader = new Keyring(kms, KekNaming.defaults(), 2);
        for (String tenant : new String[] {"a", "b", "c", "d"}) {
            Dek dek = writer.activeDek(tenant);
            reader.openDek(tenant, dek.kek(), dek.id(), dek.wrapped());
        }

        assertThat(reader.cachedDekCount()).isEqualTo(2);
    }

    @Test
    void alteredWrappedForm_isNotServedFromTheCache() {
        Keyring keyring = new Keyring(new LocalKms(dir, true));
        Dek dek = keyring.activeDek("a");
        byte[] altered = dek.wrapped();
        altered[altered.length - 1] ^= 1;

        assertThatThrownBy(() -> keyring.openDek("a", dek.kek(), dek.id(), altered))
                .isInstanceOf(InvalidWrappedKeyException.class);
    }

    @Test
    void toStringShowsIdsButNoKey() {
        Dek dek = new Keyring(new LocalKms(dir, true)).activeDek("a");

        assertThat(dek.toString()).contains("tenant=a", dek.id().toString(), "local:tenant-a:1", "<redacted>");
    }

    @Test
    void invalidTenantIds_areRejected() {
        Keyring keyring = new Keyring(new LocalKms(dir, true));

        assertThatThrownBy(() -> keyring.activeDek("../x")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tenant id must be");
        assertThatThrownBy(() -> keyring.activeDek("")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> keyring.activeDek("a".repeat(65))).isInstanceOf(IllegalArgumentException.class);
    }

    private static final class CountingKms implements Kms {
        final Kms delegate;
        final AtomicInteger unwraps = new AtomicInteger();

        CountingKms(Kms delegate) {
            this.delegate = delegate;
        }

        @Override
        public String provider() {
            return delegate.provider();
        }

        @Override
        public KekRef currentKek(String keyName) {
            return delegate.currentKek(keyName);
        }

        @Override
        public byte[] wrapDek(KekRef kek, byte[] dek, byte[] associatedData) {
            return delegate.wrapDek(kek, dek, associatedData);
        }

        @Override
        public byte[] unwrapDek(KekRef kek, byte[] wrappedDek, byte[] associatedData) {
            unwraps.incrementAndGet();
            return delegate.unwrapDek(kek, wrappedDek, associatedData);
        }
    }
}
