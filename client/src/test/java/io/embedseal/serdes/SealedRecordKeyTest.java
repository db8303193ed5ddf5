package io.embedseal.serdes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/**
 * The sealed topic's key is {@code tenant/embeddingId} in UTF-8 for any embedding id (ASCII, other scripts, emoji,
 * slashes, control characters), and reads back as the same pair.
 */
class SealedRecordKeyTest {

    @Test
    void asciiAndOtherIds_areTheUtf8OfTenantSlashId() {
        for (String id : new String[] {
            "doc-000001#chunk-0",
            "a",
            "a/b/c",
            "\u007F",
            "\u0080",
            "caf\u00e9",
            "\u6587\u6863-1",
            "emoji-\uD83D\uDE00",
            "x\u0000y"
        }) {
            SealedRecordKey key = new SealedRecordKey("acme", id);
            assertThat(key.toBytes()).as(id).isEqualTo(("acme/" + id).getBytes(StandardCharsets.UTF_8));
            assertThat(SealedRecordKey.parse(key.toBytes())).isEqualTo(key);
        }
    }

    @Property(tries = 2_000)
    void anyIdOfAnyTenant_isTheUtf8OfTenantSlashId_andReadsBack(
            @ForAll("tenants") String tenant, @ForAll("ids") String id) {
        SealedRecordKey key = new SealedRecordKey(tenant, id);

        assertThat(key.toBytes()).isEqualTo((tenant + "/" + id).getBytes(StandardCharsets.UTF_8));
        if (id.chars()
                .noneMatch(
                        c -> Character.isSurrogate((char) c))) { // a lone surrogate has no UTF-8 form: '?' on the wire
            assertThat(SealedRecordKey.parse(key.toBytes())).isEqualTo(key);
        }
    }

    @Test
    void anEmptyId_isRefused() {
        assertThatThrownBy(() -> new SealedRecordKey("acme", "")).isInstanceOf(IllegalArgumentException.class);
    }

    @Property
    void toBytesFromACandidate_isAlwaysTheKeysBytes_andTheCandidateOnlyWhenEqual(
            @ForAll("tenants") String tenant, @ForAll("ids") String id, @ForAll("ids") String otherId) {
        SealedRecordKey key = new SealedRecordKey(tenant, id);
        byte[] own = (tenant + "/" + id).getBytes(StandardCharsets.UTF_8);
        byte[] other = (tenant + "/" + otherId).getBytes(StandardCharsets.UTF_8);

        assertThat(key.toBytes(own)).isEqualTo(key.toBytes());
        assertThat(key.toBytes(other)).isEqualTo(key.toBytes());
        assertThat(key.toBytes(null)).isEqualTo(key.toBytes());
        if (!id.equals(otherId)) {
            assertThat(key.toBytes(other)).isNotSameAs(other);
        }
    }

    @Test
    void anAsciiRawKeyThatIsTheSealedKey_isReusedAsItIs() {
        byte[] raw = "acme/doc-1#chunk-0".getBytes(StandardCharsets.US_ASCII);

        assertThat(new SealedRecordKey("acme", "doc-1#chunk-0").toBytes(raw)).isSameAs(raw);
        assertThat(new SealedRecordKey("acme", "doc-1#chunk-1").toBytes(raw))
                .isNotSameAs(raw)
                .isEqualTo("acme/doc-1#chunk-1".getBytes(StandardCharsets.US_ASCII));
    }

    @Provide
    Arbitrary<String> tenants() {
        return Arbitraries.strings()
                .withChars("abcXYZ019._-")
                .ofMinLength(1)
                .ofMaxLength(64)
                .filter(t -> Character.isLetterOrDigit(t.charAt(0)));
    }

    @Provide
    Arbitrary<String> ids() {
        return Arbitraries.oneOf(
                Arbitraries.strings().ascii().ofMinLength(1).ofMaxLength(80),
                Arbitraries.strings().all().ofMinLength(1).ofMaxLength(40));
    }
}
