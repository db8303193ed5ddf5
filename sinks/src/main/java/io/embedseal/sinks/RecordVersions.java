package io.embedseal.sinks;

import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.envelope.RecordVersion;
import org.jspecify.annotations.Nullable;

/** The one rule every store applies before a record or a delete marker changes what it holds. */
public final class RecordVersions {

    private RecordVersions() {}

    /**
     * Refuses {@code incoming} if the store holds a newer version of the record: a rollback, a late replay, or a
     * delete of a version since replaced. An equal version is a redelivery (or a re-seal of the same version) and
     * passes.
     *
     * @param held what the store holds for the key (a record or a delete), or null for nothing
     * @throws RefusedRecordException {@code STALE_VERSION}
     */
    public static void refuseIfOlder(
            SealedRecordKey key, RecordVersion incoming, @Nullable RecordVersion held, boolean isDelete) {
        if (held != null && incoming.isOlderThan(held)) {
            throw new RefusedRecordException(
                    RefusedRecordException.Reason.STALE_VERSION,
                    (isDelete ? "a delete of " : "") + key + " at version " + incoming + " is older than version "
                            + held + ", which the store holds");
        }
    }
}
