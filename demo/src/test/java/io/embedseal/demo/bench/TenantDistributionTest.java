package io.embedseal.demo.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The bench's tenant sequences: what {@code --distribution} says, the same on every run, and their KMS bound. */
class TenantDistributionTest {

    @Test
    void uniform_isEveryTenantInTurn() {
        assertThat(TenantDistribution.parse("uniform").sequence(3, 7, 1)).containsExactly(0, 1, 2, 0, 1, 2, 0);
    }

    @Test
    void zipf_isSkewedAsItsExponentSays_andTheSameForTheSameSeed() {
        TenantDistribution zipf = TenantDistribution.parse("zipf:1.1");
        int[] a = zipf.sequence(1000, 200_000, 42);

        assertThat(a).isEqualTo(zipf.sequence(1000, 200_000, 42));
        assertThat(a).isNotEqualTo(zipf.sequence(1000, 200_000, 43));
        int[] counts = new int[1000];
        for (int t : a) {
            counts[t]++;
        }
        // P(rank k) = k^-1.1 / H(1000, 1.1); H(1000, 1.1) = 5.45..., so rank 1 gets ~18.3 % and rank 2 ~8.5 %.
        double h = 0;
        for (int k = 1; k <= 1000; k++) {
            h += Math.pow(k, -1.1);
        }
        assertThat(counts[0] / 200_000.0).isCloseTo(1 / h, org.assertj.core.data.Offset.offset(0.01));
        assertThat(counts[1] / 200_000.0).isCloseTo(Math.pow(2, -1.1) / h, org.assertj.core.data.Offset.offset(0.01));
        assertThat(Arrays.stream(a).allMatch(t -> t >= 0 && t < 1000)).isTrue();
        assertThat(TenantDistribution.parse("zipf")).isEqualTo(zipf);
    }

    @Test
    void kmsBound_isADekPerTenantWithRecords_plusRollovers() {
        int[] sequence = {0, 0, 0, 0, 0, 1, 2, 2};

        assertThat(TenantDistribution.kmsBound(sequence, 4, 10)).isEqualTo(3);
        // tenant 0: 5 records, a DEK per 2: 3 DEKs; tenants 1 and 2: one each
        assertThat(TenantDistribution.kmsBound(sequence, 4, 2)).isEqualTo(5);
        assertThat(TenantDistribution.distinct(sequence, 4)).isEqualTo(3);
    }

    @Test
    void otherForms_areRefusedNamingWhatIsTaken() {
        for (String bad : new String[] {"zipf:0", "zipf:-1", "zipf:x", "normal", "zipf:11"}) {
            assertThatThrownBy(() -> TenantDistribution.parse(bad))
                    .as(bad)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("uniform");
        }
    }
}
