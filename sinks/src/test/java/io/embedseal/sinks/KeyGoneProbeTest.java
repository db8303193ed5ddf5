package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.serdes.envelope.EnvelopeHeader;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A sink asks the tenant's KMS before it shreds: a live key means no, a destroyed or disabled one yes. */
class KeyGoneProbeTest {

    @TempDir
    Path dir;

    @Test
    void aLiveKeyIsNotGone_aDisabledOrDestroyedOneIs_andWithoutASampleThereIsNothingToAsk() {
        try (Sealed sealed = new Sealed(dir.resolve("kms"))) {
            KeyGoneProbe probe = new KeyGoneProbe();
            assertThat(probe.ask(sealed.keyring, "acme")).isEqualTo(KeyGoneProbe.Answer.NO_SAMPLE);
            for (String t : new String[] {"acme", "bob"}) {
                sealed.onboard(t);
                probe.remember(EnvelopeHeader.parse(sealed.seal(t, "e-1", Sealed.randomVector(new Random(1), 4))));
            }
            assertThat(probe.ask(sealed.keyring, "acme")).isEqualTo(KeyGoneProbe.Answer.ALIVE);
            sealed.kms.disable("tenant-acme");
            assertThat(probe.ask(sealed.keyring, "acme")).isEqualTo(KeyGoneProbe.Answer.GONE);
            assertThat(probe.ask(sealed.keyring, "bob")).isEqualTo(KeyGoneProbe.Answer.ALIVE);
            sealed.kms.destroy("tenant-bob");
            assertThat(probe.ask(sealed.keyring, "bob")).isEqualTo(KeyGoneProbe.Answer.GONE);
        }
    }
}
