package io.embedseal.topology;

import io.embedseal.schemas.KeyEvent;
import org.jspecify.annotations.Nullable;

/**
 * A key event this instance applied or refused, for the audit trail.
 *
 * @param tenant   the record key (null if the record had none)
 * @param event    the event, null for a tombstone or a record that does not decode
 * @param accepted false when it was refused
 * @param note     why it was refused, or null
 * @param refusal  the refusal's label ({@code stale_sequence}, ...), or null
 * @param signer   the signing key's id, null for an unsigned record
 */
public record KeyEventApplied(
        @Nullable String tenant,
        @Nullable KeyEvent event,
        boolean accepted,
        @Nullable String note,
        @Nullable String refusal,
        @Nullable String signer) {}
