package io.embedseal.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.EmbeddingUnsealer;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.envelope.EnvelopeException;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.Sealer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Item 5: every single-bit flip of a sample of sealed envelopes is refused at unseal, and a sealed vector moved to
 * another tenant or another embedding id (by its record key, or by rewriting the envelope's own header) is refused.
 * The envelopes are made by the pipeline's {@link Sealer}, from canonical records as the pipeline seals them.
 */
@Tag("reliability")
@Order(10)
class TamperTest {

    @TempDir
    Path dir;

    private LocalKms kms;
    private List<Sample> samples;
    private EmbeddingUnsealer unsealer;

    private record Sample(SealedRecordKey key, byte[] envelope) {}

    private List<Sample> seal(Sealer sealer) {
        List<Sample> made = new ArrayList<>();
        int n = 0;
        for (int dims : new int[] {1, 8, 64, 384}) {
            for (int t = 0; t < 3; t++) {
                EmbeddingEvent e = Suite.event(n++, 3, dims);
                e = EmbeddingEvent.newBuilder(e)
                        .setTenantId(Suite.tenant(t))
                        .setMetadata(t == 1 ? Map.of("source", "s3://b/k") : null)
                        .build();
                byte[] plaintext = EmbeddingEventCodec.toCanonicalAvro(e);
                byte[] envelope = sealer.seal(
                        e.getTenantId(),
                        e.getEmbeddingId(),
                        io.embedseal.serdes.envelope.RecordVersion.now(),
                        PayloadType.EMBEDDING_EVENT_AVRO,
                        plaintext,
                        0,
                        plaintext.length);
                made.add(new Sample(new SealedRecordKey(e.getTenantId(), e.getEmbeddingId()), envelope));
                Suite.VECTORS.add(Suite.vector(n - 1, dims));
            }
        }
        return made;
    }

    @BeforeEach
    void sealSamples() {
        kms = new LocalKms(dir.resolve("kms"));
        samples = seal(new Sealer(
                Keyring.builder(kms).createMissingKeys(kms::createKek).build()));
        unsealer = new EmbeddingUnsealer(new Sealer(Keyring.builder(kms).build()), null);
    }

    @AfterEach
    void closeKms() {
        kms.close();
    }

    @Test
    void everySingleBitFlip_isRefused() throws Exception {
        Map<EnvelopeException.Reason, Integer> reasons = new EnumMap<>(EnvelopeException.Reason.class);
        long flips = 0;
        for (Sample s : samples) {
            byte[] key = s.key().toBytes();
            assertThat(unsealer.unseal(key, s.envelope()).embeddingId())
                    .isEqualTo(s.key().embeddingId()); // intact opens
            for (int bit = 0; bit < s.envelope().length * 8; bit++) {
                byte[] tampered = s.envelope().clone();
                tampered[bit / 8] ^= (byte) (1 << (bit % 8));
                try {
                    unsealer.unseal(key, tampered);
                    throw new AssertionError("bit " + bit + " of a " + s.envelope().length
                            + "-byte envelope flipped, and it still opened");
                } catch (EnvelopeException refused) {
                    assertThat(refused.reason())
                            .as("a flip is refused for good, not as an outage to retry")
                            .isNotEqualTo(EnvelopeException.Reason.KMS_UNAVAILABLE);
                    reasons.merge(refused.reason(), 1, Integer::sum);
                }
                flips++;
            }
            Suite.rememberDek(kms, s.envelope());
        }
        Suite.rememberLocalKeks(dir.resolve("kms"));
        System.out.printf(
                "tamper: %d envelopes (%d to %d bytes), %d single-bit flips, all refused: %s%n",
                samples.size(),
                samples.stream().mapToInt(x -> x.envelope().length).min().orElse(0),
                samples.stream().mapToInt(x -> x.envelope().length).max().orElse(0),
                flips,
                reasons);
        assertThat(reasons.values().stream().mapToLong(Integer::longValue).sum())
                .isEqualTo(flips);
    }

    @Test
    void aSealedVectorMovedToAnotherTenantOrId_isRefused() throws Exception {
        Sample a = samples.get(0); // tenant-00
        Sample b = samples.get(1); // tenant-01, same dims
        // Under another tenant's record key, or another id of the same tenant.
        assertRefused(
                () -> unsealer.unseal(
                        new SealedRecordKey(b.key().tenantId(), a.key().embeddingId()).toBytes(), a.envelope()),
                EnvelopeException.Reason.WRONG_BINDING);
        assertRefused(
                () -> unsealer.unseal(new SealedRecordKey(a.key().tenantId(), "doc-other").toBytes(), a.envelope()),
                EnvelopeException.Reason.WRONG_BINDING);
        // Swapping values between two records of different tenants.
        assertRefused(() -> unsealer.unseal(b.key().toBytes(), a.envelope()), EnvelopeException.Reason.WRONG_BINDING);
        // Rewriting the envelope's own header to claim the other tenant (the ids have the same length, so the
        // layout holds): the header is authenticated with the ciphertext, and the KEK is not that tenant's.
        byte[] moved = replaceAll(a.envelope(), a.key().tenantId(), b.key().tenantId());
        assertThat(moved).isNotEqualTo(a.envelope());
        assertRefused(
                () -> unsealer.unseal(
                        new SealedRecordKey(b.key().tenantId(), a.key().embeddingId()).toBytes(), moved),
                null);
        // Rewriting the id in the header (same length).
        String otherId = a.key().embeddingId().replace('0', '9');
        byte[] renamed = replaceAll(a.envelope(), a.key().embeddingId(), otherId);
        assertThat(renamed).isNotEqualTo(a.envelope());
        assertRefused(() -> unsealer.unseal(new SealedRecordKey(a.key().tenantId(), otherId).toBytes(), renamed), null);
        // A reader for one tenant refuses another tenant's record outright.
        EmbeddingUnsealer onlyB = new EmbeddingUnsealer(
                new Sealer(Keyring.builder(kms).build()), b.key().tenantId());
        assertRefused(() -> onlyB.unseal(a.key().toBytes(), a.envelope()), EnvelopeException.Reason.WRONG_BINDING);
    }

    private static void assertRefused(Runnable unseal, EnvelopeException.Reason expected) {
        assertThatThrownBy(unseal::run).isInstanceOfSatisfying(EnvelopeException.class, e -> {
            assertThat(e.reason()).isNotEqualTo(EnvelopeException.Reason.KMS_UNAVAILABLE);
            if (expected != null) {
                assertThat(e.reason()).isEqualTo(expected);
            }
        });
    }

    private static byte[] replaceAll(byte[] in, String from, String to) {
        byte[] f = from.getBytes(StandardCharsets.UTF_8);
        byte[] t = to.getBytes(StandardCharsets.UTF_8);
        assertThat(t).hasSameSizeAs(f);
        byte[] out = in.clone();
        for (int i = 0; i + f.length <= out.length; i++) {
            if (Arrays.equals(out, i, i + f.length, f, 0, f.length)) {
                System.arraycopy(t, 0, out, i, t.length);
            }
        }
        return out;
    }
}
