package io.embedseal.keyring;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

class TenantIdsTest {

    @Provide
    Arbitrary<String> candidates() {
        return Arbitraries.oneOf(
                Arbitraries.strings().withChars("aZ09._-").ofMaxLength(70),
                Arbitraries.strings().all().ofMaxLength(8),
                Arbitraries.strings().withCharRange(' ', '~').ofMaxLength(66));
    }

    @Property(tries = 20_000)
    void theHandWrittenCheck_agreesWithTheRegularExpression(@ForAll("candidates") String id) {
        assertThat(TenantIds.isValid(id)).as("'%s'", id).isEqualTo(TenantIds.matchesPattern(id));
    }

    @Test
    void examples() {
        assertThat(TenantIds.isValid("acme")).isTrue();
        assertThat(TenantIds.isValid("a.b_c-9")).isTrue();
        assertThat(TenantIds.isValid("x".repeat(64))).isTrue();
        assertThat(TenantIds.isValid("x".repeat(65))).isFalse();
        assertThat(TenantIds.isValid(".acme")).isFalse();
        assertThat(TenantIds.isValid("-acme")).isFalse();
        assertThat(TenantIds.isValid("ac me")).isFalse();
        assertThat(TenantIds.isValid("acmé")).isFalse();
        assertThat(TenantIds.isValid("")).isFalse();
        assertThat(TenantIds.isValid(null)).isFalse();
    }
}
