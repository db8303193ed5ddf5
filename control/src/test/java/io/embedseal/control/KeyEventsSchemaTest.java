package io.embedseal.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.schemas.KeyEvent;
import io.embedseal.schemas.KeyEventType;
import java.io.InputStream;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.junit.jupiter.api.Test;

/**
 * Key events across the schema change that added MIGRATED: a reader not yet upgraded knows schema version 2 only, and
 * must still read (and so apply) every event a new CLI writes except MIGRATED, which it refuses as undecodable; a new
 * reader reads both.
 */
class KeyEventsSchemaTest {

    static Schema v2() throws Exception {
        try (InputStream in = KeyEvents.class.getResourceAsStream("/io/embedseal/schemas/legacy/KeyEvent-v2.avsc")) {
            return new Schema.Parser().parse(in);
        }
    }

    @Test
    void aReaderThatKnowsOnlySchemaVersion2_readsEveryEventButMigrated() throws Exception {
        BinaryMessageDecoder<GenericRecord> oldReader = new BinaryMessageDecoder<>(GenericData.get(), v2());
        for (KeyEventType type : KeyEventType.values()) {
            KeyEvent e = KeyEvents.event("acme", type, "vault", "tenant-acme", 2, "ops", null, 7, null);
            byte[] bytes = KeyEvents.encode(e);
            if (type == KeyEventType.MIGRATED) {
                assertThatThrownBy(() -> oldReader.decode(bytes))
                        .as(type.name())
                        .isInstanceOf(Exception.class);
            } else {
                assertThat(oldReader.decode(bytes).get("type").toString()).isEqualTo(type.name());
            }
            // and today's reader reads them all
            KeyEvent read = KeyEvents.read("acme", bytes).event();
            assertThat(read.getType()).isEqualTo(type);
            assertThat(read.getSequence()).isEqualTo(7);
        }
    }
}
