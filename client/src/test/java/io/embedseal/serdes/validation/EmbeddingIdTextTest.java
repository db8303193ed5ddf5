package io.embedseal.serdes.validation;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.schemas.EmbeddingEvent;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** An embedding id must be printable text: what invalid UTF-8 decodes to (U+FFFD) and control characters are refused. */
class EmbeddingIdTextTest {

    private static EmbeddingValidator.Violation check(String id) {
        EmbeddingEvent e = EmbeddingEvent.newBuilder()
                .setTenantId("acme")
                .setEmbeddingId(id)
                .setModel("m")
                .setVector(List.of(1f))
                .setMetadata(null)
                .setEventTime(Instant.EPOCH)
                .build();
        return EmbeddingValidator.defaults().check(EmbeddingFacts.of(e));
    }

    @Test
    void printableIds_inAnyScript_areAccepted() {
        for (String id : List.of("doc-1", "a b", "Straße/7", "文档", "emoji-\uD83D\uDE00", "\u00A0nbsp", "x:y.z_~")) {
            assertThat(check(id)).as(id).isNull();
        }
    }

    @Test
    void controlCharactersAndTheReplacementCharacter_areRefused_naming_theIndex() {
        for (String id : List.of("doc\u0000", "a\nb", "tab\t", "del\u007F", "c1\u0085", "bad\uFFFDutf8")) {
            EmbeddingValidator.Violation v = check(id);
            assertThat(v).as(id).isNotNull();
            assertThat(v.rule()).isEqualTo(EmbeddingValidator.Rule.INVALID_EMBEDDING_ID);
            assertThat(v.detail()).contains("index " + EmbeddingValidator.firstUnprintable(id));
        }
    }
}
